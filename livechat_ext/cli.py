"""The `livechat-ext` command: serve, demo, token, db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
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
        "app": args.app or "livechat_ext.web.host:create_served_app",
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
        host=args.host,
        port=args.port,
        env_file=args.env_file,
        store_url=args.store_url,
        fresh=args.fresh,
    )


def _token(args: argparse.Namespace) -> int:
    from .auth import mint_token
    from .settings import is_placeholder

    settings = _settings(args.env_file)
    if not settings.jwt_secret:
        raise ConfigError("set LIVECHAT_JWT_SECRET (or use --env-file) to mint a token")
    if not settings.demo and is_placeholder(settings.jwt_secret):
        raise ConfigError(
            "LIVECHAT_JWT_SECRET is still a placeholder from config/example.env or the demo: "
            "no server accepts it outside demo mode; set the real secret"
        )
    claims = dict(args.claims or [])
    print(mint_token(settings, args.admin_id, name=args.name, ttl=args.ttl, extra=claims))
    return 0


_RESERVED_CLAIMS = {"sub", "name", "exp", "iat", "aud", "iss"}


def _claim(text: str) -> tuple[str, Any]:
    """`key=value`: the value is read as JSON when it is JSON (`true`, `3`,
    `["a","b"]`), else kept as a string."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"a claim is KEY=VALUE, not {text!r}")
    if key in _RESERVED_CLAIMS:
        raise argparse.ArgumentTypeError(
            f"{key!r} is set by its own option or by the settings; use --admin-id, --name, --ttl"
        )
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _db_upgrade(args: argparse.Namespace) -> int:
    from .store import create_store

    settings = _settings(args.env_file)
    where = settings.store_url.split("@")[-1]  # never print a password

    async def run() -> str:
        store = create_store(settings.store_url)
        settings.prepare_data_dir()
        await store.start()
        try:
            before = await _state_or_none(store)
            await store.create_schema()
            after = await store.check_schema()
        finally:
            await store.close()
        if before is not None and before.up_to_date:
            return f"the schema in {where} is already at {after.head}: nothing to do"
        if before is not None and before.empty:
            return f"created the schema ({after.head}) in {where}"
        return f"upgraded the schema to {after.head} in {where}"

    print(asyncio.run(run()))
    return 0


async def _state_or_none(store: Store) -> SchemaState | None:
    from .store import SchemaError

    try:
        return await store.check_schema()
    except SchemaError:
        return None  # behind or unknown: create_schema upgrades it or says why not


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default after its help, when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or default in (None, False, argparse.SUPPRESS)
            or action.option_strings == []
        ):
            return text
        return f"{text} (default: %(default)s)"


def _parser(sub: Any, name: str, text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=text, description=text, formatter_class=_HelpFormatter
    )
    return parser


_ENV_FILE_HELP = "read LIVECHAT_* settings from this file too (the environment wins)"


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="livechat-ext",
        description=_DESCRIPTION,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="what to do (COMMAND --help)"
    )
    _add_serve(sub)
    _add_demo(sub)
    _add_token(sub)
    db = _parser(sub, "db", "manage the store's schema")
    db_sub = db.add_subparsers(
        dest="db_command", required=True, metavar="COMMAND", help="what to do"
    )
    upgrade = _parser(
        db_sub, "upgrade", "create or upgrade the store's schema (safe from several machines)"
    )
    upgrade.add_argument("--env-file", metavar="FILE", help=_ENV_FILE_HELP)
    upgrade.set_defaults(func=_db_upgrade)
    return parser


_DESCRIPTION = """\
Real-time live chat between the operators of a LINE Official Account and its
users, as a FastAPI plugin. Settings come from LIVECHAT_* environment variables
(see the README's table).

  livechat-ext demo                    try it: console + LINE simulator, nothing to set up
  livechat-ext serve                   run the plugin (or your app with --app)
  livechat-ext token --admin-id alice  print an operator token
  livechat-ext db upgrade              create or upgrade the store's schema
"""


def _add_serve(sub: Any) -> None:
    serve = _parser(
        sub, "serve", "run your app (--app) or a minimal one, with the plugin's server limits"
    )
    serve.add_argument(
        "--app",
        metavar="MODULE:ATTR",
        help="your ASGI app with the plugin mounted (default: the plugin alone)",
    )
    serve.add_argument(
        "--factory", action="store_true", help="--app names a function that returns the app"
    )
    serve.add_argument("--app-dir", default=".", help="put this folder first on sys.path")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--env-file", metavar="FILE", help=_ENV_FILE_HELP)
    serve.add_argument(
        "--log-level",
        default="info",
        help="uvicorn's and the plugin's log level: critical, error, warning, info, debug",
    )
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
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        metavar="IPS",
        help="comma-separated proxy addresses whose X-Forwarded-* headers are trusted",
    )
    serve.set_defaults(func=_serve)


def _add_demo(sub: Any) -> None:
    demo = _parser(
        sub,
        "demo",
        "the operator console and a LINE simulator on one port, nothing to set up; "
        "its state stays in LIVECHAT_DATA_DIR/demo between runs",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo.add_argument("--port", type=int, default=8000, help="port to listen on")
    demo.add_argument("--env-file", metavar="FILE", help=_ENV_FILE_HELP)
    demo.add_argument(
        "--store-url",
        default=None,
        metavar="URL",
        help="the demo's store (default: demo.db in LIVECHAT_DATA_DIR/demo)",
    )
    demo.add_argument(
        "--fresh",
        action="store_true",
        help="forget the demo's earlier state (conversations and simulated users) first",
    )
    demo.set_defaults(func=_demo)


def _add_token(sub: Any) -> None:
    token = _parser(sub, "token", "print an operator token signed with LIVECHAT_JWT_SECRET")
    token.add_argument("--admin-id", required=True, help="the operator's id (the token's sub)")
    token.add_argument("--name", help="the operator's display name (the token's name)")
    token.add_argument("--ttl", type=float, default=8 * 3600, help="seconds until it expires")
    token.add_argument(
        "--claim",
        dest="claims",
        action="append",
        type=_claim,
        metavar="KEY=VALUE",
        help="an extra claim for your authorize hook; repeatable; VALUE is read as JSON "
        "when it is JSON (--claim team=sales --claim vip=true)",
    )
    token.add_argument("--env-file", metavar="FILE", help=_ENV_FILE_HELP)
    token.set_defaults(func=_token)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, StoreError) as exc:
        print(f"livechat-ext: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
