"""The server limits a host app needs around the plugin, as uvicorn options."""

from __future__ import annotations

import gc
from typing import Any

from ..settings import LiveChatSettings

# Long enough for big cookies and a `?token=` JWT on the WebSocket handshake.
MAX_HEADER_BYTES = 32 * 1024
# requests still running this long after SIGTERM are cancelled, so the plugin's
# own (bounded) shutdown always gets its turn
GRACEFUL_SHUTDOWN_SECONDS = 5
# young collections every this many allocations (CPython's default: 700)
GC_YOUNG_THRESHOLD = 20_000


def uvicorn_options(settings: LiveChatSettings | None = None) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` that hold the
    plugin's limits before any of its code runs.

    uvicorn's defaults let any client, authenticated or not, make the server
    buffer a 16 MiB WebSocket frame (the plugin's own check comes after it) and,
    with httptools, HTTP headers of any length. These options refuse a frame
    over `LIVECHAT_MAX_FRAME_BYTES` from its header on (close 1009) and headers
    over `MAX_HEADER_BYTES` (400), and frames go out uncompressed (no
    permessage-deflate: the comment on it says why). `livechat-ext serve` runs with them;
    `settings` defaults to the `LIVECHAT_*` environment.
    """
    settings = settings or LiveChatSettings()
    return {
        "ws_max_size": settings.max_frame_bytes,
        # frames the `websockets` (legacy) implementation buffers ahead of the app
        "ws_max_queue": 4,
        # the protocol has its own heartbeat (`ping` frames, 4002)
        "ws_ping_interval": None,
        # browsers ask for permessage-deflate, and uvicorn grants it by default:
        # then every frame is compressed again for every socket, and each socket
        # keeps two zlib streams. Chat frames are small; without it a room's frame
        # is built once and written to each socket as is (web/direct_write.py)
        "ws_per_message_deflate": False,
        # httptools buffers headers without a bound; h11 has one. h11's speed
        # does not matter here: WebSocket frames do not go through it
        "http": "h11",
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }


def tune_gc() -> None:
    """Garbage-collector settings for a process that serves the plugin, called
    once the app is built (`livechat-ext serve` does; a host app may).

    Everything alive now (the imported modules, the app) is moved out of the
    cyclic collector's reach (`gc.freeze`), and young collections run every
    `GC_YOUNG_THRESHOLD` allocations instead of 700. Each connection adds
    objects the collector would otherwise rescan with everything imported:
    in a reconnect storm of 2000 operators the collector took about half the
    server's CPU (bench/levers/presence.md). Objects are still freed by
    reference counting as before; only cycles among the frozen ones are never
    collected, and the frozen ones are what lives as long as the process.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
