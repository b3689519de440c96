"""Send a message from a template on one channel, or on the contact's best reachable channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec

from backend.engine.sdk import BlockType, ConfigProblem, Go, Item, Outcome, SendMessage, StepContext
from blocks.translations import for_block

Channel = Literal["email", "sms", "wechat", "push"]


class SendConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    channel: Annotated[Channel | Literal["best"], msgspec.Meta(title="Channel")] = "email"
    template: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=200, title="Template", extra_json_schema={"x-source": "templates"}),
    ]
    fallback: Annotated[list[Channel], msgspec.Meta(title="Fallback order (for the best channel)")] = msgspec.field(
        default_factory=lambda: ["email", "push", "sms", "wechat"]
    )
    marketing: Annotated[
        bool, msgspec.Meta(title="Marketing message", description="Marketing messages respect unsubscribes")
    ] = True


class Send(BlockType):
    type = "send"
    translations = for_block("send")
    label = "Send message"
    description = "Send an email, SMS, WeChat or push message from a template."
    icon = "send"
    category = "action"
    Config = SendConfig

    def check(self, config: SendConfig) -> list[ConfigProblem]:
        if config.channel == "best" and not config.fallback:
            return [ConfigProblem("/fallback", "list the channels to choose the best one from")]
        return []

    def _outcome(self, config: SendConfig) -> Go:
        message = SendMessage(
            channel=config.channel,
            template=config.template,
            fallback=list(config.fallback) if config.channel == "best" else [],
            marketing=config.marketing,
        )
        return Go("next", effects=(message,))

    def step(self, config: SendConfig, item: Item, ctx: StepContext) -> Outcome:
        return self._outcome(config)

    def step_batch(self, config: SendConfig, items: Sequence[Item], ctx: StepContext) -> list[Outcome]:
        return [self._outcome(config)] * len(items)
