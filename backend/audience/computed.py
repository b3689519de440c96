"""Computed properties (User.com's "aggregators"): one value per contact aggregated from their events —
count, distinct count, sum, min, max, average, first or last value — over a rolling window or all time.

The definition and the aggregation are pure; :func:`compute` reads the events of the given contacts in
one query and aggregates them with the same property filters conditions use (``rules.matches_filters``),
so a filter means the same thing everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa

from backend.db.fastsql import FastSQL
from backend.engine.rules import EventName, PropertyFilter, as_number, filter_problems, lookup, matches_filters
from backend.engine.sdk import ConfigProblem
from backend.runtime.snapshots import chunks

_decode = msgspec.json.decode

Aggregate = Literal["count", "distinct_count", "sum", "min", "max", "avg", "first", "last"]
ZERO_WHEN_EMPTY = frozenset({"count", "distinct_count", "sum"})
"""Aggregates that are 0, not absent, for a contact without matching events (so "= 0" finds them)."""
NEEDS_PROPERTY = frozenset({"distinct_count", "sum", "min", "max", "avg"})


class ComputedSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    event: EventName
    aggregate: Aggregate = "count"
    property: (
        Annotated[
            str,
            msgspec.Meta(max_length=200, title="Property", description="Event property to aggregate, e.g. amount"),
        ]
        | None
    ) = None
    where: list[PropertyFilter] = []
    window: Annotated[
        timedelta | None,
        msgspec.Meta(title="Over the last", description="A rolling window such as P30D; empty means all time"),
    ] = None


def spec_problems(spec: ComputedSpec) -> list[ConfigProblem]:
    problems = filter_problems(spec.where, "/where")
    if spec.aggregate in NEEDS_PROPERTY and not spec.property:
        problems.append(ConfigProblem("/property", f"choose the event property to {spec.aggregate.replace('_', ' ')}"))
    if spec.window is not None and spec.window <= timedelta(0):
        problems.append(ConfigProblem("/window", "the window must be longer than zero"))
    return problems


def empty_value(spec: ComputedSpec) -> Any:
    return 0 if spec.aggregate in ZERO_WHEN_EMPTY else None


def aggregate(spec: ComputedSpec, rows: Sequence[tuple[datetime, dict[str, Any]]]) -> Any:
    """The value over ``rows`` (occurred_at, properties) sorted oldest first, already filtered.
    Without a property, ``first`` and ``last`` are the event's time (ISO 8601), e.g. "last login"."""
    kind = spec.aggregate
    if kind == "count":
        return len(rows)
    if kind in ("first", "last"):
        if not rows:
            return None
        at, props = rows[0] if kind == "first" else rows[-1]
        if not spec.property:
            return at.isoformat()
        value = lookup(props, spec.property)
        return None if value is _MISSING else value
    values = [lookup(props, spec.property or "") for _at, props in rows]
    values = [v for v in values if v is not _MISSING and v is not None]
    if kind == "distinct_count":
        return len({msgspec.json.encode(v) for v in values})
    numbers = [n for n in map(as_number, values) if n is not None]
    if kind == "sum":
        return _tidy(sum(numbers))
    if not numbers:
        return None
    if kind == "min":
        return _tidy(min(numbers))
    if kind == "max":
        return _tidy(max(numbers))
    return _tidy(round(sum(numbers) / len(numbers), 6))


_MISSING = lookup({}, "x")


def _tidy(value: float | int) -> float | int:
    """Whole numbers as ints, so templates print 3, not 3.0."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def compute(
    conn: sa.Connection, workspace_id: int, spec: ComputedSpec, contact_ids: Sequence[int], now: datetime
) -> dict[int, tuple[Any, datetime | None]]:
    """Value and re-check time per contact: the moment the oldest counted event leaves the window
    (None for all-time properties and contacts with nothing in the window).

    Raw SQL (``FastSQL``): a backfill reads millions of rows, and SQLAlchemy's per-row processing
    would cost more than the database. Counts and first/last times are aggregated by the database."""
    fast = FastSQL(conn)
    out: dict[int, tuple[Any, datetime | None]] = {}
    where = "workspace_id = ? AND name = ?"
    base: list[Any] = [workspace_id, spec.event]
    if spec.window is not None:
        where += " AND occurred_at >= ?"
        base.append(fast.dt(now - spec.window))
    ids = sorted(set(contact_ids))
    in_sql = spec.aggregate in ("count", "first", "last") and not spec.where and not spec.property
    read_dt, decode = fast.read_dt, _decode
    props_column = "properties::text" if fast.postgres else "properties"
    for part in chunks(ids):
        in_list, params = fast.id_list(part)
        if in_sql:
            rows = fast.all(
                f"SELECT contact_id, count(*), min(occurred_at), max(occurred_at) FROM events WHERE {where}"
                f" AND contact_id {in_list} GROUP BY contact_id",
                (*base, *params),
            )
            for cid, count, oldest, newest in rows:
                oldest = read_dt(oldest)
                until = oldest + spec.window if spec.window is not None else None
                if spec.aggregate == "count":
                    out[cid] = (count, until)
                else:
                    moment = oldest if spec.aggregate == "first" else read_dt(newest)
                    out[cid] = (moment.astimezone(UTC).isoformat(), until)
        else:
            grouped: dict[int, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
            rows = fast.all(
                f"SELECT contact_id, occurred_at, {props_column} FROM events WHERE {where} AND contact_id {in_list}"
                " ORDER BY contact_id, occurred_at, id",
                (*base, *params),
            )
            for cid, at, props in rows:
                props = decode(props) if isinstance(props, str | bytes) else props
                props = props or {}
                if spec.where and not matches_filters(props, spec.where, now):
                    continue
                grouped[cid].append((read_dt(at).astimezone(UTC), props))
            for cid, matched in grouped.items():
                until = matched[0][0] + spec.window if spec.window is not None and matched else None
                out[cid] = (aggregate(spec, matched), until)
        for cid in part:
            if cid not in out:
                out[cid] = (empty_value(spec), None)
    return out
