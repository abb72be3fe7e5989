"""Server-Sent Events carrying a user's pushes and loading animations to the phone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from livechat_ext.simulator.fake_records import LoadingCall, Push
from livechat_ext.simulator.fake_state import FakeLine
from livechat_ext.simulator.phone import messages_from_push
from livechat_ext.simulator.webhooks import JSONDict

KEEPALIVE_SECONDS = 15.0


def sse_frame(event: str, data: JSONDict) -> str:
    """One SSE frame; the JSON is on one line, so a single `data:` field is enough."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _frames_for(item: Push | LoadingCall, user_id: str, fake: FakeLine) -> list[str]:
    if isinstance(item, LoadingCall):
        if item.chat_id != user_id or fake.is_blocked(user_id):
            return []
        return [sse_frame("loading", {"seconds": item.loading_seconds})]
    if item.to != user_id or not item.delivered:
        return []
    return [sse_frame("message", m.to_json()) for m in messages_from_push(item)]


async def user_event_stream(
    fake: FakeLine,
    user_id: str,
    is_disconnected: Callable[[], Awaitable[bool]],
    *,
    max_seconds: float = 60.0,
    tick: float = 0.5,
) -> AsyncIterator[str]:
    """SSE frames for one phone: `ready` once subscribed, then `message` and `loading`.

    The stream ends when the client goes, when `fake.close()` is called (uvicorn
    waits for open responses before running lifespan shutdown, so the host must
    call it earlier) or after `max_seconds`; the browser's EventSource then
    reconnects and the page reloads the conversation on `ready`, so nothing is lost.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + max_seconds
    idle_since = loop.time()
    with fake.subscribe() as queue:
        yield "retry: 1000\n\n"
        yield sse_frame("ready", {"user_id": user_id})
        left = fake.loading_seconds_left(user_id)
        if left > 0:
            yield sse_frame("loading", {"seconds": left})
        while not fake.closed and loop.time() < end and not await is_disconnected():
            try:
                async with asyncio.timeout(tick):
                    item = await queue.get()
            except TimeoutError:
                if loop.time() - idle_since >= KEEPALIVE_SECONDS:
                    idle_since = loop.time()
                    yield ": keep-alive\n\n"
                continue
            for frame in _frames_for(item, user_id, fake):
                idle_since = loop.time()
                yield frame


__all__ = ["KEEPALIVE_SECONDS", "sse_frame", "user_event_stream"]
