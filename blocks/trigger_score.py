"""Start a journey when a contact's engagement score moves into a band of levels (e.g. into 8-10: reward
them; into 1-3: slow down). Level changes are events on the one event path (``score_changed``), so the
journey starts in the same transaction that changed the score."""

from __future__ import annotations

from typing import Annotated

import msgspec

from backend.engine.rules import Level, ScoreKey
from backend.engine.sdk import SCORE_CHANGED, BlockType, ConfigProblem, Event, Go, Item, StepContext
from blocks.translations import for_block


class TriggerScoreConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    score: ScoreKey
    min: Annotated[Level, msgspec.Meta(title="From level")] = 8
    max: Annotated[Level, msgspec.Meta(title="To level")] = 10


class TriggerScore(BlockType):
    type = "trigger.score"
    translations = for_block("trigger.score")
    label = "When a score enters a band"
    description = "Contacts enter when their engagement score moves into a range of levels, e.g. 8 to 10."
    icon = "gauge"
    category = "trigger"
    trigger = "event"
    Config = TriggerScoreConfig

    def check(self, config: TriggerScoreConfig) -> list[ConfigProblem]:
        if config.min > config.max:
            return [ConfigProblem("/max", "the highest level must not be below the lowest")]
        return []

    def matches(self, config: TriggerScoreConfig, event: Event) -> bool:
        if event.name != SCORE_CHANGED or event.properties.get("score") != config.score:
            return False
        level, previous = event.properties.get("level"), event.properties.get("previous")
        inside = isinstance(level, int) and config.min <= level <= config.max
        was_inside = isinstance(previous, int) and config.min <= previous <= config.max
        return inside and not was_inside

    def step(self, config: TriggerScoreConfig, item: Item, ctx: StepContext) -> Go:
        return Go("next")
