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


def test_db_upgrade_says_what_it_did(tmp_path):
    """A new database is created, a current one left alone, an old one upgraded:
    the message says which, never "up to date" for a database just made."""
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    first = run("db", "upgrade", LIVECHAT_STORE_URL=url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("created the schema")
    again = run("db", "upgrade", LIVECHAT_STORE_URL=url)
    assert again.returncode == 0, again.stderr
    assert "is already at" in again.stdout and "nothing to do" in again.stdout
    assert (tmp_path / "cli.db").exists()


def test_db_upgrade_makes_the_default_store_in_the_data_folder(tmp_path):
    data = tmp_path / "data"
    result = run("db", "upgrade", LIVECHAT_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert (data / "livechat.db").is_file() and str(data) in result.stdout


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


def test_every_option_has_help_and_shows_its_default():
    import argparse

    from livechat_ext.cli import build_parser

    def check(command: argparse.ArgumentParser) -> None:
        for action in command._actions:
            assert action.help, f"{command.prog} {action.option_strings} has no help"
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    check(sub)

    check(build_parser())
    demo = run("demo", "--help").stdout
    assert "(default: 8000)" in demo and "--fresh" in demo and "LIVECHAT_DATA_DIR" in demo
    top = run("--help").stdout
    assert "`" not in top, "the description is printed, not rendered: no Markdown"


def test_version():
    from livechat_ext import __version__

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"livechat-ext {__version__}"


def test_serve_refuses_the_placeholders_of_example_env():
    result = run("serve", "--env-file", "config/example.env", "--port", "1")
    assert result.returncode == 2
    assert "LIVECHAT_JWT_SECRET is still a placeholder" in result.stderr
    assert "change-me" not in result.stderr  # the value itself is never echoed


def test_token_refuses_a_placeholder_secret():
    result = run("token", "--admin-id", "alice", "--env-file", "config/example.env")
    assert result.returncode == 2 and "placeholder" in result.stderr and not result.stdout


def test_token_carries_extra_claims_for_the_authorize_hook():
    result = run(
        "token",
        "--admin-id",
        "alice",
        "--claim",
        "team=sales",
        "--claim",
        "vip=true",
        "--claim",
        'regions=["kanto","kansai"]',
        LIVECHAT_DEMO="true",
    )
    assert result.returncode == 0, result.stderr
    operator = TokenVerifier(LiveChatSettings(demo=True)).verify(result.stdout.strip())
    assert operator.claims["team"] == "sales" and operator.claims["vip"] is True
    assert operator.claims["regions"] == ["kanto", "kansai"]
    for bad in ("novalue", "sub=bob", "=x"):
        refused = run("token", "--admin-id", "alice", "--claim", bad, LIVECHAT_DEMO="true")
        assert refused.returncode == 2 and "--claim" in refused.stderr, bad
