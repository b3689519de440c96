"""Start a journey when a contact performs an event (optionally only when its properties match)."""

from __future__ import annotations

import msgspec

from backend.engine.rules import EventName, PropertyFilter, filter_problems, matches_filters
from backend.engine.sdk import BlockType, ConfigProblem, Event, Go, Item, StepContext
from blocks.translations import for_block


class TriggerEventConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    event: EventName
    where: list[PropertyFilter] = []


class TriggerEvent(BlockType):
    type = "trigger.event"
    translations = for_block("trigger.event")
    label = "When an event happens"
    description = "Contacts enter when they perform an event, e.g. registration_started."
    icon = "zap"
    category = "trigger"
    trigger = "event"
    Config = TriggerEventConfig

    def check(self, config: TriggerEventConfig) -> list[ConfigProblem]:
        return filter_problems(config.where, "/where")

    def matches(self, config: TriggerEventConfig, event: Event) -> bool:
        return event.name == config.event and matches_filters(event.properties, config.where, event.occurred_at)

    def step(self, config: TriggerEventConfig, item: Item, ctx: StepContext) -> Go:
        return Go("next")
