"""LineClient against respx: bodies, headers, retries and error translation."""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from livechat_ext.errors import DeliveryError
from livechat_ext.line import LineClient, Profile, retry_key_for
from livechat_ext.models import utf16_length

TOKEN = "secret-channel-access-token"
API = "https://api.line.me"
PUSH_URL = f"{API}/v2/bot/message/push"
LOADING_URL = f"{API}/v2/bot/chat/loading/start"
USER = "U" + "a" * 32
KEY = retry_key_for(USER, "c-1")


def sent(*ids: str, request_id: str = "req-1") -> httpx.Response:
    messages = [{"id": i, "quoteToken": f"q{i}"} for i in ids]
    return httpx.Response(
        200, json={"sentMessages": messages}, headers={"x-line-request-id": request_id}
    )


def line_error(status: int, message: str, **headers: str) -> httpx.Response:
    details = [{"message": "May not be empty", "property": "messages[0].text"}]
    body = {"message": message, "details": details}
    return httpx.Response(status, json=body, headers={"x-line-request-id": "req-e", **headers})


class RecordingSleep:
    """Stands in for asyncio.sleep: records the delays, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def client(sleep: RecordingSleep) -> AsyncIterator[LineClient]:
    line = LineClient(TOKEN, sleep=sleep, rng=random.Random(7), max_attempts=4)
    yield line
    await line.aclose()


def retry_keys(route: respx.Route) -> list[str | None]:
    return [call.request.headers.get("x-line-retry-key") for call in route.calls]


async def test_push_text_sends_line_shaped_request(
    client: LineClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(PUSH_URL).mock(return_value=sent("101"))

    result = await client.push_text(USER, "hello 😀", retry_key=KEY)

    assert result.message_ids == ["101"]
    assert result.request_id == "req-1"
    assert result.accepted_earlier is False
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-line-retry-key"] == KEY
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "to": USER,
        "messages": [{"type": "text", "text": "hello 😀"}],
        "notificationDisabled": False,
    }


async def test_push_passes_messages_and_notification_flag(
    client: LineClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(PUSH_URL).mock(return_value=sent("1", "2"))
    messages = [{"type": "text", "text": "a"}, {"type": "sticker", "packageId": "1"}]

    result = await client.push(USER, messages, retry_key=KEY, notification_disabled=True)

    assert result.message_ids == ["1", "2"]
    body = json.loads(route.calls.last.request.content)
    assert body["messages"] == messages
    assert body["notificationDisabled"] is True


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "The request body has 1 error(s)"),
        (401, "Authentication failed due to the following reason: invalid token."),
        (403, "Access to this API is not available for your account"),
        (413, "Request Entity Too Large"),
    ],
)
async def test_client_errors_are_permanent_and_not_retried(
    client: LineClient,
    respx_mock: respx.MockRouter,
    sleep: RecordingSleep,
    status: int,
    message: str,
) -> None:
    route = respx_mock.post(PUSH_URL).mock(return_value=line_error(status, message))

    with pytest.raises(DeliveryError) as info:
        await client.push_text(USER, "hi", retry_key=KEY)

    assert route.call_count == 1
    assert sleep.delays == []
    error = info.value
    assert error.status == status
    assert error.transient is False
    assert error.detail == {
        "message": message,
        "details": [{"message": "May not be empty", "property": "messages[0].text"}],
    }
    assert message in str(error)


async def test_409_with_accepted_request_id_is_success(
    client: LineClient, respx_mock: respx.MockRouter
) -> None:
    body = {"sentMessages": [{"id": "555", "quoteToken": "q"}]}
    headers = {"x-line-request-id": "req-2", "x-line-accepted-request-id": "req-first"}
    respx_mock.post(PUSH_URL).mock(return_value=httpx.Response(409, json=body, headers=headers))

    result = await client.push_text(USER, "hi", retry_key=KEY)

    assert result.accepted_earlier is True
    assert result.message_ids == ["555"]
    assert result.request_id == "req-first"


async def test_409_without_accepted_request_id_is_an_error(
    client: LineClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(PUSH_URL).mock(return_value=line_error(409, "Conflict"))

    with pytest.raises(DeliveryError) as info:
        await client.push_text(USER, "hi", retry_key=KEY)

    assert (info.value.status, info.value.transient, route.call_count) == (409, False, 1)


async def test_rate_limit_honours_retry_after(
    client: LineClient, respx_mock: respx.MockRouter, sleep: RecordingSleep
) -> None:
    limited = line_error(429, "Too Many Requests", **{"retry-after": "3"})
    route = respx_mock.post(PUSH_URL).mock(side_effect=[limited, sent("9")])

    result = await client.push_text(USER, "hi", retry_key=KEY)

    assert result.message_ids == ["9"]
    assert sleep.delays == [3.0]
    assert retry_keys(route) == [KEY, KEY]


async def test_retry_after_is_capped(
    client: LineClient, respx_mock: respx.MockRouter, sleep: RecordingSleep
) -> None:
    unavailable = line_error(503, "Service Unavailable", **{"retry-after": "3600"})
    respx_mock.post(PUSH_URL).mock(side_effect=[unavailable, sent("9")])

    await client.push_text(USER, "hi", retry_key=KEY)

    assert sleep.delays == [32.0]  # backoff_max (8) * 4


async def test_monthly_limit_is_permanent(client: LineClient, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(PUSH_URL).mock(
        return_value=line_error(429, "You have reached your monthly limit.")
    )

    with pytest.raises(DeliveryError) as info:
        await client.push_text(USER, "hi", retry_key=KEY)

    assert (info.value.status, info.value.transient, route.call_count) == (429, False, 1)


async def test_server_error_then_success_retries_with_same_key(
    client: LineClient, respx_mock: respx.MockRouter, sleep: RecordingSleep
) -> None:
    route = respx_mock.post(PUSH_URL).mock(
        side_effect=[line_error(500, "Internal Server Error"), sent("7")]
    )

    result = await client.push_text(USER, "hi", retry_key=KEY)

    assert result.message_ids == ["7"]
    assert route.call_count == 2
    assert retry_keys(route) == [KEY, KEY]
    assert len(sleep.delays) == 1
    assert 0.25 <= sleep.delays[0] <= 0.5  # backoff_base with jitter in [half, whole]


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout("read timed out"), httpx.ConnectError("refused")]
)
async def test_network_error_then_success(
    client: LineClient,
    respx_mock: respx.MockRouter,
    failure: httpx.TransportError,
    caplog: pytest.LogCaptureFixture,
) -> None:
    route = respx_mock.post(PUSH_URL).mock(side_effect=[failure, sent("8")])

    with caplog.at_level(logging.WARNING, logger="livechat_ext.line"):
        result = await client.push_text(USER, "hi", retry_key=KEY)

    assert result.message_ids == ["8"]
    assert retry_keys(route) == [KEY, KEY]
    # the failed attempt is one line naming the error, with no traceback of httpx's
    (record,) = [r for r in caplog.records if r.name == "livechat_ext.line"]
    assert type(failure).__name__ in record.getMessage()
    assert record.exc_info is None and "Traceback" not in caplog.text


async def test_exhausted_retries_raise_transient_error(
    client: LineClient, respx_mock: respx.MockRouter, sleep: RecordingSleep
) -> None:
    route = respx_mock.post(PUSH_URL).mock(return_value=line_error(503, "Service Unavailable"))

    with pytest.raises(DeliveryError) as info:
        await client.push_text(USER, "hi", retry_key=KEY)

    assert route.call_count == 4
    assert set(retry_keys(route)) == {KEY}
    assert (info.value.status, info.value.transient) == (503, True)
    assert len(sleep.delays) == 3
    steps = [0.5, 1.0, 2.0]
    assert all(step / 2 <= delay <= step for step, delay in zip(steps, sleep.delays, strict=True))


async def test_error_without_json_body_keeps_the_text(
    client: LineClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(PUSH_URL).mock(return_value=httpx.Response(502, text="<html>gateway</html>"))

    with pytest.raises(DeliveryError) as info:
        await client.push_text(USER, "hi", retry_key=KEY)

    assert (info.value.status, info.value.transient) == (502, True)
    assert info.value.detail == {"message": "<html>gateway</html>", "details": []}


async def test_exhausted_timeouts_chain_the_last_network_error(
    client: LineClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(PUSH_URL).mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(DeliveryError) as info:
        await client.push_text(USER, "hi", retry_key=KEY)

    assert route.call_count == 4
    assert (info.value.status, info.value.transient) == (None, True)
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


async def test_backoff_is_bounded_by_backoff_max(respx_mock: respx.MockRouter) -> None:
    sleep = RecordingSleep()
    line = LineClient(TOKEN, sleep=sleep, max_attempts=8, backoff_base=1.0, backoff_max=2.0)
    respx_mock.post(PUSH_URL).mock(return_value=line_error(502, "Bad Gateway"))

    with pytest.raises(DeliveryError):
        await line.push_text(USER, "hi", retry_key=KEY)
    await line.aclose()

    assert len(sleep.delays) == 7
    assert max(sleep.delays) <= 2.0


async def test_logs_request_ids_and_never_the_token(
    client: LineClient, respx_mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    respx_mock.post(PUSH_URL).mock(
        side_effect=[line_error(500, "oops"), sent("1", request_id="req-ok")]
    )

    with caplog.at_level(logging.DEBUG):
        await client.push_text(USER, "hi", retry_key=KEY)

    line_logs = [r.getMessage() for r in caplog.records if r.name == "livechat_ext.line"]
    assert any("req-e" in m for m in line_logs)
    assert any("req-ok" in m for m in line_logs)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(client)


@pytest.mark.parametrize("text", ["", "😀" * 2501, "a" * 5001])
async def test_push_text_refuses_empty_or_too_long_text_locally(
    client: LineClient, respx_mock: respx.MockRouter, text: str
) -> None:
    route = respx_mock.post(PUSH_URL).mock(return_value=sent("1"))

    with pytest.raises(DeliveryError) as info:
        await client.push_text(USER, text, retry_key=KEY)

    assert info.value.transient is False
    assert route.call_count == 0


async def test_push_text_accepts_exactly_the_limit(
    client: LineClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(PUSH_URL).mock(return_value=sent("1"))

    result = await client.push_text(USER, "😀" * 2500, retry_key=KEY)

    assert result.message_ids == ["1"]


@pytest.mark.parametrize("count", [0, 6])
async def test_push_needs_one_to_five_messages(client: LineClient, count: int) -> None:
    with pytest.raises(ValueError, match="1 to 5"):
        await client.push(USER, [{"type": "text", "text": "x"}] * count, retry_key=KEY)


def test_retry_key_is_a_deterministic_uuid_per_pair() -> None:
    key = retry_key_for("U1", "c-1")

    assert key == retry_key_for("U1", "c-1")
    assert str(uuid.UUID(key)) == key
    others = {
        retry_key_for("U1", "c-2"),
        retry_key_for("U2", "c-1"),
        retry_key_for("U1:c", "-1"),
        retry_key_for("U1", ":c-1"),
    }
    assert key not in others
    assert len(others) == 4


@pytest.mark.parametrize(
    ("text", "length"),
    [("", 0), ("abc", 3), ("é", 1), ("日本語", 3), ("😀", 2), ("a😀b", 4), ("👍🏽", 4)],
)
def test_text_length_counts_utf16_code_units(text: str, length: int) -> None:
    assert utf16_length(text) == length


@pytest.mark.parametrize(
    ("seconds", "sent_seconds"),
    [(0, 5), (1, 5), (5, 5), (6, 10), (20, 20), (59, 60), (60, 60), (600, 60)],
)
async def test_start_loading_rounds_seconds(
    client: LineClient, respx_mock: respx.MockRouter, seconds: int, sent_seconds: int
) -> None:
    route = respx_mock.post(LOADING_URL).mock(return_value=httpx.Response(202, json={}))

    await client.start_loading(USER, seconds)

    request = route.calls.last.request
    assert json.loads(request.content) == {"chatId": USER, "loadingSeconds": sent_seconds}
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-line-retry-key" not in request.headers


async def test_start_loading_error_raises(client: LineClient, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(LOADING_URL).mock(return_value=line_error(400, "Invalid chatId"))

    with pytest.raises(DeliveryError) as info:
        await client.start_loading("C" + "1" * 32)

    assert (info.value.status, info.value.transient, route.call_count) == (400, False, 1)


async def test_other_calls_try_at_most_twice(
    client: LineClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(LOADING_URL).mock(return_value=line_error(500, "oops"))

    with pytest.raises(DeliveryError) as info:
        await client.start_loading(USER)

    assert (route.call_count, info.value.transient) == (2, True)


async def test_get_profile(client: LineClient, respx_mock: respx.MockRouter) -> None:
    body = {
        "userId": USER,
        "displayName": "Brown",
        "pictureUrl": "https://profile.line-scdn.net/abc",
        "language": "en",
    }
    respx_mock.get(f"{API}/v2/bot/profile/{USER}").mock(return_value=httpx.Response(200, json=body))

    profile = await client.get_profile(USER)

    assert profile == Profile(
        user_id=USER,
        display_name="Brown",
        picture_url="https://profile.line-scdn.net/abc",
        status_message=None,
        language="en",
    )


async def test_get_profile_not_found_is_none(
    client: LineClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(f"{API}/v2/bot/profile/{USER}").mock(return_value=line_error(404, "Not found"))

    assert await client.get_profile(USER) is None


async def test_mark_as_read(client: LineClient, respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{API}/v2/bot/chat/markAsRead").mock(
        return_value=httpx.Response(200, json={})
    )

    await client.mark_as_read("token-1")

    assert json.loads(route.calls.last.request.content) == {"markAsReadToken": "token-1"}


async def test_base_url_is_configurable(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("http://fake-line:9000/v2/bot/message/push").mock(
        return_value=sent("1")
    )
    async with LineClient(TOKEN, base_url="http://fake-line:9000/") as line:
        await line.push_text(USER, "hi", retry_key=KEY)

    assert route.call_count == 1


async def test_aclose_leaves_a_shared_http_client_open(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(PUSH_URL).mock(return_value=sent("1"))
    async with httpx.AsyncClient() as http:
        line = LineClient(TOKEN, http=http)
        await line.aclose()

        assert not http.is_closed
        await line.push_text(USER, "hi", retry_key=KEY)
