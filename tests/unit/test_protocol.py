import json

import pytest

from livechat_ext.errors import ErrorCode
from livechat_ext.models import (
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Sender,
    SenderType,
    iso_ms,
    utcnow,
)
from livechat_ext.protocol import (
    CLIENT_TYPES,
    PAYLOADS,
    SERVER_TYPES,
    AuthFrame,
    ConversationJoined,
    FrameError,
    JoinConversationFrame,
    MessageReceived,
    MessageSendFrame,
    Notification,
    Pong,
    decode,
    encode,
    error,
    parse_client_frame,
)
from tests.fuzzing import ERROR_CODES, SERVER_FRAME_TYPES

VALID = {
    "auth": {"token": "abc"},
    "join_conversation": {"line_user_id": "U1", "after_seq": 3},
    "leave_conversation": {"line_user_id": "U1"},
    "typing_start": {"line_user_id": "U1"},
    "typing_stop": {"line_user_id": "U1"},
    "message_send": {"line_user_id": "U1", "text": "hi", "client_msg_id": "c-1"},
    "conversation_assign": {"line_user_id": "U1", "admin_id": "admin-2"},
    "conversation_resolve": {"line_user_id": "U1"},
    "conversation_reopen": {"line_user_id": "U1"},
    "mark_read": {"line_user_id": "U1", "seq": 4},
    "note_send": {"line_user_id": "U1", "text": "a note", "client_msg_id": "n-1"},
    "ping": {},
}


def test_every_client_type_is_covered():
    assert set(VALID) == CLIENT_TYPES


@pytest.mark.parametrize("type_", sorted(VALID))
def test_envelope_form_parses(type_):
    raw = json.dumps({"type": type_, "payload": VALID[type_], "ref": "r1", "timestamp": "ignored"})
    frame = parse_client_frame(raw)
    assert frame.type == type_
    assert frame.ref == "r1"
    assert frame.payload.model_dump(exclude_none=True) == VALID[type_]


@pytest.mark.parametrize("type_", sorted(VALID))
def test_flat_form_parses_the_same(type_):
    flat = parse_client_frame(json.dumps({"type": type_, **VALID[type_]}))
    nested = parse_client_frame(json.dumps({"type": type_, "payload": VALID[type_]}))
    assert flat == nested


def test_payload_may_be_omitted_for_ping():
    assert parse_client_frame('{"type": "ping"}').type == "ping"


def test_flat_auth_is_read_as_payload():
    frame = parse_client_frame('{"type": "auth", "token": "t"}')
    assert isinstance(frame, AuthFrame) and frame.payload.token == "t"


@pytest.mark.parametrize("raw", ["{", "not json", b"\xff\xfe", ""])
def test_invalid_json(raw):
    with pytest.raises(FrameError) as info:
        parse_client_frame(raw)
    assert info.value.code is ErrorCode.INVALID_JSON


def test_unknown_type_keeps_ref():
    with pytest.raises(FrameError) as info:
        parse_client_frame('{"type": "launch_rockets", "ref": "9"}')
    assert info.value.code is ErrorCode.UNKNOWN_TYPE and info.value.ref == "9"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("[1, 2]", ""),
        ('{"payload": {}}', "type"),
        ('{"type": 5}', "type"),
        ('{"type": "ping", "ref": 5}', "ref"),
        ('{"type": "ping", "ref": "' + "x" * 65 + '"}', "ref"),
        ('{"type": "auth", "payload": {}}', "payload.token"),
        (
            '{"type": "join_conversation", "payload": {"line_user_id": "U1", "after_seq": -1}}',
            "payload.after_seq",
        ),
        (
            '{"type": "join_conversation", "payload": {"line_user_id": "U1", "after_seq": "x"}}',
            "payload.after_seq",
        ),
        (
            '{"type": "message_send", "payload": {"line_user_id": "U1", "text": "", '
            '"client_msg_id": "c"}}',
            "payload.text",
        ),
        (
            '{"type": "message_send", "payload": {"line_user_id": "U1", "text": "hi", '
            '"client_msg_id": "' + "c" * 65 + '"}}',
            "payload.client_msg_id",
        ),
        ('{"type": "message_send", "payload": "text"}', "payload"),
        ('{"type": "conversation_assign", "payload": {"line_user_id": "U1"}}', "payload.admin_id"),
        (
            '{"type": "conversation_assign", "payload": {"line_user_id": "U1", "admin_id": ""}}',
            "payload.admin_id",
        ),
        ('{"type": "mark_read", "payload": {"line_user_id": "U1", "seq": 0}}', "payload.seq"),
        ('{"type": "mark_read", "payload": {"line_user_id": "U1"}}', "payload.seq"),
        (
            '{"type": "note_send", "payload": {"line_user_id": "U1", "text": " ", '
            '"client_msg_id": "n"}}',
            "payload.text",
        ),
        (
            '{"type": "join_conversation", "payload": {"line_user_id": "U1", "after_rev": -1}}',
            "payload.after_rev",
        ),
    ],
)
def test_invalid_message_names_the_field(raw, field):
    with pytest.raises(FrameError) as info:
        parse_client_frame(raw)
    assert info.value.code is ErrorCode.INVALID_MESSAGE
    assert any(d["field"] == field for d in info.value.details or []), info.value.details


