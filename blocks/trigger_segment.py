"""Start a journey when a contact enters (or leaves) a segment. Segment entries and exits are events on
the one event path (``segment_entered`` / ``segment_left``), so this trigger starts contacts within the
same transaction that changed their membership."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from backend.engine.rules import SegmentKey
from backend.engine.sdk import SEGMENT_ENTERED, SEGMENT_LEFT, BlockType, Event, Go, Item, StepContext
from blocks.translations import for_block


class TriggerSegmentConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    segment: SegmentKey
    when: Annotated[Literal["enters", "leaves"], msgspec.Meta(title="When a contact")] = "enters"
    include_existing: Annotated[
        bool, msgspec.Meta(title="Also start everyone already in the segment when the journey is published")
    ] = False


class TriggerSegment(BlockType):
    type = "trigger.segment"
    translations = for_block("trigger.segment")
    label = "When a contact enters a segment"
    description = "Contacts enter the journey when they join (or leave) a segment."
    icon = "users"
    category = "trigger"
    trigger = "event"
    Config = TriggerSegmentConfig

    def matches(self, config: TriggerSegmentConfig, event: Event) -> bool:
        name = SEGMENT_ENTERED if config.when == "enters" else SEGMENT_LEFT
        return event.name == name and event.properties.get("segment") == config.segment

    def members_on_publish(self, config: TriggerSegmentConfig) -> str | None:
        """The segment whose current members start when the journey is first published with this block."""
        return config.segment if config.when == "enters" and config.include_existing else None

    def step(self, config: TriggerSegmentConfig, item: Item, ctx: StepContext) -> Go:
        return Go("next")
