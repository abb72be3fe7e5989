"""REST history for pages, with the same Bearer JWT as the WebSocket."""

# Annotations are evaluated eagerly here: FastAPI reads the route signatures
# at definition time and `Op` is local to build_api.

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import AuthError
from ..models import Conversation, ConversationStatus, valid_line_user_id
from ..operator import Operator
from ..store import conversation_cursor

if TYPE_CHECKING:
    from ..auth import TokenVerifier
    from ..media_urls import MediaUrls
    from ..realtime.access import Access
    from ..realtime.team import Team
    from ..settings import LiveChatSettings
    from ..store.base import ReadStore

_bearer = HTTPBearer(auto_error=False)
_SCAN_BATCH = 50  # rows read per query while `authorize` filters a listing


def build_api(
    settings: "LiveChatSettings",
    verifier: "TokenVerifier",
    access: "Access",
    team: "Team",
    store: "ReadStore",
    urls: "MediaUrls | None" = None,
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
        # before the hook and the store: no store can look up a NUL (PostgreSQL)
        if not valid_line_user_id(line_user_id):
            raise HTTPException(400, "line_user_id must be 1 to 64 characters, without NUL")
        if not await access.allowed(op, line_user_id):
            raise HTTPException(403, "not allowed for this conversation")

    def mine(op: Operator, conversation: Conversation) -> dict[str, Any]:
        """A conversation as `op` gets it: content URLs signed for them."""
        dumped = conversation.model_dump(mode="json")
        return dumped if urls is None else urls.for_conversation(dumped, op.admin_id)

    async def visible(
        op: Operator, limit: int, cursor: str | None, filters: dict[str, Any]
    ) -> tuple[list[Conversation], str | None]:
        """Up to `limit` conversations `authorize` allows, and a cursor made from
        the last one returned: a cursor never names a conversation that was
        withheld. Reads on past refused ones until the page is full or the end."""
        found: list[Conversation] = []
        while True:
            try:
                page = await store.list_conversations(
                    limit=max(limit, _SCAN_BATCH), cursor=cursor, **filters
                )
            except ValueError as exc:
                raise HTTPException(400, "invalid cursor") from exc
            for i, c in enumerate(page.conversations, 1):
                if not await access.allowed(op, c.line_user_id):
                    continue
                found.append(c)
                if len(found) == limit:
                    more = i < len(page.conversations) or page.next_cursor is not None
                    return found, conversation_cursor(c) if more else None
            if page.next_cursor is None:
                return found, None
            cursor = page.next_cursor

    @router.get("/conversations")
    async def conversations(
        op: Op,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: str | None = None,
        status: ConversationStatus | None = None,
        assignee: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    ) -> dict[str, Any]:
        """Newest first; `status` (`open`, `resolved`) and `assignee` (an admin id,
        `mine` for the caller, `unassigned` for nobody) narrow the list."""
        filters: dict[str, Any] = {"status": status}
        if assignee == "unassigned":
            filters["unassigned"] = True
        elif assignee is not None:
            if "\x00" in assignee:
                raise HTTPException(400, "assignee must not contain NUL")
            filters["assignee"] = op.admin_id if assignee == "mine" else assignee
        page, next_cursor = await visible(op, limit, cursor, filters)
        return {
            "conversations": [mine(op, c) for c in page],
            "next_cursor": next_cursor,
        }

    @router.get("/conversations/{line_user_id}")
    async def conversation(op: Op, line_user_id: str) -> dict[str, Any]:
        await check(op, line_user_id)
        found = await store.get_conversation(line_user_id)
        if found is None:
            raise HTTPException(404, "no such conversation")
        return mine(op, found)

    @router.get("/conversations/{line_user_id}/messages")
    async def messages(
        op: Op,
        line_user_id: str,
        limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
        after_seq: Annotated[int | None, Query(ge=0)] = None,
        before_seq: Annotated[int | None, Query(ge=1)] = None,
        after_rev: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    ) -> dict[str, Any]:
        """Oldest first: the latest page, or pages by `seq` (`after_seq`,
        `before_seq`), or by `rev` (`after_rev`: new and changed messages, in the
        order they changed; it wins over the others)."""
        await check(op, line_user_id)
        page = await store.history(
            line_user_id,
            limit=limit or settings.history_limit,
            after_seq=after_seq,
            before_seq=before_seq,
            after_rev=after_rev,
        )
        return {
            "messages": [
                urls.for_message(m.model_dump(mode="json"), op.admin_id)
                if urls is not None
                else m.model_dump(mode="json")
                for m in page.messages
            ],
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
