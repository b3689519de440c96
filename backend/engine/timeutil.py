"""Local-time arithmetic for waits and date triggers (pure; zoneinfo only)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backend.engine.sdk import Contact, StepContext

UTC = UTC


@cache
def zone(name: str | None) -> ZoneInfo | timezone:
    """An IANA zone by name; unknown or empty names fall back to UTC rather than failing a step."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def contact_zone(contact: Contact, ctx: StepContext) -> ZoneInfo | timezone:
    if ctx.journey_timezone and ctx.journey_timezone != "contact":
        return zone(ctx.journey_timezone)
    return zone(contact.timezone)


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def next_local_time(now: datetime, tz, at: time, weekdays: list[int] | None = None) -> datetime:
    """The first moment at or after ``now`` that is ``at`` o'clock local time on one of ``weekdays``
    (0 = Monday; empty = any day). Works across DST changes because it builds local wall times.

    Candidates are compared as instants (in UTC): Python compares datetimes sharing a tzinfo by wall time,
    which gets the repeated hour after a fall-back wrong. A time in that hour occurs twice (``fold`` 0 and
    1); a time that does not exist (spring-forward gap) falls after the jump."""
    local_now = now.astimezone(tz)
    for offset in range(0, 8):
        day = local_now.date() + timedelta(days=offset)
        if weekdays and day.weekday() not in weekdays:
            continue
        first = datetime.combine(day, at, tzinfo=tz).astimezone(UTC)
        second = datetime.combine(day, at, tzinfo=tz).replace(fold=1).astimezone(UTC)
        for candidate in (first, second) if second > first else (first,):
            if candidate >= now:
                return candidate
    raise ValueError("no matching weekday")  # unreachable with valid weekdays


def local_date(moment: datetime, tz) -> date:
    return moment.astimezone(tz).date()


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def quiet_until(start: time, end: time, tz, now: datetime) -> datetime | None:
    """If ``now`` falls in the daily quiet window [start, end) in ``tz`` (it may span midnight, e.g.
    22:00 to 08:00), the moment the window ends; otherwise None."""
    if start == end:
        return None
    local = now.astimezone(tz)
    moment = local.time().replace(tzinfo=None)
    if start < end:
        inside, end_day = start <= moment < end, local.date()
    else:
        inside = moment >= start or moment < end
        end_day = local.date() + timedelta(days=1) if moment >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC)
