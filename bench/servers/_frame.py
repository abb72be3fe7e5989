"""The frame every peer fans out: the same shape and size as livechat_ext's
`message_received`, so bytes on the wire are comparable."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

_seq = itertools.count(1)


def _iso() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def message_frame(room: str, text: str) -> dict[str, Any]:
    now = _iso()
    return {
        "type": "message_received",
        "payload": {
            "message": {
                "id": uuid.uuid4().hex,
                "line_user_id": room,
                "seq": next(_seq),
                "direction": "inbound",
                "sender": {"type": "user", "id": room},
                "kind": "text",
                "text": text,
                "data": {"line_message_id": "512345678901234567"},
                "status": "received",
                "client_msg_id": None,
                "created_at": now,
            }
        },
        "timestamp": now,
    }
