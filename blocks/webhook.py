"""Call an HTTP endpoint for each contact (CRM update, Slack, internal service).

The request goes through the outbox like any message, so it is retried with backoff and carries an
``Idempotency-Key`` header; the URL is checked against private address ranges when it is sent."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from backend.engine.sdk import BlockType, Go, Item, Outcome, SendMessage, StepContext
from blocks.translations import for_block


class WebhookConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(pattern=r"^https?://\S+$", max_length=2000, title="URL")]
    method: Literal["POST", "PUT", "PATCH", "GET"] = "POST"
    headers: dict[str, str] = {}
    body: Annotated[
        str | None,
        msgspec.Meta(
            title="Body template",
            description="Jinja2; empty sends the contact as JSON",
            extra_json_schema={"x-widget": "textarea"},
        ),
    ] = None


class Webhook(BlockType):
    type = "webhook"
    translations = for_block("webhook")
    label = "Webhook"
    description = "Call an HTTP endpoint with the contact's data."
    icon = "globe"
    category = "action"
    Config = WebhookConfig

    def step(self, config: WebhookConfig, item: Item, ctx: StepContext) -> Outcome:
        payload = {"url": config.url, "method": config.method, "headers": config.headers, "body": config.body}
        return Go("next", effects=(SendMessage(channel="webhook", payload=payload, marketing=False),))
