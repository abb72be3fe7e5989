"""The frame core, frame by frame: no event loop, no socket, time as an argument."""

from __future__ import annotations

import json

import pytest

from livechat_ext import Operator
from livechat_ext.errors import AuthError, AuthErrorCode, CloseCode
from livechat_ext.models import ConversationStatus
from livechat_ext.session import (
    Assign,
    Authenticated,
    Close,
    Join,
    Leave,
    Limits,
    MarkRead,
    Note,
    Reply,
    Send,
    Session,
    SetStatus,
    Typing,
    Verified,
)

LIMITS = Limits(
    max_frame_bytes=1024,
    rate_per_second=5,
    rate_burst=5,
    heartbeat_interval=10,
    auth_timeout=3,
    max_conversations=2,
)
TOKENS = {"alice-token": ("alice", 100.0), "bob-token": ("bob", None)}


def verify(token: str) -> Verified:
    if token == "expired":
        raise AuthError(AuthErrorCode.TOKEN_EXPIRED, "token has expired")
    if token not in TOKENS:
        raise AuthError(AuthErrorCode.INVALID_TOKEN, "invalid token")
    admin_id, lifetime = TOKENS[token]
    return Verified(Operator(admin_id), lifetime)


def frame(type_: str, ref: str | None = None, **payload: object) -> str:
    return json.dumps({"type": type_, "ref": ref, "payload": payload})


def decoded(effect: object) -> dict[str, object]:
    assert isinstance(effect, Reply), effect
    return json.loads(effect.frame)  # type: ignore[no-any-return]


def new_session(now: float = 0.0) -> Session:
    return Session("c1", LIMITS, verify, now)


def authed(now: float = 0.0) -> Session:
    session = new_session(now)
    (effect,) = session.receive_text(frame("auth", token="alice-token"), now).effects
    assert isinstance(effect, Authenticated)
    return session


def test_auth_success_names_the_operator_once_and_disarms_the_auth_deadline():
    session = new_session()
    step = session.receive_text(frame("auth", "r1", token="alice-token"), 1.0)
    assert step.type == "auth"
    assert step.effects == (Authenticated(Operator("alice"), "r1", first=True),)
    assert session.operator == Operator("alice")
    assert session.tick(3.5) == ()  # past the auth timeout: nothing, it authenticated
    again = session.receive_text(frame("auth", token="alice-token"), 2.0).effects
    assert again == (Authenticated(Operator("alice"), None, first=False),)


@pytest.mark.parametrize(
    ("token", "code"), [("nope", "invalid_token"), ("expired", "token_expired")]
)
def test_a_refused_token_answers_auth_error_then_closes_4001(token, code):
    session = new_session()
    (effect,) = session.receive_text(frame("auth", "r", token=token), 0).effects
    assert isinstance(effect, Close) and effect.code is CloseCode.UNAUTHORIZED
    (final,) = effect.final
    body = json.loads(final)
    assert body["type"] == "auth_error" and body["payload"]["code"] == code
    assert body["ref"] == "r"
    assert session.receive_text(frame("ping"), 0).effects == ()  # closed: nothing more


def test_reauth_as_another_operator_is_refused():
    session = authed()
    (effect,) = session.receive_text(frame("auth", token="bob-token"), 1).effects
    assert isinstance(effect, Close) and effect.code is CloseCode.UNAUTHORIZED
    assert session.operator == Operator("alice")


def test_before_auth_only_ping_is_served():
    session = new_session()
    pong = decoded(session.receive_text(frame("ping", "p"), 0).effects[0])
    assert pong["type"] == "pong" and pong["ref"] == "p"
    refused = decoded(
        session.receive_text(frame("join_conversation", "j", line_user_id="U1"), 0).effects[0]
    )
    assert refused["payload"]["code"] == "not_authenticated" and refused["ref"] == "j"


def test_requests_become_effects_for_the_caller():
    session = authed()
    assert session.receive_text(
        frame("join_conversation", "j", line_user_id="U1", after_seq=4), 1
    ).effects == (Join("U1", 4, "j"),)
    assert session.joined == {"U1"}
    start = session.receive_text(frame("typing_start", line_user_id="U1"), 1).effects
    stop = session.receive_text(frame("typing_stop", line_user_id="U1"), 1).effects
    assert start == (Typing("U1", True, None),) and stop == (Typing("U1", False, None),)
    (send,) = session.receive_text(
        frame("message_send", "s", line_user_id="U1", text="hi", client_msg_id="m1"), 1
    ).effects
    assert isinstance(send, Send) and send.payload.text == "hi" and send.ref == "s"
    leave, left = session.receive_text(
        frame("leave_conversation", "l", line_user_id="U1"), 1
    ).effects
    assert leave == Leave("U1", "l")
    assert decoded(left)["type"] == "conversation_left" and session.joined == set()


def test_open_conversations_are_capped_and_a_refused_join_frees_its_slot():
    session = authed()
    for user in ("U1", "U2"):
        session.receive_text(frame("join_conversation", line_user_id=user), 1)
    refused = decoded(
        session.receive_text(frame("join_conversation", "x", line_user_id="U3"), 1).effects[0]
    )
    assert refused["payload"]["code"] == "rate_limited"
    again = session.receive_text(frame("join_conversation", line_user_id="U1"), 1).effects
    assert again == (Join("U1", None, None),)  # rejoining an open one is fine
    session.join_refused("U2")  # say the hook said no
    assert session.receive_text(frame("join_conversation", line_user_id="U3"), 1).effects == (
        Join("U3", None, None),
    )


