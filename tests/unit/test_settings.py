from pathlib import Path

import pytest
from dotenv import dotenv_values

import livechat_ext
from livechat_ext import ConfigError, LiveChat, LiveChatSettings

JWT_SECRET = "settings-test-jwt-secret-0123456789abcdef"
EXAMPLE_ENV = Path(__file__).parents[2] / "config" / "example.env"


def test_env_names_and_list_forms(monkeypatch):
    monkeypatch.setenv("LIVECHAT_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("LIVECHAT_JWT_ALGORITHMS", '["HS256", "HS512"]')
    monkeypatch.setenv("LIVECHAT_HEARTBEAT_INTERVAL", "12")
    monkeypatch.setenv("LIVECHAT_PRESENCE_GRACE", "1.5")
    s = LiveChatSettings()
    assert s.allowed_origins == ["https://a.example", "https://b.example"]
    assert s.jwt_algorithms == ["HS256", "HS512"]
    assert s.heartbeat_interval == 12 and s.presence_grace == 1.5


def test_defaults_match_protocol():
    s = LiveChatSettings()
    assert (s.max_frame_bytes, s.auth_timeout, s.typing_timeout, s.heartbeat_interval) == (
        65536,
        10,
        6,
        30,
    )
    assert s.broker_url == "memory://" and s.line_api_base_url == "https://api.line.me"
    assert s.presence_grace == 3


def test_missing_secrets_fail_at_startup(monkeypatch, tmp_path):
    for name in ("LIVECHAT_JWT_SECRET", "LIVECHAT_LINE_CHANNEL_SECRET", "LIVECHAT_DEMO"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError) as info:
        LiveChat(LiveChatSettings(store_url=f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    assert "LIVECHAT_JWT_SECRET" in str(info.value)
    assert "LIVECHAT_LINE_CHANNEL_SECRET" in str(info.value)


def test_demo_mode_fills_secrets():
    s = LiveChatSettings(demo=True)
    s.check()
    assert s.jwt_secret and s.line_channel_secret and s.console_enabled


def test_env_file(tmp_path):
    env = tmp_path / "livechat.env"
    env.write_text("LIVECHAT_JWT_SECRET=from-file\nLIVECHAT_HISTORY_LIMIT=7\n")
    s = LiveChatSettings(_env_file=str(env))
    assert s.jwt_secret == "from-file" and s.history_limit == 7


@pytest.mark.parametrize("url", ["mysql://x", "kafka://y"])
def test_unknown_backend_scheme_is_config_error(url, tmp_path):
    with pytest.raises(ConfigError) as info:
        LiveChat(
            LiveChatSettings(
                jwt_secret=JWT_SECRET,
                line_channel_secret="c",
                line_channel_access_token="t",
                broker_url=url,
                store_url=f"sqlite+aiosqlite:///{tmp_path}/x.db",
            )
        )
    assert "memory" in str(info.value)


def test_public_api_is_pinned():
    assert sorted(livechat_ext.__all__) == sorted(
        [
            "PROTOCOL_VERSION",
            "AuthError",
            "AuthErrorCode",
            "Authorize",
            "Broker",
            "BrokerError",
            "BrokerEvent",
            "CloseCode",
            "ConfigError",
            "Conversation",
            "Delivery",
            "DeliveryError",
            "Direction",
            "ErrorCode",
            "InvalidSignatureError",
            "InvalidWebhookError",
            "LiveChat",
            "LiveChatError",
            "LiveChatSettings",
            "MemoryBroker",
            "Message",
            "MessageKind",
            "MessageStatus",
            "Operator",
            "Sender",
            "Store",
            "StoreError",
            "TokenVerifier",
            "WebhookResult",
            "__version__",
            "allow_all",
            "create_app",
            "create_broker",
            "create_store",
            "mint_token",
            "uvicorn_options",
        ]
    )
    for name in livechat_ext.__all__:
        assert hasattr(livechat_ext, name)


def test_two_instances_share_nothing(tmp_path):
    def make(n):
        return LiveChat(
            LiveChatSettings(
                jwt_secret=JWT_SECRET,
                line_channel_secret="c",
                line_channel_access_token="t",
                store_url=f"sqlite+aiosqlite:///{tmp_path}/{n}.db",
            )
        )

    a, b = make(1), make(2)
    assert a.hub is not b.hub and a.broker is not b.broker and a.store is not b.store
    assert a.team.presence is not b.team.presence


def _secrets_of_example_env() -> dict[str, str]:
    values = dotenv_values(EXAMPLE_ENV)
    names = (
        "LIVECHAT_JWT_SECRET",
        "LIVECHAT_LINE_CHANNEL_SECRET",
        "LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN",
    )
    return {name: values[name] or "" for name in names}


@pytest.mark.parametrize("name", sorted(_secrets_of_example_env()))
def test_placeholder_secrets_of_example_env_are_refused(name, tmp_path):
    """A copy of config/example.env that still holds a placeholder must not start."""
    placeholder = _secrets_of_example_env()[name]
    values = {
        "jwt_secret": JWT_SECRET,
        "line_channel_secret": "a-real-channel-secret",
        "line_channel_access_token": "a-real-access-token",
        "store_url": f"sqlite+aiosqlite:///{tmp_path}/x.db",
    }
    values[name.removeprefix("LIVECHAT_").lower()] = placeholder
    with pytest.raises(ConfigError) as info:
        LiveChat(LiveChatSettings(**values))
    assert name in str(info.value) and placeholder not in str(info.value)
    LiveChatSettings(**values, demo=True).check()  # the demo's secrets are public anyway


def test_the_demo_secrets_are_refused_outside_demo_mode(tmp_path):
    demo = LiveChatSettings(demo=True)
    with pytest.raises(ConfigError, match="LIVECHAT_JWT_SECRET"):
        LiveChatSettings(
            jwt_secret=demo.jwt_secret, line_channel_secret="c", line_channel_access_token="t"
        ).check()


@pytest.mark.parametrize(
    ("secret", "ok"),
    [("x" * 31, False), ("x" * 32, True), ("é" * 15, False), ("é" * 16, True)],
)
def test_jwt_secrets_under_32_bytes_are_refused(secret, ok, tmp_path):
    settings = LiveChatSettings(
        jwt_secret=secret,
        line_channel_secret="c",
        line_channel_access_token="t",
        store_url=f"sqlite+aiosqlite:///{tmp_path}/x.db",
    )
    if ok:
        LiveChat(settings)
        return
    with pytest.raises(ConfigError) as info:
        LiveChat(settings)
    assert "LIVECHAT_JWT_SECRET" in str(info.value)
    LiveChatSettings(jwt_secret=secret, line_channel_secret="c", demo=True).check()


def test_the_default_store_lives_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("LIVECHAT_STORE_URL", raising=False)
    monkeypatch.delenv("LIVECHAT_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    s = LiveChatSettings()
    assert s.data_dir == tmp_path / "livechat-data"
    assert s.store_url == f"sqlite+aiosqlite:///{tmp_path}/livechat-data/livechat.db"
    monkeypatch.chdir("/")  # fixed when read: a later chdir moves nothing
    assert s.data_dir == tmp_path / "livechat-data"
    monkeypatch.setenv("LIVECHAT_DATA_DIR", "~/somewhere")
    assert LiveChatSettings().data_dir == Path("~/somewhere").expanduser()


def test_a_store_left_by_an_earlier_release_is_kept(tmp_path, monkeypatch, caplog):
    """Earlier releases kept the store in ./livechat.db: where it exists it stays in use."""
    monkeypatch.delenv("LIVECHAT_STORE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "livechat.db").write_bytes(b"")
    s = LiveChatSettings()
    assert s.store_url == "sqlite+aiosqlite:///./livechat.db"
    s.prepare_data_dir()
    assert "earlier releases" in caplog.text and not (tmp_path / "livechat-data").exists()


async def test_the_data_folder_is_made_at_start(tmp_path):
    data = tmp_path / "data" / "here"
    settings = LiveChatSettings(
        jwt_secret=JWT_SECRET,
        line_channel_secret="c",
        line_channel_access_token="t",
        line_api_base_url="http://127.0.0.1:9",
        data_dir=data,
    )
    async with LiveChat(settings).lifespan():
        assert (data / "livechat.db").is_file()


def test_an_access_token_is_required_unless_sends_go_elsewhere(tmp_path):
    values = {
        "jwt_secret": JWT_SECRET,
        "line_channel_secret": "c",
        "store_url": f"sqlite+aiosqlite:///{tmp_path}/x.db",
    }
    with pytest.raises(ConfigError, match="LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN"):
        LiveChat(LiveChatSettings(**values))

    class Nowhere:
        async def deliver(self, message):
            raise AssertionError("not called")

    LiveChat(LiveChatSettings(**values), delivery=Nowhere())  # the host delivers
