"""Start a journey for contacts enrolled explicitly through the API or the UI."""

from __future__ import annotations

import msgspec

from backend.engine.sdk import BlockType, Go, Item, StepContext
from blocks.translations import for_block


class TriggerManualConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    note: str = ""


class TriggerManual(BlockType):
    type = "trigger.manual"
    translations = for_block("trigger.manual")
    label = "Enrolled manually"
    description = "Contacts enter when they are added through the API or by hand."
    icon = "user-plus"
    category = "trigger"
    trigger = "manual"
    Config = TriggerManualConfig

    def step(self, config: TriggerManualConfig, item: Item, ctx: StepContext) -> Go:
        return Go("next")
