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
