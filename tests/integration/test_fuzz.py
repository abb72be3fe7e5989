"""Property-based fuzzing of the WebSocket endpoint, through a real uvicorn and
real WebSocket clients (PROTOCOL.md is the oracle).

Hypothesis does not drive async tests with fixtures well, so each test starts
ONE server and draws its inputs up front with `examples()`: a deterministic
(`derandomize=True`), generate-only run of an inner `@given` function that
collects what it is given. The inputs are then sent through real sockets, and
every assertion message names the offending input.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import jwt
import websockets
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from livechat_ext import LiveChat
from livechat_ext.protocol import CLIENT_TYPES, FrameError, parse_client_frame
from tests.fuzzing import (
    ERROR_CODES,
    SERVER_FRAME_TYPES,
    has_lone_surrogate,
    json_leaves,
    json_values_up_to,
    lone_surrogates,
    nest,
    place_fields,
)
from tests.helpers import Client, Server, eventually, idle, make_settings, serve

# --- PROTOCOL.md, written out independently of the server's own tables --------
# (the frame types and error codes: SERVER_FRAME_TYPES, ERROR_CODES in tests/fuzzing.py)

AUTH_ERROR_CODES = {"invalid_token", "token_expired", "auth_timeout"}
# Frames a connection may get at any time, not as the answer to its own frame.
UNSOLICITED = {
    "operator_status",
    "operators_changed",
    "conversation_updated",
    "user_typing",
    "message_received",
    "message_updated",
    "notification",
}
# 1.1's team workflow: answered with `conversation_updated` carrying the frame's ref
# (a frame type that also comes unsolicited, so it is told apart by that ref).
WORKFLOW = {"conversation_assign", "conversation_resolve", "conversation_reopen", "mark_read"}
# The direct answer of each client frame type that passes validation.
ANSWER = {
    "ping": "pong",
    "join_conversation": "conversation_joined",
    "leave_conversation": "conversation_left",
    "note_send": "message_sent",
    "auth": "auth_error",  # a fuzzed token is never valid
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FAST = {"rate_limit_per_second": 1000, "rate_limit_burst": 1000}


def examples(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """`n` inputs drawn deterministically from `strategy` (generate phase only)."""
    out: list[Any] = []

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out


def short(raw: str | bytes, limit: int = 300) -> str:
    text = repr(raw)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(raw)} chars)"


def check_frame(frame: dict[str, Any], context: str = "") -> None:
    """One server frame is documented: its type, its envelope, its codes."""
    where = f"{frame!r:.400} (after {context})"
    assert frame.get("type") in SERVER_FRAME_TYPES, f"undocumented frame type: {where}"
    assert isinstance(frame.get("payload"), dict), f"frame without payload: {where}"
    assert TIMESTAMP.match(frame.get("timestamp", "")), f"bad timestamp: {where}"
    ref = frame.get("ref")
    assert ref is None or (isinstance(ref, str) and len(ref) <= 64), f"bad ref: {where}"
    if frame["type"] == "error":
        assert frame["payload"].get("code") in ERROR_CODES, f"undocumented error code: {where}"
        assert isinstance(frame["payload"].get("message"), str), where
    if frame["type"] == "auth_error":
        assert frame["payload"].get("code") in AUTH_ERROR_CODES, f"undocumented code: {where}"


def code_of(frame: dict[str, Any]) -> str | None:
    return frame["payload"].get("code") if frame["type"] in ("error", "auth_error") else None


def is_delivery_answer(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message_sent" or code_of(frame) == "delivery_failed"


# --- strategies ---------------------------------------------------------------

json_values = json_values_up_to(12)
ids = st.sampled_from(["U1", "U2", "U3"]) | st.text(min_size=1, max_size=64)
FIELD_NAMES = ["line_user_id", "text", "client_msg_id", "token", "after_seq"]
field_values = (
    json_values
    | ids
    | lone_surrogates
    | st.sampled_from(["", " \n ", "x" * 65, "\x00", -1, 0, 7, 1e309, 2.0])
    | st.integers(min_value=4995, max_value=5005).map(lambda n: "y" * n)
    | st.integers(min_value=2495, max_value=2505).map(lambda n: "😀" * n)
)
# Refs: mostly short strings (echoed), sometimes too long, of a wrong type, or
# holding a lone surrogate (refused as invalid_json, as it cannot be echoed).
refs = (
    st.text(max_size=10)
    | st.text(max_size=10)
    | st.text(min_size=60, max_size=70)
    | lone_surrogates
    | json_leaves.filter(lambda v: not isinstance(v, str))
)
types = (
    st.sampled_from(sorted(CLIENT_TYPES - {"auth"}))
    | st.just("auth")
    | st.text(max_size=12)
    | json_leaves
)


@st.composite
def frame_objects(draw: st.DrawFn) -> dict[str, Any]:
    """Something shaped like a client frame: known or random type, envelope or
    flat payload, fields of right and wrong types, maybe a ref and timestamp."""
    obj: dict[str, Any] = {}
    if draw(st.integers(0, 5)):
        obj["type"] = draw(types)
    if draw(st.booleans()):
        obj["ref"] = draw(refs)
    if draw(st.booleans()):
        obj["timestamp"] = draw(json_leaves)
    fields = draw(
        st.dictionaries(
            st.sampled_from(FIELD_NAMES) | st.text(max_size=6), field_values, max_size=4
        )
    )
    place_fields(draw, obj, fields, st.just(fields) | json_values)
    return obj


VALID_FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "auth": {"token": st.text(min_size=1, max_size=40)},
    "join_conversation": {
        "line_user_id": ids,
        "after_seq": st.none() | st.integers(min_value=0, max_value=10**6),
    },
    "leave_conversation": {"line_user_id": ids},
    "typing_start": {"line_user_id": ids},
    "typing_stop": {"line_user_id": ids},
    "message_send": {
        "line_user_id": ids,
        "text": st.text(min_size=1, max_size=40)
        | st.integers(min_value=4998, max_value=5001).map(lambda n: "t" * n)
        | st.integers(min_value=2499, max_value=2501).map(lambda n: "😀" * n),
        "client_msg_id": st.sampled_from(["c1", "c2"]) | st.text(min_size=1, max_size=64),
    },
    "note_send": {
        "line_user_id": ids,
        "text": st.text(min_size=1, max_size=40),
        "client_msg_id": st.sampled_from(["c1", "n1"]) | st.text(min_size=1, max_size=64),
    },
    "conversation_assign": {
        "line_user_id": ids,
        "admin_id": st.none() | st.sampled_from(["fuzzer", "someone"]) | st.text(max_size=130),
    },
    "conversation_resolve": {"line_user_id": ids},
    "conversation_reopen": {"line_user_id": ids},
    "mark_read": {"line_user_id": ids, "seq": st.integers(min_value=-1, max_value=10**6)},
    "ping": {},
}


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A frame built from the payload schema of a known type (auth rarely, as a
    valid one ends the connection), then maybe mutated: a field dropped, a
    field given a wrong value, an unknown field added; envelope or flat form."""
    kind = draw(st.sampled_from(sorted(CLIENT_TYPES - {"auth"}) * 4 + ["auth"]))
    payload = {name: draw(values) for name, values in VALID_FIELDS[kind].items()}
    mutations = st.lists(st.sampled_from(["drop", "wrong", "extra"]), min_size=1, max_size=2)
    for mutation in draw(mutations) if draw(st.booleans()) else []:
        if mutation == "drop" and payload:
            payload.pop(draw(st.sampled_from(sorted(payload))))
        elif mutation == "wrong" and payload:
            payload[draw(st.sampled_from(sorted(payload)))] = draw(field_values)
        else:
            payload[draw(st.text(min_size=1, max_size=6))] = draw(json_values)
    frame: dict[str, Any] = {"type": kind}
    if draw(st.integers(0, 3)):
        frame["ref"] = draw(st.text(max_size=10) | refs)
    if draw(st.booleans()):
        frame["timestamp"] = draw(st.just("2026-11-28T12:00:00.000Z") | json_leaves)
    place_fields(draw, frame, payload)
    return frame


