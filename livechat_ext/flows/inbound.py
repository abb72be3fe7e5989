"""LINE webhooks in: verify, de-duplicate, store, fan out; profiles and the
loading animation on the side."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from ..background import Spawn
from ..errors import DeliveryError, InvalidWebhookError, StoreError, describe
from ..line.webhook import InboundEvent, read_webhook
from ..metrics import Metrics
from ..models import Conversation, Message, MessageKind, utcnow, valid_line_user_id
from ..protocol.server import (
    MessageReceived,
    MessageUpdated,
    Notification,
    ServerPayload,
    encode,
)
from ..realtime.hub import BROADCAST, Hub, conversation_room
from ..settings import LiveChatSettings
from ..store.base import InboundResult, InboundStore, NewInbound, ReadStore
from .media import with_content_urls
from .updates import ConversationUpdates

if TYPE_CHECKING:
    from ..line import LineClient
    from .media import Media

log = logging.getLogger("livechat_ext.flows.inbound")

EVENT_ID_RETENTION = timedelta(days=7)
"""How long the ids of webhook events that store no message are kept (LINE
redelivers for minutes, not days); older follow, unfollow and unsend events are
refused by their timestamp."""

PROFILE_RETRY_FIRST = timedelta(seconds=30)
"""How long a user's profile is not asked for again after LINE failed to give it
(unreachable, 5xx, 429); doubled after each failure, up to `PROFILE_RETRY_MAX`."""
PROFILE_RETRY_MAX = timedelta(hours=1)
PROFILE_MISSING_RETRY = timedelta(days=1)
"""How long a profile LINE has not (404: the user blocked the account, or it is
not a user LINE knows) is not asked for again."""
PROFILE_LOOKUPS = 4
"""Profile look-ups at once: a webhook of many new users starts one each, and the
rest wait their turn instead of crowding the store while later webhooks come in."""
PROFILE_BACKOFF_USERS = 10_000
"""How many users' back-offs are kept; beyond, the oldest are forgotten."""

Outcome = Literal["stored", "recorded", "skipped", "stale", "invalid"]
"""What became of a webhook event (the `outcome` of the `livechat_webhook_events`
metric, with `invalid` for an unreadable event and `refused` for a refused request)."""

# Events that become a row of the conversation (de-duplicated by the row's event id).
_CHAT_EVENTS = frozenset({"message", "postback"})

_PREVIEW = {
    MessageKind.STICKER: "sent a sticker",
    MessageKind.IMAGE: "sent an image",
    MessageKind.VIDEO: "sent a video",
    MessageKind.AUDIO: "sent a voice message",
    MessageKind.FILE: "sent a file",
    MessageKind.LOCATION: "shared a location",
    MessageKind.UNSUPPORTED: "sent something the console cannot show",
}


def _cut(text: str) -> str:
    return text if len(text) <= 120 else text[:119] + "…"


def is_postback(message: Message) -> bool:
    """Whether a message is a postback: an action the user took, not words they wrote."""
    return message.data.get("event_type") == "postback"


async def in_standby(store: InboundStore | ReadStore, line_user_id: str) -> bool:
    """Whether LINE's latest event in this chat came in `standby` mode: another
    channel answers it, so nothing is sent (or shown as typing) on its behalf."""
    latest = await store.last_inbound(line_user_id)
    return latest is not None and latest.data.get("mode") == "standby"


def preview(message: Message) -> str:
    """A one-line description of a message for notifications."""
    if message.kind is MessageKind.TEXT and message.text:
        return _cut(message.text)
    if is_postback(message):
        postback = message.data.get("postback") or {}
        return _cut(f"tapped an action: {postback.get('data', '')}")
    return _PREVIEW.get(message.kind, "sent a message")


