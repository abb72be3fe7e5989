"""Presence across a node's restart and reconnect storms, on two real server
processes sharing Redis and the store: every operator's own view (its
`auth_success` list, then every presence frame after it) ends equal to the truth."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from tests.cluster import Cluster, Node, cluster
from tests.helpers import Client, presence_entries

# a node silent for 2 s is dead; offline is announced 0.2 s after the last close
FAST_PRESENCE = {"LIVECHAT_PRESENCE_TTL": "2", "LIVECHAT_PRESENCE_GRACE": "0.2"}
CONVERGE = 15.0  # bound: the grace plus the node-down time, with room for a loaded machine


def view(client: Client) -> dict[str, str]:
    """The operator's view: its auth_success list, then every presence frame."""
    frames: list[dict[str, Any]] = client.frames
    start = next(i for i, f in enumerate(frames) if f["type"] == "auth_success")
    seen = {o["admin_id"]: o["status"] for o in frames[start]["payload"]["operators"]}
    for frame in frames[start + 1 :]:
        for entry in presence_entries(frame):
            seen[entry["admin_id"]] = entry["status"]
    return seen


async def storm(c: Cluster, node: Node, names: list[str]) -> list[Client]:
    """Every operator of `names` connects to `node` at the same moment."""
    return list(await asyncio.gather(*(Client.connect(node.ws_url, c.token(n)) for n in names)))


async def all_see(clients: list[Client], truth: dict[str, str]) -> None:
    """Wait until every client's view of the operators in `truth` equals it."""

    def agrees(client: Client) -> bool:
        seen = view(client)
        return {a: seen.get(a, "offline") for a in truth} == truth

    async def one(client: Client) -> None:
        try:
            await client.wait_for(lambda _frame: agrees(client), timeout=CONVERGE)
        except TimeoutError:
            me = client.frames[0]["payload"]["admin_id"]
            seen = view(client)
            wrong = {a: seen.get(a) for a in truth if seen.get(a, "offline") != truth[a]}
            raise AssertionError(f"{me} never saw the truth; wrong: {wrong}") from None

    await asyncio.gather(*(one(client) for client in clients))


async def nodes_alive(redis_url: str, prefix: str, n: int) -> None:
    """Wait until the cluster lists exactly `n` nodes (a dead one has been reaped)."""
    client = aioredis.from_url(redis_url)
    try:
        for _ in range(1500):
            if await client.zcard(f"{prefix}:nodes") == n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"the cluster never listed {n} nodes")
    finally:
        await client.aclose()


async def test_presence_converges_after_a_restart_and_reconnect_storms_on_both_nodes(
    tmp_path, store_backend, redis_url
):
    async with cluster(tmp_path, store_backend, redis_url, **FAST_PRESENCE) as c:
        a, b = c.nodes
        on_a_names = [f"a{i}" for i in range(6)]
        on_b_names = [f"b{i}" for i in range(6)]
        truth = {name: "online" for name in on_a_names + on_b_names}
        # a storm on both nodes: twelve operators authenticate at the same moment,
        # each reading the list while its colleagues are joining
        first_a, first_b = await asyncio.gather(storm(c, a, on_a_names), storm(c, b, on_b_names))
        await all_see(first_a + first_b, truth)

        b.kill()  # SIGKILL: B's cluster entry stays until it expires
        await b.start()
        for client in first_a:
            await client.close()
        # B's six reconnect at once to its new incarnation while A's six reload
        on_a, on_b = await asyncio.gather(storm(c, a, on_a_names), storm(c, b, on_b_names))
        await all_see(on_a + on_b, truth)
        # and for good: once B's old incarnation is reaped, a newcomer's online
        # passes every node after anything announced before it
        await nodes_alive(redis_url, c.prefix, 2)
        probes = [
            await Client.connect(a.ws_url, c.token("probe-a")),
            await Client.connect(b.ws_url, c.token("probe-b")),
        ]
        truth.update({"probe-a": "online", "probe-b": "online"})
        await all_see(on_a + on_b, truth)
        for client in on_a + on_b:
            statuses = {view(client)[name] for name in on_a_names + on_b_names}
            assert statuses == {"online"}
        for client in on_a + on_b + probes:
            await client.close()
