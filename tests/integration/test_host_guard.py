"""A host that guards the plugin's routes with `include_router(router,
dependencies=[...])` (or `FastAPI(dependencies=[...])`) guards the WebSocket
too: the route is a plain Starlette one (no FastAPI state per socket), so the
endpoint runs the host's dependencies itself. A guard that refuses refuses
the socket; one that allows lets it work. The same holds for LINE's webhook,
a plain route too. Real uvicorn, real clients."""

from __future__ import annotations

import httpx
import pytest
import websockets
from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket, WebSocketException
from starlette.requests import HTTPConnection

from livechat_ext import LiveChat
from livechat_ext.line.testing import sign, text_event, webhook_body
from livechat_ext.web.routes import WebhookRoute, host_dependencies
from tests.helpers import Client, make_settings, serve

GUARD_CALLS: list[str] = []


async def guard(websocket: WebSocket) -> None:
    GUARD_CALLS.append(websocket.url.path)
    if websocket.query_params.get("pass") != "yes":
        raise WebSocketException(code=1008, reason="not allowed by the host")


async def _socket_refused(url: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("where", ["include_router", "app"])
async def test_host_dependencies_guard_the_websocket(tmp_path, where):
    live_chat = LiveChat(make_settings(tmp_path))
    if where == "include_router":
        app = FastAPI()
        app.include_router(live_chat.router, dependencies=[Depends(guard)])
    else:
        app = FastAPI(dependencies=[Depends(guard)])
        app.include_router(live_chat.router)
    GUARD_CALLS.clear()
    async with serve(live_chat, app) as srv:
        await _socket_refused(srv.ws_url)
        assert GUARD_CALLS == ["/ws/live-chat"]
        op = await Client.connect(f"{srv.ws_url}?pass=yes", srv.token("alice"))
        auth = await op.wait_type("auth_success")
        assert auth["payload"]["admin_id"] == "alice"
        await op.close()
        assert GUARD_CALLS == ["/ws/live-chat", "/ws/live-chat"]


async def test_nested_includes_with_a_prefix_carry_their_dependencies(tmp_path):
    """A guard on an outer router that includes the plugin's router is found too."""
    from fastapi import APIRouter

    live_chat = LiveChat(make_settings(tmp_path))
    outer = APIRouter()
    outer.include_router(live_chat.router)
    app = FastAPI()
    app.include_router(outer, dependencies=[Depends(guard)])
    assert len(host_dependencies(app, live_chat.router)) == 1
    plain = FastAPI()
    plain.include_router(live_chat.router)
    assert host_dependencies(plain, live_chat.router) == []


async def test_without_host_dependencies_the_route_stays_a_plain_asgi_app(tmp_path):
    live_chat = LiveChat(make_settings(tmp_path))
    app = FastAPI()
    app.include_router(live_chat.router)
    async with serve(live_chat, app) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.wait_type("auth_success")
        await op.close()
    [route] = [r for r in live_chat.router.routes if getattr(r, "path", "") == "/ws/live-chat"]
    endpoint = route.app  # type: ignore[attr-defined]
    assert endpoint._guarded is None


async def http_guard(request: Request) -> None:
    GUARD_CALLS.append(request.url.path)
    if request.headers.get("x-host-key") != "yes":
        raise HTTPException(status_code=401, detail="not allowed by the host")


@pytest.mark.parametrize("where", ["include_router", "app"])
async def test_host_dependencies_run_before_the_webhook_too(tmp_path, where):
    """The webhook is a plain route as well; a host's dependencies still run
    before it, and one that refuses keeps the webhook from being stored."""
    settings = make_settings(tmp_path)
    live_chat = LiveChat(settings)
    if where == "include_router":
        app = FastAPI()
        app.include_router(live_chat.router, dependencies=[Depends(http_guard)])
    else:
        app = FastAPI(dependencies=[Depends(http_guard)])
        app.include_router(live_chat.router)
    body = webhook_body([text_event("U" + "1" * 32, "guarded")])
    headers = {"x-line-signature": sign(body, settings.line_channel_secret)}
    GUARD_CALLS.clear()
    async with serve(live_chat, app) as srv, httpx.AsyncClient(base_url=srv.http_url) as http:
        refused = await http.post(settings.webhook_path, content=body, headers=headers)
        assert refused.status_code == 401
        assert await live_chat.store.get_conversation("U" + "1" * 32) is None
        allowed = await http.post(
            settings.webhook_path, content=body, headers={**headers, "x-host-key": "yes"}
        )
        assert allowed.status_code == 200
        assert await live_chat.store.get_conversation("U" + "1" * 32) is not None
    assert GUARD_CALLS == [settings.webhook_path, settings.webhook_path]


async def test_without_host_dependencies_the_webhook_is_a_plain_asgi_app(tmp_path):
    settings = make_settings(tmp_path)
    live_chat = LiveChat(settings)
    async with serve(live_chat) as srv, httpx.AsyncClient(base_url=srv.http_url) as http:
        body = webhook_body([text_event("U" + "2" * 32, "plain")])
        answer = await http.post(
            settings.webhook_path,
            content=body,
            headers={"x-line-signature": sign(body, settings.line_channel_secret)},
        )
        assert answer.status_code == 200
    [route] = [
        r for r in live_chat.router.routes if getattr(r, "path", "") == settings.webhook_path
    ]
    assert isinstance(route.app, WebhookRoute)  # type: ignore[attr-defined]
    assert route.app._guarded is None  # type: ignore[attr-defined]


async def any_guard(connection: HTTPConnection) -> None:
    """Refuses every request and every socket that lacks the host's key."""
    GUARD_CALLS.append(connection.url.path)
    if connection.scope["type"] == "websocket":
        if connection.query_params.get("pass") != "yes":
            raise WebSocketException(code=1008, reason="not allowed by the host")
    elif connection.headers.get("x-host-key") != "yes":
        raise HTTPException(status_code=401, detail="not allowed by the host")


async def test_guards_hold_when_the_routers_lifespan_never_runs(tmp_path):
    """A host that mounts its app as a sub-app (Starlette runs no sub-app's
    lifespan) and starts the plugin with `live_chat.lifespan` itself: the
    guards are found at the first request and socket, never skipped."""
    settings = make_settings(tmp_path)
    live_chat = LiveChat(settings)
    child = FastAPI()
    child.include_router(live_chat.router, dependencies=[Depends(any_guard)])
    parent = FastAPI(lifespan=live_chat.lifespan)
    parent.mount("/bot", child)
    body = webhook_body([text_event("U" + "3" * 32, "mounted")])
    headers = {"x-line-signature": sign(body, settings.line_channel_secret)}
    async with serve(live_chat, parent) as srv, httpx.AsyncClient(base_url=srv.http_url) as http:
        refused = await http.post(f"/bot{settings.webhook_path}", content=body, headers=headers)
        assert refused.status_code == 401
        assert await live_chat.store.get_conversation("U" + "3" * 32) is None
        await _socket_refused(f"ws://127.0.0.1:{srv.port}/bot/ws/live-chat")
        allowed = await http.post(
            f"/bot{settings.webhook_path}", content=body, headers={**headers, "x-host-key": "yes"}
        )
        assert allowed.status_code == 200