@st.composite
def duplicate_keys(draw: st.DrawFn) -> str:
    """A JSON object text that repeats keys (json keeps the last one)."""
    pairs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["type", "ref", "payload", "line_user_id"]),
                st.sampled_from(["ping", "join_conversation", "nope", "r1"]) | json_leaves,
            ),
            min_size=2,
            max_size=6,
        )
    )
    return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"


@st.composite
def nested(draw: st.DrawFn) -> str:
    """Nesting the JSON decoder still handles (deeper: its own test below)."""
    depth = draw(st.integers(min_value=1, max_value=400))
    shape = draw(st.sampled_from(["list", "object", "payload", "field"]))
    return nest(depth, shape, "1" if shape == "object" else "", ref="deep")


SPECIAL = [
    "",
    " ",
    "null",
    "true",
    "[]",
    "{}",
    '"ping"',
    "NaN",
    "-Infinity",
    "1e309",
    "1" * 5000,  # more digits than Python's int parser allows
    '{"type":"ping"',
    '{"type":"ping"} x',
    "{'type': 'ping'}",
    "\ufeff{}",
    '{"type":"ping","ref":NaN}',
    '{"type":"join_conversation","ref":"r","line_user_id":"U1","after_seq":NaN}',
    '{"type":"join_conversation","ref":"r","line_user_id":"U1","after_seq":Infinity}',
    '{"type":"join_conversation","ref":"r","line_user_id":"U1","after_seq":1e309}',
    '{"type":"join_conversation","ref":"r","line_user_id":"U1","after_seq":3.5}',
    '{"type":"join_conversation","ref":"r","line_user_id":"\\ud800"}',
    '{"type":"message_send","ref":"r","line_user_id":"U1","text":"\\udfff","client_msg_id":"c"}',
    '{"type":"message_send","ref":"r","line_user_id":"U1","text":"hi","client_msg_id":"\\ud83d"}',
    '{"type":"auth","ref":"r","token":"\\ud800"}',
    '{"type":"\\ud800","ref":"r"}',
    '{"type":"ping","ref":"' + "r" * 64 + '"}',
    '{"type":"ping","ref":"' + "r" * 65 + '"}',
    '{"type":"ping","payload":null,"ref":"n"}',
    '{"type":"ping","payload":[],"ref":"l"}',
    '{"type":"pong","ref":"p"}',
    '{"type":"error","ref":"e"}',
]


