"""Property-based tests of the client-frame parser (no sockets).

`parse_client_frame` is the edge where every byte a client sends is judged.
These properties pin down, for arbitrary input, that it only ever raises
`FrameError` with a code PROTOCOL.md documents for a frame that cannot be read,
that it keeps the `ref` whenever it is a readable string, and that it accepts
every frame the payload schemas allow, in envelope and flat form alike.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

# When a property fails, hypothesis' pytest plugin imports libcst to suggest a
# patch, and libcst warns (DeprecationWarning from mypy_extensions); with
# filterwarnings=error that import turns the report into an INTERNALERROR that
# hides the falsifying example. Import it once here, quietly.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401

from livechat_ext.protocol import (
    CLIENT_TYPES,
    AuthFrame,
    FrameError,
    JoinConversationFrame,
    LeaveConversationFrame,
    MessageSendFrame,
    PingFrame,
    TypingStartFrame,
    TypingStopFrame,
    error,
    parse_client_frame,
    utf16_length,
)
from livechat_ext.protocol.client import (
    AssignPayload,
    AuthPayload,
    ConversationAssignFrame,
    ConversationPayload,
    ConversationReopenFrame,
    ConversationResolveFrame,
    EmptyPayload,
    JoinPayload,
    MarkReadFrame,
    MarkReadPayload,
    MessageSendPayload,
    NoteSendFrame,
    NoteSendPayload,
)
from tests.fuzzing import (
    ERROR_CODES,
    has_lone_surrogate,
    json_values_up_to,
    lone_surrogates,
    nest,
    place_fields,
)

# The codes PROTOCOL.md lists for a frame the parser cannot serve.
PARSER_CODES = {"invalid_json", "invalid_message", "unknown_type"}

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_values = json_values_up_to(15)
FIELD_NAMES = ["line_user_id", "text", "client_msg_id", "token", "after_seq", "timestamp"]
field_values = (
    json_values
    | lone_surrogates
    | st.sampled_from(["U1", "", " ", "x" * 65, "\x00", 2**63, -1, 1e309])
    | st.integers(min_value=4990, max_value=5010).map(lambda n: "y" * n)
)
refs = st.none() | st.text(max_size=70) | lone_surrogates | json_values
types = st.sampled_from(sorted(CLIENT_TYPES)) | st.text(max_size=12) | json_values


@st.composite
def frame_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A dict shaped like a client frame, with fields of right and wrong types."""
    obj: dict[str, Any] = {}
    if draw(st.booleans()) or draw(st.booleans()):
        obj["type"] = draw(types)
    if draw(st.booleans()):
        obj["ref"] = draw(refs)
    fields = draw(
        st.dictionaries(
            st.sampled_from(FIELD_NAMES) | st.text(max_size=6), field_values, max_size=5
        )
    )
    place_fields(draw, obj, fields, st.just(fields) | json_values)
    return obj


def dumps(value: Any) -> str:
    return json.dumps(value)  # ensure_ascii: lone surrogates become \udXXX escapes


raw_text = (
    st.text()
    | json_values.map(dumps)
    | frame_objects().map(dumps)
    | st.sampled_from(
        [
            "",
            " ",
            "null",
            "[]",
            "{}",
            '"ping"',
            "NaN",
            "-Infinity",
            "1e309",
            "1" * 5000,  # more digits than Python's int parser allows
            '{"type": "ping"',
            '{"type": "ping"} trailing',
            '{"type": "ping", "type": "nope"}',
            '{"type": "nope", "type": "ping"}',
            '{"type": "ping", "ref": "a", "ref": 5}',
            '{"type": "ping", "ref": 5, "ref": "a"}',
            '{"type": "\\ud800"}',
            '{"type": "join_conversation", "line_user_id": "\\udc00"}',
            '{"type": "ping", "payload": [], "ref": "r"}',
            '{"type": "ping", "payload": null}',
            "\ufeff{}",
            "{'type': 'ping'}",
        ]
    )
)


def assert_documented(exc: FrameError) -> None:
    assert str(exc.code) in PARSER_CODES, exc.code
    assert isinstance(exc.message, str) and exc.message
    if exc.details is not None:
        assert all(set(d) == {"field", "reason"} for d in exc.details), exc.details


