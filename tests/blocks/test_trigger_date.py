"""trigger.date: fire N days before/after a date attribute or a subscription's end date, optionally yearly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from backend.engine.sdk import NO_NEEDS, Contact, Go, Item, Needs, StepContext, Subscription
from blocks.trigger_date import TriggerDate

BLOCK = TriggerDate()


def cfg(**raw: Any):
    return BLOCK.parse_config(raw)


def firing_days(config, contact: Contact, start: date, end: date) -> list[date]:
    """Every local date in [start, end] on which the trigger fires for the contact."""
    days, day = [], start
    while day <= end:
        if BLOCK.fires_on(config, contact, day):
            days.append(day)
        day += timedelta(days=1)
    return days


def born(value: Any, tz: str | None = None) -> Contact:
    return Contact(id=1, attributes={"birthday": value}, timezone=tz)


# -- date attributes -------------------------------------------------------------------------------


def test_one_off_date_fires_on_that_day_only():
    trial_end = Contact(id=1, attributes={"trial_ends": "2024-06-15"})
    config = cfg(attribute="trial_ends")
    assert firing_days(config, trial_end, date(2024, 1, 1), date(2026, 12, 31)) == [date(2024, 6, 15)]


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-7, date(2024, 6, 8)),
        (-1, date(2024, 6, 14)),
        (0, date(2024, 6, 15)),
        (3, date(2024, 6, 18)),
        (-30, date(2024, 5, 16)),
    ],
)
def test_offsets_before_and_after(offset, expected):
    trial_end = Contact(id=1, attributes={"trial_ends": "2024-06-15"})
    config = cfg(attribute="trial_ends", offset_days=offset)
    assert firing_days(config, trial_end, date(2024, 1, 1), date(2024, 12, 31)) == [expected]


def test_offset_across_a_month_and_year_boundary():
    config = cfg(attribute="renews", offset_days=-3)
    assert firing_days(
        config, Contact(id=1, attributes={"renews": "2025-01-02"}), date(2024, 12, 1), date(2025, 1, 31)
    ) == [date(2024, 12, 30)]


def test_nested_attribute_and_timestamp_values():
    contact = Contact(id=1, attributes={"trial": {"ends": "2024-06-15T18:30:00+00:00"}})
    assert BLOCK.fires_on(cfg(attribute="trial.ends"), contact, date(2024, 6, 15))


def test_timestamp_attribute_counts_on_the_contacts_local_date():
    """18:30 UTC on 15 June is already 16 June in Shanghai."""
    shanghai = Contact(id=1, attributes={"trial_ends": "2024-06-15T18:30:00Z"}, timezone="Asia/Shanghai")
    assert firing_days(cfg(attribute="trial_ends"), shanghai, date(2024, 6, 1), date(2024, 6, 30)) == [
        date(2024, 6, 16)
    ]


def test_date_only_attribute_is_not_shifted_by_the_timezone():
    """A birthday is a calendar date: it must not move to the 9th for a contact in New York."""
    new_york = born("1990-05-10", "America/New_York")
    assert BLOCK.fires_on(cfg(attribute="birthday"), new_york, date(1990, 5, 10))
    assert not BLOCK.fires_on(cfg(attribute="birthday"), new_york, date(1990, 5, 9))


@pytest.mark.parametrize("value", [None, "", "someday", 3.5j, ["1990-05-10"], True])
def test_missing_or_unreadable_dates_never_fire(value):
    contact = born(value) if value is not None else Contact(id=1)
    assert firing_days(cfg(attribute="birthday", yearly=True), contact, date(2024, 1, 1), date(2024, 12, 31)) == []


# -- yearly anniversaries --------------------------------------------------------------------------


def test_yearly_fires_every_year_from_the_date_on():
    config = cfg(attribute="birthday", yearly=True)
    days = firing_days(config, born("2022-05-10"), date(2020, 1, 1), date(2025, 12, 31))
    assert days == [date(2022, 5, 10), date(2023, 5, 10), date(2024, 5, 10), date(2025, 5, 10)]


def test_yearly_date_in_the_future_does_not_fire_early():
    config = cfg(attribute="renews", yearly=True)
    contact = Contact(id=1, attributes={"renews": "2027-03-01"})
    assert firing_days(config, contact, date(2024, 1, 1), date(2026, 12, 31)) == []


def test_yearly_with_an_offset_a_week_before_each_anniversary():
    config = cfg(attribute="signup", yearly=True, offset_days=-7)
    contact = Contact(id=1, attributes={"signup": "2021-01-03"})
    assert firing_days(config, contact, date(2021, 1, 1), date(2023, 12, 31)) == [
        date(2021, 12, 27),
        date(2022, 12, 27),
        date(2023, 12, 27),
    ]


def test_29_february_anniversary_is_28_february_in_other_years():
    config = cfg(attribute="birthday", yearly=True)
    days = firing_days(config, born("1992-02-29"), date(2023, 1, 1), date(2028, 12, 31))
    assert days == [
        date(2023, 2, 28),
        date(2024, 2, 29),
        date(2025, 2, 28),
        date(2026, 2, 28),
        date(2027, 2, 28),
        date(2028, 2, 29),
    ]


def test_29_february_in_the_future_does_not_fire_before_it():
    config = cfg(attribute="renews", yearly=True)
    contact = Contact(id=1, attributes={"renews": "2028-02-29"})
    assert firing_days(config, contact, date(2024, 1, 1), date(2027, 12, 31)) == []
    assert BLOCK.fires_on(config, contact, date(2028, 2, 29))
    assert BLOCK.fires_on(config, contact, date(2029, 2, 28))


def test_day_before_1_march_is_29_february_in_leap_years():
    config = cfg(attribute="birthday", yearly=True, offset_days=-1)
    days = firing_days(config, born("1999-03-01"), date(2023, 1, 1), date(2024, 12, 31))
    assert days == [date(2023, 2, 28), date(2024, 2, 29)]


def test_one_off_29_february_does_not_fire_in_other_years():
    config = cfg(attribute="birthday")
    assert firing_days(config, born("2024-02-29"), date(2023, 1, 1), date(2026, 12, 31)) == [date(2024, 2, 29)]


# -- subscription end dates ------------------------------------------------------------------------


def subs(*subscriptions: Subscription, tz: str | None = None) -> Contact:
    return Contact(id=1, subscriptions=list(subscriptions), timezone=tz)


def ends(day: str, name: str = "VIP", hour: int = 12, **fields: Any) -> Subscription:
    return Subscription(name=name, end_at=datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC), **fields)


def test_seven_days_before_a_subscription_ends():
    config = cfg(source="subscription_end", offset_days=-7)
    contact = subs(ends("2024-07-20"))
    assert firing_days(config, contact, date(2024, 6, 1), date(2024, 8, 31)) == [date(2024, 7, 13)]


def test_subscription_name_filter_and_any_subscription():
    contact = subs(ends("2024-07-20", "VIP"), ends("2024-09-01", "Box"))
    window = (date(2024, 6, 1), date(2024, 12, 31))
    assert firing_days(cfg(source="subscription_end", subscription="Box"), contact, *window) == [date(2024, 9, 1)]
    assert firing_days(cfg(source="subscription_end"), contact, *window) == [date(2024, 7, 20), date(2024, 9, 1)]
    assert firing_days(cfg(source="subscription_end", subscription="Gold"), contact, *window) == []


def test_subscription_without_end_date_never_fires():
    assert (
        firing_days(
            cfg(source="subscription_end"), subs(Subscription(name="VIP")), date(2024, 1, 1), date(2024, 12, 31)
        )
        == []
    )


def test_subscription_end_counts_on_the_contacts_local_date():
    """A subscription ending at midnight in Shanghai is stored as 16:00 UTC the day before; "7 days before"
    is counted from the local date the customer sees, 1 June, not from 31 May."""
    shanghai_midnight = datetime(2024, 6, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    contact = subs(Subscription(name="VIP", end_at=shanghai_midnight.astimezone(UTC)), tz="Asia/Shanghai")
    config = cfg(source="subscription_end", offset_days=-7)
    assert firing_days(config, contact, date(2024, 5, 1), date(2024, 6, 30)) == [date(2024, 5, 25)]


def test_explicit_timezone_overrides_the_contacts():
    """The journey may be set to one timezone for everyone; the runtime passes it in."""
    contact = subs(ends("2024-06-01", hour=20), tz="Europe/Warsaw")
    config = cfg(source="subscription_end")
    assert BLOCK.fires_on(config, contact, date(2024, 6, 1))
    assert BLOCK.fires_on(config, contact, date(2024, 6, 2), tz=ZoneInfo("Asia/Tokyo"))


def test_yearly_subscription_anniversary_with_one_leap_day_subscription_among_others():
    """A leap-day end date must not hide another subscription's anniversary on 28 February."""
    contact = subs(ends("2020-02-29", "Old"), ends("2021-02-28", "New"))
    config = cfg(source="subscription_end", yearly=True)
    assert BLOCK.fires_on(config, contact, date(2024, 2, 28))
    assert BLOCK.fires_on(config, contact, date(2024, 2, 29))
    assert BLOCK.fires_on(config, contact, date(2023, 2, 28))


