"""Keeps tokens out of logs, including uvicorn's lines for the WebSocket handshake."""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from urllib.parse import unquote_plus

connection_id: ContextVar[str] = ContextVar("livechat_connection_id", default="-")

_TOKEN = re.compile(r"((?:[?&]|\b)(?:token|access_token|sig)=)[^&\s\"']+", re.IGNORECASE)
_QUERY_PART = re.compile(r"(?<=[?&])[^&\s\"'#]+")  # one key=value of a logged URL, raw
_SECRET_PART = re.compile(r"(?:^|\W)(?:(?:access_)?token|sig)=", re.IGNORECASE)
_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn", "livechat_ext")


def redact(text: str) -> str:
    """`text` without the values of `token=`, `access_token=` and `sig=` (a
    content link's signature), also when a
    logged URL spells them percent-encoded (`?%74oken=`), as the server reads them."""
    return _TOKEN.sub(r"\1[redacted]", _QUERY_PART.sub(_redact_part, text))


def _redact_part(match: re.Match[str]) -> str:
    raw = match.group(0)
    decoded = raw
    for _ in range(4):  # nested encodings too: redacting more than needed costs nothing
        decoded, before = unquote_plus(decoded), decoded
        if decoded == before:
            break
    if not _SECRET_PART.search(decoded):
        return raw
    key, equals, _ = raw.partition("=")
    return f"{key}=[redacted]" if equals else "[redacted]"


class RedactTokens(logging.Filter):
    """Replaces `token=...` in a record's message and arguments, and stamps the
    record with the current connection id (`%(conn_id)s` in a format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.conn_id = connection_id.get()
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_redaction() -> None:
    """Add the filter to uvicorn's and our loggers (once)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
    for name in (
        "livechat_ext.ws",
        "livechat_ext.realtime.chat",
        "livechat_ext.realtime.connection",
        "livechat_ext.flows.outbound",
        "livechat_ext.flows.inbound",
        "livechat_ext.line",
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s conn=%(conn_id)s %(message)s"


class ConnectionIdFormatter(logging.Formatter):
    """A formatter that tolerates records without `conn_id` (from other libraries)."""

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "conn_id"):
            record.conn_id = connection_id.get()
        return super().format(record)
