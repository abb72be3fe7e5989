"""`GET <prefix>/media/{line_message_id}/{content|preview}`: users' content, to
operators only.

An operator proves who they are with the signed query of the URL they were
given (`op`, `exp`, `sig`: see `media_urls.py`), which only an operator the
`authorize` hook allowed for the conversation ever gets, and which is checked
against the hook again (its answers are cached a minute per process); or with a
Bearer token, which is then checked against the hook for the message's
conversation. The content is streamed from its file with its type, length and
Range support; answers: 202 not fetched yet, 404 unknown or LINE would not give
it, 410 unsent, 413 over the size cap, 503 LINE could not give it just now."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from ..errors import AuthError
from ..flows.media import Served
from ..store.content import PARTS
from ..store.media import MediaRecord, MediaState
from .security_headers import CONTENT_HEADERS

if TYPE_CHECKING:
    from ..auth import TokenVerifier
    from ..flows.media import Media
    from ..media_urls import MediaUrls
    from ..realtime.access import Access

_INLINE = {"image": "image/", "video": "video/", "audio": "audio/"}
# image types a browser may run script in or that are not plain pictures: downloaded
_NOT_INLINE = ("image/svg", "image/xml", "image/vnd.", "image/x-icon")
# a cached copy is checked with the server each time: an unsent or no longer
# allowed content stops showing at once (the file is not sent again when unchanged)
_CACHE = "private, no-cache"
_REASONS = {
    202: "not fetched from LINE yet; try again shortly",
    404: "no such content",
    410: "the user unsent this message; its content was deleted",
    413: "the content is larger than this server keeps (LIVECHAT_MEDIA_MAX_BYTES)",
    503: "LINE could not give this server its copy just now; try again shortly",
}
_FAILED = "LINE did not give this content (it refused, or it was never ready); not asked again"


def add_media_route(
    router: APIRouter,
    prefix: str,
    *,
    media: Media,
    urls: MediaUrls,
    verifier: TokenVerifier,
    access: Access,
) -> None:
    """Add the content route to `router` under `prefix`."""

    async def content(request: Request, line_message_id: str, part: str) -> Response:
        if part not in PARTS:
            raise HTTPException(404, "no such content")
        record = await media.store.get_media(line_message_id)
        await _check_operator(request, line_message_id, record, urls, verifier, access)
        return _answer(await media.serve(record, part), part)

    router.add_api_route(
        f"{prefix}/media/{{line_message_id}}/{{part}}",
        content,
        methods=["GET", "HEAD"],
        include_in_schema=False,
    )


async def _check_operator(
    request: Request,
    line_message_id: str,
    record: MediaRecord | None,
    urls: MediaUrls,
    verifier: TokenVerifier,
    access: Access,
) -> None:
    """403 unless the signed query is valid and the hook allows that operator the
    conversation (asked again once its cached answer is older than a minute), or the
    Bearer token's operator is allowed for the content's conversation (401 for
    a bad token)."""
    query = request.query_params
    if "sig" in query:
        try:
            expires = int(query.get("exp", ""))
        except ValueError:
            expires = 0
        admin_id = query.get("op", "")
        if not urls.verify(line_message_id, admin_id, expires, query["sig"]):
            raise HTTPException(403, "this link is not valid (expired, or for someone else)")
        if record is not None and not await access.link_allowed(admin_id, record.line_user_id):
            raise HTTPException(403, "not allowed for this conversation")
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(403, "a signed link or a Bearer token is required")
    try:
        operator = verifier.verify(token.strip())
    except AuthError as exc:
        raise HTTPException(401, exc.message, headers={"WWW-Authenticate": "Bearer"}) from exc
    if record is not None and not await access.allowed(operator, record.line_user_id):
        raise HTTPException(403, "not allowed for this conversation")


def _answer(served: Served, part: str) -> Response:
    if served.status != 200 or served.path is None or served.record is None:
        status = served.status if served.status != 200 else 404
        headers = {**CONTENT_HEADERS, "Cache-Control": "no-store"}
        if status in (202, 503):
            headers["Retry-After"] = "2"
        reason = _REASONS.get(status, "not available")
        if served.record is not None and served.record.state is MediaState.FAILED:
            reason = _FAILED
        body = {"detail": reason}
        return JSONResponse(body, status_code=status, headers=headers)
    record = served.record
    media_type = served.media_type or "application/octet-stream"
    headers = {**CONTENT_HEADERS, "Cache-Control": _CACHE}
    expected = "image/" if part == "preview" else _INLINE.get(record.kind)
    inline = expected is not None and media_type.startswith(expected)
    if inline and not media_type.lower().startswith(_NOT_INLINE):
        return FileResponse(served.path, media_type=media_type, headers=headers)
    # a file, or a type its kind does not promise: downloaded, never shown inline
    name = record.file_name or f"{record.kind}-{record.line_message_id}"
    if expected is not None:
        media_type = "application/octet-stream"
    return FileResponse(
        served.path,
        media_type=media_type,
        headers=headers,
        filename=name,
        content_disposition_type="attachment",
    )
