"""The bytes of users' content, as files under `LIVECHAT_DATA_DIR/media`: memory
stays flat whatever the size (streamed in and out), and a restart keeps them.

Each node has its own copy unless the folder is shared; a node without the file
fetches it from LINE again (see `flows/media.py`). Names are a hash of LINE's
message id, so no id can reach outside the folder."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

PARTS = ("content", "preview")
_FLUSH = 256 * 1024


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
        past `max_bytes` (and whatever reading the chunks raises, or `OSError`
        from the disk), keeping nothing. The file work runs in a thread: the event
        loop never waits on the disk."""
        target = self.path(line_message_id, part)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        size = 0
        out = await asyncio.to_thread(_open, partial)
        try:
            try:
                buffer = bytearray()  # one thread hop per `_FLUSH` bytes, not per chunk
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"over {max_bytes} bytes")
                    buffer += chunk
                    if len(buffer) >= _FLUSH:
                        await asyncio.to_thread(out.write, bytes(buffer))
                        buffer.clear()
                if buffer:
                    await asyncio.to_thread(out.write, bytes(buffer))
            finally:
                await asyncio.to_thread(out.close)
            await asyncio.to_thread(os.replace, partial, target)  # readers: whole or none
        finally:
            await asyncio.to_thread(_unlink, partial)
        return size

    async def delete(self, *line_message_ids: str) -> None:
        """Remove every part of these contents (unsent messages), in a thread."""
        paths = [self.path(m, part) for m in line_message_ids for part in PARTS]
        if paths:
            await asyncio.to_thread(_unlink, *paths)


def _open(partial: Path) -> BinaryIO:
    partial.parent.mkdir(parents=True, exist_ok=True)
    return partial.open("wb")


def _unlink(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
