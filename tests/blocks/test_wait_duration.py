"""wait.duration: hold a contact for a fixed time measured from when it reached the node."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from backend.engine.sdk import NO_NEEDS, Contact, Go, Item, StepContext, Wait
from blocks.wait_duration import WaitDuration

BLOCK = WaitDuration()
ENTERED = datetime(2024, 5, 6, 9, 30, tzinfo=UTC)


def item(entered_at: datetime = ENTERED, enrollment_id: int = 1) -> Item:
    return Item(enrollment_id=enrollment_id, contact=Contact(id=enrollment_id), node_id="w", entered_at=entered_at)


def ctx(now: datetime) -> StepContext:
    return StepContext(now=now, node_id="w")


def config(duration) -> object:
    return BLOCK.parse_config({"duration": duration})


def test_waits_until_exactly_entered_at_plus_duration():
    cfg = config("PT2H")
    release = ENTERED + timedelta(hours=2)

    assert BLOCK.step(cfg, item(), ctx(ENTERED)) == Wait(until=release)
    assert BLOCK.step(cfg, item(), ctx(release - timedelta(microseconds=1))) == Wait(until=release)
    assert BLOCK.step(cfg, item(), ctx(release)) == Go("next")
    assert BLOCK.step(cfg, item(), ctx(release + timedelta(days=3))) == Go("next")


def test_days_are_exact_24_hour_periods_from_arrival():
    cfg = config("P3D")
    assert BLOCK.step(cfg, item(), ctx(ENTERED)) == Wait(until=datetime(2024, 5, 9, 9, 30, tzinfo=UTC))


def test_re_check_before_release_keeps_the_same_deadline():
    """A tick that looks at a waiting contact early (e.g. woken by something else) must not move the deadline."""
    cfg = config("PT45M")
    first = BLOCK.step(cfg, item(), ctx(ENTERED + timedelta(minutes=1)))
    later = BLOCK.step(cfg, item(), ctx(ENTERED + timedelta(minutes=30)))
    assert first == later == Wait(until=ENTERED + timedelta(minutes=45))


def test_zero_duration_releases_at_once():
    assert BLOCK.step(config("PT0S"), item(), ctx(ENTERED)) == Go("next")


def test_seconds_as_a_number_are_accepted():
    assert config(90).duration == timedelta(seconds=90)


def test_step_batch_agrees_with_step():
    cfg = config("PT1H")
    now = ENTERED + timedelta(hours=1)
    items = [item(ENTERED + timedelta(minutes=m), enrollment_id=m + 1) for m in (-30, 0, 1, 59, 60, 120)]
    batch = BLOCK.step_batch(cfg, items, ctx(now))
    assert batch == [BLOCK.step(cfg, i, ctx(now)) for i in items]
    assert [type(o).__name__ for o in batch] == ["Go", "Go", "Wait", "Wait", "Wait", "Wait"]


def test_negative_duration_is_a_config_problem():
    problems = BLOCK.check(config("-PT1H"))
    assert [(p.path, p.message) for p in problems] == [("/duration", "a wait cannot be negative")]
    assert BLOCK.check(config("PT0S")) == []
    assert BLOCK.check(config("P1D")) == []


def test_declaration():
    cfg = config("PT1H")
    assert BLOCK.output_ports(cfg) == ("next",)
    assert BLOCK.needs(cfg) == NO_NEEDS
    assert BLOCK.pauses is True
    assert BLOCK.category == "flow"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"duration": True}, "`$.duration`"),
        ({"duration": "two hours"}, "Invalid ISO8601 duration - at `$.duration`"),
        ({"duration": "P1M"}, "`$.duration`"),
        ({}, "missing required field `duration`"),
        ({"duration": "PT1H", "hours": 2}, "unknown field `hours`"),
    ],
)
def test_bad_config_names_the_field(raw, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        BLOCK.parse_config(raw)
    assert fragment in str(exc.value)