# -- block behaviour -------------------------------------------------------------------------------


def test_step_lets_the_contact_in():
    now = datetime(2024, 1, 1, tzinfo=UTC)
    item = Item(enrollment_id=1, contact=Contact(id=1), entered_at=now)
    assert BLOCK.step(cfg(attribute="birthday"), item, StepContext(now=now, node_id="t")) == Go("next")


def test_check_requires_an_attribute_for_attribute_source():
    assert [(p.path, p.message) for p in BLOCK.check(cfg())] == [
        ("/attribute", "choose the date attribute to count from")
    ]
    assert BLOCK.check(cfg(attribute="birthday")) == []
    assert BLOCK.check(cfg(source="subscription_end")) == []


def test_declaration():
    assert BLOCK.category == "trigger"
    assert BLOCK.trigger == "date"
    assert BLOCK.output_ports(cfg(attribute="x")) == ("next",)
    assert BLOCK.needs(cfg(attribute="x")) == NO_NEEDS
    assert BLOCK.needs(cfg(source="subscription_end")) == Needs(subscriptions=True)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"attribute": "b", "at": "9:00"}, "`$.at`"),
        ({"attribute": "b", "at": "24:00"}, "`$.at`"),
        ({"attribute": "b", "offset_days": 5000}, "`$.offset_days`"),
        ({"attribute": "b", "offset_days": "a week"}, "`$.offset_days`"),
        ({"source": "birthday"}, "`$.source`"),
        ({"attribute": ""}, "`$.attribute`"),
        ({"attribute": "b", "yearly": "often"}, "`$.yearly`"),
    ],
)
def test_bad_config_names_the_field(raw, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        BLOCK.parse_config(raw)
    assert fragment in str(exc.value)
