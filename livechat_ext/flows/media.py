"""Users' images, videos, audio and files: fetched from LINE's content API in the
background once the message is stored, kept as files, served to operators.

- A media message's `data` gets `content_url` (and `preview_url` for images and
  videos): a reference (`media_urls.reference`) that becomes a URL signed for the
  operator who receives the message; external content keeps LINE's own URLs.
- The fetch state is a row of the store (`pending` until LINE gives the bytes),
  so a restart resumes it; a lease makes one node fetch it. While LINE answers
  202 the fetch tries again with backoff, a bounded number of times; a later
  pass (`resume`) or a request for it tries again, until `_PASSES` times
  `media_fetch_attempts` tries in all: then it is `failed` (as after a 4xx other
  than 404, 410 and 429). The fetch slots are held only during a request to
  LINE, never through a backoff wait.
- Each node keeps its own files; a node without the file of a `ready` content
  fetches it from LINE when it is asked for it (fetch-on-miss), with slots of
  its own: an operator's request never queues behind background fetches, and
  waits at most `_ON_DEMAND_WAIT` seconds for a slot (else 503, try again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..background import Spawn
from ..errors import DeliveryError, describe
from ..media_urls import reference
from ..models import MessageKind, utcnow
from ..settings import LiveChatSettings
from ..store.content import ContentFiles, TooLarge
from ..store.media import MediaRecord, MediaState, MediaStore

if TYPE_CHECKING:
    from ..line import LineClient

log = logging.getLogger("livechat_ext.flows.media")

MEDIA_KINDS = frozenset({MessageKind.IMAGE, MessageKind.VIDEO, MessageKind.AUDIO, MessageKind.FILE})
PREVIEW_KINDS = frozenset({MessageKind.IMAGE, MessageKind.VIDEO})
INLINE_KINDS = frozenset({"image", "video", "audio"})
_MAX_BACKOFF = 30.0
_PASSES = 5  # a content gets `_PASSES * media_fetch_attempts` tries in all
_ON_DEMAND_WAIT = 5.0
_RESUME_BATCH = 100
_SWEEP_BATCH = 10_000
_CLOCK_SKEW = timedelta(minutes=5)
_EXTERNAL = (("content_url", "original_content_url"), ("preview_url", "preview_image_url"))


def _from_line(kind: MessageKind, data: dict[str, Any]) -> bool:
    """Whether LINE keeps the content (audio and files have no provider: LINE does)."""
    provider = data.get("content_provider") or {}
    return kind in MEDIA_KINDS and provider.get("type", "line") == "line"


def _declared_size(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0  # the stream's own count still holds the cap


def with_content_urls(kind: MessageKind, data: dict[str, Any]) -> dict[str, Any]:
    """A new message's `data` with `content_url` and `preview_url`: references to
    our copy of LINE's content, or an external provider's own URLs."""
    if kind not in MEDIA_KINDS or "message_id" not in data:
        return data
    out = dict(data)
    if not _from_line(kind, data):
        provider = data.get("content_provider") or {}
        for key, field in (
            ("content_url", "original_content_url"),
            ("preview_url", "preview_image_url"),
        ):
            if isinstance(provider.get(field), str):
                out[key] = provider[field]
        return out
    out["content_url"] = reference(str(data["message_id"]), "content")
    if kind in PREVIEW_KINDS:
        out["preview_url"] = reference(str(data["message_id"]), "preview")
    return out


@dataclass(frozen=True)
class Served:
    """What the content route answers: `status` 200 with `path`, else 202 (not
    fetched yet), 404 (unknown, LINE has none, or `failed`), 410 (unsent), 413
    (too large), 503 (LINE could not give this node its copy just now)."""

    status: int
    record: MediaRecord | None = None
    path: Path | None = None
    media_type: str | None = None


@dataclass(frozen=True)
class _Fetched:
    state: MediaState
    content_type: str | None = None
    size: int | None = None


_STATUS = {
    MediaState.PENDING: 202,
    MediaState.GONE: 410,
    MediaState.MISSING: 404,
    MediaState.TOO_LARGE: 413,
    MediaState.FAILED: 404,
}


class Media:
    """Fetches contents from LINE (at most `media_fetch_concurrency` at once),
    keeps them in `files`, and says what to serve."""

    def __init__(
        self,
        settings: LiveChatSettings,
        store: MediaStore,
        files: ContentFiles,
        line: LineClient | None,
        spawn: Spawn,
    ) -> None:
        self.store = store
        self.files = files
        self.line = line
        self._spawn = spawn
        self._max_bytes = settings.media_max_bytes
        self._attempts = settings.media_fetch_attempts
        self._backoff = settings.media_fetch_backoff
        self._gate = asyncio.Semaphore(settings.media_fetch_concurrency)  # background
        self._on_demand = asyncio.Semaphore(settings.media_fetch_concurrency)
        self._give_up = self._attempts * _PASSES
        self._running: set[str] = set()  # ids this node fetches now
        self._misses: dict[str, asyncio.Lock] = {}
        self._swept_at: datetime | None = None
        waits = sum(min(_MAX_BACKOFF, self._backoff * 2**i) for i in range(self._attempts))
        self.lease = waits + self._attempts * settings.line_timeout * 4 + 30.0

    # arrival ------------------------------------------------------------------

    async def arrived(self, line_user_id: str, kind: MessageKind, data: dict[str, Any]) -> None:
        """A stored message (new or redelivered): remember its LINE content and
        start fetching it in the background. Raises `StoreError`."""
        await self.arrived_many([(line_user_id, kind, data)])

    async def arrived_many(self, messages: list[tuple[str, MessageKind, dict[str, Any]]]) -> None:
        """`arrived` for a webhook's stored messages: their contents remembered in
        one transaction. Raises `StoreError`."""
        records = [
            MediaRecord(
                line_message_id=str(data["message_id"]),
                line_user_id=line_user_id,
                kind=kind.value,
                state=MediaState.PENDING,
                file_name=data.get("file_name"),
            )
            for line_user_id, kind, data in messages
            if _from_line(kind, data) and "message_id" in data
        ]
        if not records:
            return
        added = await self.store.add_media_many(records)
        for record in records:
            if record.line_message_id in added:
                self.nudge(record)

    def nudge(self, record: MediaRecord) -> None:
        """Fetch a pending content in the background unless this node does already."""
        if self.line is not None and record.line_message_id not in self._running:
            self._running.add(record.line_message_id)
            self._spawn(self._fetch(record))

    async def resume(self) -> int:
        """Fetch the pending contents nobody holds (left by a restart, or out of
        tries); how many were started. Also delete this node's copies of contents
        unsent since the last pass (another node took the unsend)."""
        await self._sweep()
        if self.line is None:
            return 0
        started = 0
        for record in await self.store.pending_media(_RESUME_BATCH):
            if record.line_message_id not in self._running:
                self.nudge(record)
                started += 1
        return started

    async def _sweep(self) -> None:
        since, self._swept_at = self._swept_at, utcnow()
        if since is not None:
            since -= _CLOCK_SKEW  # another node's clock wrote the time
        await self.files.delete(*await self.store.gone_media(since, _SWEEP_BATCH))

    async def unsent(self, line_message_id: str, line_user_id: str | None = None) -> None:
        """The user unsent it: the content is deleted and answered 410 from now on.
        `line_user_id`: only if the content is that user's (an unsend event)."""
        if line_user_id is not None:
            record = await self.store.get_media(line_message_id)
            if record is None or record.line_user_id != line_user_id:
                return
        await self.store.set_media(line_message_id, MediaState.GONE, line_user_id=line_user_id)
        await self.files.delete(line_message_id)

    # the background fetch -----------------------------------------------------

    async def _fetch(self, record: MediaRecord) -> None:
        key = record.line_message_id
        try:
            if not await self.store.claim_media(key, self.lease):
                return  # another node has it, or it is no longer pending
            fetched, tries = await self._with_retries(record)
            attempts = record.attempts + tries
            if fetched.state is MediaState.PENDING:
                if attempts < self._give_up:
                    await self.store.release_media(key, attempts)  # a later pass goes on
                    return
                log.warning("content %s: not ready after %d tries; given up", key, attempts)
                fetched = _Fetched(MediaState.FAILED)
            await self._record(record, fetched, attempts)
        except asyncio.CancelledError:  # shutting down: leave it to the next start at once
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.release_media(key))  # only if still pending
            raise
        except Exception as exc:
            log.warning(  # LINE's own failure says all in a line; others get their traceback
                "fetching content %s failed (%s)",
                key,
                describe(exc),
                exc_info=None if isinstance(exc, DeliveryError) else exc,
            )
            with contextlib.suppress(Exception):
                await self.store.release_media(key)  # a later pass or a request tries again
        finally:
            self._running.discard(key)

    async def _with_retries(self, record: MediaRecord) -> tuple[_Fetched, int]:
        """The outcome of this pass's tries, and how many requests it made."""
        fetched = _Fetched(MediaState.PENDING)
        tries = 0
        for attempt in range(min(self._attempts, self._give_up - record.attempts)):
            if attempt:  # no slot held while waiting
                await asyncio.sleep(min(_MAX_BACKOFF, self._backoff * 2 ** (attempt - 1)))
            tries += 1
            try:
                async with self._gate:
                    fetched = await self._download(record.line_message_id, "content")
            except DeliveryError as exc:  # network, 5xx, 429, disk: try again
                log.info("content %s: %s", record.line_message_id, exc.message)
                fetched = _Fetched(MediaState.PENDING)
                continue
            if fetched.state is not MediaState.PENDING:
                return fetched, tries
        return fetched, tries

    async def _record(self, record: MediaRecord, fetched: _Fetched, attempts: int) -> None:
        key = record.line_message_id
        preview = None
        if fetched.state is MediaState.READY and MessageKind(record.kind) in PREVIEW_KINDS:
            preview = await self._preview(key)
        await self.store.set_media(
            key,
            fetched.state,
            content_type=fetched.content_type,
            size=fetched.size,
            preview_type=preview,
            attempts=attempts,
        )
        current = await self.store.get_media(key)
        if current is None or current.state is not MediaState.READY:
            await self.files.delete(key)  # unsent while it was fetched, or not kept
        log.info("content %s: %s", key, fetched.state.value)

    async def _preview(self, line_message_id: str) -> str | None:
        """The preview image's type once kept; None when LINE gave none."""
        try:
            async with self._gate:
                fetched = await self._download(line_message_id, "preview")
        except DeliveryError as exc:
            log.info("preview of %s not fetched: %s", line_message_id, exc.message)
            return None
        return fetched.content_type if fetched.state is MediaState.READY else None

    async def _download(self, line_message_id: str, part: str) -> _Fetched:
        """One request to LINE; a 200's body goes to the file (under the size cap)."""
        assert self.line is not None
        async with self.line.content(line_message_id, preview=part == "preview") as response:
            status = response.status_code
            if status == 200:
                if _declared_size(response.headers.get("content-length")) > self._max_bytes:
                    return _Fetched(MediaState.TOO_LARGE)  # not even read
                content_type = response.headers.get("content-type", "application/octet-stream")
                try:
                    size = await self.files.write(
                        line_message_id, part, response.aiter_bytes(), self._max_bytes
                    )
                except TooLarge:
                    return _Fetched(MediaState.TOO_LARGE)
                except OSError as exc:  # the disk: full, or not writable
                    raise DeliveryError(
                        f"could not keep the content: {exc}", transient=True
                    ) from exc
                return _Fetched(MediaState.READY, content_type, size)
            if status == 202:
                return _Fetched(MediaState.PENDING)
            if status == 410:
                return _Fetched(MediaState.GONE)
            if status == 404:
                return _Fetched(MediaState.MISSING)
            if 400 <= status < 500 and status != 429:  # asking again changes nothing
                log.warning(
                    "content %s: LINE answered %d; not asked again", line_message_id, status
                )
                return _Fetched(MediaState.FAILED)
            raise DeliveryError(f"LINE answered {status}", status=status, transient=True)

    # serving --------------------------------------------------------------------

    async def serve(self, record: MediaRecord | None, part: str) -> Served:
        """What to answer for one content (`part` content or preview)."""
        if record is None:
            return Served(404)
        if record.state is MediaState.GONE:
            await self.files.delete(record.line_message_id)  # a copy fetched before
        if record.state is MediaState.PENDING:
            self.nudge(record)  # out of tries, or left by a restart: try again now
        if record.state is not MediaState.READY:
            return Served(_STATUS[record.state], record)
        media_type = record.content_type if part == "content" else record.preview_type
        if media_type is None:
            return Served(404, record)  # no preview for this kind, or LINE gave none
        path, state = await self._local(record, part)
        if path is None:
            return Served(503 if state is None else _STATUS.get(state, 503), record)
        return Served(200, record, path, media_type)

    async def _local(self, record: MediaRecord, part: str) -> tuple[Path | None, MediaState | None]:
        """This node's file, fetched from LINE first when this node lacks it; with
        what LINE said when it could not give it (`pending`: not ready; None: no
        slot, or LINE could not be reached: try again later)."""
        key = record.line_message_id
        path = self.files.path(key, part)
        if path.is_file():
            return path, MediaState.READY
        if self.line is None:
            return None, MediaState.MISSING
        name = f"{key}/{part}"
        lock = self._misses.setdefault(name, asyncio.Lock())
        state: MediaState | None = MediaState.READY
        async with lock:  # one fetch per content, however many ask at once
            if not path.is_file():
                state = await self._fetch_missing(key, part)
        if not lock.locked():
            self._misses.pop(name, None)
        return (path, MediaState.READY) if path.is_file() else (None, state)

    async def _fetch_missing(self, line_message_id: str, part: str) -> MediaState | None:
        """One request to LINE in a slot of the on-demand fetches (not the
        background's); None when no slot came in time or LINE failed."""
        try:
            async with asyncio.timeout(_ON_DEMAND_WAIT):
                await self._on_demand.acquire()
        except TimeoutError:
            log.warning("content %s not fetched on demand: no free slot", line_message_id)
            return None
        try:
            fetched = await self._download(line_message_id, part)
        except DeliveryError as exc:
            log.warning("content %s not fetched on demand: %s", line_message_id, exc.message)
            return None
        finally:
            self._on_demand.release()
        if fetched.state is MediaState.GONE:
            await self.unsent(line_message_id)
        log.info("content %s/%s fetched on demand: %s", line_message_id, part, fetched.state)
        return fetched.state
