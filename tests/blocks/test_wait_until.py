"""wait.until: a fixed moment, or the next local time of day (optionally on given weekdays)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
import pytest

from backend.engine.sdk import NO_NEEDS, Contact, Go, Item, StepContext, Wait
from blocks.wait_until import WaitUntil

BLOCK = WaitUntil()
SHANGHAI = ZoneInfo("Asia/Shanghai")
WARSAW = ZoneInfo("Europe/Warsaw")
WEEKDAYS = [0, 1, 2, 3, 4]


def item(entered_at: datetime, tz: str | None = None) -> Item:
    return Item(enrollment_id=1, contact=Contact(id=1, timezone=tz), node_id="w", entered_at=entered_at)


def ctx(now: datetime, journey_timezone: str = "contact") -> StepContext:
    return StepContext(now=now, node_id="w", journey_timezone=journey_timezone)


def at(time: str, weekdays: list[int] | None = None):
    return BLOCK.parse_config({"mode": "time_of_day", "time": time, "weekdays": weekdays or []})


def local(tz, *args) -> datetime:
    return datetime(*args, tzinfo=tz)


def release_time(cfg, entered: datetime, tz: str | None, journey_timezone: str = "contact") -> datetime:
    outcome = BLOCK.step(cfg, item(entered, tz), ctx(entered, journey_timezone))
    assert isinstance(outcome, Wait), outcome
    return outcome.until


# -- a fixed date and time -------------------------------------------------------------------------


def test_datetime_in_the_future_waits_until_it():
    cfg = BLOCK.parse_config({"mode": "datetime", "datetime": "2024-12-24T18:00:00+01:00"})
    entered = datetime(2024, 12, 1, tzinfo=UTC)
    target = datetime(2024, 12, 24, 17, 0, tzinfo=UTC)
    assert BLOCK.step(cfg, item(entered), ctx(entered)) == Wait(until=target)
    assert BLOCK.step(cfg, item(entered), ctx(target - timedelta(seconds=1))) == Wait(until=target)
    assert BLOCK.step(cfg, item(entered), ctx(target)) == Go("next")


def test_datetime_in_the_past_releases_immediately():
    cfg = BLOCK.parse_config({"mode": "datetime", "datetime": "2020-01-01T00:00:00Z"})
    now = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
    assert BLOCK.step(cfg, item(now), ctx(now)) == Go("next")


def test_datetime_without_offset_is_utc_regardless_of_contact_timezone():
    cfg = BLOCK.parse_config({"mode": "datetime", "datetime": "2024-06-01T08:00:00"})
    entered = datetime(2024, 5, 1, tzinfo=UTC)
    assert release_time(cfg, entered, "Asia/Shanghai") == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


# -- next time of day ------------------------------------------------------------------------------


def test_next_weekday_at_ten_in_shanghai_from_friday_afternoon_is_monday_morning():
    cfg = at("10:00", WEEKDAYS)
    friday_afternoon = local(SHANGHAI, 2024, 5, 10, 15, 0)
    assert release_time(cfg, friday_afternoon, "Asia/Shanghai") == local(SHANGHAI, 2024, 5, 13, 10, 0)
    assert local(SHANGHAI, 2024, 5, 13, 10, 0) == datetime(2024, 5, 13, 2, 0, tzinfo=UTC)


def test_next_weekday_at_ten_before_ten_on_a_weekday_is_the_same_day():
    cfg = at("10:00", WEEKDAYS)
    tuesday_morning = local(SHANGHAI, 2024, 5, 7, 8, 59)
    assert release_time(cfg, tuesday_morning, "Asia/Shanghai") == local(SHANGHAI, 2024, 5, 7, 10, 0)


def test_time_of_day_is_in_the_contacts_local_time_not_utc():
    """01:00 UTC on Tuesday is already 09:00 in Shanghai, so 10:00 is one hour away, not 9."""
    cfg = at("10:00")
    entered = datetime(2024, 5, 7, 1, 0, tzinfo=UTC)
    assert release_time(cfg, entered, "Asia/Shanghai") == datetime(2024, 5, 7, 2, 0, tzinfo=UTC)
    assert release_time(cfg, entered, None) == datetime(2024, 5, 7, 10, 0, tzinfo=UTC)


def test_next_weekday_at_ten_across_warsaw_spring_forward():
    """Friday 29 March 2024 is CET (+1); Monday 1 April is CEST (+2): 10:00 local is 08:00 UTC, not 09:00."""
    cfg = at("10:00", WEEKDAYS)
    friday_noon = local(WARSAW, 2024, 3, 29, 12, 0)
    release = release_time(cfg, friday_noon, "Europe/Warsaw")
    assert release == datetime(2024, 4, 1, 8, 0, tzinfo=UTC)
    assert release.astimezone(WARSAW).hour == 10


def test_next_weekday_at_ten_across_warsaw_fall_back():
    """Friday 25 October 2024 is CEST (+2); Monday 28 October is CET (+1): 10:00 local is 09:00 UTC."""
    cfg = at("10:00", WEEKDAYS)
    friday_noon = local(WARSAW, 2024, 10, 25, 12, 0)
    assert release_time(cfg, friday_noon, "Europe/Warsaw") == datetime(2024, 10, 28, 9, 0, tzinfo=UTC)


def test_daily_time_on_the_day_of_the_dst_change():
    cfg = at("10:00")
    saturday_noon = local(WARSAW, 2024, 3, 30, 12, 0)
    assert release_time(cfg, saturday_noon, "Europe/Warsaw") == datetime(2024, 3, 31, 8, 0, tzinfo=UTC)


def test_time_that_does_not_exist_on_spring_forward_night_is_released_that_night_after_the_jump():
    """02:30 does not exist in Warsaw on 31 March 2024 (02:00 → 03:00); the wait ends at 03:30 CEST that
    night, neither before the jump nor a day late."""
    cfg = at("02:30")
    midnight = local(WARSAW, 2024, 3, 31, 0, 0)
    release = release_time(cfg, midnight, "Europe/Warsaw")
    assert release == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    assert release.astimezone(WARSAW).strftime("%d %H:%M") == "31 03:30"


def test_arriving_in_the_repeated_hour_after_fall_back_waits_for_the_next_occurrence():
    """On 27 October 2024 Warsaw lives 02:00-03:00 twice. A contact arriving at 02:10 in the second pass
    (CET, 01:10 UTC) waiting for 02:30 is released at 02:30 CET (01:30 UTC), not at once because the
    first 02:30 (CEST, 00:30 UTC) has already gone by."""
    cfg = at("02:30")
    arrived = datetime(2024, 10, 27, 1, 10, tzinfo=UTC)
    assert arrived.astimezone(WARSAW).strftime("%H:%M %Z") == "02:10 CET"
    assert release_time(cfg, arrived, "Europe/Warsaw") == datetime(2024, 10, 27, 1, 30, tzinfo=UTC)


def test_arriving_exactly_at_the_time_releases_at_once():
    cfg = at("10:00")
    arrived = local(SHANGHAI, 2024, 5, 7, 10, 0)
    assert BLOCK.step(cfg, item(arrived, "Asia/Shanghai"), ctx(arrived)) == Go("next")


def test_arriving_one_minute_after_the_time_waits_for_tomorrow():
    cfg = at("10:00")
    arrived = local(SHANGHAI, 2024, 5, 7, 10, 1)
    assert release_time(cfg, arrived, "Asia/Shanghai") == local(SHANGHAI, 2024, 5, 8, 10, 0)


def test_single_weekday_waits_up_to_a_week():
    saturday = 5
    cfg = at("09:00", [saturday])
    saturday_after_nine = local(WARSAW, 2024, 5, 11, 9, 30)
    assert release_time(cfg, saturday_after_nine, "Europe/Warsaw") == local(WARSAW, 2024, 5, 18, 9, 0)


def test_release_time_is_computed_from_arrival_so_re_checks_agree():
    cfg = at("10:00", WEEKDAYS)
    friday = local(SHANGHAI, 2024, 5, 10, 15, 0)
    monday_ten = local(SHANGHAI, 2024, 5, 13, 10, 0)
    waiting = item(friday, "Asia/Shanghai")
    assert BLOCK.step(cfg, waiting, ctx(local(SHANGHAI, 2024, 5, 12, 23, 0))) == Wait(until=monday_ten)
    assert BLOCK.step(cfg, waiting, ctx(monday_ten)) == Go("next")
    assert BLOCK.step(cfg, waiting, ctx(monday_ten + timedelta(hours=5))) == Go("next")


def test_journey_timezone_setting_overrides_the_contacts_timezone():
    cfg = at("10:00")
    entered = datetime(2024, 5, 7, 0, 0, tzinfo=UTC)
    assert release_time(cfg, entered, "Asia/Shanghai", journey_timezone="Europe/Warsaw") == local(
        WARSAW, 2024, 5, 7, 10, 0
    )


@pytest.mark.parametrize("tz", [None, "", "Mars/Olympus_Mons"])
def test_missing_or_unknown_timezone_falls_back_to_utc(tz):
    cfg = at("10:00")
    entered = datetime(2024, 5, 7, 0, 0, tzinfo=UTC)
    assert release_time(cfg, entered, tz) == datetime(2024, 5, 7, 10, 0, tzinfo=UTC)


def test_arrival_time_with_any_offset_gives_the_same_release():
    cfg = at("10:00")
    entered_utc = datetime(2024, 5, 7, 0, 0, tzinfo=UTC)
    entered_other = entered_utc.astimezone(timezone(timedelta(hours=-7)))
    assert release_time(cfg, entered_utc, "Asia/Shanghai") == release_time(cfg, entered_other, "Asia/Shanghai")


def test_step_batch_agrees_with_step():
    cfg = at("10:00", WEEKDAYS)
    now = local(SHANGHAI, 2024, 5, 13, 10, 0)
    items = [
        item(local(SHANGHAI, 2024, 5, 10, 15, 0), "Asia/Shanghai"),
        item(local(SHANGHAI, 2024, 5, 13, 9, 0), "Europe/Warsaw"),
        item(local(SHANGHAI, 2024, 5, 13, 10, 0), None),
    ]
    assert BLOCK.step_batch(cfg, items, ctx(now)) == [BLOCK.step(cfg, i, ctx(now)) for i in items]


# -- config ----------------------------------------------------------------------------------------


def test_check_requires_the_value_for_the_chosen_mode():
    assert [p.path for p in BLOCK.check(BLOCK.parse_config({"mode": "datetime"}))] == ["/datetime"]
    assert [p.path for p in BLOCK.check(BLOCK.parse_config({"mode": "time_of_day"}))] == ["/time"]
    assert BLOCK.check(at("10:00")) == []
    assert BLOCK.check(BLOCK.parse_config({"mode": "datetime", "datetime": "2024-01-01T00:00:00Z"})) == []


def test_declaration():
    cfg = at("10:00")
    assert BLOCK.output_ports(cfg) == ("next",)
    assert BLOCK.needs(cfg) == NO_NEEDS
    assert BLOCK.pauses is True


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"time": "25:00"}, "`$.time`"),
        ({"time": "9:00"}, "`$.time`"),
        ({"time": "10:00", "weekdays": [1, 7]}, "`$.weekdays[1]`"),
        ({"time": "10:00", "weekdays": "mon"}, "`$.weekdays`"),
        ({"mode": "sometime"}, "`$.mode`"),
        ({"mode": "datetime", "datetime": "next tuesday"}, "`$.datetime`"),
    ],
)
def test_bad_config_names_the_field(raw, fragment):
    with pytest.raises(msgspec.ValidationError) as exc:
        BLOCK.parse_config(raw)
    assert fragment in str(exc.value)
