"""Branch on a rule: attributes, tags, event counts in a window, reachability, subscriptions."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from backend.engine.rules import Rule, evaluate, rule_needs, rule_problems
from backend.engine.sdk import BlockType, ConfigProblem, Go, Item, Needs, Outcome, StepContext
from blocks.translations import for_block


class ConditionConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    rule: Rule


class Condition(BlockType):
    type = "condition"
    translations = for_block("condition")
    label = "Condition"
    description = "Send contacts down yes or no depending on a rule."
    icon = "git-branch"
    category = "flow"
    ports = ("yes", "no")
    Config = ConditionConfig

    def check(self, config: ConditionConfig) -> list[ConfigProblem]:
        return rule_problems(config.rule, "/rule")

    def needs(self, config: ConditionConfig) -> Needs:
        return rule_needs(config.rule)

    def step(self, config: ConditionConfig, item: Item, ctx: StepContext) -> Outcome:
        return Go("yes") if evaluate(config.rule, item.contact, ctx.now) else Go("no")

    def step_batch(self, config: ConditionConfig, items: Sequence[Item], ctx: StepContext) -> list[Outcome]:
        rule, now, yes, no = config.rule, ctx.now, Go("yes"), Go("no")
        return [yes if evaluate(rule, item.contact, now) else no for item in items]
