"""`LiveChat`: the one object a host creates and mounts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .auth import TokenVerifier
from .broker import Broker, create_broker
from .errors import StoreError
from .flows.inbound import EVENT_ID_RETENTION, Inbound
from .flows.outbound import Delivery, LineDelivery, NoDelivery, Outbound
from .logging_filters import install_redaction
from .metrics import Metrics
from .models import utcnow
from .protocol.server import Notification, encode
from .realtime.access import Access, Authorize, allow_all
from .realtime.chat import Chat
from .realtime.cluster_sync import ClusterSync
from .realtime.hub import BROADCAST, Hub, admin_room
from .realtime.ordering import from_store
from .realtime.team import Team
from .settings import LiveChatSettings
from .store import Store, create_store
from .web.api import build_api
from .web.routes import build_router
from .web.webhook_request import WebhookResult, handle_webhook_request

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.requests import Request
    from starlette.responses import Response

    from .line import LineClient

log = logging.getLogger("livechat_ext")
_PRUNE_EVERY_SECONDS = 6 * 3600.0


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
        settings.check()
        self.store = store or create_store(settings.store_url, engine=engine)
        self.broker = broker or create_broker(settings.broker_url, prefix=settings.broker_prefix)
        self.hub = Hub(self.broker, node_id)
        self.hub.order.fill = from_store(self.store, settings.history_limit)
        self.verifier = TokenVerifier(settings)
        self._line = line_client
        self._own_line = False
        self._delivery = delivery
        # long enough for every attempt and its backoff; a node that dies mid-send
        # leaves the message to another node once this runs out
        attempts = settings.line_max_attempts
        lease = settings.send_lease or (
            settings.line_timeout * attempts + 8.0 * (attempts - 1) + 10.0
        )
        self.metrics = Metrics()
        self.hub.metrics = self.metrics
        self.outbound = Outbound(self.store, self.hub, NoDelivery(), lease=lease)
        self.outbound.metrics = self.metrics
        self.access = Access(authorize or allow_all, self.outbound.spawn)
        self.access.install(self.hub)
        self.team = Team(settings, self.hub, self.outbound.spawn)
        self.inbound = Inbound(settings, self.store, self.hub, self.outbound, None)
        self.inbound.metrics = self.metrics
        self.inbound.room_open = self.team.room_open
        self.outbound.updates = self.inbound.updates
        self.outbound.on_nameless = self.inbound.profile_wanted
        self.chat = Chat(
            settings,
            store=self.store,
            hub=self.hub,
            verifier=self.verifier,
            outbound=self.outbound,
            team=self.team,
            access=self.access,
            metrics=self.metrics,
            on_typing=self.inbound.typing,
        )
        self.metrics.bind(
            connections=lambda: len(self.hub.connections),
            operators=lambda: len(self.team.presence.local_counts()),
            rooms=lambda: len(self.hub.rooms),
            broker_failures=lambda: (
                self.hub.broker_failures + getattr(self.broker, "publish_failures", 0)
            ),
        )
        self._starts = 0
        self._loops: list[asyncio.Task[None]] = []
        self._start_lock = asyncio.Lock()
        self.router = build_router(
            settings,
            lifespan=self.lifespan,
            chat=self.chat,
            api=build_api(settings, self.verifier, self.access, self.team, self.store),
            webhook=self._webhook,
            health=self.health,
            metrics=self.metrics.render,
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
        await self.store.start()
        if self.settings.create_schema:
            await self.store.create_schema()
        await self.hub.start()
        cluster = getattr(self.broker, "cluster", None)
        if cluster is not None:
            self.team.cluster_sync = ClusterSync(
                cluster,
                self.hub.node_id,
                self.settings.presence_ttl,
                local_state=self._local_state,
                on_orphans=self._orphans_offline,
                on_rejoin=self._announce_local_online,
                on_beat=self.team.reconcile,
            )
            await self.team.cluster_sync.start()
        if self._line is None and self.settings.line_channel_access_token:
            from .line import LineClient

            self._line = LineClient(
                self.settings.line_channel_access_token,
                base_url=self.settings.line_api_base_url,
                timeout=self.settings.line_timeout,
                max_attempts=self.settings.line_max_attempts,
                backoff_base=self.settings.line_backoff_base,
            )
            self._own_line = True
        self.inbound.line = self._line
        self.outbound.delivery = self._delivery or (
            LineDelivery(self._line, self.metrics) if self._line is not None else NoDelivery()
        )
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self._resume_pending()),
            loop.create_task(self._prune_event_ids()),
        ]
        log.info("livechat_ext started (node %s)", self.hub.node_id)

    async def _prune_event_ids(self) -> None:
        """Webhook ids are kept a week (LINE redelivers for minutes), then forgotten."""
        while True:
            try:
                removed = await self.store.prune_events(utcnow() - EVENT_ID_RETENTION)
                if removed:
                    log.info("forgot %d old webhook event ids", removed)
            except StoreError as exc:
                log.warning("could not prune webhook event ids: %s", exc)
            await asyncio.sleep(_PRUNE_EVERY_SECONDS)

    async def _resume_pending(self) -> None:
        """At start, deliver what an earlier run left `pending`; then, every lease
        period, what a node that died mid-send left (its lease has run out)."""
        older_than = utcnow()
        while True:
            try:
                taken = await self.outbound.resume(older_than)
            except StoreError as exc:
                log.warning("could not look for messages left pending: %s", exc)
            else:
                if taken:
                    log.info("took over %d message(s) left pending", taken)
            await asyncio.sleep(self.outbound.lease)
            older_than = utcnow() - timedelta(seconds=self.outbound.lease)

    def _local_state(self) -> tuple[dict[str, int], list[str]]:
        return self.team.presence.local_counts(), self.hub.open_conversations()

    async def _orphans_offline(self, admin_ids: list[str]) -> None:
        for admin_id in admin_ids:
            log.info("operator %s went offline with a dead node", admin_id)
            await self.team.publish_presence(admin_id, "offline", utcnow())

    async def _announce_local_online(self) -> None:
        for admin_id in self.team.presence.local_counts():
            await self.team.publish_presence(admin_id, "online")

    async def stop(self) -> None:
        """Finish or cancel in-flight work and release every resource."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        await self.chat.shutdown()
        self.inbound.updates.close()
        if self.team.cluster_sync is not None:
            await self.team.cluster_sync.stop()
            self.team.cluster_sync = None
        await self.outbound.close()
        await self.broker.close()
        if self._own_line and self._line is not None:
            await self._line.aclose()
            self._line = None
        await self.store.close()

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
        broker_ok = bool(getattr(self.broker, "connected", True))
        body = {
            "status": "ok" if store_ok and broker_ok else "degraded",
            "store": "ok" if store_ok else "down",
            "broker": "ok" if broker_ok else "down",
            "node": self.hub.node_id,
            "connections": len(self.hub.connections),
        }
        return body, store_ok

    async def is_live(self, line_user_id: str) -> bool:
        """Whether a human handles this conversation: an operator has it open, or
        an operator wrote in it within `handoff_window` seconds. Bots stay quiet then."""
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
