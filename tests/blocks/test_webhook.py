"""webhook: an HTTP call queued through the outbox like a message."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from backend.engine.sdk import NO_NEEDS, Contact, Go, Item, SendMessage, StepContext
from blocks.webhook import Webhook

BLOCK = Webhook()
NOW = datetime(2024, 5, 6, tzinfo=UTC)
CTX = StepContext(now=NOW, node_id="hook")


def step(raw: dict, enrollment_id: int = 1):
    item = Item(enrollment_id=enrollment_id, contact=Contact(id=enrollment_id), entered_at=NOW)
    return BLOCK.step(BLOCK.parse_config(raw), item, CTX)


def test_queues_one_webhook_message_and_moves_on():
    outcome = step(
        {
            "url": "https://crm.example.com/hooks/lead",
            "method": "PUT",
            "headers": {"X-Token": "abc"},
            "body": '{"email": "{{ contact.email }}"}',
        }
    )
    assert outcome == Go(
        "next",
        effects=(
            SendMessage(
                channel="webhook",
                payload={
                    "url": "https://crm.example.com/hooks/lead",
                    "method": "PUT",
                    "headers": {"X-Token": "abc"},
                    "body": '{"email": "{{ contact.email }}"}',
                },
                marketing=False,
            ),
        ),
    )


def test_defaults_post_without_body():
    (message,) = step({"url": "http://example.com/x"}).effects
    assert message.payload == {"url": "http://example.com/x", "method": "POST", "headers": {}, "body": None}
    assert message.template is None


def test_step_batch_agrees_with_step():
    config = BLOCK.parse_config({"url": "https://example.com"})
    items = [Item(enrollment_id=i, contact=Contact(id=i), entered_at=NOW) for i in range(1, 4)]
    assert BLOCK.step_batch(config, items, CTX) == [BLOCK.step(config, i, CTX) for i in items]


def test_declaration():
    config = BLOCK.parse_config({"url": "https://example.com"})
    assert BLOCK.output_ports(config) == ("next",)
    assert BLOCK.needs(config) == NO_NEEDS
    assert BLOCK.check(config) == []


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({}, "missing required field `url`"),
        ({"url": "ftp://example.com/file"}, "`$.url`"),
        ({"url": "example.com"}, "`$.url`"),
        ({"url": "https://exa mple.com"}, "`$.url`"),
        ({"url": "https://example.com", "method": "DELETE"}, "`$.method`"),
        ({"url": "https://example.com", "headers": {"X-Count": 3}}, "`$.headers[...]`"),
        ({"url": "https://example.com", "headers": ["X-Token: a"]}, "`$.headers`"),
    ],
)
def test_bad_config_names_the_field(raw, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        BLOCK.parse_config(raw)
    assert fragment in str(exc.value)
