"""Start a journey N days before or after a date: a date attribute (birthday, trial end) or the end date
of a product/subscription. Checked daily at a chosen local time in each contact's timezone."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

import msgspec

from backend.engine.rules import Key, _as_datetime, lookup
from backend.engine.sdk import BlockType, ConfigProblem, Contact, Go, Item, Needs, StepContext

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

    def due_dates(self, config: TriggerDateConfig, contact: Contact) -> list[date]:
        """The contact's local dates on which this trigger fires (before ``yearly`` is applied)."""
        if config.source == "attribute":
            moment = _as_datetime(lookup(contact.attributes, config.attribute or ""))
            anchors = [moment.date()] if moment else []
        else:
            anchors = [
                s.end_at.date()
                for s in contact.subscriptions
                if s.end_at is not None and (config.subscription is None or s.name == config.subscription)
            ]
        return [anchor + timedelta(days=config.offset_days) for anchor in anchors]

    def fires_on(self, config: TriggerDateConfig, contact: Contact, today: date) -> bool:
        """Does the trigger fire for this contact on their local date ``today``?"""
        for due in self.due_dates(config, contact):
            if due == today:
                return True
            if config.yearly and (due.month, due.day) == (today.month, today.day) and due.year <= today.year:
                return True
            if config.yearly and (due.month, due.day) == (2, 29) and (today.month, today.day) == (2, 28):
                # Leap-day anniversaries fire on 28 February in other years.
                return not _is_leap(today.year)
        return False

    def step(self, config: TriggerDateConfig, item: Item, ctx: StepContext) -> Go:
        return Go("next")


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
