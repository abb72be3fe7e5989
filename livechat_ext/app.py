"""`LiveChat`: the one object a host creates and mounts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .auth import TokenVerifier
from .background import Loops, Tasks, bounded
from .broker import Broker, create_broker
from .errors import StoreError, describe
from .flows.inbound import EVENT_ID_RETENTION, Inbound
from .flows.loading import LoadingAnimation
from .flows.media import Media
from .flows.outbound import Delivery, LineDelivery, NoDelivery, Outbound
from .flows.updates import ConversationUpdates
from .flows.workflow import Workflow
from .logging_filters import install_redaction
from .media_urls import MediaUrls, media_key
from .metrics import Metrics
from .models import ConversationStatus, utcnow
from .protocol.server import Notification, encode
from .realtime.access import Access, Authorize, allow_all
from .realtime.chat import Chat
from .realtime.cluster_sync import ClusterSync
from .realtime.hub import BROADCAST, Hub, admin_room
from .realtime.ordering import from_store
from .realtime.team import Team
from .settings import LiveChatSettings
from .store import SchemaError, Store, create_store
from .store.content import ContentFiles
from .web.api import build_api
from .web.media import add_media_route
from .web.routes import build_router
from .web.webhook_request import WebhookResult, handle_webhook_request

if TYPE_CHECKING:
    from fastapi import APIRouter
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.requests import Request
    from starlette.responses import Response

    from .line import LineClient

log = logging.getLogger("livechat_ext")
_PRUNE_EVERY_SECONDS = 6 * 3600.0
_MEDIA_RESUME_SECONDS = 60.0


def _send_lease(settings: LiveChatSettings) -> float:
    """How long one node holds a send: long enough for every attempt and its
    backoff; a node that dies mid-send leaves the message to another node after."""
    attempts = settings.line_max_attempts
    return settings.send_lease or (settings.line_timeout * attempts + 8.0 * (attempts - 1) + 10.0)


def _line_client(settings: LiveChatSettings) -> LineClient | None:
    if not settings.line_channel_access_token:
        return None
    from .line import LineClient

    return LineClient(
        settings.line_channel_access_token,
        base_url=settings.line_api_base_url,
        data_base_url=settings.line_data_base_url,
        timeout=settings.line_timeout,
        max_attempts=settings.line_max_attempts,
        backoff_base=settings.line_backoff_base,
    )


class LiveChat:
    """Real-time live chat for a LINE Official Account, as a FastAPI plugin.

    Mount with `app.include_router(live_chat.router)`: the router carries the
    plugin's lifespan. Raises `ConfigError` when a required secret is missing.
    """

    def __init__(
        self,
        settings: LiveChatSettings | None = None,
        *,
        broker: Broker | None = None,
        store: Store | None = None,
        engine: AsyncEngine | None = None,
        authorize: Authorize | None = None,
        delivery: Delivery | None = None,
        line_client: LineClient | None = None,
        node_id: str | None = None,
    ) -> None:
        self.settings = settings = settings or LiveChatSettings()
        settings.check(access_token=line_client is None and delivery is None)
        self._own_store = store is None and engine is None
        self.metrics = metrics = Metrics()
        self.store = store = store or create_store(
            settings.store_url, engine=engine, sqlite_synchronous=settings.sqlite_synchronous
        )
        self.broker = broker = broker or create_broker(
            settings.broker_url, prefix=settings.broker_prefix
        )
        self.tasks = Tasks("background work")
        self.verifier = TokenVerifier(settings)
        self.access = Access(authorize or allow_all, self.tasks.spawn)
        self.hub = hub = Hub(
            broker,
            node_id,
            metrics=metrics,
            visibility=self.access if self.access.filters else None,
            fill=from_store(store, settings.history_limit),
        )
        self.cluster_sync = (
            None
            if broker.cluster is None
            else ClusterSync(
                broker.cluster,
                hub.node_id,
                settings.presence_ttl,
                local_state=self._local_state,
                on_orphans=self._orphans_offline,
                on_rejoin=self._announce_local_online,
                on_beat=self._reconcile,
            )
        )
        self.team = Team(settings, hub, self.tasks.spawn, self.cluster_sync)
        self.line = line_client if line_client is not None else _line_client(settings)
        self._own_line = line_client is None
        self.updates = ConversationUpdates(
            store, hub, settings.conversation_update_interval, self.tasks.spawn
        )
        if delivery is None:
            delivery = NoDelivery() if self.line is None else LineDelivery(self.line, metrics)
        self.media = Media(
            settings, store, ContentFiles(settings.data_dir / "media"), self.line, self.tasks.spawn
        )
        self.media_urls = MediaUrls(
            media_key(settings), settings.api_prefix, settings.media_url_ttl
        )
        self.inbound = Inbound(
            settings,
            store,
            hub,
            updates=self.updates,
            line=self.line,
            spawn=self.tasks.spawn,
            room_open=self.team.room_open,
            metrics=metrics,
            media=self.media,
        )
        self.outbound = Outbound(
            store,
            hub,
            delivery,
            lease=_send_lease(settings),
            updates=self.updates,
            metrics=metrics,
            on_nameless=self.inbound.profile_wanted,
        )
        self.workflow = Workflow(
            store, hub, self.updates, line=self.line, spawn=self.tasks.spawn, metrics=metrics
        )
        self.loading = LoadingAnimation(
            settings, store, self.line, spawn=self.tasks.spawn, metrics=metrics
        )
        self.chat = Chat(
            settings,
            store=store,
            hub=hub,
            verifier=self.verifier,
            outbound=self.outbound,
            team=self.team,
            access=self.access,
            workflow=self.workflow,
            metrics=metrics,
            on_typing=self.loading.operator_typing,
        )
        metrics.bind(
            connections=lambda: len(hub.connections),
            operators=lambda: len(self.team.presence.local_counts()),
            rooms=lambda: len(hub.rooms),
            broker_failures=lambda: hub.broker_failures + broker.publish_failures,
        )
        self._starts = 0
        self._loops = Loops("livechat_ext")
        self._start_lock = asyncio.Lock()
        self.router = build_router(
            settings,
            lifespan=self.lifespan,
            chat=self.chat,
            api=build_api(
                settings, self.verifier, self.access, self.team, self.store, self.media_urls
            ),
            webhook=self._webhook,
            health=self.health,
            metrics=self.metrics.render,
            personalize=self.media_urls.for_frame,
            more_routes=self._media_route,
        )

    # lifecycle ------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Start the plugin for the duration of the context; nested entries start it once."""
        async with self._start_lock:
            self._starts += 1
            if self._starts == 1:
                try:
                    await self.start()
                except BaseException:
                    self._starts -= 1
                    raise
        try:
            yield
        finally:
            async with self._start_lock:
                self._starts -= 1
                if self._starts == 0:
                    await self.stop()

    async def start(self) -> None:
        """Open the store (creating the schema if configured), the broker and the LINE client."""
        install_redaction()
        if self._own_store:
            self.settings.prepare_data_dir()
        await self.store.start()
        await self._schema()
        await self.hub.start()
        self.team.start()
        if self.cluster_sync is not None:
            await self.cluster_sync.start()
        self._loops = Loops("livechat_ext")
        self._loops.start(self._resume_pending())
        self._loops.start(self._prune_event_ids())
        self._loops.start(self._resume_media())
        log.info("livechat_ext started (node %s)", self.hub.node_id)

    def _media_route(self, router: APIRouter, prefix: str) -> None:
        add_media_route(
            router,
            prefix,
            media=self.media,
            urls=self.media_urls,
            verifier=self.verifier,
            access=self.access,
        )

    async def _resume_media(self) -> None:
        """At start, fetch the contents an earlier run left pending; then, every
        minute, those whose fetch ran out of tries or whose node died."""
        while self._loops.running:
            try:
                started = await self.media.resume()
            except StoreError as exc:
                log.warning(
                    "could not look for contents to fetch (%s)", describe(exc), exc_info=exc
                )
            else:
                if started:
                    log.info("fetching %d content(s) left pending", started)
            await self._loops.pause(_MEDIA_RESUME_SECONDS)

    async def _schema(self) -> None:
        """Create the schema in an empty database, upgrade one that is behind only
        when `upgrade_schema` says so, and otherwise refuse to start (`SchemaError`
        names the command that upgrades it)."""
        settings = self.settings
        try:
            state = await self.store.check_schema()
        except SchemaError:
            if not settings.upgrade_schema:
                await self.store.close()
                raise
            state = None
        if state is None or (state.empty and settings.create_schema):
            await self.store.create_schema()

    async def _prune_event_ids(self) -> None:
        """Webhook ids are kept a week (LINE redelivers for minutes), then forgotten."""
        while self._loops.running:
            try:
                removed = await self.store.prune_events(utcnow() - EVENT_ID_RETENTION)
                if removed:
                    log.info("forgot %d old webhook event ids", removed)
            except StoreError as exc:
                log.warning("could not prune webhook event ids (%s)", describe(exc), exc_info=exc)
            await self._loops.pause(_PRUNE_EVERY_SECONDS)

    async def _resume_pending(self) -> None:
        """At start, deliver what an earlier run left `pending`; then, every lease
        period, what a node that died mid-send left (its lease has run out)."""
        older_than = utcnow()
        while self._loops.running:
            try:
                taken = await self.outbound.resume(older_than)
            except StoreError as exc:
                log.warning(
                    "could not look for messages left pending (%s)", describe(exc), exc_info=exc
                )
            else:
                if taken:
                    log.info("took over %d message(s) left pending", taken)
            await self._loops.pause(self.outbound.lease)
            older_than = utcnow() - timedelta(seconds=self.outbound.lease)

    def _local_state(self) -> tuple[dict[str, int], list[str]]:
        return self.team.presence.local_counts(), self.hub.open_conversations()

    async def _orphans_offline(self, admin_ids: list[str]) -> None:
        for admin_id in admin_ids:
            log.info("operator %s went offline with a dead node", admin_id)
            await self.team.publish_presence(admin_id, "offline", utcnow())

    async def _reconcile(self) -> None:
        await self.team.reconcile()

    async def _announce_local_online(self) -> None:
        for admin_id in self.team.presence.local_counts():
            await self.team.publish_presence(admin_id, "online")

    async def stop(self) -> None:
        """Finish or cancel in-flight work and release every resource. Every step
        is bounded: a dependency that hangs or ignores cancellation is logged and
        left behind, so the process can exit (sends cut short stay `pending`)."""
        await self._loops.stop()
        await bounded(self.chat.shutdown(), 5.0, "announcing operators offline")
        self.updates.close()
        if self.cluster_sync is not None:
            await bounded(self.cluster_sync.stop(), 5.0, "stopping the cluster sync")
        await bounded(self.outbound.close(), 6.0, "finishing deliveries")
        await self.tasks.close(grace=1.0)
        await bounded(self.broker.close(), 5.0, "closing the broker")
        if self._own_line and self.line is not None:
            await bounded(self.line.aclose(), 2.0, "closing the LINE client")
        await bounded(self.store.close(), 5.0, "closing the store")

    # host API -----------------------------------------------------------------

    async def ingest_webhook(self, body: bytes, signature: str | None) -> int:
        """Handle a LINE webhook request body for a host that keeps its own route.

        Returns how many events were new. Raises `InvalidSignatureError`,
        `InvalidWebhookError` (nothing stored) or `StoreError` (answer non-2xx).
        """
        return await self.inbound.ingest(body, signature)

    async def handle_webhook(self, request: Request) -> WebhookResult:
        """Serve a LINE webhook request on a host's own route (take a plain
        `Request`, so nothing reads the body first): read the body with
        `LIVECHAT_WEBHOOK_MAX_BYTES` (413) and `LIVECHAT_WEBHOOK_READ_TIMEOUT`
        (408), verify, store and fan out. Return `.response` from the route;
        `.events` are the verified events for the bot. Never raises for bad input.
        """
        return await handle_webhook_request(request, self.inbound, self.settings, self.metrics)

    async def _webhook(self, request: Request) -> Response:
        return (await self.handle_webhook(request)).response

    async def health(self) -> tuple[dict[str, Any], bool]:
        """The store's and the broker's state, and whether this node is healthy
        (a broker outage only degrades it: local delivery goes on)."""
        store_ok = True
        try:
            await self.store.ping()
        except StoreError:
            store_ok = False
        broker_ok = self.broker.connected
        body = {
            "status": "ok" if store_ok and broker_ok else "degraded",
            "store": "ok" if store_ok else "down",
            "broker": "ok" if broker_ok else "down",
            "node": self.hub.node_id,
            "connections": len(self.hub.connections),
        }
        return body, store_ok

    async def is_live(self, line_user_id: str) -> bool:
        """Whether a human handles this conversation, so the host's bot stays quiet:
        never once it is resolved (resolving hands the user back to the bot);
        otherwise while it is assigned, an operator has it open, or an operator
        wrote in it within `handoff_window` seconds."""
        conversation = await self.store.get_conversation(line_user_id)
        if conversation is not None:
            if conversation.status is ConversationStatus.RESOLVED:
                return False
            if conversation.assignee is not None:
                return True
        if await self.team.room_open(line_user_id):
            return True
        last = await self.store.last_outbound_at(line_user_id)
        window = timedelta(seconds=self.settings.handoff_window)
        return last is not None and utcnow() - last <= window

    async def notify(
        self,
        kind: str,
        title: str,
        body: str,
        *,
        admin_id: str | None = None,
        line_user_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Send a `notification` to one operator (`admin_id`) or to all."""
        room = admin_room(admin_id) if admin_id else BROADCAST
        scope = line_user_id if admin_id is None else None  # everyone: only those allowed
        await self.hub.publish(
            room,
            encode(
                Notification(
                    kind=kind, title=title, body=body, line_user_id=line_user_id, data=data
                )
            ),
            scope=scope,
        )
