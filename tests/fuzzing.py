"""Strategies and oracles shared by the property-based tests of the protocol
(tests/unit/test_protocol_fuzz.py: the parser alone; tests/integration/test_fuzz.py:
a real server over real sockets).

The tables are PROTOCOL.md written out independently of the server's own ones,
so that the tests check the server against the document, not against itself.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# --- PROTOCOL.md ---------------------------------------------------------------

SERVER_FRAME_TYPES = {
    "auth_success",
    "auth_error",
    "conversation_joined",
    "conversation_left",
    "message_received",
    "message_updated",
    "message_sent",
    "user_typing",
    "conversation_updated",
    "operator_status",
    "operators_changed",
    "notification",
    "pong",
    "error",
}
ERROR_CODES = {
    "bad_frame",
    "invalid_json",
    "invalid_message",
    "unknown_type",
    "not_authenticated",
    "forbidden",
    "rate_limited",
    "delivery_failed",
    "internal_error",
}

# --- strategies ----------------------------------------------------------------

# JSON values of every kind, including NaN and infinities (Python's json reads
# and writes them as the non-standard literals NaN / Infinity).
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)


def json_values_up_to(max_leaves: int) -> st.SearchStrategy[Any]:
    """JSON values: leaves, lists and objects nested up to `max_leaves` leaves."""
    return st.recursive(
        json_leaves,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


# Unpaired surrogates (a separator keeps two of them from forming a valid pair).
lone_surrogates = st.lists(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
).map("x".join)


# --- frame builders ------------------------------------------------------------


def place_fields(
    draw: st.DrawFn,
    frame: dict[str, Any],
    fields: dict[str, Any],
    payload: st.SearchStrategy[Any] | None = None,
) -> None:
    """Put `fields` in `frame`, envelope or flat form by a coin flip: as its
    `payload` (or, given `payload`, a value drawn from that instead), or beside
    the envelope keys, which they cannot override (`type`, `ref`, `payload`)."""
    if draw(st.booleans()):
        frame["payload"] = fields if payload is None else draw(payload)
    else:
        frame.update({k: v for k, v in fields.items() if k not in ("type", "ref", "payload")})


def nest(depth: int, shape: str, leaf: str, ref: str = "r") -> str:
    """JSON text holding `leaf` `depth` levels deep: in nested lists ("list"),
    in nested `{"a": ...}` objects ("object"), or in nested lists as the
    payload of a ping ("payload") or as the `line_user_id` of a
    leave_conversation ("field"), both with the ref `ref`."""
    if shape == "object":
        return '{"a":' * depth + leaf + "}" * depth
    inner = "[" * depth + leaf + "]" * depth
    if shape == "list":
        return inner
    if shape == "payload":
        return '{"type":"ping","ref":"' + ref + '","payload":' + inner + "}"
    if shape == "field":
        return '{"type":"leave_conversation","ref":"' + ref + '","line_user_id":' + inner + "}"
    raise ValueError(f"unknown shape {shape!r}")


# --- oracles -------------------------------------------------------------------


def has_lone_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a string (key or value) that UTF-8
    cannot encode: the server refuses such a frame as `invalid_json`, since no
    UTF-8 answer could echo it (iterative: the value may nest deeply)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