def test_text_limit_counts_utf16_units_like_line():
    ok = "a" * 5000
    assert isinstance(
        parse_client_frame(
            json.dumps(
                {"type": "message_send", "line_user_id": "U", "text": ok, "client_msg_id": "c"}
            )
        ),
        MessageSendFrame,
    )
    emoji = "😀" * 2501  # 2501 code points, 5002 UTF-16 units
    with pytest.raises(FrameError) as info:
        parse_client_frame(
            json.dumps(
                {"type": "message_send", "line_user_id": "U", "text": emoji, "client_msg_id": "c"}
            )
        )
    assert info.value.code is ErrorCode.INVALID_MESSAGE


def test_join_without_after_seq():
    frame = parse_client_frame('{"type": "join_conversation", "line_user_id": "U1"}')
    assert isinstance(frame, JoinConversationFrame) and frame.payload.after_seq is None


def _message() -> Message:
    return Message(
        id="m1",
        line_user_id="U1",
        seq=1,
        direction=Direction.INBOUND,
        sender=Sender(type=SenderType.USER, id="U1"),
        kind=MessageKind.TEXT,
        text="hi",
        status=MessageStatus.RECEIVED,
        created_at=utcnow(),
    )


def test_server_frames_have_envelope_and_timestamp():
    raw = encode(MessageReceived(message=_message()))
    data = json.loads(raw)
    assert data["type"] == "message_received"
    assert data["timestamp"].endswith("Z") and len(data["timestamp"]) == 24
    assert "ref" not in data
    assert data["payload"]["message"]["created_at"].endswith("Z")
    assert decode(raw).parsed() == MessageReceived(message=_message()).model_copy(
        update={"message": MessageReceived.model_validate(data["payload"]).message}
    )


def test_ref_is_copied_into_direct_answers():
    assert json.loads(encode(Pong(), "abc"))["ref"] == "abc"
    assert json.loads(error(ErrorCode.FORBIDDEN, "no", ref="r"))["ref"] == "r"


def test_optional_fields_are_left_out():
    data = json.loads(encode(Notification(kind="k", title="t", body="b")))["payload"]
    assert data == {"kind": "k", "title": "t", "body": "b"}
    err = json.loads(error(ErrorCode.DELIVERY_FAILED, "x", client_msg_id="c"))["payload"]
    assert err == {"code": "delivery_failed", "message": "x", "client_msg_id": "c"}


def test_every_server_type_has_a_model():
    assert SERVER_TYPES == SERVER_FRAME_TYPES
    assert set(PAYLOADS) == SERVER_TYPES


def test_conversation_joined_roundtrip():
    raw = encode(
        ConversationJoined(
            line_user_id="U1", last_seq=1, messages=[_message()], has_more=False, typing=["a"]
        ),
        "5",
    )
    frame = decode(raw)
    parsed = frame.parsed()
    assert isinstance(parsed, ConversationJoined)
    assert parsed.messages[0].id == "m1" and frame.ref == "5"


def test_error_codes_match_protocol():
    assert {c.value for c in ErrorCode} == ERROR_CODES


def test_iso_ms_format():
    from datetime import UTC, datetime

    assert (
        iso_ms(datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)) == "2026-11-28T12:00:00.123Z"
    )


def test_assign_takes_null_to_unassign():
    frame = parse_client_frame(
        '{"type": "conversation_assign", "payload": {"line_user_id": "U1", "admin_id": null}}'
    )
    assert frame.type == "conversation_assign" and frame.payload.admin_id is None


def test_join_reads_after_rev_beside_after_seq():
    frame = parse_client_frame(
        '{"type": "join_conversation", "payload": {"line_user_id": "U1", "after_seq": 2, '
        '"after_rev": 7}}'
    )
    assert isinstance(frame, JoinConversationFrame)
    assert (frame.payload.after_seq, frame.payload.after_rev) == (2, 7)
