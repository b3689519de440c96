"""Hold contacts until they are in (or out of) a segment, with a timeout. Membership changes are events
(``segment_entered`` / ``segment_left``) that wake the wait at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

import msgspec

from backend.engine.rules import SegmentKey
from backend.engine.sdk import (
    SEGMENT_ENTERED,
    SEGMENT_LEFT,
    BlockType,
    ConfigProblem,
    Go,
    Item,
    Needs,
    Outcome,
    StepContext,
    Wait,
)
from blocks.translations import for_block


class WaitSegmentConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    segment: SegmentKey
    until: Annotated[Literal["in", "out"], msgspec.Meta(title="Wait until the contact is")] = "in"
    timeout: Annotated[timedelta, msgspec.Meta(title="Give up after", description="ISO 8601 duration")]


NEEDS = Needs(segments=True)


class WaitSegment(BlockType):
    type = "wait.segment"
    translations = for_block("wait.segment")
    label = "Wait for a segment"
    description = "Hold contacts until they are in (or out of) a segment, or until time runs out."
    icon = "hourglass"
    category = "flow"
    pauses = True
    ports = ("met", "timeout")
    Config = WaitSegmentConfig

    def check(self, config: WaitSegmentConfig) -> list[ConfigProblem]:
        if config.timeout <= timedelta(0):
            return [ConfigProblem("/timeout", "the timeout must be longer than zero")]
        return []

    def needs(self, config: WaitSegmentConfig) -> Needs:
        return NEEDS

    def step(self, config: WaitSegmentConfig, item: Item, ctx: StepContext) -> Outcome:
        inside = config.segment in item.contact.segments
        if inside is (config.until == "in"):
            return Go("met")
        deadline = item.entered_at + config.timeout
        if ctx.now >= deadline:
            return Go("timeout")
        return Wait(until=deadline, event=SEGMENT_ENTERED if config.until == "in" else SEGMENT_LEFT)
