import pytest

import livechat_ext
from livechat_ext import ConfigError, LiveChat, LiveChatSettings


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
                jwt_secret="s",
                line_channel_secret="c",
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
                jwt_secret="s",
                line_channel_secret="c",
                store_url=f"sqlite+aiosqlite:///{tmp_path}/{n}.db",
            )
        )

    a, b = make(1), make(2)
    assert a.hub is not b.hub and a.broker is not b.broker and a.store is not b.store
    assert a.chat.presence is not b.chat.presence