def padded(pad: int) -> str:
    """A valid ping made long by an ignored field (stays under max_frame_bytes)."""
    return json.dumps({"type": "ping", "ref": "long", "pad": "é" * pad}, ensure_ascii=False)


RAW_KINDS: list[tuple[int, st.SearchStrategy[str]]] = [
    (2, st.text()),
    (1, json_values.map(json.dumps)),
    (3, frame_objects().map(json.dumps)),
    (10, near_valid().map(json.dumps)),
    (1, duplicate_keys()),
    (1, nested()),
    (1, st.sampled_from(SPECIAL)),
    (1, st.integers(min_value=0, max_value=32_000).map(padded)),
]


@st.composite
def raw_frames(draw: st.DrawFn) -> str:
    """One text frame, drawn from the kinds above by weight."""
    pick = draw(st.integers(min_value=0, max_value=sum(w for w, _ in RAW_KINDS) - 1))
    for weight, strategy in RAW_KINDS:
        if pick < weight:
            return draw(strategy)
        pick -= weight
    raise AssertionError("unreachable")


# --- the oracle for one frame -------------------------------------------------


@dataclass
class Expect:
    kind: str  # "error", "typed"
    code: str | None = None  # the error code, for kind "error"
    frame_type: str | None = None  # the client type, for kind "typed" (valid)
    ref: str | None = None


