"""A fake LINE Messaging API and a phone-like LINE simulator, for tests and the demo.

Nothing here talks to LINE. `create_fake_line_app(fake)` serves the Messaging
API routes the plugin calls; `create_simulator_app(fake, ...)` serves a page
where you chat as LINE users, posting signed webhooks to the plugin.
"""

from livechat_ext.simulator.app import create_simulator_app
from livechat_ext.simulator.fake_line import create_fake_line_app
from livechat_ext.simulator.fake_records import FakeEvent, FakeReply, LoadingCall, Profile, Push
from livechat_ext.simulator.fake_state import DEFAULT_ACCESS_TOKEN, FakeLine
from livechat_ext.simulator.webhooks import (
    DEFAULT_DESTINATION,
    follow_event,
    new_user_id,
    new_webhook_event_id,
    sign,
    signed_webhook,
    sticker_message_event,
    text_message_event,
    unfollow_event,
    webhook_body,
)

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_DESTINATION",
    "FakeEvent",
    "FakeLine",
    "FakeReply",
    "LoadingCall",
    "Profile",
    "Push",
    "create_fake_line_app",
    "create_simulator_app",
    "follow_event",
    "new_user_id",
    "new_webhook_event_id",
    "sign",
    "signed_webhook",
    "sticker_message_event",
    "text_message_event",
    "unfollow_event",
    "webhook_body",
]
