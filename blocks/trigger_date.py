"""Start a journey N days before or after a date: a date attribute (birthday, trial end) or the end date
of a product/subscription. Checked daily at a chosen local time in each contact's timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Annotated, Any, Literal

import msgspec

from backend.engine.rules import Key, lookup
from backend.engine.sdk import BlockType, ConfigProblem, Contact, Go, Item, Needs, StepContext
from backend.engine.timeutil import as_utc, zone
from blocks.translations import for_block

HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", title="Local time (HH:MM)")]


class TriggerDateConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    source: Literal["attribute", "subscription_end"] = "attribute"
    attribute: Key | None = None
    subscription: Annotated[str | None, msgspec.Meta(title="Product name (any when empty)")] = None
    offset_days: Annotated[int, msgspec.Meta(ge=-3650, le=3650, title="Days after the date (negative: before)")] = 0
    at: HHMM = "09:00"
    yearly: Annotated[bool, msgspec.Meta(title="Every year (anniversaries, birthdays)")] = False


class TriggerDate(BlockType):
    type = "trigger.date"
    translations = for_block("trigger.date")
    label = "On a date"
    description = "Contacts enter N days before or after a date, e.g. 7 days before a subscription ends."
    icon = "calendar"
    category = "trigger"
    trigger = "date"
    Config = TriggerDateConfig

    def check(self, config: TriggerDateConfig) -> list[ConfigProblem]:
        if config.source == "attribute" and not config.attribute:
            return [ConfigProblem("/attribute", "choose the date attribute to count from")]
        return []

    def needs(self, config: TriggerDateConfig) -> Needs:
        return Needs(subscriptions=config.source == "subscription_end")

    def anchors(self, config: TriggerDateConfig, contact: Contact, tz: tzinfo | None = None) -> list[date]:
        """The contact's local dates the trigger counts from (before the offset): the attribute's date, or
        the end date of each matching subscription. Moments are read in ``tz`` (default: the contact's
        timezone); a date without a time (a birthday) is a calendar date and is never shifted."""
        tz = tz or zone(contact.timezone)
        if config.source == "attribute":
            anchor = _local_date(lookup(contact.attributes, config.attribute or ""), tz)
            return [anchor] if anchor is not None else []
        return [
            as_utc(s.end_at).astimezone(tz).date()
            for s in contact.subscriptions
            if s.end_at is not None and (config.subscription is None or s.name == config.subscription)
        ]

    def due_dates(self, config: TriggerDateConfig, contact: Contact, tz: tzinfo | None = None) -> list[date]:
        """The contact's local dates on which this trigger fires (before ``yearly`` is applied)."""
        return [anchor + timedelta(days=config.offset_days) for anchor in self.anchors(config, contact, tz)]

    def fires_on(self, config: TriggerDateConfig, contact: Contact, today: date, tz: tzinfo | None = None) -> bool:
        """Does the trigger fire for this contact on their local date ``today`` (a date in ``tz``, by default
        the contact's timezone)?

        Yearly triggers fire on every anniversary from the date's own year on, shifted by the offset; a
        29 February anniversary falls on 28 February in other years."""
        offset = timedelta(days=config.offset_days)
        counted_from = today - offset  # the anniversary that, shifted by the offset, lands on today
        for anchor in self.anchors(config, contact, tz):
            if anchor == counted_from:
                return True
            if (
                config.yearly
                and counted_from.year >= anchor.year
                and _anniversary(anchor, counted_from.year) == counted_from
            ):
                return True
        return False

    def step(self, config: TriggerDateConfig, item: Item, ctx: StepContext) -> Go:
        return Go("next")


def _anniversary(anchor: date, year: int) -> date:
    try:
        return anchor.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


def _local_date(value: Any, tz: tzinfo) -> date | None:
    """The local calendar date of an attribute value: an ISO date as is, a moment in ``tz`` (a moment
    without an offset is read as written), epoch seconds in ``tz``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return value
    elif isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        return None
    return moment.date() if moment.tzinfo is None else moment.astimezone(tz).date()