def expect(raw: str) -> Expect:
    """What PROTOCOL.md says the answer to `raw` is. The envelope rules are
    applied here independently (a lone surrogate escape anywhere is refused as
    `invalid_json`: the server's reading since b8d73fc); whether a known type's
    payload validates is asked of the parser (its properties are in
    tests/unit/test_protocol_fuzz.py)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return Expect("error", "invalid_json")
    if has_lone_surrogate(data):  # no UTF-8 answer could carry it back
        return Expect("error", "invalid_json")
    if not isinstance(data, dict):
        return Expect("error", "invalid_message")
    ref = data.get("ref")
    if ref is not None and not (isinstance(ref, str) and len(ref) <= 64):
        return Expect("error", "invalid_message")
    kind = data.get("type")
    if not isinstance(kind, str):
        return Expect("error", "invalid_message", ref=ref)
    if kind not in CLIENT_TYPES:
        return Expect("error", "unknown_type", ref=ref)
    try:
        parse_client_frame(raw)
    except FrameError:
        return Expect("error", "invalid_message", ref=ref)
    return Expect("typed", frame_type=kind, ref=ref)


async def probe(client: Client, start: int, tag: str) -> list[dict[str, Any]]:
    """Send a ping and await its pong; return what arrived before it (from `start`)."""
    await client.ws.send(json.dumps({"type": "ping", "ref": tag}))
    pong = await client.wait_for(lambda f: f.get("ref") == tag, start=start)
    assert pong["type"] == "pong", pong
    return client.frames[start : client.frames.index(pong, start)]


# --- 1. single frames -----------------------------------------------------------


async def test_every_fuzzed_frame_gets_a_documented_answer_and_the_socket_survives(tmp_path):
    """Property: on an authenticated connection, every text frame (random text,
    random JSON, frame-shaped objects with random/known types and wrong-typed
    fields, duplicate keys, moderate nesting, NaN/Infinity/1e309, huge numbers,
    lone-surrogate escapes anywhere, long strings) is answered with exactly the
    answer PROTOCOL.md gives it: the documented error code (with the frame's ref
    when it is a string of <= 64 characters, and none otherwise) or the success
    answer of its type (none for typing; `message_sent` / `delivery_failed` for a
    send). Every server frame is documented, the socket stays open (except
    `auth` with a bad token: `auth_error` then 4001), and a `ping` right after
    still gets its `pong` with the right ref."""
    frames = examples(raw_frames(), 300)
    async with serve(LiveChat(make_settings(tmp_path, **FAST))) as srv:
        token = srv.token("fuzzer")
        client = await Client.connect(srv.ws_url, token)
        codes_seen: set[str | None] = set()
        for i, raw in enumerate(frames):
            want = expect(raw)
            start = len(client.frames)
            await client.send_raw(raw)
            if want.frame_type == "auth":
                assert await client.wait_closed() == 4001, short(raw)
                got = [f for f in client.frames[start:] if f["type"] not in UNSOLICITED]
                assert [f["type"] for f in got] == ["auth_error"], (short(raw), got)
                assert got[0].get("ref") == want.ref, (short(raw), got)
                for frame in got:
                    check_frame(frame, short(raw))
                client = await Client.connect(srv.ws_url, token)
                continue
            try:
                before = await probe(client, start, f"probe-{i}")
            except (ConnectionError, TimeoutError) as exc:
                raise AssertionError(f"no pong after {short(raw)}: {exc}") from exc
            for frame in before:
                check_frame(frame, short(raw))
            answers = [f for f in before if f["type"] not in UNSOLICITED]
            context = f"{short(raw)} -> {answers!r:.600}"
            if want.kind == "error":
                assert len(answers) == 1, context
                assert code_of(answers[0]) == want.code, context
                assert answers[0].get("ref") == want.ref, context
                codes_seen.add(want.code)
                continue
            kind = want.frame_type
            if kind in ("typing_start", "typing_stop"):
                assert answers == [], context
            elif kind in WORKFLOW:
                assert answers == [], context
                updated = [
                    f
                    for f in before
                    if f["type"] == "conversation_updated" and f.get("ref") == want.ref
                ]
                assert len(updated) == 1 or (want.ref is None and updated), context
            elif kind == "message_send":
                if not answers:  # delivered in the background: await its answer
                    answer = await client.wait_for(is_delivery_answer, start=start)
                    answers = [answer]
                assert len(answers) == 1 and is_delivery_answer(answers[0]), context
                assert answers[0].get("ref") == want.ref, context
            else:
                assert len(answers) == 1, context
                assert answers[0]["type"] == ANSWER[kind] or code_of(answers[0]) in {
                    "internal_error"  # see the after_seq / NUL tests below
                }, context
                assert answers[0].get("ref") == want.ref, context
        assert client.close_code is None
        await client.close()
    # the generator reached every envelope-level refusal
    assert {"invalid_json", "invalid_message", "unknown_type"} <= codes_seen


async def test_oversize_frames_close_1009_and_others_are_served(tmp_path):
    """Property: a text or binary frame over `max_frame_bytes` (counted in UTF-8
    bytes, whatever the characters) closes the socket with 1009 and gets no
    answer; one at or just under the limit is served normally."""
    limit = 65536

    @st.composite
    def sized(draw: st.DrawFn) -> tuple[str, bool, int]:
        char = draw(st.sampled_from(["x", "é", "€", "😀"]))
        target = limit + draw(st.integers(min_value=-6, max_value=6))
        binary = draw(st.booleans())
        head = '{"type":"ping","ref":"big","pad":"'
        count = max(0, (target - len(head) - 2) // len(char.encode()))
        text = head + char * count + '"}'
        if len(text.encode()) < target:
            text += " " * (target - len(text.encode()))  # JSON allows trailing blanks
        return text, binary, len(text.encode())

    exactly = padded(0)[:-1] + " " * (limit - len(padded(0))) + "}"  # `limit` bytes
    cases = [
        *examples(sized(), 10),
        (exactly, False, limit),
        (exactly + " ", False, limit + 1),
        ("😀" * (limit // 4 + 1), False, limit + 4),  # few characters, many bytes
    ]
    async with serve(LiveChat(make_settings(tmp_path, **FAST))) as srv:
        token = srv.token("big")
        for text, binary, size in cases:
            client = await Client.connect(srv.ws_url, token)
            start = len(client.frames)
            await client.send_raw(text.encode() if binary else text)
            label = f"{'binary' if binary else 'text'} frame of {size} bytes"
            if size > limit:
                assert await client.wait_closed() == 1009, label
                assert client.frames[start:] == [], label
            else:
                before = await probe(client, start, "after")
                answers = [f for f in before if f["type"] not in UNSOLICITED]
                expected = "error" if binary else "pong"
                assert [f["type"] for f in answers] == [expected], (label, answers)
                await client.close()
        await eventually(lambda: not srv.live_chat.hub.connections)


# --- 2. binary and invalid UTF-8 -------------------------------------------------


async def test_binary_frames_get_bad_frame_and_the_socket_survives(tmp_path):
    """Property: every binary frame (random bytes, invalid UTF-8, even a valid
    JSON frame sent as binary, empty) gets exactly one `error` `bad_frame`
    without a ref; the socket stays open and the next `ping` gets its `pong`."""
    valid_json_as_bytes = st.sampled_from(
        [b'{"type":"ping","ref":"b"}', b'{"type":"auth","token":"x"}', b""]
    )
    payloads = examples(st.binary(max_size=300) | valid_json_as_bytes, 60)
    async with serve(LiveChat(make_settings(tmp_path, **FAST))) as srv:
        client = await Client.connect(srv.ws_url, srv.token("bin"))
        for i, data in enumerate(payloads):
            start = len(client.frames)
            await client.send_raw(data)
            before = await probe(client, start, f"p{i}")
            answers = [f for f in before if f["type"] not in UNSOLICITED]
            assert len(answers) == 1, (data, answers)
            check_frame(answers[0], short(data))
            assert code_of(answers[0]) == "bad_frame", (data, answers)
            assert "ref" not in answers[0], (data, answers)
        await client.close()


async def test_invalid_utf8_text_frame_fails_only_that_connection(tmp_path):
    """Property: a TEXT frame that is not valid UTF-8 is failed by the WebSocket
    layer with 1007 (RFC 6455 8.1; PROTOCOL.md does not list 1007), before the
    plugin sees it; the server keeps serving, and the connection leaves nothing
    behind in the hub."""
    payloads = examples(st.binary(min_size=1, max_size=50).filter(lambda b: not _utf8(b)), 5)
    async with serve(LiveChat(make_settings(tmp_path, **FAST))) as srv:
        other = await Client.connect(srv.ws_url, srv.token("other"))
        await other.join("U1")
        for data in payloads:
            client = await Client.connect(srv.ws_url, srv.token("bad-utf8"))
            await client.join("U1")
            await client.ws.send(data, text=True)
            assert await client.wait_closed() == 1007, data
        await probe(other, len(other.frames), "alive")
        await other.close()
        await eventually(lambda: not srv.live_chat.hub.connections and not srv.live_chat.hub.rooms)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- 3. sequences from concurrent connections ----------------------------------

ADMINS = ["alice", "bob", "carol"]


def _frame(kind: str, ref: str | None = None, **payload: Any) -> str:
    obj: dict[str, Any] = {"type": kind, "payload": payload}
    if ref is not None:
        obj["ref"] = ref
    return json.dumps(obj)


def action_strategy(srv: Server) -> st.SearchStrategy[tuple[str, str]]:
    """(label, raw frame) for one step of a connection's life."""
    now = int(time.time())
    bad_tokens = st.sampled_from(
        [
            "garbage",
            "a.b.c",
            jwt.encode({"sub": "alice", "exp": now - 3600}, srv.live_chat.settings.jwt_secret),
            jwt.encode({"sub": "alice"}, "another-secret-0123456789abcdef0123456789"),
            jwt.encode({"exp": now + 3600}, srv.live_chat.settings.jwt_secret),
        ]
    )
    texts = st.text(min_size=1, max_size=30) | st.sampled_from([" ", "", "x" * 5001])
    msg_ids = st.sampled_from(["c1", "c2"]) | st.text(max_size=70)
    small_ids = st.sampled_from(["U1", "U2", "U3"]) | ids
    refs_ = st.none() | st.text(max_size=8)
    return st.one_of(
        st.tuples(
            st.just("auth_bad"),
            st.builds(lambda t, r: _frame("auth", r, token=t), bad_tokens, refs_),
        ),
        st.tuples(
            st.just("auth_good"),
            st.sampled_from(ADMINS).map(lambda a: _frame("auth", "reauth", token=srv.token(a))),
        ),
        st.tuples(
            st.just("join"),
            st.builds(
                lambda u, s, r: _frame("join_conversation", r, line_user_id=u, after_seq=s),
                small_ids,
                st.none() | st.integers(min_value=0, max_value=100),
                refs_,
            ),
        ),
        st.tuples(
            st.just("leave"),
            st.builds(
                lambda u, r: _frame("leave_conversation", r, line_user_id=u), small_ids, refs_
            ),
        ),
        st.tuples(
            st.just("typing"),
            st.builds(
                lambda k, u, r: _frame(k, r, line_user_id=u),
                st.sampled_from(["typing_start", "typing_stop"]),
                small_ids,
                refs_,
            ),
        ),
        st.tuples(
            st.just("send"),
            st.builds(
                lambda u, t, c, r: _frame(
                    "message_send", r, line_user_id=u, text=t, client_msg_id=c
                ),
                small_ids,
                texts,
                msg_ids,
                refs_,
            ),
        ),
        st.tuples(st.just("ping"), refs_.map(lambda r: _frame("ping", r))),
        st.tuples(
            st.just("garbage"), raw_frames().filter(lambda raw: expect(raw).frame_type != "auth")
        ),
    )


