"""The fake's content API (`GET /v2/bot/message/{id}/content` and
`/content/preview`): what users sent as images, videos, audio and files."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ContentReply:
    """A content answer: JSON errors and 202 carry `{}`-like bodies as bytes."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Content:
    body: bytes
    content_type: str
    preview: bytes | None
    not_ready: int  # 202 answers left before the 200s


_NOT_FOUND = b'{"message":"Not found"}'
_GONE = b'{"message":"The content was deleted"}'


class FakeContents:
    """Contents by LINE message id. `ready_after` 202s come before the bytes;
    an unsent content answers 410, an unknown one 404. `requests` counts the
    calls per message id (content and preview alike)."""

    def __init__(self) -> None:
        self._contents: dict[str, _Content] = {}
        self._unsent: set[str] = set()
        self._lock = threading.Lock()
        self.requests: dict[str, int] = {}

    def add(
        self,
        message_id: str,
        body: bytes,
        content_type: str,
        preview: bytes | None = None,
        ready_after: int = 0,
    ) -> None:
        if ready_after < 0:
            raise ValueError("ready_after must be 0 or more")
        with self._lock:
            self._contents[message_id] = _Content(body, content_type, preview, ready_after)
            self._unsent.discard(message_id)

    def unsend(self, message_id: str) -> None:
        """The user unsent it: 410 from now on."""
        with self._lock:
            self._contents.pop(message_id, None)
            self._unsent.add(message_id)

    def forget(self, message_id: str) -> None:
        """LINE no longer has it (its retention ran out): 404 from now on."""
        with self._lock:
            self._contents.pop(message_id, None)

    def answer(self, message_id: str, preview: bool) -> ContentReply:
        with self._lock:
            self.requests[message_id] = self.requests.get(message_id, 0) + 1
            if message_id in self._unsent:
                return ContentReply(410, _GONE, "application/json")
            content = self._contents.get(message_id)
            if content is None or (preview and content.preview is None):
                return ContentReply(404, _NOT_FOUND, "application/json")
            if content.not_ready > 0:
                content.not_ready -= 1
                return ContentReply(202, b"", "application/json")
        if preview:
            assert content.preview is not None
            return ContentReply(200, content.preview, "image/jpeg")
        return ContentReply(200, content.body, content.content_type)
