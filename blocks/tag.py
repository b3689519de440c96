"""Add or remove tags and set attributes on the contact."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import msgspec

from backend.engine.rules import TagName
from backend.engine.sdk import (
    AddTags,
    BlockType,
    ConfigProblem,
    Effect,
    Go,
    Item,
    Outcome,
    RemoveTags,
    SetAttributes,
    StepContext,
)
from blocks.translations import for_block


class TagConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    add: Annotated[list[TagName], msgspec.Meta(title="Add tags")] = []
    remove: Annotated[list[TagName], msgspec.Meta(title="Remove tags")] = []
    set: Annotated[
        dict[str, Any], msgspec.Meta(title="Set attributes", extra_json_schema={"x-source": "attributes"})
    ] = {}


class Tag(BlockType):
    type = "tag"
    translations = for_block("tag")
    label = "Tag / update contact"
    description = "Add or remove tags and set attributes on the contact."
    icon = "tag"
    category = "action"
    Config = TagConfig

    def check(self, config: TagConfig) -> list[ConfigProblem]:
        if not (config.add or config.remove or config.set):
            return [ConfigProblem("", "add a tag, remove a tag or set an attribute")]
        both = set(config.add) & set(config.remove)
        if both:
            return [ConfigProblem("/remove", f"tags both added and removed: {', '.join(sorted(both))}")]
        return []

    def _outcome(self, config: TagConfig) -> Go:
        effects: list[Effect] = []
        if config.add:
            effects.append(AddTags(list(config.add)))
        if config.remove:
            effects.append(RemoveTags(list(config.remove)))
        if config.set:
            effects.append(SetAttributes(dict(config.set)))
        return Go("next", effects=tuple(effects))

    def step(self, config: TagConfig, item: Item, ctx: StepContext) -> Outcome:
        return self._outcome(config)

    def step_batch(self, config: TagConfig, items: Sequence[Item], ctx: StepContext) -> list[Outcome]:
        # Effects are read-only data, so one outcome object serves the whole batch.
        return [self._outcome(config)] * len(items)
