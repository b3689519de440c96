"""A SQL superset of a segment rule, so that a backfill only loads and evaluates the contacts that can
match: of a million contacts, "three rentals in 30 days" can only hold for those with a rental in the
window, "VIP" only for those whose tags mention it.

:func:`superset` translates the parts of a rule that SQL can decide cheaply and safely into a condition
on ``contacts c``; a contact outside it can neither match now nor start matching as the clock moves
(only an event or a trait change can bring it in, and those go through the event path). The rule
language (``rules.evaluate``) still decides every contact inside it, so the SQL only has to be a
superset, never exact: string comparisons use the JSON text, unsure cases give no condition at all
(every contact is evaluated, as without a prefilter).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from backend.audience.computed import ZERO_WHEN_EMPTY
from backend.audience.definitions import Definitions
from backend.db.fastsql import FastSQL
from backend.engine.rules import (
    AllOf,
    AnyOf,
    AttributeRule,
    ComputedRule,
    EventRule,
    Rule,
    SegmentRule,
    SubscriptionRule,
    TagRule,
    as_number,
)

Condition = tuple[str, list[Any]]

_PLAIN = re.compile(r"^[A-Za-z0-9 _.,:;!?@#$%&*()+=/<>\[\]{}|~^'-]*$")
"""Strings every JSON encoder writes as themselves between quotes (no escapes, no non-ASCII)."""
_KEY = re.compile(r"^[A-Za-z0-9_]+$")
_NUMERIC = ("count", "distinct_count", "sum", "min", "max", "avg")
_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "="}


def superset(rule: Rule, fast: FastSQL, workspace_id: int, now: datetime, defs: Definitions) -> Condition | None:
    """A condition on ``contacts c`` that holds for every contact the rule can match, or None."""
    return _Translate(fast, workspace_id, now, defs).rule(rule)


class _Translate:
    def __init__(self, fast: FastSQL, workspace_id: int, now: datetime, defs: Definitions) -> None:
        self.fast = fast
        self.pg = fast.postgres
        self.ws = workspace_id
        self.now = now
        self.computed = {c.key: c for c in defs.computed}
        self.segments = {s.key: s for s in defs.segments}
        self.handlers: dict[type, Callable[[Any], Condition | None]] = {
            AllOf: self.all_of,
            AnyOf: self.any_of,
            TagRule: self.tag,
            AttributeRule: self.attribute,
            EventRule: self.event,
            SubscriptionRule: self.subscription,
            ComputedRule: self.computed_value,
            SegmentRule: self.segment,
        }

    def rule(self, rule: Rule) -> Condition | None:
        handler = self.handlers.get(type(rule))
        return handler(rule) if handler else None

    def all_of(self, rule: AllOf) -> Condition | None:
        parts = [c for c in map(self.rule, rule.rules) if c is not None]
        if not parts:
            return None
        return " AND ".join(f"({sql})" for sql, _ in parts), [p for _, params in parts for p in params]

    def any_of(self, rule: AnyOf) -> Condition | None:
        parts = [self.rule(r) for r in rule.rules]
        if not parts or any(p is None for p in parts):
            return None
        return " OR ".join(f"({sql})" for sql, _ in parts), [p for _, params in parts for p in params]  # type: ignore[misc]

    def _mentions(self, column: str, value: str) -> Condition:
        """The column's JSON text contains the string ``value`` as a JSON string."""
        quoted = '"' + value + '"'
        if self.pg:
            return f"strpos(c.{column}::text, ?) > 0", [quoted]
        return f"instr(c.{column}, ?) > 0", [quoted]

    def tag(self, rule: TagRule) -> Condition | None:
        if not rule.present:
            return None
        if self.pg:
            return "c.tags @> ?::jsonb", [msgspec.json.encode([rule.tag]).decode()]
        return self._mentions("tags", rule.tag) if _PLAIN.match(rule.tag) else None

    def attribute(self, rule: AttributeRule) -> Condition | None:
        values = [rule.value] if rule.op == "eq" else rule.value if rule.op == "in" else None
        if not isinstance(values, list) or not values:
            return None
        # Strings only, and none that spell a number ("42" also equals the number 42).
        if not all(isinstance(v, str) and _PLAIN.match(v) and as_number(v) is None for v in values):
            return None
        parts = [self._mentions("attributes", v) for v in values]
        return " OR ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]

    def event(self, rule: EventRule) -> Condition | None:
        if not (rule.op == "at_least" and rule.count >= 1):
            return None  # "at most" and "exactly 0" hold for contacts without any such event
        sql = "EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = ? AND e.contact_id = c.id AND e.name = ?"
        params: list[Any] = [self.ws, rule.event]
        if rule.within is not None:
            # A window only slides forward: nothing in it now, nothing in it later without a new event.
            sql += " AND e.occurred_at >= ?"
            params.append(self.fast.dt(self.now - rule.within))
        return sql + ")", params

    def subscription(self, rule: SubscriptionRule) -> Condition | None:
        """Only the parts of the record the clock cannot change (name, status, auto-renew)."""
        where = ["s.workspace_id = ?", "s.contact_id = c.id"]
        params: list[Any] = [self.ws]
        names = list(rule.names) + ([rule.name] if rule.name is not None else [])
        if rule.names and rule.name is not None:
            names = [n for n in rule.names if n == rule.name]
        if names:
            where.append(f"s.name IN ({', '.join('?' * len(names))})")
            params += names
        if rule.status is not None:
            where.append("s.status = ?")
            params.append(rule.status)
        for column, value in (("auto_renew", rule.auto_renew), ("auto_renew_before", rule.auto_renew_before)):
            if value is not None:
                where.append(f"s.{column} = ?")
                params.append(value)
        return f"EXISTS (SELECT 1 FROM subscriptions s WHERE {' AND '.join(where)})", params

    def computed_value(self, rule: ComputedRule) -> Condition | None:
        prop = self.computed.get(rule.key)
        op = _OPS.get(rule.op)
        value = rule.value
        if (
            prop is None
            or prop.status != "ready"
            or prop.spec.aggregate not in _NUMERIC
            or op is None
            or not _KEY.match(rule.key)
            or isinstance(value, bool)
            or not isinstance(value, int | float)
        ):
            return None
        if prop.spec.aggregate in ZERO_WHEN_EMPTY and _holds_for_zero(rule.op, value):
            return None  # also every contact without a stored value
        if self.pg:
            return (
                f"CASE WHEN jsonb_typeof(c.computed->'{rule.key}') = 'number'"
                f" THEN (c.computed->>'{rule.key}')::numeric {op} ? ELSE false END",
                [value],
            )
        path = f'$."{rule.key}"'
        return (
            f"json_type(c.computed, '{path}') IN ('integer', 'real') AND json_extract(c.computed, '{path}') {op} ?",
            [value],
        )

    def segment(self, rule: SegmentRule) -> Condition | None:
        other = self.segments.get(rule.segment)
        if not rule.present or other is None or other.status != "ready":
            return None
        return "EXISTS (SELECT 1 FROM segment_members m WHERE m.segment_id = ? AND m.contact_id = c.id)", [other.id]


def _holds_for_zero(op: str, value: float) -> bool:
    return {"gt": value < 0, "gte": value <= 0, "lt": value > 0, "lte": value >= 0, "eq": value == 0}[op]