@dataclass
class ConnPlan:
    admin: str
    authenticated: bool
    actions: list[tuple[str, str]]
    ending: str  # "close" or "abort"


def plan_strategy(srv: Server) -> st.SearchStrategy[list[ConnPlan]]:
    plan = st.builds(
        ConnPlan,
        st.sampled_from(ADMINS),
        st.booleans(),
        st.lists(action_strategy(srv), max_size=12),
        st.sampled_from(["close", "close", "abort"]),
    )
    return st.lists(plan, min_size=2, max_size=5)


async def run_plan(srv: Server, plan: ConnPlan) -> tuple[Client, str, bool]:
    """Play one connection's plan; return the client, a log for messages, and
    whether its final ping got a pong."""
    client = await Client.connect(srv.ws_url, srv.token(plan.admin) if plan.authenticated else None)
    log = f"{plan.admin} auth={plan.authenticated} {[label for label, _ in plan.actions]}"
    for _label, raw in plan.actions:
        if client.close_code is not None:
            break
        try:
            await client.send_raw(raw)
        except websockets.ConnectionClosed:
            break
    probed = False
    if client.close_code is None:
        try:
            await probe(client, 0, "final-probe")
            probed = True
        except (ConnectionError, websockets.ConnectionClosed):
            pass  # closed by an auth_error the plan asked for; checked by the caller
    if plan.ending == "abort":
        client.ws.transport.abort()  # a dropped network: no close frame
        await client.wait_closed()
    else:
        await client.close()
    return client, log, probed


