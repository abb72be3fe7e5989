"""A LINE bot's FastAPI app with livechat_ext mounted.

Run: LIVECHAT_JWT_SECRET=... LIVECHAT_LINE_CHANNEL_SECRET=... \
     LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN=... \
     livechat-ext serve --app examples.host_app:create_app --factory
(uvicorn with the plugin's limits; README "Deploying" has uvicorn's and gunicorn's own lines).

The bot keeps its own webhook route (`/callback`), hands every request to the
plugin, and answers automatically only while no human handles the conversation.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from livechat_ext import LiveChat, Operator

AUTO_REPLIES: list[tuple[str, str]] = []  # what the bot would have said (for the demo/test)


async def authorize(operator: Operator, line_user_id: str) -> bool:
    """Who may see which conversation: here, every operator sees everything
    except conversations a `vip_only` token claim keeps for VIP staff."""
    return not line_user_id.startswith("Uvip") or bool(operator.claims.get("vip"))


def create_app(live_chat: LiveChat | None = None) -> FastAPI:
    live_chat = live_chat or LiveChat(authorize=authorize)
    app = FastAPI()
    app.include_router(live_chat.router)  # /ws/live-chat, REST history, the plugin's lifespan

    @app.post("/callback")
    async def callback(request: Request) -> Response:
        # body size limit, read deadline, signature, storage: LINE gets the answer it should
        webhook = await live_chat.handle_webhook(request)
        for event in webhook.events:  # verified and stored; none when refused
            user_id = event.line_user_id
            if event.type != "message" or not user_id:
                continue
            if await live_chat.is_live(user_id):
                continue  # a human is on it: the bot stays quiet (handoff)
            AUTO_REPLIES.append((user_id, "Thanks! An operator will be with you shortly."))
        return webhook.response

    app.state.live_chat = live_chat
    return app
