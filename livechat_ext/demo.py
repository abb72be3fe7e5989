"""`livechat-ext demo`: the plugin, the operator console and a LINE simulator
on one port, with a fake LINE Messaging API. Nothing to install or configure."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse

from .app import LiveChat
from .auth import mint_token
from .settings import LiveChatSettings


def build_demo_app(
    *,
    host: str,
    port: int,
    store_url: str | None = None,
    env_file: str | None = None,
    fresh: bool = False,
    **overrides: Any,
) -> tuple[FastAPI, LiveChat, Any]:
    """A host app with the plugin, console, fake LINE API and simulator mounted.

    Its state (the store, unless `store_url` names another, and the simulator's
    users and chats) stays in `LIVECHAT_DATA_DIR/demo` between runs; `fresh`
    forgets it first."""
    from .simulator import FakeLine, create_fake_line_app, create_simulator_app

    base = f"http://{_connect_host(host)}:{port}"
    values: dict[str, Any] = {
        "demo": True,
        "upgrade_schema": True,  # a demo database from an older release just moves on
        "line_api_base_url": f"{base}/fake-line",
        "line_data_base_url": f"{base}/fake-line",  # users' images and files
        "console": True,
    }
    values.update(overrides)
    if env_file:
        values["_env_file"] = env_file
    state = demo_state_dir(LiveChatSettings(**values))
    if fresh:
        shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True, exist_ok=True)
    values["store_url"] = store_url or f"sqlite+aiosqlite:///{state / 'demo.db'}"
    settings = LiveChatSettings(**values)
    live_chat = LiveChat(settings)
    # LINE refuses pushes to ids it does not know: so does the demo's fake, so a
    # reply is never shown as sent to a user the simulator has no phone for
    fake = FakeLine(settings.line_channel_access_token or "", known_users_only=True)
    app = FastAPI(title="livechat_ext demo")
    app.state.live_chat = live_chat
    app.state.fake_line = fake
    app.mount("/fake-line", create_fake_line_app(fake))
    app.mount(
        "/live-chat/simulator",
        create_simulator_app(
            fake,
            webhook_url=f"{base}{settings.webhook_path or '/line/webhook'}",
            channel_secret=settings.line_channel_secret or "",
            state_file=state / "simulator.json",
        ),
    )
    app.include_router(live_chat.router)
    if settings.allowed_origins:
        # As a host does for an admin front end on another origin (examples/nextjs):
        # its pages may read the REST history with their Bearer token.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["GET"],
            allow_headers=["Authorization"],
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return _INDEX.format(
            token=mint_token(settings, "demo-operator", name="Demo Operator", ttl=12 * 3600)
        )

    return app, live_chat, fake


def demo_state_dir(settings: LiveChatSettings) -> Path:
    """Where the demo keeps its state: `LIVECHAT_DATA_DIR/demo`."""
    return settings.data_dir / "demo"


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


class _DemoServer(uvicorn.Server):
    """Ends the simulator's event streams before uvicorn waits for open responses,
    and ends the process normally after Ctrl+C or SIGTERM."""

    fake: Any = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.fake is not None:
            self.fake.close()
        await super().shutdown(sockets)
        # uvicorn raises the signal again once it has stopped, so a SIGINT would
        # end in a KeyboardInterrupt traceback: the demo has stopped cleanly instead
        captured = getattr(self, "_captured_signals", None)
        if isinstance(captured, list):
            captured.clear()


def run_demo(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    env_file: str | None = None,
    store_url: str | None = None,
    fresh: bool = False,
) -> int:
    """Serve the demo until Ctrl+C or SIGTERM; prints the URLs to open."""
    app, live_chat, fake = build_demo_app(
        host=host, port=port, store_url=store_url, env_file=env_file, fresh=fresh
    )
    settings = live_chat.settings
    token = mint_token(settings, "demo-operator", name="Demo Operator", ttl=12 * 3600)
    shown = _connect_host(host)
    print(
        "\nlivechat_ext demo\n"
        f"  operator console : http://{shown}:{port}/live-chat/console/#token={token}\n"
        f"  LINE simulator   : http://{shown}:{port}/live-chat/simulator/\n"
        f"  start page       : http://{shown}:{port}/\n"
        f"  a second operator: LIVECHAT_DEMO=true livechat-ext token --admin-id bob --name Bob\n"
        f"  state            : {demo_state_dir(settings)}\n"
        "                     (kept between runs; --fresh starts over)\n"
        f"  store            : {settings.store_url}\n"
        "  stop             : Ctrl+C\n",
        flush=True,
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        ws_ping_interval=None,
        timeout_graceful_shutdown=5,
    )
    server = _DemoServer(config)
    server.fake = fake
    try:
        server.run()
    except KeyboardInterrupt:
        # uvicorn has shut down cleanly and raises the signal again for the caller
        pass
    print("livechat_ext demo stopped", flush=True)
    return 0


_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>livechat_ext demo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;
padding:0 1rem;color:#1f2933}} a{{color:#06c755}}
code{{background:#f1f5f9;padding:.1rem .3rem;border-radius:4px}}</style></head>
<body><h1>livechat_ext demo</h1>
<p>Open both side by side: write as a LINE user in the simulator,
answer as an operator in the console.</p>
<ul><li><a href="/live-chat/console/#token={token}" target="_blank">Operator console</a>
(signed in as <code>demo-operator</code>)</li>
<li><a href="/live-chat/simulator/" target="_blank">LINE simulator</a></li></ul>
<p>Nothing here reaches LINE: the plugin talks to a fake Messaging API on this server.</p>
</body></html>
"""

__all__ = ["build_demo_app", "run_demo"]
