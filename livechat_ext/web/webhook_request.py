"""A LINE webhook HTTP request: its body read with a size limit and a deadline,
then verified and ingested, and the answer LINE should get."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ..errors import InvalidSignatureError, InvalidWebhookError, StoreError

if TYPE_CHECKING:
    from ..flows.inbound import Inbound
    from ..line import InboundEvent
    from ..metrics import Metrics
    from ..settings import LiveChatSettings

log = logging.getLogger("livechat_ext.webhook")


@dataclass(frozen=True)
class WebhookResult:
    """What `LiveChat.handle_webhook` made of one request.

    `response` is what LINE should get: return it from your route (200, or
    400, 408, 413 or 503). `events` are the request's verified events in LINE's
    order, once stored; empty unless the answer is 200. `new` counts those
    stored for the first time (not a copy of one already stored). `body` is the
    raw body, for a bot that also hands it to its own LINE SDK parser.
    """

    response: Response
    events: list[InboundEvent] = field(default_factory=list)
    new: int = 0
    body: bytes = b""

    @property
    def ok(self) -> bool:
        """Whether the request was verified and stored (the answer is 200)."""
        return self.response.status_code == 200


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def _read_body(request: Request, limit: int, seconds: float) -> bytes:
    """The whole body, holding at most `limit` bytes of it; `_Refused` with 413
    past `limit` (declared or sent), 408 when it is not all in within
    `seconds`, 400 when the client goes away."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _Refused(413, "body too large")
    body = bytearray()
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                if len(body) + len(chunk) > limit:
                    raise _Refused(413, "body too large")
                body += chunk
    except TimeoutError:
        raise _Refused(408, "body not received in time") from None
    except ClientDisconnect:
        raise _Refused(400, "client went away") from None
    return bytes(body)


async def handle_webhook_request(
    request: Request, inbound: Inbound, settings: LiveChatSettings, metrics: Metrics
) -> WebhookResult:
    """Read, verify and ingest one webhook request; never raises for bad input."""
    try:
        body = await _read_body(request, settings.webhook_max_bytes, settings.webhook_read_timeout)
        events = inbound.parse(body, request.headers.get("x-line-signature"))
        new = await inbound.ingest_events(events)
    except _Refused as exc:
        log.warning("refused a webhook: %s", exc.detail)
        # the rest of the body may still be on its way: do not keep the connection
        return _refused(metrics, exc.status, exc.detail, {"Connection": "close"})
    except InvalidSignatureError as exc:
        log.warning("refused a webhook: %s", exc)
        return _refused(metrics, 400, "invalid signature")
    except InvalidWebhookError as exc:
        log.warning("refused a webhook body: %s", exc)
        return _refused(metrics, 400, "invalid webhook body")
    except StoreError:
        log.exception("webhook not stored; LINE will redeliver")
        return WebhookResult(JSONResponse({"detail": "temporarily unavailable"}, status_code=503))
    return WebhookResult(JSONResponse({"status": "ok"}), events, new, body)


def _refused(
    metrics: Metrics, status: int, detail: str, headers: dict[str, str] | None = None
) -> WebhookResult:
    metrics.webhook_events.labels("refused").inc()
    return WebhookResult(JSONResponse({"detail": detail}, status_code=status, headers=headers))
