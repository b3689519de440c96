"""send: queue a message from a template on one channel or on the contact's best reachable channel."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from backend.engine.sdk import NO_NEEDS, Contact, Go, Item, SendMessage, StepContext
from blocks.send import Send

BLOCK = Send()
NOW = datetime(2024, 5, 6, tzinfo=UTC)
CTX = StepContext(now=NOW, node_id="mail")


def send(raw: dict) -> Go:
    outcome = BLOCK.step(BLOCK.parse_config(raw), Item(enrollment_id=1, contact=Contact(id=1), entered_at=NOW), CTX)
    assert isinstance(outcome, Go)
    return outcome


def test_email_by_default():
    assert send({"template": "tpl_welcome"}) == Go(
        "next", effects=(SendMessage(channel="email", template="tpl_welcome", fallback=[], marketing=True),)
    )


@pytest.mark.parametrize("channel", ["email", "sms", "wechat", "push"])
def test_each_channel(channel):
    (message,) = send({"channel": channel, "template": "t"}).effects
    assert message == SendMessage(channel=channel, template="t")


def test_best_channel_carries_the_fallback_order():
    (message,) = send({"channel": "best", "template": "t"}).effects
    assert message.channel == "best"
    assert message.fallback == ["email", "push", "sms", "wechat"]
    (custom,) = send({"channel": "best", "template": "t", "fallback": ["wechat", "sms"]}).effects
    assert custom.fallback == ["wechat", "sms"]


def test_fallback_is_ignored_for_a_fixed_channel():
    (message,) = send({"channel": "sms", "template": "t", "fallback": ["email"]}).effects
    assert message.fallback == []


def test_transactional_message_is_not_marketing():
    (message,) = send({"template": "password_reset", "marketing": False}).effects
    assert message.marketing is False


def test_step_batch_agrees_with_step():
    config = BLOCK.parse_config({"channel": "best", "template": "t"})
    items = [Item(enrollment_id=i, contact=Contact(id=i), entered_at=NOW) for i in range(1, 5)]
    assert BLOCK.step_batch(config, items, CTX) == [BLOCK.step(config, i, CTX) for i in items]


def test_best_channel_without_fallback_can_never_deliver():
    problems = BLOCK.check(BLOCK.parse_config({"channel": "best", "template": "t", "fallback": []}))
    assert [p.path for p in problems] == ["/fallback"]
    assert BLOCK.check(BLOCK.parse_config({"channel": "email", "template": "t", "fallback": []})) == []
    assert BLOCK.check(BLOCK.parse_config({"channel": "best", "template": "t"})) == []


def test_declaration():
    config = BLOCK.parse_config({"template": "t"})
    assert BLOCK.output_ports(config) == ("next",)
    assert BLOCK.needs(config) == NO_NEEDS
    assert BLOCK.category == "action"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({}, "missing required field `template`"),
        ({"template": ""}, "`$.template`"),
        ({"template": "t", "channel": "fax"}, "`$.channel`"),
        ({"template": "t", "channel": "best", "fallback": ["email", "pigeon"]}, "`$.fallback[1]`"),
        ({"template": "t", "marketing": "yes please"}, "`$.marketing`"),
        ({"template": "t", "subject": "Hi"}, "unknown field `subject`"),
    ],
)
def test_bad_config_names_the_field(raw, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        BLOCK.parse_config(raw)
    assert fragment in str(exc.value)
