"""Content URLs for operators: a message keeps a reference to its content
(`lcmedia:<LINE message id>/content`), and every copy that goes to one operator
(a WebSocket frame, a REST answer) gets it replaced by a URL signed for that
operator: HMAC-SHA256 over (LINE message id, admin id, expiry) with a key
derived from the JWT secret. The URL needs no header, so it works in `<img>`,
`<video>`, `<audio>` and a download link. Pure: no web library here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from .settings import LiveChatSettings

log = logging.getLogger("livechat_ext.media")

REFERENCE = "lcmedia:"
"""How a stored message's `data.content_url` / `data.preview_url` begins."""
PARTS = ("content", "preview")
_BUCKET = 300  # expiries are rounded up to it: one operator's URLs stay stable a while
_KEY_LABEL = b"livechat_ext media url v1"
# keyed on the JSON key, compact as `encode` writes it: text inside a JSON string
# has its quotes escaped and can never look like this
_IN_FRAME = re.compile(r'"(content_url|preview_url)":"lcmedia:([^"\\/]+)/(content|preview)"')


def reference(line_message_id: str, part: str) -> str:
    """What a stored message keeps for its content (`part` content or preview)."""
    return f"{REFERENCE}{quote(line_message_id, safe='')}/{part}"


def media_key(settings: LiveChatSettings) -> bytes:
    """The signing key: from `media_url_secret`, else derived from the JWT secret.
    Without either (public-key tokens), a random key: URLs then work on this
    process only, so set `LIVECHAT_MEDIA_URL_SECRET` on a cluster."""
    secret = settings.media_url_secret or settings.jwt_secret
    if not secret:
        log.warning(
            "content URLs are signed with a key of this process only: set "
            "LIVECHAT_MEDIA_URL_SECRET (the same on every node) for several processes"
        )
    raw = secret.encode() if secret else secrets.token_bytes(32)
    return hmac.new(raw, _KEY_LABEL, hashlib.sha256).digest()


class MediaUrls:
    """Mints and checks operators' content URLs under `prefix` (the API prefix)."""

    def __init__(
        self, key: bytes, prefix: str, ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = key
        self._prefix = prefix.rstrip("/")
        self._ttl = ttl
        self._clock = clock
        self._plain = ""  # the last frame found to hold no reference

    def path(self, line_message_id: str, part: str) -> str:
        return f"{self._prefix}/media/{quote(line_message_id, safe='')}/{part}"

    def signature(self, line_message_id: str, admin_id: str, expires: int) -> str:
        message = json.dumps([line_message_id, admin_id, expires]).encode()  # unambiguous
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()

    def expiry(self) -> int:
        """Now plus the lifetime, rounded up to the bucket."""
        return (int(self._clock()) + self._ttl) // _BUCKET * _BUCKET + _BUCKET

    def url(
        self, line_message_id: str, part: str, admin_id: str, expires: int | None = None
    ) -> str:
        """The URL of one content, valid for `admin_id` until `expires` (epoch seconds)."""
        exp = self.expiry() if expires is None else expires
        sig = self.signature(line_message_id, admin_id, exp)
        return (
            f"{self.path(line_message_id, part)}?op={quote(admin_id, safe='')}&exp={exp}&sig={sig}"
        )

    def verify(self, line_message_id: str, admin_id: str, expires: int, sig: str) -> bool:
        """Whether `sig` is ours for this content, operator and expiry, not yet expired."""
        if expires < self._clock():
            return False
        expected = self.signature(line_message_id, admin_id, expires)
        return hmac.compare_digest(expected.encode(), sig.encode())

    def for_frame(self, frame: str, admin_id: str) -> str:
        """`frame` (encoded JSON) with each content reference made a URL for `admin_id`."""
        if frame is self._plain:  # a fan-out hands the same frame to every socket
            return frame
        if REFERENCE not in frame:
            self._plain = frame
            return frame
        exp = self.expiry()
        op = quote(admin_id, safe="")
        sigs: dict[str, str] = {}  # content and preview share theirs

        def signed(match: re.Match[str]) -> str:
            key, quoted, part = match.groups()
            sig = sigs.get(quoted)
            if sig is None:
                sig = sigs[quoted] = self.signature(unquote(quoted), admin_id, exp)
            return f'"{key}":"{self._prefix}/media/{quoted}/{part}?op={op}&exp={exp}&sig={sig}"'

        return _IN_FRAME.sub(signed, frame)

    def for_data(self, data: dict[str, Any], admin_id: str) -> dict[str, Any]:
        """A message's `data` (as dumped) with its references made URLs for `admin_id`."""
        out = dict(data)
        for key in ("content_url", "preview_url"):
            value = out.get(key)
            if isinstance(value, str) and value.startswith(REFERENCE):
                message_id, _, part = value[len(REFERENCE) :].rpartition("/")
                out[key] = self.url(unquote(message_id), part, admin_id)
        return out

    def for_message(self, message: dict[str, Any], admin_id: str) -> dict[str, Any]:
        """A dumped Message with its `data` made for `admin_id`."""
        data = message.get("data")
        if not isinstance(data, dict):
            return message
        return {**message, "data": self.for_data(data, admin_id)}

    def for_conversation(self, conversation: dict[str, Any], admin_id: str) -> dict[str, Any]:
        """A dumped Conversation with its last message made for `admin_id`."""
        last = conversation.get("last_message")
        if not isinstance(last, dict):
            return conversation
        return {**conversation, "last_message": self.for_message(last, admin_id)}