def test_invalid_frames_answer_errors_with_their_ref():
    session = authed()
    bad_json = decoded(session.receive_text("{nope", 1).effects[0])
    assert bad_json["payload"]["code"] == "invalid_json"
    unknown = decoded(session.receive_text(frame("fly", "u"), 1).effects[0])
    assert unknown["payload"]["code"] == "unknown_type" and unknown["ref"] == "u"
    blank = session.receive_text(
        frame("message_send", "b", line_user_id="U1", text="  ", client_msg_id="m"), 1
    )
    assert decoded(blank.effects[0])["payload"]["code"] == "invalid_message"
    binary = decoded(session.receive_binary(10, 1).effects[0])
    assert binary["payload"]["code"] == "bad_frame"


def test_an_oversized_frame_closes_1009():
    session = authed()
    (effect,) = session.receive_text("x" * 2000, 1).effects
    assert effect == Close(CloseCode.MESSAGE_TOO_BIG, "frame too large")
    assert session.closed and session.next_deadline() is None


def test_frames_over_the_rate_are_dropped_then_abuse_closes_4008():
    session = authed()
    codes: list[object] = []
    while not session.closed:
        (effect,) = session.receive_text(frame("ping"), 5.0).effects
        codes.append(
            decoded(effect)["payload"].get("code", "pong") if isinstance(effect, Reply) else effect
        )
    assert codes[:5] == ["pong"] * 5  # the burst
    assert set(codes[5:-1]) == {"rate_limited"}
    assert len(codes) == 51  # ten times the burst, then the close
    assert codes[-1] == Close(CloseCode.RATE_LIMIT_ABUSE, "rate limit abuse")
    assert session.tick(1000) == ()  # closed once


def test_a_session_within_the_rate_is_never_limited():
    session = authed()
    for i in range(200):
        (effect,) = session.receive_text(frame("ping"), 1 + i * 0.25).effects
        assert decoded(effect)["type"] == "pong"


def test_auth_timeout_closes_with_auth_error():
    session = new_session(now=10.0)
    assert session.next_deadline() == 13.0
    assert session.tick(12.9) == ()
    (effect,) = session.tick(13.0)
    assert isinstance(effect, Close) and effect.reason == "auth timeout"
    assert json.loads(effect.final[0])["payload"]["code"] == "auth_timeout"


def test_heartbeat_deadline_moves_with_every_frame():
    session = authed(now=0.0)
    assert session.next_deadline() == 20.0  # twice the interval
    session.receive_text(frame("ping"), 15.0)
    assert session.next_deadline() == 35.0
    assert session.tick(20.0) == ()  # the old deadline came: nothing due
    assert session.tick(35.0) == (Close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout"),)


def test_token_expiry_closes_at_the_token_lifetime_and_reauth_extends_it():
    session = new_session(now=0.0)
    TOKENS["short"] = ("alice", 5.0)
    try:
        session.receive_text(frame("auth", token="short"), 0.0)
        assert session.next_deadline() == 5.0
        session.receive_text(frame("auth", token="alice-token"), 4.0)  # 100 s more
        assert session.next_deadline() == 24.0  # the heartbeat comes first now
        session.receive_text(frame("ping"), 20.0)
        session.receive_text(frame("ping"), 38.0)
        session.receive_text(frame("ping"), 56.0)
        session.receive_text(frame("ping"), 74.0)
        session.receive_text(frame("ping"), 92.0)
        assert session.next_deadline() == 104.0
        (effect,) = session.tick(104.0)
        assert isinstance(effect, Close) and effect.reason == "token expired"
        assert json.loads(effect.final[0])["payload"]["code"] == "token_expired"
    finally:
        del TOKENS["short"]


def test_a_token_without_expiry_sets_no_expiry_deadline():
    session = new_session()
    session.receive_text(frame("auth", token="bob-token"), 0.0)
    assert session.next_deadline() == 20.0


def test_the_team_workflow_frames_become_changes_for_the_caller():
    session = authed()
    clock = iter(range(1, 100))  # a second apart: within the rate limit

    def effects(type_: str, **payload: object) -> tuple[object, ...]:
        return session.receive_text(frame(type_, "w", **payload), next(clock)).effects

    assert effects("conversation_assign", line_user_id="U1", admin_id="bob") == (
        Assign("U1", "bob", "w"),
    )
    assert effects("conversation_assign", line_user_id="U1", admin_id=None) == (
        Assign("U1", None, "w"),
    )
    assert effects("conversation_resolve", line_user_id="U1") == (
        SetStatus("U1", ConversationStatus.RESOLVED, "w"),
    )
    assert effects("conversation_reopen", line_user_id="U1") == (
        SetStatus("U1", ConversationStatus.OPEN, "w"),
    )
    assert effects("mark_read", line_user_id="U1", seq=9) == (MarkRead("U1", 9, "w"),)
    (note,) = effects("note_send", line_user_id="U1", text="vip", client_msg_id="n1")
    assert isinstance(note, Note) and (note.payload.text, note.ref) == ("vip", "w")
    assert session.joined == set()  # none of them opens the conversation


def test_join_carries_after_rev_for_catch_up_by_rev():
    session = authed()
    step = session.receive_text(
        frame("join_conversation", "j", line_user_id="U1", after_seq=3, after_rev=8), 1.0
    )
    assert step.effects == (Join("U1", 3, "j", after_rev=8),)


def test_workflow_frames_need_authentication_first():
    session = new_session()
    for type_, payload in (
        ("conversation_resolve", {"line_user_id": "U1"}),
        ("mark_read", {"line_user_id": "U1", "seq": 1}),
        ("note_send", {"line_user_id": "U1", "text": "x", "client_msg_id": "n"}),
    ):
        (effect,) = session.receive_text(frame(type_, "r", **payload), 0.5).effects
        assert decoded(effect)["payload"]["code"] == "not_authenticated"  # type: ignore[index]
