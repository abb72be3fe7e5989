"""A minimal host app with the plugin mounted (`livechat-ext serve`, tests)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ..app import LiveChat
from ..settings import LiveChatSettings


def create_app(settings: LiveChatSettings | None = None, **kwargs: Any) -> FastAPI:
    """A FastAPI app with one `LiveChat` mounted (its settings from the environment
    unless given); the plugin is at `app.state.live_chat`."""
    live_chat = LiveChat(settings, **kwargs)
    app = FastAPI(title="livechat_ext")
    app.include_router(live_chat.router)
    app.state.live_chat = live_chat
    return app


def create_served_app() -> FastAPI:
    """`livechat-ext serve`'s app: `create_app()`, then the process's garbage
    collector tuned for many connections (`deploy.tune_gc`)."""
    from .deploy import tune_gc

    app = create_app()
    tune_gc()
    return app
