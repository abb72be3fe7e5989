"""The WebSocket handshake's Origin check and the log redaction, as pure functions."""

from __future__ import annotations

import pytest

from livechat_ext.logging_filters import redact
from livechat_ext.web.endpoint import origin_allowed

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "scheme", "ok"),
    [
        (None, "chat.example", [], "wss", True),  # not a browser
        ("https://chat.example", "chat.example", [], "wss", True),
        ("http://chat.example", "chat.example", [], "wss", False),  # same host, other scheme
        ("https://chat.example", "chat.example", [], "ws", False),
        ("http://chat.example:80", "chat.example", [], "ws", True),  # the default port
        ("https://chat.example:8443", "chat.example", [], "wss", False),
        ("HTTPS://Chat.Example/", "chat.example:443", [], "wss", True),
        ("https://admin.example", "chat.example", ["https://admin.example"], "wss", True),
        ("http://admin.example", "chat.example", ["https://admin.example"], "wss", False),
        ("https://admin.example:444", "chat.example", ["https://admin.example"], "wss", False),
        ("https://admin.example", "chat.example", ["https://admin.example:443/"], "ws", True),
        ("null", "chat.example", [], "wss", False),
        ("null", "chat.example", ["null"], "wss", False),
        ("https://[::1]:8000", "[::1]:8000", [], "wss", True),
        ("https://chat.example:99999", "chat.example", [], "wss", False),
        ("https://evil.example", "chat.example", ["*"], "wss", True),
    ],
)
def test_origins_match_by_scheme_host_and_port(origin, host, allowed, scheme, ok):
    assert origin_allowed(origin, host, allowed, scheme) is ok


@pytest.mark.parametrize(
    "line",
    [
        f'127.0.0.1:5 - "WebSocket /ws/live-chat?token={JWT}" [accepted]',
        f'"GET /ws/live-chat?%74oken={JWT} HTTP/1.1" 101',
        f'"GET /ws/live-chat?x=1&T%6FKEN={JWT} HTTP/1.1" 101',
        f'"GET /ws/live-chat?t%256fken={JWT} HTTP/1.1" 101',  # encoded twice
        f'"GET /ws/live-chat?token%3D{JWT} HTTP/1.1" 101',
        f'"GET /a?access%5Ftoken={JWT}&b=2 HTTP/1.1" 200',
        f"refused token={JWT}",
    ],
)
def test_tokens_are_redacted_however_the_query_spells_them(line):
    redacted = redact(line)
    assert JWT not in redacted and "[redacted]" in redacted


@pytest.mark.parametrize(
    "line",
    [
        '"GET /live-chat/media/42/content?op=op1&exp=1800000300&sig=SIGSIGSIG HTTP/1.1" 200',
        '"GET /live-chat/media/42/content?op=op1&exp=1800000300&%73ig=SIGSIGSIG HTTP/1.1" 200',
        '"HEAD /live-chat/media/42/preview?SIG=SIGSIGSIG&op=op1 HTTP/1.1" 200',
    ],
)
def test_a_content_links_signature_is_redacted(line):
    redacted = redact(line)
    assert "SIGSIGSIG" not in redacted and "[redacted]" in redacted
    assert "op=op1" in redacted  # who asked stays readable


def test_redaction_leaves_other_parameters():
    line = '"GET /live-chat/api/conversations?limit=5&cursor=abc HTTP/1.1" 200'
    assert redact(line) == line