@FUZZ
@given(raw_text)
def test_arbitrary_text_raises_only_documented_frame_errors(raw: str) -> None:
    """Property: for any text, the parser returns a frame or raises `FrameError`
    with a documented code: `invalid_json` for text that is not JSON or whose
    strings hold a lone surrogate escape (no UTF-8 answer could echo them);
    otherwise, whenever the frame is a JSON object whose `ref` is a string of at
    most 64 characters, that ref is kept on the error."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = ValueError
    try:
        frame = parse_client_frame(raw)
    except FrameError as exc:
        assert_documented(exc)
        if data is ValueError or has_lone_surrogate(data):
            assert exc.code == "invalid_json"
            assert exc.ref is None
            return
        assert exc.code != "invalid_json"
        if isinstance(data, dict):
            ref = data.get("ref")
            if isinstance(ref, str) and len(ref) <= 64:
                assert exc.ref == ref
            else:
                assert exc.ref is None
        return
    assert frame.type in CLIENT_TYPES
    assert not has_lone_surrogate(data)


@FUZZ
@given(st.binary() | raw_text.map(str.encode))
def test_arbitrary_bytes_raise_only_documented_frame_errors(raw: bytes) -> None:
    """Property: bytes (any encoding, invalid UTF-8) are parsed or refused with a
    documented `FrameError`; never another exception."""
    try:
        parse_client_frame(raw)
    except FrameError as exc:
        assert_documented(exc)


@FUZZ
@given(frame_objects().map(dumps) | raw_text)
def test_every_refusal_renders_as_a_valid_error_frame(raw: str) -> None:
    """Property: the `error` frame the server would build from any refusal is a
    documented error frame that can be sent (serialisable and valid UTF-8)."""
    try:
        parse_client_frame(raw)
    except FrameError as exc:
        text = error(exc.code, exc.message, ref=exc.ref, details=exc.details)
        text.encode("utf-8")
        frame = json.loads(text)
        assert frame["type"] == "error"
        assert frame["payload"]["code"] in ERROR_CODES
        assert frame.get("ref") == exc.ref


# ---------------------------------------------------------------------------
# valid frames from the schemas

# valid text has no NUL (no store keeps it) and no lone surrogate (no UTF-8 carries it)
_valid_chars = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
ids = st.text(_valid_chars, min_size=1, max_size=64)
texts = st.text(_valid_chars, min_size=1, max_size=300).filter(str.strip) | st.integers(
    1, 2500
).map(
    lambda n: "😀" * n  # 2 UTF-16 units each: up to exactly the 5000-unit limit
)
PAYLOADS = {
    "auth": (AuthFrame, st.builds(AuthPayload, token=st.text(min_size=1, max_size=200))),
    "join_conversation": (
        JoinConversationFrame,
        st.builds(
            JoinPayload,
            line_user_id=ids,
            after_seq=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
            after_rev=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
        ),
    ),
    "leave_conversation": (
        LeaveConversationFrame,
        st.builds(ConversationPayload, line_user_id=ids),
    ),
    "typing_start": (TypingStartFrame, st.builds(ConversationPayload, line_user_id=ids)),
    "typing_stop": (TypingStopFrame, st.builds(ConversationPayload, line_user_id=ids)),
    "message_send": (
        MessageSendFrame,
        st.builds(MessageSendPayload, line_user_id=ids, text=texts, client_msg_id=ids),
    ),
    "conversation_assign": (
        ConversationAssignFrame,
        st.builds(AssignPayload, line_user_id=ids, admin_id=st.none() | ids),
    ),
    "conversation_resolve": (
        ConversationResolveFrame,
        st.builds(ConversationPayload, line_user_id=ids),
    ),
    "conversation_reopen": (
        ConversationReopenFrame,
        st.builds(ConversationPayload, line_user_id=ids),
    ),
    "mark_read": (
        MarkReadFrame,
        st.builds(
            MarkReadPayload, line_user_id=ids, seq=st.integers(min_value=1, max_value=2**63 - 1)
        ),
    ),
    "note_send": (
        NoteSendFrame,
        st.builds(NoteSendPayload, line_user_id=ids, text=texts, client_msg_id=ids),
    ),
    "ping": (PingFrame, st.builds(EmptyPayload)),
}
valid_frames = st.sampled_from(sorted(PAYLOADS)).flatmap(
    lambda kind: st.tuples(st.just(kind), st.just(PAYLOADS[kind][0]), PAYLOADS[kind][1])
)


def test_generators_cover_every_client_type() -> None:
    assert set(PAYLOADS) == CLIENT_TYPES


@FUZZ
@given(
    valid_frames,
    st.none() | st.text(max_size=64),
    st.booleans(),
    st.dictionaries(st.sampled_from(["timestamp", "extra", "version"]), json_values, max_size=2),
)
def test_every_valid_frame_parses_alike_in_envelope_and_flat_form(
    generated: tuple[str, type, Any], ref: str | None, ascii_only: bool, extra: dict[str, Any]
) -> None:
    """Property: every frame the payload schemas allow is accepted, in envelope
    form and in flat form, as JSON text or UTF-8 bytes, with unknown fields and
    a client timestamp ignored, and all forms yield the same, expected model."""
    kind, model, payload = generated
    expected = model(type=kind, payload=payload, ref=ref)
    fields = payload.model_dump(mode="json")
    envelope: dict[str, Any] = {"type": kind, "payload": {**fields, "junk": 1}, **extra}
    flat: dict[str, Any] = {**extra, **fields, "type": kind}
    if ref is not None:
        envelope["ref"] = ref
        flat["ref"] = ref
    for obj in (envelope, flat):
        raw = json.dumps(obj, ensure_ascii=ascii_only)
        assert parse_client_frame(raw) == expected
        assert parse_client_frame(raw.encode()) == expected


@FUZZ
@given(st.integers(min_value=4995, max_value=5005), st.sampled_from(["a", "é", "😀", "𝄞"]))
def test_text_limit_counts_utf16_units(units: int, char: str) -> None:
    """Property: `message_send.text` is accepted up to exactly 5000 UTF-16 units
    (as LINE counts) and refused with `invalid_message` beyond."""
    width = utf16_length(char)
    text = char * (units // width)
    raw = json.dumps(
        {"type": "message_send", "line_user_id": "U1", "text": text, "client_msg_id": "c"}
    )
    if utf16_length(text) <= 5000:
        assert parse_client_frame(raw).payload.text == text
    else:
        with pytest.raises(FrameError) as info:
            parse_client_frame(raw)
        assert info.value.code == "invalid_message"


# ---------------------------------------------------------------------------
# deep nesting and lone surrogates


@settings(max_examples=30, deadline=None, database=None)
@given(
    st.integers(min_value=1_000, max_value=20_000),
    st.sampled_from(["list", "object", "payload"]),
)
@example(10_000, "list")
def test_deep_nesting_is_refused_with_a_frame_error(depth: int, shape: str) -> None:
    """Property: nesting deeper than the JSON decoder handles (10_000 nested
    lists are only 20 kB) is refused with a documented `FrameError`, never
    another exception (it once escaped as RecursionError and killed the socket)."""
    with pytest.raises(FrameError) as info:
        parse_client_frame(nest(depth, shape, "[]"))
    assert_documented(info.value)


@FUZZ
@given(
    st.text(max_size=5),
    lone_surrogates,
    st.sampled_from(["ping", "nope", "join_conversation"]),
    st.sampled_from(["ref", "line_user_id", "type", "extra"]),
)
@example("", "\ud800", "ping", "ref")
def test_lone_surrogates_are_refused_and_every_answer_is_utf8(
    prefix: str, surrogate: str, kind: str, field: str
) -> None:
    """Property: a lone surrogate escape anywhere in a frame is refused as
    `invalid_json` without ref, so whatever the server answers can be put on
    the wire as UTF-8 (a surrogate ref once killed the connection's writer)."""
    raw = json.dumps({"type": kind, "ref": "r", field: prefix + surrogate})
    with pytest.raises(FrameError) as info:
        parse_client_frame(raw)
    assert info.value.code == "invalid_json" and info.value.ref is None
    error(info.value.code, info.value.message, ref=info.value.ref).encode("utf-8")


@pytest.mark.parametrize("shape", ["list", "object", "payload"])
def test_nesting_with_a_lone_surrogate_is_refused_with_a_frame_error(shape: str) -> None:
    """Property: at EVERY depth (swept exhaustively in steps of 25 up to well
    past where the JSON decoder gives up, since the failing window depends on
    the stack depth at the call), a frame holding a lone surrogate is refused
    with a documented `FrameError`, never another exception. A plain sweep, not
    @given: hypothesis raises the recursion limit while it runs. Regression: a
    recursive surrogate check raised RecursionError at depths ~400-900, e.g.
    '[' * 500 + '"\\ud800"' + ']' * 500 (1 kB), and the socket died with 1006."""
    for depth in range(25, 3_001, 25):
        try:
            parse_client_frame(nest(depth, shape, '"\\ud800"'))
        except FrameError as exc:
            assert exc.code == "invalid_json", depth
        else:
            raise AssertionError(f"depth {depth} was accepted")
