"""Hold contacts for a fixed time, e.g. two hours after registration started."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated

import msgspec

from backend.engine.sdk import BlockType, ConfigProblem, Go, Item, Outcome, StepContext, Wait
from blocks.translations import for_block


class WaitDurationConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    duration: Annotated[timedelta, msgspec.Meta(title="Wait for", description="ISO 8601 duration, e.g. PT2H or P3D")]


class WaitDuration(BlockType):
    type = "wait.duration"
    translations = for_block("wait.duration")
    label = "Wait"
    description = "Hold contacts for a fixed time before the next step."
    icon = "clock"
    category = "flow"
    pauses = True
    Config = WaitDurationConfig

    def check(self, config: WaitDurationConfig) -> list[ConfigProblem]:
        if config.duration < timedelta(0):
            return [ConfigProblem("/duration", "a wait cannot be negative")]
        return []

    def step(self, config: WaitDurationConfig, item: Item, ctx: StepContext) -> Outcome:
        until = item.entered_at + config.duration
        return Go("next") if ctx.now >= until else Wait(until=until)

    def step_batch(self, config: WaitDurationConfig, items: Sequence[Item], ctx: StepContext) -> list[Outcome]:
        duration, now, go = config.duration, ctx.now, Go("next")
        out: list[Outcome] = []
        append = out.append
        for item in items:
            until = item.entered_at + duration
            append(go if now >= until else Wait(until=until))
        return out
