"""Post a message about the contact to a Slack channel via an incoming-webhook URL."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from backend.engine.sdk import BlockType, ConfigProblem, Go, Item, Outcome, SendMessage, StepContext


class SlackConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    webhook_url: Annotated[str, msgspec.Meta(pattern=r"^https://hooks\.slack\.com/\S+$", title="Incoming webhook URL")]
    channel: Annotated[str, msgspec.Meta(min_length=2, max_length=80, pattern=r"^#", title="Channel")] = "#sales"
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, title="Message (Jinja2)")] = (
        "{{ contact.email }} reached {{ journey.name }}"
    )
    priority: Literal["normal", "urgent"] = "normal"
    mention_here: Annotated[bool, msgspec.Meta(title="Mention @here")] = False


class SlackNotify(BlockType):
    type = "acme.slack"
    label = "Notify Slack"
    description = "Post a message about the contact to a Slack channel."
    icon = "message-square"
    category = "action"
    Config = SlackConfig
    translations = {
        "zh-CN": {
            "label": "通知 Slack",
            "description": "向 Slack 频道发送有关该联系人的消息。",
            "problem.urgent messages must mention @here": "紧急消息必须 @here 提醒频道成员",
        },
        "es": {
            "label": "Avisar en Slack",
            "description": "Publica un mensaje sobre el contacto en un canal de Slack.",
            "problem.urgent messages must mention @here": "los mensajes urgentes deben mencionar @here",
        },
        "pl": {
            "label": "Powiadom Slack",
            "description": "Wyślij wiadomość o kontakcie na kanał Slack.",
            "problem.urgent messages must mention @here": "pilne wiadomości muszą wspominać @here",
        },
    }

    def check(self, config: SlackConfig) -> list[ConfigProblem]:
        if config.priority == "urgent" and not config.mention_here:
            return [ConfigProblem("/mention_here", "urgent messages must mention @here")]
        return []

    def step(self, config: SlackConfig, item: Item, ctx: StepContext) -> Outcome:
        text = ("<!here> " if config.mention_here else "") + config.message
        payload = {
            "url": config.webhook_url,
            "method": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": msgspec.json.encode({"channel": config.channel, "text": text}).decode(),
        }
        return Go("next", effects=(SendMessage(channel="webhook", payload=payload, marketing=False),))
