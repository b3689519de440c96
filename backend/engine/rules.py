"""Rule trees shared by conditions, trigger filters and (later) segments. Pure evaluation."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec

from backend.engine.sdk import ConfigProblem, Contact, EventQuery

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


class SubscriptionRule(msgspec.Struct, tag="subscription", tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    """The contact has a product/subscription record matching every given field."""

    name: str | None = None
    status: str | None = None
    auto_renew: bool | None = None
    auto_renew_before: bool | None = None
    ends_within: timedelta | None = None
    ended_within: timedelta | None = None


Rule = AllOf | AnyOf | NotRule | AttributeRule | TagRule | EventRule | ReachableRule | SubscriptionRule


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


def _number(value: Any) -> int | float | None:
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
        a, b = _number(actual), _number(expected)
        return a is not None and b is not None and a == b
    return False


def _ordered(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    """Bring two values into a comparable pair (numbers with numbers, dates with dates), or None."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return None
    if isinstance(actual, int | float) or isinstance(expected, int | float):
        a, b = _number(actual), _number(expected)
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
        count = contact.event_counts.get(rule.query(), 0)
        if rule.op == "at_least":
            return count >= rule.count
        if rule.op == "at_most":
            return count <= rule.count
        return count == rule.count
    if kind is ReachableRule:
        return contact.reachable(rule.channel)
    if kind is SubscriptionRule:
        return any(_subscription_matches(rule, s, now) for s in contact.subscriptions)
    raise TypeError(f"unknown rule {rule!r}")


def _subscription_matches(rule: SubscriptionRule, sub, now: datetime) -> bool:
    if rule.name is not None and sub.name != rule.name:
        return False
    if rule.status is not None and sub.status != rule.status:
        return False
    if rule.auto_renew is not None and sub.auto_renew != rule.auto_renew:
        return False
    if rule.auto_renew_before is not None and sub.auto_renew_before != rule.auto_renew_before:
        return False
    if rule.ends_within is not None and not (sub.end_at and now <= sub.end_at <= now + rule.ends_within):
        return False
    return not (rule.ended_within is not None and not (sub.end_at and now - rule.ended_within <= sub.end_at < now))


def event_queries(rule: Rule) -> list[EventQuery]:
    """Every event count a rule tree needs loaded."""
    kind = type(rule)
    if kind is EventRule:
        return [rule.query()]
    if kind in (AllOf, AnyOf):
        return [q for r in rule.rules for q in event_queries(r)]
    if kind is NotRule:
        return event_queries(rule.rule)
    return []


def needs_subscriptions(rule: Rule) -> bool:
    kind = type(rule)
    if kind is SubscriptionRule:
        return True
    if kind in (AllOf, AnyOf):
        return any(needs_subscriptions(r) for r in rule.rules)
    if kind is NotRule:
        return needs_subscriptions(rule.rule)
    return False


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
    if kind is EventRule:
        problems = filter_problems(rule.where, f"{path}/where")
        if rule.within is not None and rule.within <= timedelta(0):
            problems.append(ConfigProblem(f"{path}/within", "the window must be longer than zero"))
        return problems
    return []
