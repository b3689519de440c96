"""Hold contacts until a fixed date/time, or until the next given local time of day (optionally on
given weekdays) in each contact's timezone, e.g. "next weekday at 10:00"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from backend.engine.sdk import BlockType, ConfigProblem, Go, Item, Outcome, StepContext, Wait
from backend.engine.timeutil import as_utc, contact_zone, next_local_time, parse_hhmm
from blocks.translations import for_block

HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", title="Local time (HH:MM)")]
Weekday = Annotated[int, msgspec.Meta(ge=0, le=6)]


class WaitUntilConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mode: Literal["datetime", "time_of_day"] = "time_of_day"
    datetime: Annotated[datetime | None, msgspec.Meta(title="Date and time (UTC unless it has an offset)")] = None
    local: Annotated[bool, msgspec.Meta(title="That date and time in each contact's time zone")] = False
    """With ``mode: datetime``: 10:00 means 10:00 where each contact is (broadcasts at local time)."""
    time: HHMM | None = None
    weekdays: Annotated[list[Weekday], msgspec.Meta(title="Only on these weekdays (0 = Monday; empty = any day)")] = []


class WaitUntil(BlockType):
    type = "wait.until"
    translations = for_block("wait.until")
    label = "Wait until"
    description = "Hold contacts until a date, or the next chosen time of day in their timezone."
    icon = "alarm-clock"
    category = "flow"
    pauses = True
    Config = WaitUntilConfig

    def check(self, config: WaitUntilConfig) -> list[ConfigProblem]:
        if config.mode == "datetime" and config.datetime is None:
            return [ConfigProblem("/datetime", "choose the date and time to wait until")]
        if config.mode == "time_of_day" and config.time is None:
            return [ConfigProblem("/time", "choose the time of day to wait until")]
        return []

    def target(self, config: WaitUntilConfig, item: Item, ctx: StepContext) -> datetime:
        """Computed from when the contact arrived, so re-checks agree without stored state."""
        if config.mode == "datetime":
            if config.local:
                wall = config.datetime.replace(tzinfo=None)
                return as_utc(wall.replace(tzinfo=contact_zone(item.contact, ctx)))
            return as_utc(config.datetime)
        tz = contact_zone(item.contact, ctx)
        return next_local_time(item.entered_at, tz, parse_hhmm(config.time or "00:00"), config.weekdays)

    def step(self, config: WaitUntilConfig, item: Item, ctx: StepContext) -> Outcome:
        until = self.target(config, item, ctx)
        return Go("next") if ctx.now >= until else Wait(until=until)
