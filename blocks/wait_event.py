"""Hold contacts until they perform an event (port ``event``) or a timeout passes (port ``timeout``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import msgspec

from backend.engine.rules import EventName, PropertyFilter, filter_problems, matches_filters
from backend.engine.sdk import BlockType, ConfigProblem, Go, Item, Outcome, StepContext, Wait
from blocks.translations import for_block


class WaitEventConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    event: EventName
    where: list[PropertyFilter] = []
    timeout: Annotated[timedelta, msgspec.Meta(title="Give up after", description="ISO 8601 duration")]


class WaitEvent(BlockType):
    type = "wait.event"
    translations = for_block("wait.event")
    label = "Wait for event"
    description = "Hold contacts until they do something, or until time runs out."
    icon = "hourglass"
    category = "flow"
    pauses = True
    ports = ("event", "timeout")
    Config = WaitEventConfig

    def check(self, config: WaitEventConfig) -> list[ConfigProblem]:
        problems = filter_problems(config.where, "/where")
        if config.timeout <= timedelta(0):
            problems.append(ConfigProblem("/timeout", "the timeout must be longer than zero"))
        return problems

    def step(self, config: WaitEventConfig, item: Item, ctx: StepContext) -> Outcome:
        event = item.event
        if (
            event is not None
            and event.name == config.event
            and matches_filters(event.properties, config.where, ctx.now)
        ):
            return Go("event")
        deadline = item.entered_at + config.timeout
        if ctx.now >= deadline:
            return Go("timeout")
        return Wait(until=deadline, event=config.event)
