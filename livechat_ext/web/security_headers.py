"""Headers for the pages and files the plugin serves (console, static client,
simulator): a strict Content-Security-Policy, no framing, no sniffing, no referrer."""

from __future__ import annotations

from pathlib import PurePath

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # ES modules from the plugin only: no inline script, no eval
        "style-src 'self'",  # the stylesheet; styles set from script go through CSSOM
        # LINE's sticker images (stickershop.line-scdn.net) and profile pictures are on its
        # CDN, external content (contentProvider external) anywhere on https; the plugin's
        # own content URLs (photos, previews) are same-origin
        "img-src 'self' data: https:",
        "media-src 'self' https:",  # video and voice: the plugin's content URLs, or external
        "connect-src 'self'",  # REST, the WebSocket and the simulator's events: same origin
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

CONTENT_HEADERS = {
    # users' content (web/media.py): a LINE user's bytes, never run as a page,
    # never type-guessed, never framed
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

# what the standard table guesses wrong: `.ts` would be video/mp2t
_MEDIA_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".ts": "text/plain; charset=utf-8",  # the client's .d.ts type declarations
}


def media_type(path: PurePath) -> str | None:
    """The content type to serve `path` with, or None to let the file's suffix decide."""
    return _MEDIA_TYPES.get(path.suffix)
