"""REST history for pages, with the same Bearer JWT as the WebSocket."""

# Annotations are evaluated eagerly here: FastAPI reads the route signatures
# at definition time and `Op` is local to build_api.

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import AuthError
from .operator import Operator

if TYPE_CHECKING:
    from .access import Access
    from .auth import TokenVerifier
    from .settings import LiveChatSettings
    from .store import Store
    from .team import Team

_bearer = HTTPBearer(auto_error=False)


def build_api(
    settings: "LiveChatSettings",
    verifier: "TokenVerifier",
    access: "Access",
    team: "Team",
    store: "Store",
) -> APIRouter:
    """`/conversations`, `/conversations/{id}`, `/conversations/{id}/messages`, `/operators`."""
    router = APIRouter()

    async def operator(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Operator:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401, "a Bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        try:
            return verifier.verify(credentials.credentials)
        except AuthError as exc:
            raise HTTPException(
                401,
                exc.message,
                headers={
                    "WWW-Authenticate": f'Bearer error="invalid_token", '
                    f'error_description="{exc.code}"'
                },
            ) from exc

    Op = Annotated[Operator, Depends(operator)]

    async def check(op: Operator, line_user_id: str) -> None:
        if not await access.allowed(op, line_user_id):
            raise HTTPException(403, "not allowed for this conversation")

    @router.get("/conversations")
    async def conversations(
        op: Op,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        try:
            page = await store.list_conversations(limit=limit, cursor=cursor)
        except ValueError as exc:
            raise HTTPException(400, "invalid cursor") from exc
        visible = [
            c for c in page.conversations if await access.allowed(op, c.line_user_id)
        ]
        return {
            "conversations": [c.model_dump(mode="json") for c in visible],
            "next_cursor": page.next_cursor,
        }

    @router.get("/conversations/{line_user_id}")
    async def conversation(op: Op, line_user_id: str) -> dict[str, Any]:
        await check(op, line_user_id)
        found = await store.get_conversation(line_user_id)
        if found is None:
            raise HTTPException(404, "no such conversation")
        return found.model_dump(mode="json")

    @router.get("/conversations/{line_user_id}/messages")
    async def messages(
        op: Op,
        line_user_id: str,
        limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
        after_seq: Annotated[int | None, Query(ge=0)] = None,
        before_seq: Annotated[int | None, Query(ge=1)] = None,
    ) -> dict[str, Any]:
        await check(op, line_user_id)
        page = await store.history(
            line_user_id,
            limit=limit or settings.history_limit,
            after_seq=after_seq,
            before_seq=before_seq,
        )
        return {
            "messages": [m.model_dump(mode="json") for m in page.messages],
            "has_more": page.has_more,
        }

    @router.get("/operators")
    async def operators(op: Op) -> dict[str, Any]:
        states = await team.operators()
        return {"operators": [s.model_dump(mode="json") for s in states]}

    @router.get("/me")
    async def me(op: Op) -> dict[str, Any]:
        return {"admin_id": op.admin_id, "name": op.name}

    return router
