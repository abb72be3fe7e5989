"""`livechat-ext serve | demo | token | db upgrade`."""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, StoreError
from .settings import LiveChatSettings

if TYPE_CHECKING:
    from .store import SchemaState, Store


def _settings(env_file: str | None, **overrides: object) -> LiveChatSettings:
    kwargs: dict[str, object] = dict(overrides)
    if env_file:
        if not os.path.isfile(env_file):
            raise ConfigError(f"env file {env_file!r} does not exist")
        kwargs["_env_file"] = env_file
    return LiveChatSettings(**kwargs)  # type: ignore[arg-type]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.env_file:
        _export_env_file(args.env_file)  # workers are new processes: they read the environment
    uvicorn.run(**serve_options(args))
    return 0


def serve_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `uvicorn.run` arguments of `livechat-ext serve`: the app (the plugin
    alone, or the host's with `--app`) with the plugin's server limits.

    Raises `ConfigError` for the built-in app when a secret or, with several
    workers, a shared broker is missing (a host app checks its own settings).
    """
    from .logging_filters import LOG_FORMAT
    from .web.deploy import uvicorn_options

    if args.app is not None and ":" not in args.app:
        raise ConfigError(f"--app takes MODULE:ATTR (like yourbot.app:create_app), not {args.app}")
    settings = _settings(None)
    if args.app is None:
        settings.check()
        if args.workers > 1 and settings.broker_url.startswith("memory"):
            raise ConfigError(
                "several workers need a shared broker: set "
                "LIVECHAT_BROKER_URL=redis://... (and a PostgreSQL store)"
            )
    return {
        "app": args.app or "livechat_ext.web.host:create_app",
        "factory": args.factory or args.app is None,
        "app_dir": args.app_dir,
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "log_level": args.log_level,
        "log_config": _log_config(args.log_level, LOG_FORMAT),
        "proxy_headers": args.proxy_headers,
        "forwarded_allow_ips": args.forwarded_allow_ips,
        **uvicorn_options(settings),
    }


def _export_env_file(path: str) -> None:
    from dotenv import dotenv_values

    if not os.path.isfile(path):
        raise ConfigError(f"env file {path!r} does not exist")
    for key, value in dotenv_values(path).items():
        if value is not None:
            os.environ.setdefault(key, value)


def _log_config(level: str, fmt: str) -> dict[str, object]:
    """uvicorn's logging, with our connection ids and token redaction in every line."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["livechat"] = {
        "()": "livechat_ext.logging_filters.ConnectionIdFormatter",
        "fmt": fmt,
    }
    config["handlers"]["livechat"] = {
        "formatter": "livechat",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["livechat_ext"] = {
        "handlers": ["livechat"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(
        host=args.host, port=args.port, env_file=args.env_file, store_url=args.store_url
    )


def _token(args: argparse.Namespace) -> int:
    from .auth import mint_token

    settings = _settings(args.env_file)
    if not settings.jwt_secret:
        raise ConfigError("set LIVECHAT_JWT_SECRET (or use --env-file) to mint a token")
    print(mint_token(settings, args.admin_id, name=args.name, ttl=args.ttl))
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from .store import create_store

    settings = _settings(args.env_file)

    async def run() -> str:
        store = create_store(settings.store_url)
        await store.start()
        try:
            before = await _state_or_none(store)
            await store.create_schema()
            after = await store.check_schema()
        finally:
            await store.close()
        if before is not None and before.up_to_date:
            return f"schema is up to date ({after.head})"
        if before is not None and before.empty:
            return f"schema created ({after.head})"
        return f"schema upgraded to {after.head}"

    outcome = asyncio.run(run())
    print(f"{outcome} on {settings.store_url.split('@')[-1]}")
    return 0


async def _state_or_none(store: Store) -> SchemaState | None:
    from .store import SchemaError

    try:
        return await store.check_schema()
    except SchemaError:
        return None  # behind or unknown: create_schema upgrades it or says why not


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livechat-ext", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run your app (--app) or a minimal one, with the plugin's server limits"
    )
    serve.add_argument(
        "--app",
        metavar="MODULE:ATTR",
        help="your ASGI app with the plugin mounted (default: the plugin alone)",
    )
    serve.add_argument(
        "--factory", action="store_true", help="--app names a function that returns the app"
    )
    serve.add_argument(
        "--app-dir", default=".", help="put this folder first on sys.path (default: .)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--env-file")
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (more than one needs a redis:// broker)",
    )
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-For from --forwarded-allow-ips (behind a proxy)",
    )
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    serve.set_defaults(func=_serve)

    demo = sub.add_parser("demo", help="console + LINE simulator on one port, nothing to set up")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--env-file")
    demo.add_argument(
        "--store-url", default=None, help="default: a SQLite file in a temporary folder"
    )
    demo.set_defaults(func=_demo)

    token = sub.add_parser(
        "token", help="print an operator token signed with the configured secret"
    )
    token.add_argument("--admin-id", required=True)
    token.add_argument("--name")
    token.add_argument("--ttl", type=float, default=8 * 3600.0, help="seconds (default 8 h)")
    token.add_argument("--env-file")
    token.set_defaults(func=_token)

    db = sub.add_parser("db", help="store schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="create or upgrade the schema (safe in parallel)")
    upgrade.add_argument("--env-file")
    upgrade.set_defaults(func=_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, StoreError) as exc:
        print(f"livechat-ext: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