def check_connection(client: Client, plan: ConnPlan, log: str, probed: bool) -> None:
    """Everything one connection got is documented; a connection that never
    authenticated only ever got answers to its own frames (no room or presence
    traffic). (Broadcasts may overtake `auth_success` itself: PROTOCOL.md does
    not order them, and the server joins the broadcast room before answering.)"""
    authed = plan.authenticated or any(f["type"] == "auth_success" for f in client.frames)
    for frame in client.frames:
        check_frame(frame, log)
        if not authed:
            assert frame["type"] in {"pong", "auth_error", "error"}, (log, frame)
            assert code_of(frame) in {
                None,
                "not_authenticated",
                "invalid_json",
                "invalid_message",
                "unknown_type",
                "invalid_token",
                "token_expired",
            }, (log, frame)
    if any(f["type"] == "auth_error" for f in client.frames):
        assert client.close_code == 4001, (log, client.close_code)
    else:
        assert probed, (log, "the final ping got no pong", client.close_code, client.frames)
        expected = 1006 if plan.ending == "abort" else 1000
        assert client.close_code == expected, (log, client.close_code)


async def assert_clean(srv: Server, baseline: int) -> None:
    """Nothing of the closed connections is left: connections, rooms, typing,
    presence, background deliveries, tasks."""
    lc = srv.live_chat
    await eventually(lambda: not lc.hub.connections, timeout=10)
    await eventually(lambda: not lc.hub.rooms)
    await eventually(lambda: idle(lc))
    await eventually(lambda: len(asyncio.all_tasks()) <= baseline, timeout=10)
    if lc.team.cluster_sync is not None:  # presence changes are applied in order, queued
        await lc.team.cluster_sync.settle()
    await lc.team.flush_presence()  # the last window's changes, sent now
    assert len(lc.team.typing) == 0
    assert all(not lc.team.presence.is_online(a) for a in ADMINS)


async def test_random_sequences_from_concurrent_connections_leave_no_trace(tmp_path):
    """Property: several concurrent connections, some never authenticated, each
    playing a random sequence (auth with bad and good tokens, join/leave random
    ids, typing, message_send with random text and ids, ping, garbage), then
    closing cleanly or dropping: the server never crashes (a fresh connection
    can auth and ping after each round), never sends an undocumented frame type
    or code, never sends room or presence traffic before auth, and once all are
    closed nothing is left: no connection, room, typing entry, online operator,
    background delivery or task beyond the baseline."""
    settings = make_settings(tmp_path, presence_grace=0, **FAST)
    async with serve(LiveChat(settings)) as srv:
        rounds = examples(plan_strategy(srv), 14)
        baseline = len(asyncio.all_tasks())
        for plans in rounds:
            results = await asyncio.gather(*(run_plan(srv, p) for p in plans))
            for (client, log, probed), plan in zip(results, plans, strict=True):
                check_connection(client, plan, log, probed)
            await assert_clean(srv, baseline)
            fresh = await Client.connect(srv.ws_url)
            assert (await fresh.auth(srv.token("fresh")))["type"] == "auth_success"
            await probe(fresh, 0, "fresh")
            await fresh.close()
        await assert_clean(srv, baseline)


