"""The one rule language: conditions, trigger filters, segments and (later) scores' filters and
``split.rules`` all use these rule trees. Pure evaluation.

Besides "does it hold now" (:func:`evaluate`), a rule can tell when its answer may next change with
nothing but the clock moving (:func:`horizon`): "no login for 30 days" flips when the last login turns
30 days old, "package ends in 7 days" at a local midnight. Segments store that moment per contact, so
the time-based re-check visits only contacts whose answer can have changed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec

from backend.engine.sdk import ConfigProblem, Contact, EventQuery, Needs, Subscription
from backend.engine.timeutil import zone

Op = Literal[
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "in",
    "not_in",
    "exists",
    "not_exists",
    "within_last",
    "more_than_ago",
]
"""``within_last`` / ``more_than_ago`` compare a date value against now with an ISO 8601 duration."""

Key = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=200,
        title="Attribute",
        description="Dotted path into the attributes, e.g. plan or address.city",
        extra_json_schema={"x-source": "attributes"},
    ),
]
EventName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, title="Event", extra_json_schema={"x-source": "events"})
]
TagName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, title="Tag", extra_json_schema={"x-source": "tags"})
]
SegmentKey = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=100, title="Segment", extra_json_schema={"x-source": "segments"}),
]
ComputedKey = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=100, title="Computed property", extra_json_schema={"x-source": "computed"}),
]
ScoreKey = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=100, title="Score", extra_json_schema={"x-source": "scores"}),
]
Level = Annotated[int, msgspec.Meta(ge=1, le=10)]
PackageName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, extra_json_schema={"x-source": "packages"})]
Days = Annotated[int, msgspec.Meta(ge=0, le=36_500, title="Days")]


class PropertyFilter(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=200, title="Property")]
    op: Op = "eq"
    value: Any = None


class AllOf(msgspec.Struct, tag="all", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    """Every rule holds."""

    rules: list[Rule] = []


class AnyOf(msgspec.Struct, tag="any", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    """At least one rule holds."""

    rules: list[Rule] = []


class NotRule(msgspec.Struct, tag="not", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    rule: Rule


class AttributeRule(msgspec.Struct, tag="attribute", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    key: Key
    op: Op = "eq"
    value: Any = None


class TagRule(msgspec.Struct, tag="tag", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    tag: TagName
    present: bool = True


class EventRule(msgspec.Struct, tag="event", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    """The contact performed the event at least, at most or exactly this many times within the window."""

    event: EventName
    op: Literal["at_least", "at_most", "exactly"] = "at_least"
    count: Annotated[int, msgspec.Meta(ge=0)] = 1
    within: timedelta | None = None
    where: list[PropertyFilter] = []

    def query(self) -> EventQuery:
        return EventQuery(
            name=self.event,
            within=self.within,
            # Sorted so that filter order does not matter; by repr because values of different types
            # (null and a string on one key) do not order.
            where=tuple(
                sorted(
                    ((f.key, (f.op, _freeze(f.value))) for f in self.where),
                    key=lambda f: (f[0], f[1][0], repr(f[1][1])),
                )
            ),
        )


class ReachableRule(msgspec.Struct, tag="reachable", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    """The contact has an address on the channel and has not unsubscribed from it."""

    channel: Literal["email", "sms", "wechat", "push"]


class DayRange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A whole number of calendar days: exactly, at least, at most, or between two bounds (inclusive)."""

    op: Literal["exactly", "at_least", "at_most", "between"] = "exactly"
    days: Days = 0
    to_days: Annotated[Days | None, msgspec.Meta(title="And (days)")] = None

    def holds(self, value: int) -> bool:
        if self.op == "exactly":
            return value == self.days
        if self.op == "at_least":
            return value >= self.days
        if self.op == "at_most":
            return value <= self.days
        return self.days <= value <= (self.to_days if self.to_days is not None else self.days)


def _days(measures: str) -> dict[str, str]:
    return {"x-widget": "day-range", "x-days": measures}


_OLDER_FORM = {"deprecated": True}
"""Still accepted and honoured; the editor shows such a field only when a rule already uses it."""


