"""trigger.event: contacts enter when they perform an event whose properties match the filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from backend.engine.sdk import NO_NEEDS, Contact, Event, Go, Item, StepContext
from blocks.trigger_event import TriggerEvent

BLOCK = TriggerEvent()
NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


def cfg(event: str = "registration_started", where: list | None = None):
    return BLOCK.parse_config({"event": event, "where": where or []})


def test_matches_by_event_name():
    config = cfg()
    assert BLOCK.matches(config, Event(name="registration_started"))
    assert not BLOCK.matches(config, Event(name="registration_completed"))
    assert not BLOCK.matches(config, Event(name="Registration_Started"))


def test_property_filters_must_all_hold():
    config = cfg(
        "order_completed",
        [
            {"key": "total", "op": "gte", "value": 100},
            {"key": "currency", "op": "in", "value": ["EUR", "PLN"]},
            {"key": "coupon", "op": "not_exists"},
        ],
    )
    assert BLOCK.matches(config, Event(name="order_completed", properties={"total": 150, "currency": "PLN"}))
    assert BLOCK.matches(config, Event(name="order_completed", properties={"total": "100", "currency": "EUR"}))
    assert not BLOCK.matches(config, Event(name="order_completed", properties={"total": 99, "currency": "PLN"}))
    assert not BLOCK.matches(config, Event(name="order_completed", properties={"total": 150, "currency": "USD"}))
    assert not BLOCK.matches(
        config, Event(name="order_completed", properties={"total": 150, "currency": "EUR", "coupon": "X"})
    )
    assert not BLOCK.matches(config, Event(name="order_completed"))
    assert not BLOCK.matches(config, Event(name="order_started", properties={"total": 150, "currency": "PLN"}))


def test_filters_on_nested_properties():
    config = cfg("page_viewed", [{"key": "page.path", "op": "starts_with", "value": "/pricing"}])
    assert BLOCK.matches(config, Event(name="page_viewed", properties={"page": {"path": "/pricing/teams"}}))
    assert not BLOCK.matches(config, Event(name="page_viewed", properties={"page": {"path": "/blog"}}))
    assert not BLOCK.matches(config, Event(name="page_viewed", properties={"page": "/pricing"}))


def test_relative_date_filter_is_measured_from_when_the_event_happened():
    config = cfg("cart_updated", [{"key": "cart_created", "op": "within_last", "value": "P1D"}])
    created = (NOW - timedelta(hours=20)).isoformat()
    assert BLOCK.matches(config, Event(name="cart_updated", properties={"cart_created": created}, occurred_at=NOW))
    assert not BLOCK.matches(
        config,
        Event(name="cart_updated", properties={"cart_created": created}, occurred_at=NOW + timedelta(days=1)),
    )


def test_step_lets_the_contact_in():
    item = Item(enrollment_id=1, contact=Contact(id=1), entered_at=NOW)
    assert BLOCK.step(cfg(), item, StepContext(now=NOW, node_id="t")) == Go("next")


def test_check_filter_values_that_could_never_match():
    config = cfg("x", [{"key": "created", "op": "within_last", "value": 7}, {"key": "sku", "op": "starts_with"}])
    assert [p.path for p in BLOCK.check(config)] == ["/where/0/value", "/where/1/value"]
    assert BLOCK.check(cfg("x", [{"key": "created", "op": "within_last", "value": "P7D"}])) == []


def test_declaration():
    assert BLOCK.category == "trigger"
    assert BLOCK.trigger == "event"
    assert BLOCK.output_ports(cfg()) == ("next",)
    assert BLOCK.needs(cfg()) == NO_NEEDS
    assert BLOCK.check(cfg()) == []


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({}, "missing required field `event`"),
        ({"event": ""}, "`$.event`"),
        ({"event": 12}, "`$.event`"),
        ({"event": "x", "where": {"key": "a"}}, "`$.where`"),
        ({"event": "x", "where": [{"key": "a", "op": "approximately"}]}, "`$.where[0].op`"),
        ({"event": "x", "where": [{"key": "a", "value": 1, "extra": 2}]}, "unknown field `extra` - at `$.where[0]`"),
    ],
)
def test_bad_config_names_the_field(raw, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        BLOCK.parse_config(raw)
    assert fragment in str(exc.value)
