"""The plugin's HTTP routes: the WebSocket, the webhook, REST, health, metrics,
the static client and the console. Only routing and rendering live here; each
route calls one part of the plugin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from ..realtime.chat import Chat
from ..settings import LiveChatSettings
from .endpoint import Endpoint, Personalize
from .security_headers import SECURITY_HEADERS, media_type

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

Health = Callable[[], Awaitable[tuple[dict[str, Any], bool]]]
WebhookHandler = Callable[[Request], Awaitable[Response]]


def build_router(
    settings: LiveChatSettings,
    *,
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]],
    chat: Chat,
    api: APIRouter,
    webhook: WebhookHandler,
    health: Health,
    metrics: Callable[[], bytes],
    personalize: Personalize | None = None,
    more_routes: Callable[[APIRouter, str], None] | None = None,
) -> APIRouter:
    """An `APIRouter` that carries the plugin's lifespan and every route.
    `personalize` makes each WebSocket frame for its operator; `more_routes`
    adds routes under the prefix (the content route)."""
    router = APIRouter(lifespan=lifespan)
    # a plain Starlette route: the endpoint is an ASGI app, with no FastAPI
    # dependency solving and exit stacks kept for the life of every socket
    router.add_websocket_route("/ws/live-chat", Endpoint(chat, personalize))  # type: ignore[arg-type]
    prefix = settings.api_prefix.rstrip("/")
    if more_routes is not None:
        more_routes(router, prefix)
    router.include_router(api, prefix=f"{prefix}/api", tags=["live-chat"])
    hidden: dict[str, Any] = {"include_in_schema": False}
    if settings.webhook_path:

        async def webhook_route(request: Request) -> Response:
            return await webhook(request)

        router.add_api_route(settings.webhook_path, webhook_route, methods=["POST"], **hidden)

    async def health_route() -> JSONResponse:
        body, healthy = await health()
        # a broker outage degrades (local delivery goes on); a store outage is unhealthy
        return JSONResponse(body, status_code=200 if healthy else 503)

    router.add_api_route(f"{prefix}/health", health_route, methods=["GET"])
    if settings.metrics_path:

        async def metrics_route() -> Response:
            from prometheus_client import CONTENT_TYPE_LATEST

            return Response(metrics(), media_type=CONTENT_TYPE_LATEST)

        router.add_api_route(settings.metrics_path, metrics_route, methods=["GET"], **hidden)

    async def static(path: str) -> FileResponse:
        return serve_file(STATIC_DIR, path)

    router.add_api_route(f"{prefix}/static/{{path:path}}", static, methods=["GET"], **hidden)
    if settings.console_enabled:

        async def console_redirect() -> RedirectResponse:
            return RedirectResponse(f"{prefix}/console/")

        async def console(path: str) -> FileResponse:
            return serve_file(STATIC_DIR / "console", path or "index.html")

        router.add_api_route(f"{prefix}/console", console_redirect, methods=["GET"], **hidden)
        router.add_api_route(f"{prefix}/console/{{path:path}}", console, methods=["GET"], **hidden)
    return router


def serve_file(base: Path, path: str) -> FileResponse:
    """A file below `base` with the security headers; 404 for anything else."""
    target = (base / path).resolve()
    if not target.is_relative_to(base.resolve()) or not target.is_file():
        raise HTTPException(404, "not found")
    headers = {"Cache-Control": "no-cache", **SECURITY_HEADERS}
    return FileResponse(target, media_type=media_type(target), headers=headers)
