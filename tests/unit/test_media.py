"""Media without a server: signed URLs, LINE's content API through respx, and the
background fetch (202 retries, size cap, unsend) on a real SQLite store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from livechat_ext import LiveChatSettings
from livechat_ext.flows.media import Media, with_content_urls
from livechat_ext.line import LineClient
from livechat_ext.media_urls import MediaUrls, reference
from livechat_ext.models import MessageKind
from livechat_ext.protocol.client import FrameError, parse_client_frame
from livechat_ext.simulator.fake_content import FakeContents
from livechat_ext.store import Store, create_store
from livechat_ext.store.content import ContentFiles
from livechat_ext.store.media import MediaRecord, MediaState

DATA = "https://data.example"
CONTENT = f"{DATA}/v2/bot/message/42/content"
PREVIEW = f"{DATA}/v2/bot/message/42/content/preview"
NOW = 1_800_000_000.0


def urls(now: float = NOW) -> MediaUrls:
    return MediaUrls(b"k" * 32, "/live-chat", 3600, clock=lambda: now)


# signed URLs ------------------------------------------------------------------


def test_a_url_holds_for_its_message_operator_and_time_only() -> None:
    signer = urls()
    url = signer.url("42", "content", "op1")
    assert url.startswith("/live-chat/media/42/content?op=op1&exp=")
    query = dict(part.split("=", 1) for part in url.split("?")[1].split("&"))
    exp, sig = int(query["exp"]), query["sig"]
    assert exp >= NOW + 3600
    assert signer.verify("42", "op1", exp, sig)
    assert not signer.verify("43", "op1", exp, sig)  # another message
    assert not signer.verify("42", "op2", exp, sig)  # another operator
    assert not signer.verify("42", "op1", exp + 1, sig)  # a longer life
    assert not urls(now=exp + 1).verify("42", "op1", exp, sig)  # expired
    other_key = MediaUrls(b"x" * 32, "/live-chat", 3600, clock=lambda: NOW)
    assert not other_key.verify("42", "op1", exp, sig)


def test_frames_get_urls_for_their_operator_and_text_cannot_ask_for_one() -> None:
    data = with_content_urls(
        MessageKind.IMAGE, {"message_id": "42", "content_provider": {"type": "line"}}
    )
    assert data["content_url"] == reference("42", "content") == "lcmedia:42/content"
    assert data["preview_url"] == "lcmedia:42/preview"
    sneaky = 'see "content_url":"lcmedia:7/content" here'
    frame = json.dumps(
        {"payload": {"message": {"text": sneaky, "data": data}}},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    mine = json.loads(urls().for_frame(frame, "op1"))["payload"]["message"]
    assert mine["text"] == sneaky  # the user's words stay as they are
    assert mine["data"]["content_url"].startswith("/live-chat/media/42/content?op=op1&")
    assert mine["data"]["preview_url"].startswith("/live-chat/media/42/preview?op=op1&")
    plain = '{"type":"pong","payload":{}}'
    assert urls().for_frame(plain, "op1") is plain


def test_external_and_other_kinds_keep_their_data() -> None:
    external = {
        "message_id": "9",
        "content_provider": {
            "type": "external",
            "original_content_url": "https://cdn.example/a.mp4",
            "preview_image_url": "https://cdn.example/a.jpg",
        },
    }
    out = with_content_urls(MessageKind.VIDEO, external)
    assert (out["content_url"], out["preview_url"]) == (
        "https://cdn.example/a.mp4",
        "https://cdn.example/a.jpg",
    )
    audio = with_content_urls(MessageKind.AUDIO, {"message_id": "5", "duration": 10})
    assert audio["content_url"] == "lcmedia:5/content" and "preview_url" not in audio
    text = {"message_id": "1"}
    assert with_content_urls(MessageKind.TEXT, text) is text


# stickers in ------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "hi", "sticker": {"package_id": "1", "sticker_id": "2"}},
        {},
        {"sticker": {"package_id": "1"}},
        {"sticker": {"package_id": "1", "sticker_id": "../x"}},
    ],
)
def test_message_send_needs_exactly_one_valid_text_or_sticker(payload: dict[str, Any]) -> None:
    frame = {"type": "message_send", "payload": {"line_user_id": "U1", "client_msg_id": "c"}}
    frame["payload"].update(payload)
    with pytest.raises(FrameError) as caught:
        parse_client_frame(json.dumps(frame))
    assert caught.value.code == "invalid_message" and caught.value.details


# LINE's content API ---------------------------------------------------------


@pytest.fixture
async def line() -> AsyncIterator[LineClient]:
    async with LineClient("tok", data_base_url=DATA, timeout=5) as client:
        yield client


async def test_content_streams_from_the_data_api_with_the_token(
    line: LineClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.get(CONTENT).mock(
        return_value=httpx.Response(200, content=b"bytes", headers={"content-type": "image/png"})
    )
    respx_mock.get(PREVIEW).mock(return_value=httpx.Response(202))
    async with line.content("42") as response:
        assert response.status_code == 200
        assert b"".join([c async for c in response.aiter_bytes()]) == b"bytes"
    assert route.calls.last.request.headers["authorization"] == "Bearer tok"
    async with line.content("42", preview=True) as response:
        assert response.status_code == 202


# the background fetch ---------------------------------------------------------


class Spawned:
    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any]] = []

    def __call__(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.append(task)
        return task

    async def done(self) -> None:
        while not all(t.done() for t in self.tasks):
            await asyncio.gather(*self.tasks)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    made = create_store(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    await made.start()
    await made.create_schema()
    yield made
    await made.close()


def media(store: Store, line: LineClient, tmp_path: Path, spawn: Spawned, **kw: Any) -> Media:
    settings = LiveChatSettings(
        jwt_secret="s" * 32, media_fetch_backoff=0.001, media_fetch_attempts=4, **kw
    )
    return Media(settings, store, ContentFiles(tmp_path / "media"), line, spawn)


IMAGE = {"message_id": "42", "content_provider": {"type": "line"}}


async def test_202_is_retried_until_the_bytes_come(
    store: Store, line: LineClient, tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    spawn = Spawned()
    flow = media(store, line, tmp_path, spawn)
    respx_mock.get(CONTENT).mock(
        side_effect=[
            httpx.Response(202),
            httpx.Response(202),
            httpx.Response(200, content=b"img", headers={"content-type": "image/jpeg"}),
        ]
    )
    respx_mock.get(PREVIEW).mock(
        return_value=httpx.Response(200, content=b"p", headers={"content-type": "image/jpeg"})
    )
    await flow.arrived("Ua", MessageKind.IMAGE, IMAGE)
    await flow.arrived("Ua", MessageKind.IMAGE, IMAGE)  # a redelivery starts nothing
    await spawn.done()
    assert len(spawn.tasks) == 1
    record = await store.get_media("42")
    assert record is not None and record.state is MediaState.READY
    assert (record.content_type, record.size, record.preview_type) == (
        "image/jpeg",
        3,
        "image/jpeg",
    )
    assert flow.files.path("42", "content").read_bytes() == b"img"
    served = await flow.serve(record, "preview")
    assert served.status == 200 and served.path is not None and served.path.read_bytes() == b"p"


async def test_out_of_tries_stays_pending_and_a_later_pass_fetches_it(
    store: Store, line: LineClient, tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    spawn = Spawned()
    flow = media(store, line, tmp_path, spawn)
    route = respx_mock.get(CONTENT).mock(return_value=httpx.Response(202))
    await flow.arrived("Ua", MessageKind.AUDIO, {"message_id": "42"})
    await spawn.done()
    assert route.call_count == 4  # bounded
    record = await store.get_media("42")
    assert record is not None and record.state is MediaState.PENDING
    assert (await flow.serve(record, "content")).status == 202
    route.mock(
        return_value=httpx.Response(200, content=b"aud", headers={"content-type": "audio/mp4"})
    )
    await spawn.done()  # the request above nudged a new fetch
    record = await store.get_media("42")
    assert record is not None and record.state is MediaState.READY
    assert (await flow.serve(record, "preview")).status == 404  # audio has no preview


async def test_the_size_cap_and_an_unsend(
    store: Store, line: LineClient, tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    spawn = Spawned()
    flow = media(store, line, tmp_path, spawn, media_max_bytes=1024)
    respx_mock.get(CONTENT).mock(return_value=httpx.Response(200, content=b"x" * 2048))
    await flow.arrived("Ua", MessageKind.FILE, {"message_id": "42", "file_name": "a.bin"})
    await spawn.done()
    record = await store.get_media("42")
    assert record is not None and record.state is MediaState.TOO_LARGE
    kept = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert kept == []  # nothing kept, no partial file
    await flow.unsent("42")
    record = await store.get_media("42")
    assert record is not None and record.state is MediaState.GONE
    assert (await flow.serve(record, "content")).status == 410
    await store.set_media("42", MediaState.READY, content_type="x/y", size=1)
    record = await store.get_media("42")
    assert record is not None and record.state is MediaState.GONE  # a late fetch loses


async def test_a_pass_deletes_this_nodes_copy_of_what_another_node_saw_unsent(
    store: Store, line: LineClient, tmp_path: Path
) -> None:
    here = media(store, line, tmp_path / "here", Spawned())
    elsewhere = media(store, line, tmp_path / "elsewhere", Spawned())
    await store.add_media(MediaRecord("77", "Ua", "image", MediaState.PENDING))

    async def chunks() -> AsyncIterator[bytes]:
        yield b"copy"

    await here.files.write("77", "content", chunks(), 1024)
    await here.resume()  # a first pass: nothing unsent yet
    assert here.files.has("77", "content")
    await elsewhere.unsent("77")  # the unsend reached the other node
    await here.resume()
    assert not here.files.has("77", "content")


def test_the_fake_content_api_answers_like_line() -> None:
    contents = FakeContents()
    contents.add("1", b"body", "video/mp4", preview=None, ready_after=2)
    assert [contents.answer("1", False).status for _ in range(3)] == [202, 202, 200]
    assert contents.answer("1", True).status == 404  # no preview
    assert contents.answer("2", False).status == 404
    contents.unsend("1")
    assert contents.answer("1", False).status == 410
    assert contents.requests == {"1": 5, "2": 1}


# slots, failures and giving up --------------------------------------------------


class Stream(httpx.AsyncByteStream):
    """A body without Content-Length: `chunks`, then `fail` raised (if any), after
    `hold` is set (if any)."""

    def __init__(
        self,
        chunks: list[bytes],
        fail: Exception | None = None,
        hold: asyncio.Event | None = None,
    ) -> None:
        self.chunks, self.fail, self.hold = chunks, fail, hold
        self.started = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        for chunk in self.chunks:
            yield chunk
        if self.fail is not None:
            raise self.fail

    async def aclose(self) -> None:
        pass


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_content_line_keeps_answering_202_holds_no_slot_while_waiting(
    store: Store, line: LineClient, tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    spawn = Spawned()
    settings = LiveChatSettings(
        jwt_secret="s" * 32,
        media_fetch_concurrency=1,
        media_fetch_backoff=600.0,  # the slow one waits long between tries
        media_fetch_attempts=3,
    )
    flow = Media(settings, store, ContentFiles(tmp_path / "media"), line, spawn)
    asked = asyncio.Event()

    def not_ready(request: httpx.Request) -> httpx.Response:
        asked.set()
        return httpx.Response(202)

    respx_mock.get(f"{DATA}/v2/bot/message/slow/content").mock(side_effect=not_ready)
    respx_mock.get(f"{DATA}/v2/bot/message/fast/content").mock(
        return_value=httpx.Response(200, content=b"aud", headers={"content-type": "audio/mp4"})
    )
    await flow.arrived("Ua", MessageKind.AUDIO, {"message_id": "slow"})
    await asked.wait()  # it asked once, and now waits out its backoff
    await flow.arrived("Ua", MessageKind.AUDIO, {"message_id": "fast"})
    # bounded only so a regression fails instead of hanging for ten minutes
    await asyncio.wait_for(asyncio.shield(spawn.tasks[1]), 30)
    fast = await store.get_media("fast")
    assert fast is not None and fast.state is MediaState.READY
    spawn.tasks[0].cancel()  # a shutdown during the backoff
    await asyncio.gather(*spawn.tasks, return_exceptions=True)
    record = await store.get_media("slow")
    assert record is not None and record.state is MediaState.PENDING
    assert await store.claim_media("slow", 60)  # released for the next start


async def test_an_operators_request_does_not_queue_behind_background_fetches(
    store: Store, line: LineClient, tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    spawn = Spawned()
    settings = LiveChatSettings(jwt_secret="s" * 32, media_fetch_concurrency=1)
    flow = Media(settings, store, ContentFiles(tmp_path / "media"), line, spawn)
    release = asyncio.Event()
    stuck = Stream([b"x"], hold=release)  # a background download that does not end
    respx_mock.get(f"{DATA}/v2/bot/message/bg/content").mock(
        return_value=httpx.Response(200, stream=stuck, headers={"content-type": "audio/mp4"})
    )
    respx_mock.get(CONTENT).mock(
        return_value=httpx.Response(200, content=b"img", headers={"content-type": "image/png"})
    )
    await flow.arrived("Ua", MessageKind.AUDIO, {"message_id": "bg"})
    await stuck.started.wait()  # the only background slot is taken
    # another node fetched 42: this node lacks the file and fetches it on demand
    await store.add_media(MediaRecord("42", "Ua", "image", MediaState.PENDING))
    await store.set_media("42", MediaState.READY, content_type="image/png", size=3)
    record = await store.get_media("42")
    served = await asyncio.wait_for(flow.serve(record, "content"), 30)  # bound: no hang
    assert served.status == 200 and served.path is not None
    assert served.path.read_bytes() == b"img"
    release.set()
    await spawn.done()


async def test_a_body_that_breaks_off_is_retried_and_its_lease_released(
    store: Store, line: LineClient, tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    spawn = Spawned()
    flow = media(store, line, tmp_path, spawn)  # 4 tries a pass
    route = respx_mock.get(CONTENT).mock(
        side_effect=lambda request: httpx.Response(
            200,
            stream=Stream([b"x" * 1000], fail=httpx.ReadTimeout("mid-stream")),
            headers={"content-type": "audio/mp4"},
        )
    )
    await flow.arrived("Ua", MessageKind.AUDIO, {"message_id": "42"})
    await spawn.done()
    assert route.call_count == 4  # each break-off was another try
    record = await store.get_media("42")
    assert record is not None and (record.state, record.attempts) == (MediaState.PENDING, 4)
    assert files_in(tmp_path / "media") == []  # no partial file left
    assert await store.claim_media("42", 60)  # not held: the next pass takes it
    # on demand (ready elsewhere, not here): a clear "try again", not an error
    await store.set_media("42", MediaState.READY, content_type="audio/mp4", size=3)
    record = await store.get_media("42")
    assert (await flow.serve(record, "content")).status == 503
    assert files_in(tmp_path / "media") == []


async def test_a_disk_that_cannot_keep_it_is_a_try_again(
    store: Store, line: LineClient, tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    spawn = Spawned()
    settings = LiveChatSettings(
        jwt_secret="s" * 32, media_fetch_backoff=0.001, media_fetch_attempts=2
    )
    blocked = tmp_path / "not-a-folder"
    blocked.write_bytes(b"")  # the media folder cannot be made under it: OSError
    flow = Media(settings, store, ContentFiles(blocked / "media"), line, spawn)
    route = respx_mock.get(CONTENT).mock(
        return_value=httpx.Response(200, content=b"aud", headers={"content-type": "audio/mp4"})
    )
    await flow.arrived("Ua", MessageKind.AUDIO, {"message_id": "42"})
    await spawn.done()
    assert route.call_count == 2
    record = await store.get_media("42")
    assert record is not None and record.state is MediaState.PENDING
    assert await store.claim_media("42", 60)
    await store.set_media("42", MediaState.READY, content_type="audio/mp4", size=3)
    record = await store.get_media("42")
    assert (await flow.serve(record, "content")).status == 503


async def test_a_shutdown_after_the_fetch_is_recorded_keeps_it_ready(
    store: Store,
    line: LineClient,
    tmp_path: Path,
    respx_mock: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spawn = Spawned()
    flow = media(store, line, tmp_path, spawn)
    respx_mock.get(CONTENT).mock(
        return_value=httpx.Response(200, content=b"aud", headers={"content-type": "audio/mp4"})
    )
    reading = asyncio.Event()
    real_get = store.get_media

    async def stuck_get(line_message_id: str) -> MediaRecord | None:
        reading.set()  # the read right after the outcome was written
        await asyncio.Event().wait()
        return await real_get(line_message_id)

    await flow.arrived("Ua", MessageKind.AUDIO, {"message_id": "42"})
    monkeypatch.setattr(store, "get_media", stuck_get)
    await reading.wait()
    spawn.tasks[0].cancel()
    await asyncio.gather(*spawn.tasks, return_exceptions=True)
    record = await real_get("42")
    assert record is not None and record.state is MediaState.READY  # not back to pending


@pytest.mark.parametrize("status", [400, 401, 403])
async def test_a_4xx_is_final(
    status: int, store: Store, line: LineClient, tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    spawn = Spawned()
    flow = media(store, line, tmp_path, spawn)
    route = respx_mock.get(CONTENT).mock(return_value=httpx.Response(status))
    await flow.arrived("Ua", MessageKind.AUDIO, {"message_id": "42"})
    await spawn.done()
    assert route.call_count == 1
    record = await store.get_media("42")
    assert record is not None and record.state is MediaState.FAILED
    assert await flow.resume() == 0
    assert (await flow.serve(record, "content")).status == 404


async def test_passes_give_up_after_their_tries_in_all(
    store: Store, line: LineClient, tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    spawn = Spawned()
    flow = media(store, line, tmp_path, spawn)  # 4 tries a pass, 5 passes
    route = respx_mock.get(CONTENT).mock(return_value=httpx.Response(202))
    await flow.arrived("Ua", MessageKind.AUDIO, {"message_id": "42"})
    await spawn.done()
    for _ in range(10):  # resume's passes, each minute in a server
        if not await flow.resume():
            break
        await spawn.done()
    assert route.call_count == 20
    record = await store.get_media("42")
    assert record is not None and (record.state, record.attempts) == (MediaState.FAILED, 20)
    assert await flow.resume() == 0  # never started again
    served = await flow.serve(record, "content")
    assert served.status == 404 and route.call_count == 20


async def test_the_cap_holds_for_a_body_without_a_length(
    store: Store, line: LineClient, tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    spawn = Spawned()
    flow = media(store, line, tmp_path, spawn, media_max_bytes=4096)
    respx_mock.get(CONTENT).mock(return_value=httpx.Response(200, stream=Stream([b"x" * 1024] * 5)))
    await flow.arrived("Ua", MessageKind.FILE, {"message_id": "42", "file_name": "a.bin"})
    await spawn.done()
    request = respx_mock.calls.last
    assert "content-length" not in request.response.headers  # chunked: only the count caps it
    record = await store.get_media("42")
    assert record is not None and record.state is MediaState.TOO_LARGE
    assert files_in(tmp_path / "media") == []


async def test_an_unsend_deletes_only_that_users_content(
    store: Store, line: LineClient, tmp_path: Path
) -> None:
    flow = media(store, line, tmp_path, Spawned())
    await store.add_media(MediaRecord("42", "Ua", "image", MediaState.PENDING))

    async def chunks() -> AsyncIterator[bytes]:
        yield b"copy"

    await flow.files.write("42", "content", chunks(), 1024)
    await flow.unsent("42", "Uother")  # another user's unsend event naming this id
    record = await store.get_media("42")
    assert record is not None and record.state is MediaState.PENDING
    assert flow.files.has("42", "content")
    await flow.unsent("42", "Ua")
    record = await store.get_media("42")
    assert record is not None and record.state is MediaState.GONE
    assert not flow.files.has("42", "content")


# signed links and the authorize hook ------------------------------------------


async def test_a_signed_link_asks_the_hook_with_the_operator_this_process_saw() -> None:
    from livechat_ext.operator import Operator
    from livechat_ext.realtime.access import Access

    seen: list[Operator] = []
    allowed = {"op1"}

    def authorize(operator: Operator, line_user_id: str) -> bool:
        seen.append(operator)
        return operator.claims.get("role") == "agent" and operator.admin_id in allowed

    access = Access(authorize, Spawned())
    # a process that never saw op2's token: the admin id alone, no claims
    assert not await access.link_allowed("op2", "Ua")
    assert seen[-1] == Operator("op2") and seen[-1].claims == {}
    # op1's token was seen (a REST call asked the hook): its claims go to the hook
    agent = Operator("op1", claims={"sub": "op1", "role": "agent"})
    assert await access.allowed(agent, "Ub")
    assert await access.link_allowed("op1", "Ua")
    assert seen[-1].claims["role"] == "agent"
    asked = len(seen)
    assert await access.link_allowed("op1", "Ua")  # a fresh cached yes: not asked again
    assert len(seen) == asked


async def test_a_large_body_is_kept_whole_in_many_writes(tmp_path: Path) -> None:
    files = ContentFiles(tmp_path / "media")
    body = bytes(range(256)) * 4096  # 1 MiB: several flushes of the buffer

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    assert await files.write("9", "content", chunks(), len(body)) == len(body)
    assert files.path("9", "content").read_bytes() == body
    assert files_in(tmp_path / "media") == [files.path("9", "content")]  # no partial left
    await files.delete("9")
    assert files_in(tmp_path / "media") == []
