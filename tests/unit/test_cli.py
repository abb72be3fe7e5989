"""The command line, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys

from livechat_ext import LiveChatSettings, TokenVerifier


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIVECHAT_")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "livechat_ext", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_is_signed_with_the_configured_secret():
    result = run("token", "--admin-id", "alice", "--name", "Alice", LIVECHAT_DEMO="true")
    assert result.returncode == 0, result.stderr
    operator = TokenVerifier(LiveChatSettings(demo=True)).verify(result.stdout.strip())
    assert (operator.admin_id, operator.name) == ("alice", "Alice")


def test_serve_without_secrets_is_a_clear_error():
    result = run("serve", "--port", "1")
    assert result.returncode == 2
    assert "LIVECHAT_JWT_SECRET" in result.stderr and "Traceback" not in result.stderr


def test_several_workers_need_a_shared_broker():
    result = run(
        "serve",
        "--workers",
        "2",
        LIVECHAT_JWT_SECRET="cli-test-secret-" + "x" * 32,
        LIVECHAT_LINE_CHANNEL_SECRET="c",
        LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN="t",
    )
    assert result.returncode == 2 and "redis://" in result.stderr


def test_db_upgrade_creates_the_schema_and_is_repeatable(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    for _ in range(2):
        result = run("db", "upgrade", LIVECHAT_STORE_URL=url)
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stdout
    assert (tmp_path / "cli.db").exists()


def test_env_file_is_read(tmp_path):
    env = tmp_path / "livechat.env"
    env.write_text("LIVECHAT_JWT_SECRET=from-the-file-0123456789abcdef0123456789\n")
    result = run("token", "--admin-id", "bob", "--env-file", str(env))
    assert result.returncode == 0, result.stderr
    settings = LiveChatSettings(jwt_secret="from-the-file-0123456789abcdef0123456789")
    assert TokenVerifier(settings).verify(result.stdout.strip()).admin_id == "bob"
    missing = run("token", "--admin-id", "bob", "--env-file", str(tmp_path / "nope.env"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_serve_runs_a_host_app_with_the_plugins_limits(monkeypatch):
    """`serve --app` keeps the limits uvicorn's defaults lack, derived from settings."""
    import uvicorn

    from livechat_ext.cli import build_parser, serve_options

    monkeypatch.setenv("LIVECHAT_MAX_FRAME_BYTES", "4096")
    args = build_parser().parse_args(
        ["serve", "--app", "examples.host_app:create_app", "--factory", "--workers", "2"]
    )
    options = serve_options(args)  # a host app checks its own secrets and broker
    assert (options["app"], options["factory"]) == ("examples.host_app:create_app", True)
    options.pop("app_dir")  # uvicorn.run's, not Config's
    options["log_config"] = None  # Config would apply it to this process's loggers
    config = uvicorn.Config(**options)
    assert config.ws_max_size == 4096 and config.ws_ping_interval is None
    assert config.http == "h11" and config.h11_max_incomplete_event_size is not None


def test_serve_app_must_name_module_and_attribute():
    result = run("serve", "--app", "examples.host_app")
    assert result.returncode == 2 and "MODULE:ATTR" in result.stderr
