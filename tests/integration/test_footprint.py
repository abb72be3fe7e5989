"""What an idle connection keeps, guarded structurally (nothing here is timed):

- the WebSocket route calls the endpoint as a plain ASGI app: no FastAPI
  dependency machinery or route-level exception wrapper lives as long as the socket;
- an idle, authenticated, joined connection runs no task of the plugin's own
  (frames go out inside `push`; a writer task exists only while a backlog does);
- the per-connection objects have no `__dict__`.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

from starlette.routing import WebSocketRoute

import livechat_ext
from livechat_ext import LiveChat
from livechat_ext.realtime.connection import Connection
from livechat_ext.session import Session
from livechat_ext.session.ratelimit import FrameLimiter, TokenBucket
from livechat_ext.web import endpoint
from livechat_ext.web.endpoint import Endpoint
from tests.helpers import Client, eventually, make_settings, serve

IDLE = 30


def test_the_websocket_route_calls_the_endpoint_as_an_asgi_app(tmp_path) -> None:
    live_chat = LiveChat(make_settings(tmp_path))
    routes = [r for r in live_chat.router.routes if getattr(r, "path", "") == "/ws/live-chat"]
    assert len(routes) == 1
    route = routes[0]
    assert type(route) is WebSocketRoute
    assert isinstance(route.app, Endpoint), "no per-socket wrapper between the route and us"


def test_the_webhook_is_the_first_route_a_request_is_matched_against(tmp_path) -> None:
    """Routes are tried in order, and FastAPI's matching of each costs: LINE's
    webhook, the busiest HTTP route, comes first (a quarter fewer Python calls
    per webhook than behind the REST API)."""
    settings = make_settings(tmp_path)
    live_chat = LiveChat(settings)
    first = live_chat.router.routes[0]
    assert getattr(first, "path", None) == settings.webhook_path
    assert getattr(first, "methods", None) == {"POST"}


def test_per_connection_objects_have_slots() -> None:
    for cls in (Connection, Session, FrameLimiter, TokenBucket, endpoint._ReadStopper):
        for base in cls.__mro__[:-1]:  # all but object: one without slots adds a __dict__
            assert "__slots__" in base.__dict__, base
            assert "__dict__" not in base.__slots__, base


# the package's own folder: a checkout's folder may be called livechat_ext too,
# and then the tests' own tasks (each client's reader) would count
_PACKAGE = os.path.dirname(livechat_ext.__file__) + os.sep


def _plugin_tasks() -> list[str]:
    """What tasks whose own coroutine is the plugin's code run (the endpoint runs
    inside uvicorn's task for the socket, which every ASGI app has)."""
    names = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and code.co_filename.startswith(_PACKAGE):
            names.append(code.co_qualname)
    return names


async def test_idle_connections_run_no_task_of_their_own(tmp_path) -> None:
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        before = len(_plugin_tasks())
        clients = [await Client.connect(srv.ws_url, srv.token(f"op{i % 5}")) for i in range(IDLE)]
        try:
            for c in clients:
                await c.join("U1")
            await eventually(lambda: len(srv.live_chat.hub.connections) == IDLE)
            # every socket is open, authenticated and in the room: frames reach it
            assert srv.live_chat.hub.members("conversation:U1") == IDLE
            tasks = _plugin_tasks()
            assert len(tasks) <= before + 2, f"a task per idle connection: {Counter(tasks)}"
            conns = list(srv.live_chat.hub.connections.values())
            assert all(c.queued == 0 for c in conns)
        finally:
            for c in clients:
                await c.close()
