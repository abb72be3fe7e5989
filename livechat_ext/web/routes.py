"""The plugin's HTTP routes: the WebSocket, the webhook, REST, health, metrics,
the static client and the console. Only routing and rendering live here; each
route calls one part of the plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.types import Receive, Scope, Send

from ..realtime.chat import Chat
from ..settings import LiveChatSettings
from .endpoint import Endpoint, Personalize
from .security_headers import SECURITY_HEADERS, media_type

WS_PATH = "/ws/live-chat"
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
    endpoint = Endpoint(chat, personalize)

    @asynccontextmanager
    async def with_host_guards(app: Any) -> AsyncIterator[None]:
        # a plain Starlette route gets no dependencies from FastAPI: the
        # endpoint runs the ones the host put on it itself (see Endpoint.guard)
        guards = host_dependencies(app, router)
        endpoint.guard(WS_PATH, guards, app)
        if webhook_app is not None:
            webhook_app.guard(guards, app)
        async with lifespan(app):
            yield

    router = APIRouter(lifespan=with_host_guards)

    def guards_of(app: Any) -> list[Any]:
        return host_dependencies(app, router)

    endpoint.find_guards = guards_of
    webhook_app = None
    if settings.webhook_path:
        webhook_app = WebhookRoute(settings.webhook_path, webhook, guards_of)
        # first: a request is matched against the routes in order, and LINE's
        # webhook is the busiest HTTP route (only a POST takes it)
        router.add_route(
            webhook_app.path,
            webhook_app,  # type: ignore[arg-type]  # an ASGI app, as Starlette allows
            methods=["POST"],
            name="webhook_route",
            include_in_schema=False,
        )
    # a plain Starlette route: the endpoint is an ASGI app, with no FastAPI
    # dependency solving and exit stacks kept for the life of every socket
    router.add_websocket_route(WS_PATH, endpoint)  # type: ignore[arg-type]
    prefix = settings.api_prefix.rstrip("/")
    if more_routes is not None:
        more_routes(router, prefix)
    router.include_router(api, prefix=f"{prefix}/api", tags=["live-chat"])
    hidden: dict[str, Any] = {"include_in_schema": False}

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


class WebhookRoute:
    """`POST` of LINE's webhook as a plain ASGI app (a Starlette `Route` calls it
    as one): FastAPI's per-request dependency solving, exit stack and telemetry
    are a fifth of a webhook's Python calls, and the route has no parameters to
    solve. A host that puts dependencies on the plugin's routes gets them run
    here too, through a FastAPI route made for them (see `guard`). They are
    found when the router's lifespan starts, or, when it never does (a mounted
    sub-app, a host that runs `live_chat.lifespan` itself), at the first
    request, from the app serving it."""

    def __init__(
        self,
        path: str,
        handler: WebhookHandler,
        find_guards: Callable[[Any], list[Any]] | None = None,
    ) -> None:
        self.path = path
        self.handler = handler
        self.find_guards = find_guards
        self._guarded: Any = None
        self._decided = False

    def guard(self, dependencies: Sequence[Any], app: Any = None) -> None:
        """Run the host's route dependencies before each webhook, as FastAPI
        would for its own route; without any, the route stays a plain one."""
        self._decided = True
        if not dependencies:
            self._guarded = None
            return
        from fastapi.routing import APIRoute

        async def guarded(request: Request) -> Response:
            return await self.handler(request)

        route = APIRoute(
            self.path,
            guarded,
            methods=["POST"],
            dependencies=list(dependencies),
            dependency_overrides_provider=app,
            include_in_schema=False,
        )
        self._guarded = route.app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._decided and self.find_guards is not None:
            app = scope.get("app")
            self.guard(self.find_guards(app), app)
        if self._guarded is not None:
            await self._guarded(scope, receive, send)
            return
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)


def host_dependencies(app: Any, router: APIRouter) -> list[Any]:
    """The dependencies a host's FastAPI `app` puts on `router`'s routes: the
    app's own and those of every `include_router(..., dependencies=...)` on the
    way to `router` (FastAPI keeps an include as a route with its include
    context; a FastAPI that copies routes at include time dropped them for a
    plain WebSocket route already, and only the app's own are found)."""
    root = getattr(app, "router", None)
    if root is None:
        return list(router.dependencies)
    own = [*getattr(root, "dependencies", []), *router.dependencies]
    found = _included(root, router, list(getattr(root, "dependencies", [])))
    return own if found is None else [*found, *router.dependencies]


def _included(parent: Any, target: APIRouter, above: list[Any]) -> list[Any] | None:
    for route in getattr(parent, "routes", []):
        context = getattr(route, "include_context", None)
        original = getattr(route, "original_router", None)
        if context is None or original is None:
            continue
        here = [*above, *getattr(context, "dependencies", [])]
        if original is target:
            return here
        found = _included(original, target, here)
        if found is not None:
            return found
    return None


def serve_file(base: Path, path: str) -> FileResponse:
    """A file below `base` with the security headers; 404 for anything else."""
    target = (base / path).resolve()
    if not target.is_relative_to(base.resolve()) or not target.is_file():
        raise HTTPException(404, "not found")
    headers = {"Cache-Control": "no-cache", **SECURITY_HEADERS}
    return FileResponse(target, media_type=media_type(target), headers=headers)
