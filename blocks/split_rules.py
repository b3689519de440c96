"""A multi-way split on rules: ordered branches, each with a rule from the shared rule language and its
own port; the first branch whose rule holds wins, and everyone else leaves through ``else``. "Score 8-10
→ reward, 5-7 → nudge, else → tutorial" is one block (Laudspeaker's multisplit, Braze's audience paths)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec

from backend.engine.rules import Rule, evaluate, rule_needs, rule_problems
from backend.engine.sdk import BlockType, ConfigProblem, Go, Item, Needs, Outcome, StepContext
from blocks.translations import for_block

PortName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$", title="Branch name")]
ELSE = "else"


class RuleBranch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: PortName
    rule: Rule


def _default_branches() -> list[RuleBranch]:
    return [
        RuleBranch(name="engaged", rule=msgspec.convert({"kind": "score", "key": "engagement", "min": 8}, Rule)),
        RuleBranch(
            name="drifting", rule=msgspec.convert({"kind": "score", "key": "engagement", "min": 5, "max": 7}, Rule)
        ),
    ]


class SplitRulesConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    branches: Annotated[list[RuleBranch], msgspec.Meta(min_length=1, max_length=10)] = msgspec.field(
        default_factory=_default_branches
    )


class SplitRules(BlockType):
    type = "split.rules"
    translations = for_block("split.rules")
    label = "Split by rules"
    description = "Send contacts down the first branch whose rule they match; everyone else goes to 'else'."
    icon = "git-fork"
    category = "flow"
    ports = ("engaged", "drifting", ELSE)
    ports_from = "branches"
    ports_after = (ELSE,)
    Config = SplitRulesConfig

    def output_ports(self, config: SplitRulesConfig) -> tuple[str, ...]:
        return (*(b.name for b in config.branches), *self.ports_after)

    def check(self, config: SplitRulesConfig) -> list[ConfigProblem]:
        problems: list[ConfigProblem] = []
        seen: set[str] = set()
        for i, branch in enumerate(config.branches):
            if branch.name in seen or branch.name == ELSE:
                problems.append(ConfigProblem(f"/branches/{i}/name", f"branch name {branch.name!r} is used twice"))
            seen.add(branch.name)
            problems += rule_problems(branch.rule, f"/branches/{i}/rule")
        return problems

    def needs(self, config: SplitRulesConfig) -> Needs:
        needs = Needs()
        for branch in config.branches:
            needs = needs | rule_needs(branch.rule)
        return needs

    def step(self, config: SplitRulesConfig, item: Item, ctx: StepContext) -> Outcome:
        for branch in config.branches:
            if evaluate(branch.rule, item.contact, ctx.now):
                return Go(branch.name)
        return Go(ELSE)

    def step_batch(self, config: SplitRulesConfig, items: Sequence[Item], ctx: StepContext) -> list[Outcome]:
        gos = {b.name: Go(b.name) for b in config.branches}
        otherwise = Go(ELSE)
        now = ctx.now
        out: list[Outcome] = []
        for item in items:
            for branch in config.branches:
                if evaluate(branch.rule, item.contact, now):
                    out.append(gos[branch.name])
                    break
            else:
                out.append(otherwise)
        return out
