"""A soak of two livechat_ext nodes on Redis and PostgreSQL: steady load for
minutes, one node SIGKILLed and restarted mid-run, then checks for loss,
duplicates, order, presence and memory growth. Run by hand, not by pytest:

    python bench/soak.py                      # 3 minutes, the summary of bench/README.md
    python bench/soak.py --duration 60 --operators 20   # a shorter look

It needs PostgreSQL (LIVECHAT_TEST_PG, default postgresql://postgres@127.0.0.1:5432/test,
a user that may create databases) and Redis (LIVECHAT_TEST_REDIS). It makes a
fresh database and a fresh Redis prefix, and removes both and every process it
started at the end, also on Ctrl-C. The exit status is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.soak_ops import Operator  # noqa: E402
from bench.soak_rig import Rig, rss_mb  # noqa: E402


def user_id(i: int) -> str:
    return f"U{i:032x}"


class Injector:
    """LINE's side: webhooks at a steady rate, spread over both nodes; a request
    that fails is redelivered (same webhookEventId, isRedelivery) to a node
    that answers, as LINE does. Some users get two events at the same moment."""

    def __init__(self, rig: Rig, users: list[str], rate: float) -> None:
        self.rig, self.users, self.rate = rig, users, rate
        self.hot = users[:5]
        self.accepted: dict[str, str] = {}  # webhookEventId -> user
        self.redelivered = 0
        self.given_up = 0
        self._n = 0

    def _user(self) -> str:
        return random.choice(self.hot) if random.random() < 0.3 else random.choice(self.users)

    async def run(self, until: float) -> None:
        tasks: set[asyncio.Task[None]] = set()
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while time.monotonic() < until:
            self._n += 1
            user = self._user()
            pair = random.random() < 0.1  # two events for one user, to both nodes at once
            for k in range(2 if pair else 1):
                task = asyncio.create_task(self._deliver(user, f"w{self._n}.{k}", k))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await asyncio.gather(*tasks)

    async def _deliver(self, user: str, text: str, first_node: int) -> None:
        from livechat_ext.line.testing import text_event

        event = text_event(user, text)
        for attempt in range(40):
            node = self.rig.nodes[(first_node + attempt) % 2]
            if attempt:
                event = dict(event, deliveryContext={"isRedelivery": True})
                self.redelivered += 1
            if await self.rig.post_webhook(node, event):
                self.accepted[event["webhookEventId"]] = user
                return
            await asyncio.sleep(0.25)
        self.given_up += 1


async def replies(ops: list[Operator], rate: float, until: float) -> int:
    """Operators answer at `rate` per second, in conversations they have open."""
    n = 0
    interval = 1.0 / rate
    next_at = time.monotonic()
    while time.monotonic() < until:
        op = random.choice(ops)
        n += 1
        op.reply(random.choice(op.conversations), f"r{n}-{op.admin_id}", f"reply {n}")
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    return n


async def sample_memory(rig: Rig, samples: list[tuple[float, float, float]], start: float) -> None:
    while True:
        a, b = (rss_mb(node) for node in rig.nodes)
        samples.append((time.monotonic() - start, a, b))
        await asyncio.sleep(5.0)


def presence_wrong(ops: list[Operator], truth: dict[str, str]) -> dict[str, dict[str, str]]:
    wrong = {}
    for op in ops:
        bad = {a: op.view.get(a, "offline") for a, s in truth.items() if op.view.get(a) != s}
        if bad:
            wrong[op.admin_id] = bad
    return wrong


async def converge(ops: list[Operator], truth: dict[str, str], bound: float) -> float | None:
    """Seconds until every operator's view equals `truth`; None past `bound`."""
    start = time.monotonic()
    while time.monotonic() - start < bound:
        if all(op.ready.is_set() for op in ops) and not presence_wrong(ops, truth):
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    return None


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    async with Rig.up(args) as rig:
        users = [user_id(i) for i in range(args.users)]
        for i, user in enumerate(users):
            rig.add_profile(user, f"User {i}")
        ops = []
        for i in range(args.operators):
            node = rig.nodes[i % 2]
            mine = random.Random(i).sample(users[5:], args.per_operator - 2) + users[i % 5 :][:2]
            ops.append(Operator(f"op{i:02d}", node.ws_url, rig.token(f"op{i:02d}"), mine))
        runners = [asyncio.create_task(op.run()) for op in ops]
        truth = {op.admin_id: "online" for op in ops}
        await asyncio.gather(*(asyncio.wait_for(op.ready.wait(), 60) for op in ops))
        initial = await converge(ops, truth, 30)
        start = time.monotonic()
        until = start + args.duration
        memory: list[tuple[float, float, float]] = []
        sampler = asyncio.create_task(sample_memory(rig, memory, start))
        injector = Injector(rig, users, args.rate)
        load = asyncio.gather(injector.run(until), replies(ops, args.reply_rate, until))
        await asyncio.sleep(args.duration * 0.5)
        killed_at = time.monotonic() - start
        rig.nodes[1].kill()
        await asyncio.sleep(args.down)
        await rig.nodes[1].start()
        restart = await converge(ops, truth, args.grace + args.ttl + 30)
        # a reload storm on node A: its operators all reconnect at the same moment
        await asyncio.sleep(max(0.0, start + args.duration * 0.75 - time.monotonic()))
        on_a = ops[0::2]
        await asyncio.gather(*(op.reload() for op in on_a))
        storm = await converge(ops, truth, args.grace + args.ttl + 30)
        _, reply_count = await load
        # quiet: every send answered, then what every operator saw is final
        settle_until = time.monotonic() + 60
        while any(op.pending for op in ops) and time.monotonic() < settle_until:
            for op in ops:
                await op.resend_pending()
            await asyncio.sleep(1.0)
        await asyncio.sleep(args.grace + 2.0)  # frames in flight land
        presence = {"initial": initial, "restart": restart, "storm": storm}
        presence["wrong"] = presence_wrong(ops, truth)
        sampler.cancel()
        stored = await rig.stored()
        for op in ops:
            await op.stop()
        await asyncio.gather(*runners, return_exceptions=True)
        return report(
            args,
            ops,
            injector,
            reply_count,
            stored,
            memory,
            killed_at,
            presence,
        )


