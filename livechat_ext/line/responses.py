"""Reading Messaging API responses: errors, Retry-After, request ids in the log."""

from __future__ import annotations

import logging
import math
from typing import Any

import httpx

from livechat_ext.errors import DeliveryError

logger = logging.getLogger("livechat_ext.line")


def log_response(method: str, path: str, attempt: int, response: httpx.Response) -> None:
    """Log LINE's request id of every response (what LINE support asks for)."""
    level = logging.INFO if response.is_success else logging.WARNING
    logger.log(
        level,
        "LINE %s %s attempt %d: %d x-line-request-id=%s",
        method,
        path,
        attempt,
        response.status_code,
        response.headers.get("x-line-request-id"),
    )


def error_for(response: httpx.Response) -> DeliveryError:
    """A `DeliveryError` from an error response, transient for 5xx and rate limits."""
    status = response.status_code
    body = json_object(response)
    line_message = body.get("message")
    if not isinstance(line_message, str):
        line_message = response.text[:200] or response.reason_phrase
    detail: dict[str, Any] = {"message": line_message, "details": body.get("details", [])}
    if status == httpx.codes.TOO_MANY_REQUESTS:
        transient = "monthly limit" not in line_message.lower()
    else:
        transient = status >= httpx.codes.INTERNAL_SERVER_ERROR
    request_id = response.headers.get("x-line-request-id")
    return DeliveryError(
        f"LINE answered {status}: {line_message} (x-line-request-id={request_id})",
        status=status,
        transient=transient,
        detail=detail,
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds; an HTTP date or garbage counts as absent."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object, or `{}` when it is not one."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