async def test_a_flood_gets_rate_limited_then_4008_and_nothing_else(tmp_path):
    """Property: with a tiny refill rate, a flood of frames of any kind (each of
    which would get exactly one answer) gets, in order: the burst served
    normally, then `error` `rate_limited` carrying each frame's ref, then close
    4008 once ten times the burst is spent; nothing else."""
    burst = 5
    settings = make_settings(
        tmp_path, rate_limit_per_second=0.01, rate_limit_burst=burst, presence_grace=0
    )

    def one_answer(raw: str) -> bool:
        want = expect(raw)
        return want.kind == "error" or want.frame_type in ("ping", "join_conversation")

    floods = examples(
        st.lists(
            st.sampled_from(
                [
                    '{"type":"ping","ref":"%s"}',
                    '{"type":"join_conversation","ref":"%s","line_user_id":"U1"}',
                ]
            )
            | raw_frames().filter(one_answer),
            min_size=55,  # > 50: the flood outlasts ten times the burst
            max_size=60,
        ),
        3,
    )
    async with serve(LiveChat(settings)) as srv:
        baseline = len(asyncio.all_tasks())
        for flood in floods:
            sent = [
                raw.replace("%s", f"f{i}") if raw.count("%s") == 1 else raw
                for i, raw in enumerate(flood)
            ]
            client = await Client.connect(srv.ws_url, srv.token("flooder"))  # auth: 1 token
            start = len(client.frames)
            for raw in sent:
                try:
                    await client.send_raw(raw)
                except websockets.ConnectionClosed:
                    break
            try:
                code = await client.wait_closed()
            except TimeoutError:
                got = [code_of(f) or f["type"] for f in client.frames[start:]]
                raise AssertionError(f"the flood was never closed with 4008; got {got}") from None
            assert code == 4008, (code, client.frames)
            answers = [f for f in client.frames[start:] if f["type"] not in UNSOLICITED]
            for frame in answers:
                check_frame(frame, "flood")
            served, limited = burst - 1, burst * 10 - burst
            assert len(answers) == served + limited, [f["type"] for f in answers]
            for raw, answer in zip(sent[:served], answers[:served], strict=True):
                assert code_of(answer) != "rate_limited", (short(raw), answer)
            for raw, answer in zip(sent[served:], answers[served:], strict=False):
                assert code_of(answer) == "rate_limited", (short(raw), answer)
                assert answer.get("ref") == expect(raw).ref, (short(raw), answer)
        await assert_clean(srv, baseline)


# --- hard inputs: deep nesting, lone surrogates ----------------------------------


async def _answer_then_pong(srv: Server, raw: str, timeout: float = 1.0) -> list[dict[str, Any]]:
    """Send `raw` on a fresh authenticated connection, then a ping; return the
    answers before the pong (fails if the socket dies or goes silent)."""
    client = await Client.connect(srv.ws_url, srv.token("bug"))
    start = len(client.frames)
    await client.send_raw(raw)
    await client.ws.send(json.dumps({"type": "ping", "ref": "after"}))
    try:
        pong = await client.wait_for(lambda f: f.get("ref") == "after", timeout, start=start)
    finally:
        await client.close()
    return [
        f
        for f in client.frames[start : client.frames.index(pong, start)]
        if f["type"] not in UNSOLICITED
    ]