def report(
    args: argparse.Namespace,
    ops: list[Operator],
    injector: Injector,
    reply_count: int,
    stored: dict[str, Any],
    memory: list[tuple[float, float, float]],
    killed_at: float,
    presence: dict[str, Any],
) -> dict[str, Any]:
    def seconds(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    by_user: dict[str, list[int]] = stored["seqs"]
    lost = out_of_order = repeats = own_late = 0
    lost_examples: list[str] = []
    order_examples: list[str] = []
    for op in ops:
        repeats += op.repeats
        for user, seen in op.seen.items():
            missing = set(by_user.get(user, [])) - seen.seqs
            lost += len(missing)
            if missing and len(lost_examples) < 5:
                lost_examples.append(f"{op.admin_id} {user[:9]} {sorted(missing)[:5]}")
            out_of_order += len(seen.out_of_order)
            own_late += seen.own_late
            for seq, highest, by, late_by in seen.out_of_order:
                if len(order_examples) < 8:
                    order_examples.append(
                        f"{op.admin_id} {user[:9]}: {seq} ({late_by}) after {highest} ({by})"
                    )
    answered = {cid for op in ops for cid in op.answered}
    failed = {cid for op in ops for cid in op.failed}
    unanswered = {cid for op in ops for cid in op.pending}
    half = [m for m in memory if m[0] >= args.duration * 0.5 + args.down + 10]
    first = [m for m in memory if m[0] < killed_at]
    growth_a = (half[-1][1] - half[0][1]) if len(half) > 1 else 0.0
    growth_b = (half[-1][2] - half[0][2]) if len(half) > 1 else 0.0
    result = {
        "duration_s": args.duration,
        "operators": len(ops),
        "users": args.users,
        "webhook_rate": args.rate,
        "reply_rate": args.reply_rate,
        "webhook_events_accepted": len(injector.accepted),
        "webhook_redeliveries": injector.redelivered,
        "webhook_given_up": injector.given_up,
        "replies_sent": reply_count,
        "replies_answered": len(answered),
        "replies_failed": len(failed),
        "replies_unanswered": len(unanswered),
        "stored_inbound": stored["inbound"],
        "stored_outbound": stored["outbound"],
        "stored_duplicate_events": stored["duplicate_events"],
        "stored_duplicate_sends": stored["duplicate_sends"],
        "events_not_stored": len(set(injector.accepted) - stored["event_ids"]),
        "replies_not_stored": len(answered - stored["client_msg_ids"]),
        "lost_deliveries": lost,
        "lost_examples": lost_examples,
        "order_examples": order_examples,
        "out_of_order": out_of_order,
        "own_confirmed_late": own_late,
        "repeated_frames": repeats,
        "conversations": stored["conversations"],
        "nameless": stored["nameless"],
        "presence_initial_s": seconds(presence["initial"]),
        "presence_after_restart_s": seconds(presence["restart"]),
        "presence_after_reload_storm_s": seconds(presence["storm"]),
        "presence_wrong_at_end": presence["wrong"],
        "reconnects": sum(op.connections for op in ops) - len(ops),
        "killed_at_s": round(killed_at, 1),
        "rss_mb_a": [round(first[0][1], 1) if first else None, round(memory[-1][1], 1)],
        "rss_mb_b_restarted": [round(half[0][2], 1) if half else None, round(memory[-1][2], 1)],
        "rss_growth_second_half_mb": [round(growth_a, 1), round(growth_b, 1)],
    }
    checks = {
        "no webhook event lost": result["events_not_stored"] == 0 and injector.given_up == 0,
        "no reply lost": result["replies_not_stored"] == 0 and not unanswered,
        "nothing stored twice": not (stored["duplicate_events"] or stored["duplicate_sends"]),
        "every operator saw every message (live + catch-up)": lost == 0,
        "seq order per operator and conversation": out_of_order == 0,
        "presence converged after the restart and the reload storm": (
            None not in presence.values() and not presence["wrong"]
        ),
        "every conversation has a display name": stored["nameless"] == 0,
        "memory flat in the second half (< 20 MB per node)": max(growth_a, growth_b) < 20,
    }
    result["checks"] = checks
    return result


def print_summary(result: dict[str, Any]) -> None:
    r = result
    print(
        f"\nsoak: {r['duration_s']} s, 2 nodes (Redis, PostgreSQL), {r['operators']} operators, "
        f"{r['users']} conversations, {r['webhook_rate']} webhooks/s, "
        f"{r['reply_rate']} replies/s; node B SIGKILLed at {r['killed_at_s']} s"
    )
    print(
        f"  webhook events: {r['webhook_events_accepted']} accepted "
        f"({r['webhook_redeliveries']} redeliveries), {r['stored_inbound']} stored, "
        f"{r['events_not_stored']} missing, {r['stored_duplicate_events']} stored twice"
    )
    print(
        f"  replies: {r['replies_sent']} sent, {r['replies_answered']} confirmed, "
        f"{r['stored_outbound']} stored, {r['replies_not_stored']} missing, "
        f"{r['stored_duplicate_sends']} stored twice, {r['replies_unanswered']} unanswered"
    )
    print(
        f"  deliveries: {r['lost_deliveries']} lost, {r['out_of_order']} out of seq order, "
        f"{r['repeated_frames']} repeated frames, {r['own_confirmed_late']} own messages "
        f"confirmed after later ones; {r['reconnects']} reconnects"
    )
    print(
        f"  presence: all online after {r['presence_initial_s']} s at start, "
        f"{r['presence_after_restart_s']} s after the restart, "
        f"{r['presence_after_reload_storm_s']} s after node A's reload storm; "
        f"wrong at the end: {r['presence_wrong_at_end'] or 'none'}"
    )
    print(f"  display names: {r['nameless']} of {r['conversations']} conversations without")
    print(
        f"  RSS MB: node A {r['rss_mb_a'][0]} -> {r['rss_mb_a'][1]}, restarted node B "
        f"{r['rss_mb_b_restarted'][0]} -> {r['rss_mb_b_restarted'][1]}; growth over the "
        f"second half {r['rss_growth_second_half_mb']}"
    )
    for name, ok in r["checks"].items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")
    if r["lost_examples"]:
        print("  lost, for example:", "; ".join(r["lost_examples"]))
    if r["order_examples"]:
        print("  out of order, for example:", "; ".join(r["order_examples"]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    p.add_argument("--operators", type=int, default=60)
    p.add_argument("--users", type=int, default=200, help="conversations")
    p.add_argument("--per-operator", type=int, default=10, help="conversations each has open")
    p.add_argument("--rate", type=float, default=15.0, help="webhook messages per second")
    p.add_argument("--reply-rate", type=float, default=3.0, help="operator replies per second")
    p.add_argument("--down", type=float, default=3.0, help="seconds node B stays dead")
    p.add_argument("--ttl", type=float, default=6.0, help="LIVECHAT_PRESENCE_TTL")
    p.add_argument("--grace", type=float, default=3.0, help="LIVECHAT_PRESENCE_GRACE")
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args()
    random.seed(17)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    result = asyncio.run(soak(args))
    print_summary(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