class Inbound:
    """Turns webhook events into stored messages and room events.

    Group and room sources are ignored on purpose (logged): operators chat
    one-on-one, and LINE's loading animation and profiles are 1:1 only.
    """

    def __init__(
        self,
        settings: LiveChatSettings,
        store: InboundStore,
        hub: Hub,
        *,
        updates: ConversationUpdates,
        line: LineClient | None,
        spawn: Spawn,
        room_open: Callable[[str], Awaitable[bool]],
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        media: Media | None = None,
    ) -> None:
        self.settings = settings
        self.media = media
        self.store = store
        self.hub = hub
        self.updates = updates
        self.line = line
        self.metrics = metrics
        self.clock = clock
        self._spawn = spawn
        self._room_open = room_open
        self._profiles_tried: set[str] = set()  # a look-up runs
        # when LINE may be asked again for a profile, and the delay that gave it
        self._profile_backoff: dict[str, tuple[datetime, timedelta]] = {}
        self._profile_slots = asyncio.Semaphore(PROFILE_LOOKUPS)

    async def ingest(self, body: bytes, signature: str | None) -> int:
        """Verify and handle one webhook request; returns how many events were new.

        Raises `InvalidSignatureError` or `InvalidWebhookError` (nothing stored:
        a body that is not a webhook, or one for another bot when
        `line_bot_user_id` is set) and `StoreError` (answer non-2xx so LINE
        redelivers). An event that cannot be read is logged, counted as
        `invalid` and skipped; the others are handled.
        """
        return await self.ingest_events(self.parse(body, signature))

    def parse(self, body: bytes, signature: str | None) -> list[InboundEvent]:
        """The request's readable events once its signature (and destination, when
        `line_bot_user_id` is set) is checked; unreadable ones are logged, counted
        as `invalid` and left out."""
        batch = read_webhook(body, signature, self.settings.line_channel_secret or "")
        expected = self.settings.line_bot_user_id
        if expected is not None and batch.destination != expected:
            raise InvalidWebhookError(
                f"webhook for destination {batch.destination!r}, not this bot ({expected})"
            )
        for rejected in batch.rejected:
            log.warning(
                "skipped an unreadable webhook event %r: %s",
                rejected.webhook_event_id,
                rejected.reason,
            )
            self._count("invalid")
        return list(batch.events)

    async def ingest_events(self, events: list[InboundEvent]) -> int:
        """Store and fan out verified events in order; how many were new.
        Raises `StoreError`.

        Messages next to each other in the list are stored in one transaction
        (group commit), then shown one by one in order; any other event is handled
        where it stands, after the messages before it."""
        new = 0
        messages: list[tuple[InboundEvent, NewInbound]] = []
        for event in events:
            message = self._as_message(event)
            if message is not None:
                messages.append((event, message))
                continue
            new += await self._store_messages(messages)
            messages = []
            outcome = await self.handle(event)
            new += outcome in ("stored", "recorded")
            self._count(outcome)
        return new + await self._store_messages(messages)

    async def _store_messages(self, messages: list[tuple[InboundEvent, NewInbound]]) -> int:
        if not messages:
            return 0
        if len(messages) == 1:
            results = [await self.store.add_inbound(messages[0][1])]
        else:
            results = await self.store.add_inbound_many([message for _, message in messages])
        if self.media is not None:  # also for redeliveries: the first may have stopped here
            await self.media.arrived_many([(m.line_user_id, m.kind, m.data) for _, m in messages])
        new = 0
        for (event, _), stored in zip(messages, results, strict=True):
            outcome = await self._stored(event, stored)
            new += outcome == "stored"
            self._count(outcome)
        return new

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.webhook_events.labels(outcome).inc()

    async def handle(self, event: InboundEvent) -> Outcome:
        """Store and fan out one event, and say what became of it (README, "Which
        LINE webhook event does what"): `stored` (a message, or a follow, unfollow or
        unsend applied), `recorded` (any other event, kept quietly), `skipped`
        (a duplicate, or a group or room source) or `stale` (a replay older
        than the event ids are kept)."""
        user = event.line_user_id
        if event.source_type != "user" or not user:
            log.info("ignored a %s event from a %s source", event.type, event.source_type)
            return "skipped"
        if not valid_line_user_id(user):  # no store can keep it: skip it, never 5xx for ever
            log.warning("skipped webhook event %s: invalid user id", event.webhook_event_id)
            return "invalid"
        if event.type not in _CHAT_EVENTS and self._stale(event):
            return "stale"
        if event.type in ("follow", "unfollow"):
            applied = await self._follow(event, user, event.type == "follow")
            return "stored" if applied else "skipped"
        if event.type == "unsend":
            return "stored" if await self._unsend(event, user) else "skipped"
        message = self._as_message(event)
        if message is not None:
            stored = await self.store.add_inbound(message)
            if self.media is not None:  # also for a redelivery: the first may have stopped here
                await self.media.arrived(message.line_user_id, message.kind, message.data)
            return await self._stored(event, stored)
        if not await self.store.record_event(event.webhook_event_id):
            return "skipped"
        log.debug("recorded a %s event %s quietly", event.type, event.webhook_event_id)
        return "recorded"

    def _stale(self, event: InboundEvent) -> bool:
        """Events without a message row are de-duplicated by their id, which is
        kept `EVENT_ID_RETENTION`: an older one could be a replay we no longer
        recognise, so it is refused by its timestamp (LINE keeps it on redelivery)."""
        if self.clock() - event.timestamp <= EVENT_ID_RETENTION:
            return False
        log.warning(
            "ignored a %s event %s from %s: older than the event ids are kept",
            event.type,
            event.webhook_event_id,
            event.timestamp.isoformat(),
        )
        return True

    def _as_message(self, event: InboundEvent) -> NewInbound | None:
        """What a message or postback event stores (a postback is an action the user
        took, kept as an `unsupported` message whose `data.event_type` says so);
        None for any other event, or one `handle` skips."""
        user = event.line_user_id
        if event.type not in _CHAT_EVENTS or event.source_type != "user" or not user:
            return None
        if not valid_line_user_id(user):
            return None
        data = dict(event.data)
        if event.mode != "active":
            data["mode"] = event.mode  # standby: another channel owns the chat
        if event.type == "postback":
            postback: dict[str, Any] = {"data": event.postback_data}
            if event.postback_params:
                postback["params"] = event.postback_params
            data.update(event_type="postback", postback=postback)
        kind = event.kind or MessageKind.UNSUPPORTED
        if self.media is not None:  # content_url / preview_url
            data = with_content_urls(kind, data)
        return NewInbound(
            line_user_id=user,
            kind=kind,
            text=event.text,
            data=data,
            webhook_event_id=event.webhook_event_id,
            created_at=event.timestamp,
        )

    async def _stored(self, event: InboundEvent, stored: InboundResult | None) -> Outcome:
        """A message was stored (None: it was before, a redelivery): show it."""
        if stored is None:
            log.info("duplicate webhook event %s ignored", event.webhook_event_id)
            return "skipped"
        user = stored.message.line_user_id
        # a new user's name comes from LINE's profile: notify once it is known
        nameless = stored.display_name is None
        named_later = nameless and stored.new_conversation and self.line is not None
        await self._fan_out(
            stored.message,
            notify=not named_later,
            name=stored.display_name,
            conversation=stored.conversation,
        )
        if named_later:
            self._spawn(self._notify_after_profile(stored.message))
        elif nameless:  # whoever wrote first, the user or an operator
            self.profile_wanted(user)
        return "stored"

    async def _tell_operators(self, line_user_id: str, payload: ServerPayload) -> None:
        """A broadcast about one conversation: only operators allowed to see it get it."""
        await self.hub.publish(BROADCAST, encode(payload), scope=line_user_id)

    async def _fan_out(
        self,
        message: Message,
        *,
        notify: bool = True,
        name: str | None = None,
        conversation: Conversation | None = None,
    ) -> None:
        """Show a stored message; `name` is the conversation's display name for the
        notification, `conversation` its state after the message (None: read it)."""
        user = message.line_user_id
        await self.hub.publish(
            conversation_room(user), encode(MessageReceived(message=message)), seq=message.seq
        )
        await self.updates.changed(user, conversation)
        if notify:
            await self._notify_message(message, name)

    async def _notify_after_profile(self, message: Message) -> None:
        user = message.line_user_id
        name = await self._fetch_profile(user, nameless=True)
        if name is None:  # no look-up now (one runs, or LINE failed): the store may know it
            conversation = await self.store.get_conversation(user)
            name = conversation.display_name if conversation else None
        await self._notify_message(message, name)

    async def _notify_message(self, message: Message, name: str | None) -> None:
        """`new_message` (or `postback`) for operators who do not have it open;
        `name` is the conversation's display name (None: none yet)."""
        user = message.line_user_id
        if not await self._room_open(user):
            postback = is_postback(message)
            await self._tell_operators(
                user,
                Notification(
                    kind="postback" if postback else "new_message",
                    title=name or ("Action" if postback else "New message"),
                    body=preview(message),
                    line_user_id=user,
                    data={"seq": message.seq},
                ),
            )

    async def _follow(self, event: InboundEvent, user: str, followed: bool) -> bool:
        # the event id is recorded with the change it makes, in one transaction:
        # a failure leaves neither, and LINE's redelivery is then not taken for a duplicate
        conversation = await self.store.apply_follow(user, followed, event.webhook_event_id)
        if conversation is None:
            return False
        await self.updates.changed(user)
        unblocked = followed and bool(event.follow_is_unblocked)
        if followed and conversation.display_name is None and self.line is not None:
            # a new friend's name comes from LINE's profile: notify once it is known
            self._spawn(self._follow_after_profile(user, unblocked))
        else:
            await self._follow_notice(user, conversation.display_name, followed, unblocked)
        return True

    async def _follow_after_profile(self, user: str, unblocked: bool) -> None:
        await self._fetch_profile(user)
        conversation = await self.store.get_conversation(user)
        name = conversation.display_name if conversation is not None else None
        await self._follow_notice(user, name, True, unblocked)

    async def _follow_notice(
        self, user: str, name: str | None, followed: bool, unblocked: bool
    ) -> None:
        who = name or "A LINE user"  # never the raw id: it means nothing to an operator
        body = f"{who} added the account" if followed else f"{who} blocked the account"
        if unblocked:
            body = f"{who} unblocked the account"
        await self._tell_operators(
            user,
            Notification(
                kind="follow" if followed else "unfollow",
                title=name or "LINE user",
                body=body,
                line_user_id=user,
            ),
        )

    async def _unsend(self, event: InboundEvent, user: str) -> bool:
        """LINE asks operator tools to hide what a user unsent: clear it, show it.

        Hiding comes before the event id is recorded: it can be repeated, so a
        failure in between makes LINE redeliver instead of losing the unsend."""
        hidden = None
        if event.unsend_message_id:
            hidden = await self.store.unsend(user, event.unsend_message_id)
            if self.media is not None:  # its content is deleted too, if it is that user's
                await self.media.unsent(event.unsend_message_id, user)
        if not await self.store.record_event(event.webhook_event_id):
            return False
        if hidden is not None:
            await self.hub.publish(
                conversation_room(user), encode(MessageUpdated(message=hidden)), seq=hidden.seq
            )
            await self.updates.changed(user)
        await self._tell_operators(
            user,
            Notification(
                kind="unsend",
                title="Message unsent",
                body="The user unsent a message; please do not keep or quote it.",
                line_user_id=user,
                data={"line_message_id": event.unsend_message_id},
            ),
        )
        return True

    def profile_wanted(self, line_user_id: str) -> None:
        """A conversation has no display name: fetch the LINE user's profile in the
        background, unless a fetch for them runs or must wait (see `_ask_line`)."""
        if self.line is not None and self._ask_line(line_user_id):
            self._spawn(self._fetch_profile(line_user_id))

    def _ask_line(self, line_user_id: str) -> bool:
        """Whether LINE may be asked for this user's profile now: not while a
        look-up for them runs, nor before their back-off after a failure (or a 404)
        is over."""
        if line_user_id in self._profiles_tried:
            return False
        waiting = self._profile_backoff.get(line_user_id)
        return waiting is None or self.clock() >= waiting[0]

    def _profile_failed(self, line_user_id: str, *, missing: bool) -> None:
        """Back off from asking for this user's profile: a failure waits
        `PROFILE_RETRY_FIRST`, doubling up to `PROFILE_RETRY_MAX`; a 404 waits
        `PROFILE_MISSING_RETRY`. At most `PROFILE_BACKOFF_USERS` users are kept
        (the longest known dropped first)."""
        previous = self._profile_backoff.pop(line_user_id, None)
        if missing:
            delay = PROFILE_MISSING_RETRY
        elif previous is None:
            delay = PROFILE_RETRY_FIRST
        else:
            delay = min(previous[1] * 2, PROFILE_RETRY_MAX)
        self._profile_backoff[line_user_id] = (self.clock() + delay, delay)
        while len(self._profile_backoff) > PROFILE_BACKOFF_USERS:
            del self._profile_backoff[next(iter(self._profile_backoff))]

    async def _fetch_profile(self, line_user_id: str, *, nameless: bool = False) -> str | None:
        """Ask LINE for the user's profile and store it; the display name known
        afterwards (None: none). `nameless`: the store has no name for them (a
        conversation just created), so it is not read first."""
        line = self.line
        if line is None or not self._ask_line(line_user_id):
            return None
        self._profiles_tried.add(line_user_id)  # one look-up at a time per user
        try:
            if not nameless:
                known = await self.store.get_conversation(line_user_id)
                if known is not None and known.display_name:
                    return known.display_name  # a follow event fetched it: the store is the cache
            async with self._profile_slots:
                with self._timed("profile"):
                    profile = await line.get_profile(line_user_id)
            if profile is None:
                self._profile_failed(line_user_id, missing=True)  # LINE has none (404)
                return None
            conversation = await self.store.update_conversation(
                line_user_id, display_name=profile.display_name, picture_url=profile.picture_url
            )
        except (DeliveryError, OSError, StoreError) as exc:
            log.warning(  # LINE's own failure says all in a line; others get their traceback
                "profile of %s not available (%s)",
                line_user_id,
                describe(exc),
                exc_info=None if isinstance(exc, DeliveryError) else exc,
            )
            self._profile_failed(line_user_id, missing=False)  # a later message tries again
            return None
        finally:
            self._profiles_tried.discard(line_user_id)
        self._profile_backoff.pop(line_user_id, None)  # stored: the store is the cache now
        if conversation.display_name:
            await self.updates.changed(line_user_id)
        return conversation.display_name

    def _timed(self, call: str) -> AbstractContextManager[None]:
        return self.metrics.line_call(call) if self.metrics else nullcontext()
