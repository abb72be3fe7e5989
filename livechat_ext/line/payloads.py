"""LINE webhook events as pydantic v2 models that read only the fields livechat_ext uses.

Values LINE adds to its enumerations (`mode`, `stickerResourceType`,
`contentProvider.type`, a mentionee's `type`, event and content types) are plain
strings here: a value newer than this code is kept as sent. line-bot-sdk's models
refuse such values (a whole event becomes unreadable), so they are not used to read
events; the tests compare both readings on LINE's documented shapes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Year 9999 in milliseconds: later (or negative) timestamps do not make a datetime.
MAX_TIMESTAMP_MS = 253_402_300_799_999


class LineModel(BaseModel):
    """LINE's camelCase keys, strict types (no coercion), unknown keys ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        strict=True,
    )


class Source(LineModel):
    type: str
    # the store keys conversations by user id (64 characters; LINE's are 33)
    user_id: str | None = Field(default=None, min_length=1, max_length=64)
    group_id: str | None = None
    room_id: str | None = None


class DeliveryContext(LineModel):
    is_redelivery: bool


class EventHeader(LineModel):
    """The fields every event has (LINE marks them required)."""

    type: str = Field(min_length=1)
    webhook_event_id: str = Field(min_length=1, max_length=128)
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP_MS)
    mode: str
    delivery_context: DeliveryContext
    source: Source | None = None
    reply_token: str | None = None


class Emoji(LineModel):
    index: int
    length: int
    product_id: str
    emoji_id: str


class Mentionee(LineModel):
    index: int
    length: int
    type: str
    user_id: str | None = None
    is_self: bool | None = None


class Mention(LineModel):
    mentionees: list[Mentionee]


class ContentProvider(LineModel):
    type: str
    original_content_url: str | None = None
    preview_image_url: str | None = None


class ImageSet(LineModel):
    id: str
    index: int | None = None
    total: int | None = None


class MessageContent(LineModel):
    """Every content type's fields in one model; which ones a kind needs is
    `content.message_kind`'s business."""

    id: str
    type: str
    text: str | None = None
    emojis: list[Emoji] | None = None
    mention: Mention | None = None
    quote_token: str | None = None
    quoted_message_id: str | None = None
    mark_as_read_token: str | None = None
    package_id: str | None = None
    sticker_id: str | None = None
    sticker_resource_type: str | None = None
    keywords: list[str] | None = None
    content_provider: ContentProvider | None = None
    image_set: ImageSet | None = None
    duration: int | None = None
    file_name: str | None = None
    file_size: int | None = None
    title: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class Postback(LineModel):
    data: str
    # LINE documents string values (date, time, datetime, rich menu alias, status)
    params: dict[str, str] | None = None


class Follow(LineModel):
    is_unblocked: bool


class Unsend(LineModel):
    message_id: str
