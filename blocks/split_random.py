"""Split contacts at random into weighted branches (A/B tests). The draw is a hash of the enrollment
and the node, so re-running a tick sends a contact down the same branch."""

from __future__ import annotations

import hashlib
from typing import Annotated

import msgspec

from backend.engine.sdk import BlockType, ConfigProblem, Go, Item, Outcome, StepContext
from blocks.translations import for_block

PortName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$", title="Branch name")]


class Branch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: PortName
    weight: Annotated[int, msgspec.Meta(ge=0, le=1_000_000, title="Weight")] = 1


class SplitRandomConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    branches: Annotated[list[Branch], msgspec.Meta(min_length=2, max_length=10)] = msgspec.field(
        default_factory=lambda: [Branch(name="a", weight=50), Branch(name="b", weight=50)]
    )


class SplitRandom(BlockType):
    type = "split.random"
    translations = for_block("split.random")
    label = "Random split"
    description = "Divide contacts between branches by weight, e.g. 50/50 for an A/B test."
    icon = "shuffle"
    category = "flow"
    ports = ("a", "b")
    ports_from = "branches"
    Config = SplitRandomConfig

    def output_ports(self, config: SplitRandomConfig) -> tuple[str, ...]:
        return tuple(b.name for b in config.branches)

    def check(self, config: SplitRandomConfig) -> list[ConfigProblem]:
        problems = []
        seen: set[str] = set()
        for i, branch in enumerate(config.branches):
            if branch.name in seen:
                problems.append(ConfigProblem(f"/branches/{i}/name", f"branch name {branch.name!r} is used twice"))
            seen.add(branch.name)
        if sum(b.weight for b in config.branches) <= 0:
            problems.append(ConfigProblem("/branches", "at least one branch needs a weight above zero"))
        return problems

    def step(self, config: SplitRandomConfig, item: Item, ctx: StepContext) -> Outcome:
        total = sum(b.weight for b in config.branches)
        draw = _draw(item.enrollment_id, ctx.node_id, total)
        for branch in config.branches:
            if draw < branch.weight:
                return Go(branch.name)
            draw -= branch.weight
        raise AssertionError("weights exhausted")  # unreachable: draw < total


def _draw(enrollment_id: int, node_id: str, total: int) -> int:
    """A uniform draw in [0, total) fixed by (enrollment, node). A cryptographic hash, not CRC32: CRC is
    linear, so two splits whose node ids have the same length (``split_random_1``, ``split_random_2``)
    would send every contact down the same-named branch of both."""
    digest = hashlib.blake2b(f"{enrollment_id}:{node_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % total
