"""The bytes of users' content, as files under `LIVECHAT_DATA_DIR/media`: memory
stays flat whatever the size (streamed in and out), and a restart keeps them.

Each node has its own copy unless the folder is shared; a node without the file
fetches it from LINE again (see `flows/media.py`). Names are a hash of LINE's
message id, so no id can reach outside the folder."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

PARTS = ("content", "preview")


class TooLarge(Exception):
    """The content is over the size cap; nothing was kept."""


class ContentFiles:
    """Content files below `root` (made on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, line_message_id: str, part: str) -> Path:
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}")
        name = hashlib.sha256(line_message_id.encode()).hexdigest()
        return self.root / part / name[:2] / name

    def has(self, line_message_id: str, part: str) -> bool:
        return self.path(line_message_id, part).is_file()

    async def write(
        self, line_message_id: str, part: str, chunks: AsyncIterator[bytes], max_bytes: int
    ) -> int:
        """Keep the chunks as the file, all or nothing; its size. Raises `TooLarge`
        past `max_bytes` (and whatever reading the chunks raises), keeping nothing."""
        target = self.path(line_message_id, part)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        size = 0
        try:
            with partial.open("wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"over {max_bytes} bytes")
                    out.write(chunk)
            os.replace(partial, target)  # readers see the whole file or none
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        return size

    def delete(self, line_message_id: str) -> None:
        """Remove every part of a content (an unsent message)."""
        for part in PARTS:
            with contextlib.suppress(FileNotFoundError):
                self.path(line_message_id, part).unlink()