async def test_deep_nesting_gets_an_error_frame_and_the_socket_survives(tmp_path):
    """Property: JSON nested deeper than the decoder handles but within
    max_frame_bytes (up to 10_000 nested lists = 20 kB, `{"a":...}` objects, a
    deep payload or field) gets one `error` `invalid_json` / `invalid_message`,
    and the socket survives (it once died with 1006 on a RecursionError)."""

    @st.composite
    def deep(draw: st.DrawFn) -> str:
        depth = draw(st.integers(min_value=1_000, max_value=10_000))
        shape = draw(st.sampled_from(["list", "object", "payload", "field"]))
        if shape == "object":
            return nest(depth // 3, shape, "1", ref="deep")
        return nest(depth, shape, "", ref="deep")

    cases = [*examples(deep(), 12), "[" * 10_000 + "]" * 10_000]
    async with serve(LiveChat(make_settings(tmp_path, **FAST))) as srv:
        client = await Client.connect(srv.ws_url, srv.token("deep"))
        for i, raw in enumerate(cases):
            start = len(client.frames)
            await client.send_raw(raw)
            answers = [
                f for f in await probe(client, start, f"d{i}") if f["type"] not in UNSOLICITED
            ]
            assert len(answers) == 1, (short(raw), answers)
            assert code_of(answers[0]) in ("invalid_json", "invalid_message"), (short(raw), answers)
        await client.close()


async def test_lone_surrogates_get_invalid_json_and_the_socket_survives(tmp_path):
    """Property: a frame with a lone surrogate escape (in its ref, type, a payload
    field, an ignored field or a key) gets `error` `invalid_json` without ref
    (no UTF-8 answer could echo it), and the socket survives (a surrogate ref
    once killed the connection's writer silently)."""

    @st.composite
    def with_surrogate(draw: st.DrawFn) -> str:
        bad = draw(st.text(max_size=3)) + draw(lone_surrogates)
        kind = draw(st.sampled_from(["ping", "nope", "join_conversation", "message_send"]))
        frame: dict[str, Any] = {"type": kind, "ref": "r", "line_user_id": "U1"}
        where = draw(st.sampled_from(["ref", "type", "line_user_id", "extra", "key", "payload"]))
        if where == "key":
            frame[bad] = 1
        elif where == "payload":
            frame["payload"] = {"line_user_id": "U1", "x": [bad]}
        else:
            frame[where] = bad
        return json.dumps(frame)

    cases = [*examples(with_surrogate(), 20), '{"type":"ping","ref":"\\ud800"}']
    async with serve(LiveChat(make_settings(tmp_path, **FAST))) as srv:
        client = await Client.connect(srv.ws_url, srv.token("surrogate"))
        for i, raw in enumerate(cases):
            start = len(client.frames)
            await client.send_raw(raw)
            try:
                before = await probe(client, start, f"s{i}")
            except (ConnectionError, TimeoutError) as exc:
                raise AssertionError(f"no pong after {short(raw)}: {exc}") from exc
            answers = [f for f in before if f["type"] not in UNSOLICITED]
            assert [code_of(f) for f in answers] == ["invalid_json"], (raw, answers)
            assert "ref" not in answers[0], (raw, answers)
        await client.close()


async def test_nesting_with_a_lone_surrogate_gets_invalid_json(tmp_path):
    """Property: at every depth (a sweep, each depth on its own connection,
    concurrently), a frame nesting a lone surrogate escape gets `error`
    `invalid_json` and the socket survives. (Regression: with a recursive
    surrogate check, depths ~400-900, e.g. '[' * 500 + '"\\ud800"' + ']' * 500,
    raised RecursionError and dropped the socket with 1006.)"""
    depths = range(100, 2_001, 100)
    async with serve(LiveChat(make_settings(tmp_path, **FAST))) as srv:
        raws = ["[" * d + '"\\ud800"' + "]" * d for d in depths]
        results = await asyncio.gather(
            *(_answer_then_pong(srv, raw) for raw in raws), return_exceptions=True
        )
        failed = [d for d, r in zip(depths, results, strict=True) if isinstance(r, BaseException)]
        assert failed == [], f"the socket died at depths {failed}"
        for depth, answers in zip(depths, results, strict=True):
            assert [code_of(f) for f in answers] == ["invalid_json"], (depth, answers)


# --- bugs these properties found, kept as regression tests ----------------------


async def test_join_with_after_seq_beyond_int64(tmp_path):
    """Property: a join with any non-negative integer `after_seq` is answered
    `conversation_joined` or, if the server bounds it, `invalid_message`;
    never `internal_error`."""
    async with serve(LiveChat(make_settings(tmp_path, **FAST))) as srv:
        raw = _frame("join_conversation", "r", line_user_id="U1", after_seq=2**63)
        answers = await _answer_then_pong(srv, raw)
        assert len(answers) == 1, answers
        assert answers[0]["type"] == "conversation_joined" or code_of(answers[0]) == (
            "invalid_message"
        ), answers


async def test_nul_in_line_user_id_is_handled_alike_on_every_store(tmp_path, store_backend):
    """Property: a `line_user_id` containing U+0000 gets the same answer on every
    store: `invalid_message` (PostgreSQL text cannot hold NUL, so the protocol
    refuses it everywhere); never `internal_error`."""
    async with serve(LiveChat(make_settings(tmp_path, **FAST))) as srv:
        answers = await _answer_then_pong(
            srv, _frame("join_conversation", "r", line_user_id="U\x00")
        )
        assert len(answers) == 1, answers
        assert answers[0]["type"] == "conversation_joined" or code_of(answers[0]) == (
            "invalid_message"
        ), answers


async def test_binary_frames_over_the_rate_limit_get_rate_limited(tmp_path):
    """Property: PROTOCOL.md 'a frame over the limit gets error rate_limited':
    binary frames past the burst are answered `rate_limited` like text frames."""
    settings = make_settings(tmp_path, rate_limit_per_second=0.01, rate_limit_burst=3)
    async with serve(LiveChat(settings)) as srv:
        client = await Client.connect(srv.ws_url, srv.token("binflood"))
        start = len(client.frames)
        for _ in range(6):
            await client.send_raw(b"\x00binary")
        await client.send_raw('{"type":"ping","ref":"end"}')
        end = await client.wait_for(lambda f: f.get("ref") == "end", start=start)
        answers = client.frames[start : client.frames.index(end, start)]
        answers = [f for f in answers if f["type"] not in UNSOLICITED]
        await client.close()
        # auth took 1 of the burst of 3: two binary frames are served, four are over
        assert [code_of(f) for f in answers] == ["bad_frame"] * 2 + ["rate_limited"] * 4
