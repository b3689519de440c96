"""End the journey for the contact here (an explicit end, with a reason that reports show)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from backend.engine.sdk import BlockType, Item, Outcome, StepContext
from backend.engine.sdk import Exit as ExitOutcome
from blocks.translations import for_block


class ExitConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=200, title="Reason (shown in reports)")] = "exit"


class Exit(BlockType):
    type = "exit"
    translations = for_block("exit")
    label = "Exit"
    description = "Take contacts out of the journey."
    icon = "log-out"
    category = "exit"
    ports = ()
    Config = ExitConfig

    def step(self, config: ExitConfig, item: Item, ctx: StepContext) -> Outcome:
        return ExitOutcome(config.reason)