class SubscriptionRule(msgspec.Struct, tag="subscription", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    """The contact has one product or subscription that matches every part below at once. Days count
    calendar days: a package ending on 10 December ends in 7 days on 3 December."""

    # Days are local calendar days in the contact's time zone (UTC when unknown); ``ends_in`` is the end
    # date minus today, so "ends in 0 days" is the end date itself and "has an active package" is
    # ``ends_in`` at least 1. docs/marketers.md works through the iPresso cases.
    names: Annotated[list[PackageName], msgspec.Meta(title="Package is one of")] = []
    status: str | None = None
    # ``x-days`` tells the editor what the count measures, so it can show the calendar date it means.
    ends_in: Annotated[
        DayRange | None, msgspec.Meta(title="Days until it ends", extra_json_schema=_days("until_end"))
    ] = None
    started: Annotated[
        DayRange | None, msgspec.Meta(title="Days since it started", extra_json_schema=_days("since_start"))
    ] = None
    duration_days: Annotated[
        DayRange | None, msgspec.Meta(title="Length in days", extra_json_schema=_days("length"))
    ] = None
    auto_renew: Annotated[bool | None, msgspec.Meta(title="Auto-renew is on")] = None
    auto_renew_before: Annotated[bool | None, msgspec.Meta(title="Auto-renew was on before its last change")] = None
    where: Annotated[list[PropertyFilter], msgspec.Meta(title="Record attributes")] = []
    name: Annotated[str | None, msgspec.Meta(title="Package name (single)", extra_json_schema=_OLDER_FORM)] = None
    """Older form of ``names`` with one name; still honoured."""
    ends_within: Annotated[timedelta | None, msgspec.Meta(extra_json_schema=_OLDER_FORM)] = None
    """Older form: the end is within this span from now."""
    ended_within: Annotated[timedelta | None, msgspec.Meta(extra_json_schema=_OLDER_FORM)] = None
    """Older form: the end was within this span before now."""


class SegmentRule(msgspec.Struct, tag="segment", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    """The contact is (or is not) a member of another segment."""

    segment: SegmentKey
    present: Annotated[bool, msgspec.Meta(title="Is in the segment")] = True


class ComputedRule(msgspec.Struct, tag="computed", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    """Compare a computed property (e.g. rentals in the last 30 days) with a value."""

    key: ComputedKey
    op: Op = "gte"
    value: Any = None


class ScoreRule(msgspec.Struct, tag="score", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    """The contact's engagement score is between two levels (1 to 10, both included). A contact with no
    score (no scored events) never matches."""

    key: ScoreKey
    min: Annotated[Level, msgspec.Meta(title="From level")] = 1
    max: Annotated[Level, msgspec.Meta(title="To level")] = 10


Rule = (
    AllOf
    | AnyOf
    | NotRule
    | AttributeRule
    | TagRule
    | EventRule
    | ReachableRule
    | SubscriptionRule
    | SegmentRule
    | ComputedRule
    | ScoreRule
)


class _FrozenDict(tuple):
    """A JSON object made hashable for an :class:`EventQuery` key, told apart from a frozen array."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is _FrozenDict and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((_FrozenDict, tuple(self)))


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return _FrozenDict(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _thaw(value: Any) -> Any:
    if type(value) is _FrozenDict:
        return {k: _thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def lookup(data: dict[str, Any], key: str) -> Any:
    """Dotted-path lookup; returns ``MISSING`` when any part is absent."""
    if key in data:
        return data[key]
    current: Any = data
    for part in key.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return MISSING
    return current


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _as_duration(value: Any) -> timedelta | None:
    if isinstance(value, timedelta):
        return value
    try:
        return msgspec.convert(value, timedelta)
    except (msgspec.ValidationError, TypeError):
        return None


def as_number(value: Any) -> int | float | None:
    """A number, or a string that spells one (attributes pushed over the API are often ``"42"``); booleans
    are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _equal(actual: Any, expected: Any) -> bool:
    """JSON equality, except that a number equals a string spelling the same number (42 == "42")."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if actual == expected:
        return True
    if isinstance(actual, int | float) or isinstance(expected, int | float):
        a, b = as_number(actual), as_number(expected)
        return a is not None and b is not None and a == b
    return False


def _ordered(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    """Bring two values into a comparable pair (numbers with numbers, dates with dates), or None."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return None
    if isinstance(actual, int | float) or isinstance(expected, int | float):
        a, b = as_number(actual), as_number(expected)
        if a is not None and b is not None:
            return a, b
    a, b = _as_datetime(actual), _as_datetime(expected)
    if a is not None and b is not None and isinstance(actual, str | datetime | date):
        return a, b
    if isinstance(actual, str) and isinstance(expected, str):
        return actual, expected
    return None


def compare(actual: Any, op: str, expected: Any, now: datetime | None = None) -> bool:
    """Compare one value; type mismatches are simply false, never an error."""
    if op == "exists":
        return actual is not MISSING and actual is not None
    if op == "not_exists":
        return actual is MISSING or actual is None
    if actual is MISSING:
        return op in ("ne", "not_in", "not_contains")
    if op == "eq":
        return _equal(actual, expected)
    if op == "ne":
        return not _equal(actual, expected)
    if op in ("gt", "gte", "lt", "lte"):
        pair = _ordered(actual, expected)
        if pair is None:
            return False
        a, b = pair
        if op == "gt":
            return a > b
        if op == "gte":
            return a >= b
        if op == "lt":
            return a < b
        return a <= b
    if op == "contains":
        return _contains(actual, expected)
    if op == "not_contains":
        return not _contains(actual, expected)
    if op == "starts_with":
        return isinstance(actual, str) and isinstance(expected, str) and actual.startswith(expected)
    if op == "ends_with":
        return isinstance(actual, str) and isinstance(expected, str) and actual.endswith(expected)
    if op == "in":
        return isinstance(expected, list | tuple) and any(_equal(actual, e) for e in expected)
    if op == "not_in":
        return isinstance(expected, list | tuple) and not any(_equal(actual, e) for e in expected)
    if op in ("within_last", "more_than_ago"):
        moment, span = _as_datetime(actual), _as_duration(expected)
        if moment is None or span is None or now is None:
            return False
        # "Within the last 7 days" is the past 7 days: a date still in the future is not in it.
        return now - span <= moment <= now if op == "within_last" else moment < now - span
    raise ValueError(f"unknown operator {op!r}")


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, list | tuple | set):
        return any(_equal(item, expected) for item in actual)
    return False


def matches_filters(properties: dict[str, Any], filters: list[PropertyFilter], now: datetime | None = None) -> bool:
    return all(compare(lookup(properties, f.key), f.op, f.value, now) for f in filters)


def matches_frozen_filters(
    properties: dict[str, Any], where: tuple[tuple[str, Any], ...], now: datetime | None = None
) -> bool:
    """Filter form stored in an :class:`EventQuery` (hashable), as used by the runtime's counting.

    Relative-date filters (``within_last``, ``more_than_ago``) need ``now``; without it they never match."""
    return all(compare(lookup(properties, key), op, _thaw(value), now) for key, (op, value) in where)


def evaluate(rule: Rule, contact: Contact, now: datetime) -> bool:
    kind = type(rule)
    if kind is AttributeRule:
        return compare(lookup(contact.attributes, rule.key), rule.op, rule.value, now)
    if kind is TagRule:
        return (rule.tag in contact.tags) is rule.present
    if kind is AllOf:
        return all(evaluate(r, contact, now) for r in rule.rules)
    if kind is AnyOf:
        return any(evaluate(r, contact, now) for r in rule.rules)
    if kind is NotRule:
        return not evaluate(rule.rule, contact, now)
    if kind is EventRule:
        return _count_holds(rule, contact.event_counts.get(rule.query(), 0))
    if kind is ReachableRule:
        return contact.reachable(rule.channel)
    if kind is SubscriptionRule:
        today = _today(contact, now)
        return any(_subscription_matches(rule, s, now, today, contact) for s in contact.subscriptions)
    if kind is SegmentRule:
        return (rule.segment in contact.segments) is rule.present
    if kind is ComputedRule:
        return compare(contact.computed.get(rule.key, MISSING), rule.op, rule.value, now)
    if kind is ScoreRule:
        value = contact.scores.get(rule.key)
        return value is not None and rule.min <= value <= rule.max
    raise TypeError(f"unknown rule {rule!r}")


def _count_holds(rule: EventRule, count: int) -> bool:
    if rule.op == "at_least":
        return count >= rule.count
    if rule.op == "at_most":
        return count <= rule.count
    return count == rule.count


def _today(contact: Contact, now: datetime) -> date:
    return now.astimezone(zone(contact.timezone)).date()


def _local_day(moment: datetime, contact: Contact) -> date:
    return moment.astimezone(zone(contact.timezone)).date()


def duration_days(sub: Subscription, contact: Contact) -> int | None:
    """A record's length in days: its ``duration`` (ISO 8601, e.g. P30D) when given, else the number of
    days from its start date to its end date."""
    if sub.duration:
        span = _as_duration(sub.duration)
        if span is not None:
            return span.days
    if sub.start_at is not None and sub.end_at is not None:
        return (_local_day(sub.end_at, contact) - _local_day(sub.start_at, contact)).days
    return None


def _subscription_matches(rule: SubscriptionRule, sub: Subscription, now: datetime, today: date, contact) -> bool:
    if rule.name is not None and sub.name != rule.name:
        return False
    if rule.names and sub.name not in rule.names:
        return False
    if rule.status is not None and sub.status != rule.status:
        return False
    if rule.auto_renew is not None and sub.auto_renew != rule.auto_renew:
        return False
    if rule.auto_renew_before is not None and sub.auto_renew_before != rule.auto_renew_before:
        return False
    if rule.ends_in is not None and (
        sub.end_at is None or not rule.ends_in.holds((_local_day(sub.end_at, contact) - today).days)
    ):
        return False
    if rule.started is not None and (
        sub.start_at is None or not rule.started.holds((today - _local_day(sub.start_at, contact)).days)
    ):
        return False
    if rule.duration_days is not None:
        length = duration_days(sub, contact)
        if length is None or not rule.duration_days.holds(length):
            return False
    if rule.where and not matches_filters(sub.attributes, rule.where, now):
        return False
    if rule.ends_within is not None and not (sub.end_at and now <= sub.end_at <= now + rule.ends_within):
        return False
    return not (rule.ended_within is not None and not (sub.end_at and now - rule.ended_within <= sub.end_at < now))


# --------------------------------------------------------------------------------------------------
# When the answer can next change by the clock alone
# --------------------------------------------------------------------------------------------------


def horizon(rule: Rule, contact: Contact, now: datetime) -> datetime | None:
    """The earliest moment after ``now`` at which :func:`evaluate` may give another answer although no
    event, trait or membership changed; None when only such changes can alter it.

    It may be early (the re-check then finds nothing changed and asks again later) but never late, so a
    segment stored with it is as current as if every contact were re-evaluated every second."""
    kind = type(rule)
    if kind in (AllOf, AnyOf):
        return _earliest(horizon(r, contact, now) for r in rule.rules)
    if kind is NotRule:
        return horizon(rule.rule, contact, now)
    if kind is EventRule:
        return _event_horizon(rule, contact)
    if kind is AttributeRule:
        return _attribute_horizon(rule, lookup(contact.attributes, rule.key), now)
    if kind is ComputedRule:
        return _attribute_horizon(rule, contact.computed.get(rule.key, MISSING), now)
    if kind is SubscriptionRule:
        return _earliest(_subscription_horizon(rule, s, now, contact) for s in contact.subscriptions)
    return None


def _earliest(moments: Iterable[datetime | None]) -> datetime | None:
    found = [m for m in moments if m is not None]
    return min(found) if found else None


def _event_horizon(rule: EventRule, contact: Contact) -> datetime | None:
    """Counts in a window only fall as events age out: the oldest event in the window leaves first,
    and when the rule needs none left, the newest one decides."""
    if rule.within is None:
        return None
    query = rule.query()
    span = contact.event_spans.get(query)
    if span is None:
        return None
    oldest, newest = span
    count = contact.event_counts.get(query, 0)
    if rule.op == "at_least":
        if count < rule.count:
            return None
        return (newest if rule.count <= 1 else oldest) + rule.within
    if rule.op == "at_most":
        if count <= rule.count:
            return None
        return (newest if rule.count == 0 else oldest) + rule.within
    return oldest + rule.within if count >= rule.count else None


def _attribute_horizon(rule: AttributeRule | ComputedRule, actual: Any, now: datetime) -> datetime | None:
    """``within_last`` holds while now - span ≤ moment ≤ now; ``more_than_ago`` once moment < now - span."""
    if rule.op not in ("within_last", "more_than_ago"):
        return None
    moment, span = _as_datetime(actual), _as_duration(rule.value)
    if moment is None or span is None:
        return None
    candidates = [moment, moment + span + _TICK] if rule.op == "within_last" else [moment + span + _TICK]
    return _earliest(c for c in candidates if c > now)


_TICK = timedelta(microseconds=1)


def _local_midnight(day: date, contact: Contact) -> datetime:
    """The instant the given local day starts, in UTC."""
    return datetime.combine(day, datetime.min.time(), tzinfo=zone(contact.timezone)).astimezone(UTC)


def _day_count_change(rng: DayRange, value: int, step: int, today: date, contact: Contact) -> datetime | None:
    """``value`` moves by ``step`` (-1 for days until an end, +1 for days since a start) at every local
    midnight: the first midnight at which ``rng.holds`` gives another answer."""
    low = None if rng.op == "at_most" else rng.days
    high = (
        None if rng.op == "at_least" else (rng.to_days if rng.op == "between" and rng.to_days is not None else rng.days)
    )
    holds = rng.holds(value)
    if step < 0:
        if holds:
            days = None if low is None else value - low + 1
        else:
            days = value - high if high is not None and value > high else None
    elif holds:
        days = None if high is None else high - value + 1
    else:
        days = low - value if low is not None and value < low else None
    return None if days is None or days <= 0 else _local_midnight(today + timedelta(days=days), contact)


def _subscription_horizon(rule: SubscriptionRule, sub: Subscription, now: datetime, contact) -> datetime | None:
    today = _today(contact, now)
    found: list[datetime | None] = []
    if rule.ends_in is not None and sub.end_at is not None:
        found.append(
            _day_count_change(rule.ends_in, (_local_day(sub.end_at, contact) - today).days, -1, today, contact)
        )
    if rule.started is not None and sub.start_at is not None:
        found.append(
            _day_count_change(rule.started, (today - _local_day(sub.start_at, contact)).days, 1, today, contact)
        )
    if rule.ends_within is not None and sub.end_at is not None:
        found += [m for m in (sub.end_at - rule.ends_within, sub.end_at + _TICK) if m > now]
    if rule.ended_within is not None and sub.end_at is not None:
        found += [m for m in (sub.end_at, sub.end_at + rule.ended_within) if m > now]
    if rule.where:
        found += [
            _attribute_horizon(AttributeRule(key=f.key, op=f.op, value=f.value), lookup(sub.attributes, f.key), now)
            for f in rule.where
        ]
    return _earliest(found)


# --------------------------------------------------------------------------------------------------
# What a rule needs loaded, and what it depends on
# --------------------------------------------------------------------------------------------------


def walk(rule: Rule) -> Iterator[Rule]:
    """Every rule in the tree, the root first."""
    yield rule
    kind = type(rule)
    if kind in (AllOf, AnyOf):
        for r in rule.rules:
            yield from walk(r)
    elif kind is NotRule:
        yield from walk(rule.rule)


def event_queries(rule: Rule) -> list[EventQuery]:
    """Every event count a rule tree needs loaded."""
    return [r.query() for r in walk(rule) if type(r) is EventRule]


def needs_subscriptions(rule: Rule) -> bool:
    return any(type(r) is SubscriptionRule for r in walk(rule))


def needs_segments(rule: Rule) -> bool:
    return any(type(r) is SegmentRule for r in walk(rule))


def rule_needs(rule: Rule) -> Needs:
    return Needs(
        subscriptions=needs_subscriptions(rule),
        events=tuple(dict.fromkeys(event_queries(rule))),
        segments=needs_segments(rule),
    )


class Dependencies(msgspec.Struct, frozen=True):
    """What can change a rule's answer for a contact: used to skip rules an update cannot affect."""

    events: frozenset[str] = frozenset()
    traits: bool = False
    """Attributes, tags, addresses, consent, time zone."""
    subscriptions: bool = False
    computed: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    scores: frozenset[str] = frozenset()
    clock: bool = False
    """The answer can change as time passes (see :func:`horizon`)."""


def dependencies(rule: Rule) -> Dependencies:
    events: set[str] = set()
    computed: set[str] = set()
    segments: set[str] = set()
    scores: set[str] = set()
    traits = subscriptions = clock = False
    for r in walk(rule):
        kind = type(r)
        if kind is EventRule:
            events.add(r.event)
            clock = clock or r.within is not None
        elif kind in (AttributeRule, TagRule, ReachableRule):
            traits = True
            clock = clock or getattr(r, "op", None) in ("within_last", "more_than_ago")
        elif kind is SubscriptionRule:
            subscriptions = True
            traits = True  # day counts use the contact's time zone
            clock = (
                clock
                or any(v is not None for v in (r.ends_in, r.started, r.ends_within, r.ended_within))
                or any(f.op in ("within_last", "more_than_ago") for f in r.where)
            )
        elif kind is ComputedRule:
            computed.add(r.key)
            clock = clock or r.op in ("within_last", "more_than_ago")
        elif kind is SegmentRule:
            segments.add(r.segment)
        elif kind is ScoreRule:
            scores.add(r.key)
    return Dependencies(
        events=frozenset(events),
        traits=traits,
        subscriptions=subscriptions,
        computed=frozenset(computed),
        segments=frozenset(segments),
        scores=frozenset(scores),
        clock=clock,
    )


# --------------------------------------------------------------------------------------------------
# Semantic checks: values whose type is fine but which could never match as meant
# --------------------------------------------------------------------------------------------------


def value_problem(op: str, value: Any) -> str | None:
    """Why ``value`` cannot work with ``op`` (a rule that silently never matches), or None."""
    if op in ("within_last", "more_than_ago"):
        span = _as_duration(value)
        if span is None or span < timedelta(0):
            return "use a duration such as P7D (7 days) or PT12H (12 hours)"
    elif op in ("in", "not_in"):
        if not isinstance(value, list):
            return "use a list of values"
    elif op in ("gt", "gte", "lt", "lte", "starts_with", "ends_with", "contains", "not_contains") and value is None:
        return "choose a value to compare with"
    return None


def filter_problems(filters: list[PropertyFilter], path: str) -> list[ConfigProblem]:
    """Problems in property filters; ``path`` is the pointer of the list (e.g. ``/where``)."""
    problems = []
    for i, f in enumerate(filters):
        message = value_problem(f.op, f.value)
        if message is not None:
            problems.append(ConfigProblem(f"{path}/{i}/value", message))
    return problems


def rule_problems(rule: Rule, path: str = "") -> list[ConfigProblem]:
    """Problems anywhere in a rule tree, each with the pointer of the offending field."""
    kind = type(rule)
    if kind is AttributeRule:
        message = value_problem(rule.op, rule.value)
        return [] if message is None else [ConfigProblem(f"{path}/value", message)]
    if kind in (AllOf, AnyOf):
        return [p for i, r in enumerate(rule.rules) for p in rule_problems(r, f"{path}/rules/{i}")]
    if kind is NotRule:
        return rule_problems(rule.rule, f"{path}/rule")
    if kind is ScoreRule and rule.min > rule.max:
        return [ConfigProblem(f"{path}/max", "the highest level must not be below the lowest")]
    if kind is EventRule:
        problems = filter_problems(rule.where, f"{path}/where")
        if rule.within is not None and rule.within <= timedelta(0):
            problems.append(ConfigProblem(f"{path}/within", "the window must be longer than zero"))
        return problems
    return []
