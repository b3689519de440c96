"""wait.event: leave through ``event`` when the contact performs a matching event, ``timeout`` otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from backend.engine.sdk import NO_NEEDS, Contact, Event, Go, Item, StepContext, Wait
from blocks.wait_event import WaitEvent

BLOCK = WaitEvent()
ENTERED = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
DEADLINE = ENTERED + timedelta(days=2)
CFG = BLOCK.parse_config(
    {
        "event": "order_completed",
        "where": [
            {"key": "total", "op": "gte", "value": 100},
            {"key": "shipping.country", "op": "in", "value": ["PL", "ES"]},
        ],
        "timeout": "P2D",
    }
)
MATCHING = Event(name="order_completed", properties={"total": 120, "shipping": {"country": "PL"}})


def item(event: Event | None = None) -> Item:
    return Item(enrollment_id=7, contact=Contact(id=3), node_id="w", entered_at=ENTERED, event=event)


def step(event: Event | None, now: datetime, cfg=CFG):
    return BLOCK.step(cfg, item(event), StepContext(now=now, node_id="w"))


def test_without_an_event_waits_for_the_event_or_the_deadline():
    assert step(None, ENTERED) == Wait(until=DEADLINE, event="order_completed")
    assert step(None, DEADLINE - timedelta(microseconds=1)) == Wait(until=DEADLINE, event="order_completed")


def test_times_out_exactly_at_the_deadline():
    assert step(None, DEADLINE) == Go("timeout")
    assert step(None, DEADLINE + timedelta(hours=6)) == Go("timeout")


def test_matching_event_takes_the_event_port():
    assert step(MATCHING, ENTERED + timedelta(minutes=5)) == Go("event")


def test_matching_event_that_arrives_at_the_deadline_still_counts():
    assert step(MATCHING, DEADLINE) == Go("event")


@pytest.mark.parametrize(
    "event",
    [
        Event(name="order_started", properties={"total": 120, "shipping": {"country": "PL"}}),
        Event(name="order_completed", properties={"total": 99.99, "shipping": {"country": "PL"}}),
        Event(name="order_completed", properties={"total": 500, "shipping": {"country": "DE"}}),
        Event(name="order_completed", properties={"total": 500}),
        Event(name="order_completed", properties={}),
    ],
    ids=["other event", "total too low", "other country", "no shipping", "no properties"],
)
def test_non_matching_event_keeps_waiting_until_the_same_deadline(event):
    assert step(event, ENTERED + timedelta(hours=1)) == Wait(until=DEADLINE, event="order_completed")


def test_non_matching_event_after_the_deadline_times_out():
    other = Event(name="order_completed", properties={"total": 1})
    assert step(other, DEADLINE) == Go("timeout")


def test_without_filters_any_event_of_that_name_matches():
    cfg = BLOCK.parse_config({"event": "email_opened", "timeout": "PT12H"})
    assert step(Event(name="email_opened"), ENTERED, cfg) == Go("event")
    assert step(Event(name="email_clicked"), ENTERED, cfg) == Wait(
        until=ENTERED + timedelta(hours=12), event="email_opened"
    )


def test_step_batch_agrees_with_step():
    now = ENTERED + timedelta(days=1)
    items = [item(None), item(MATCHING), item(Event(name="order_completed", properties={"total": 5}))]
    ctx = StepContext(now=now, node_id="w")
    outcomes = BLOCK.step_batch(CFG, items, ctx)
    assert outcomes == [BLOCK.step(CFG, i, ctx) for i in items]
    assert outcomes[1] == Go("event")


def test_timeout_must_be_positive():
    assert [(p.path, p.message) for p in BLOCK.check(BLOCK.parse_config({"event": "x", "timeout": "PT0S"}))] == [
        ("/timeout", "the timeout must be longer than zero")
    ]
    assert [p.path for p in BLOCK.check(BLOCK.parse_config({"event": "x", "timeout": "-P1D"}))] == ["/timeout"]
    assert BLOCK.check(CFG) == []


def test_check_filter_values_that_could_never_match():
    cfg = BLOCK.parse_config(
        {
            "event": "order_completed",
            "timeout": "PT0S",
            "where": [{"key": "country", "op": "in", "value": "PL"}, {"key": "total", "op": "gt", "value": 5}],
        }
    )
    assert [(p.path, p.message) for p in BLOCK.check(cfg)] == [
        ("/where/0/value", "use a list of values"),
        ("/timeout", "the timeout must be longer than zero"),
    ]


def test_declaration():
    assert BLOCK.output_ports(CFG) == ("event", "timeout")
    assert BLOCK.needs(CFG) == NO_NEEDS
    assert BLOCK.pauses is True


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"event": "x"}, "missing required field `timeout`"),
        ({"timeout": "P1D"}, "missing required field `event`"),
        ({"event": "", "timeout": "P1D"}, "`$.event`"),
        ({"event": "x", "timeout": "soon"}, "`$.timeout`"),
        ({"event": "x", "timeout": "P1D", "where": [{"key": "a", "op": "like"}]}, "`$.where[0].op`"),
        ({"event": "x", "timeout": "P1D", "where": [{"op": "eq"}]}, "missing required field `key` - at `$.where[0]`"),
    ],
)
def test_bad_config_names_the_field(raw, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        BLOCK.parse_config(raw)
    assert fragment in str(exc.value)
