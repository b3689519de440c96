"""Saved segments: create, change, delete, and what the web app shows about them (size and its trend,
members, a live count while a rule is being written, the journeys that use a segment)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa

from backend.audience import definitions, live
from backend.db.fastsql import FastSQL
from backend.db.models import ComputedProperty, Journey, JourneyVersion, Segment, SegmentMember
from backend.engine.rules import (
    ComputedRule,
    NotRule,
    Rule,
    SegmentRule,
    dependencies,
    evaluate,
    rule_needs,
    rule_problems,
)
from backend.errors import Issue, Refused, conflict, invalid, missing
from backend.runtime.snapshots import load_contacts, load_needs

_segments = Segment.__table__
_members = SegmentMember.__table__

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,99}$")
PREVIEW_SAMPLE = 20_000
"""A live count while editing evaluates every contact up to this many, and estimates beyond."""


def make_key(name: str) -> str:
    """``"VIP — ends in 7 days"`` → ``vip_ends_in_7_days`` (ASCII; other scripts fall back to ``segment``)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")[:80]
    return key or "segment"


def check_rule(conn: sa.Connection, workspace_id: int, rule: Rule, pointer: str, own_key: str | None) -> None:
    """Everything a saved rule must get right: values, and names of segments and computed properties
    that exist, with no segment naming itself through others."""
    issues = [Issue(pointer + p.path, p.message) for p in rule_problems(rule)]
    known_segments = dict(
        conn.execute(sa.select(_segments.c.key, _segments.c.rule).where(_segments.c.workspace_id == workspace_id)).all()
    )
    known_computed = set(
        conn.execute(sa.select(ComputedProperty.key).where(ComputedProperty.workspace_id == workspace_id)).scalars()
    )
    for path, node in _with_paths(rule, pointer):
        if isinstance(node, SegmentRule) and node.segment not in known_segments and node.segment != own_key:
            issues.append(Issue(path + "/segment", f"there is no segment {node.segment!r}"))
        if isinstance(node, ComputedRule) and node.key not in known_computed:
            issues.append(Issue(path + "/key", f"there is no computed property {node.key!r}"))
    if own_key is not None:
        rules = {k: definitions.parse_rule(v) for k, v in known_segments.items() if k != own_key}
        rules[own_key] = rule
        try:
            definitions.dependency_order(rules)
        except ValueError as exc:
            issues.append(Issue(pointer, f"segments may not name each other in a circle: {exc}"))
    if issues:
        raise Refused(400, "The rule has problems", issues)


def _with_paths(rule: Rule, path: str) -> Iterator[tuple[str, Rule]]:
    yield path, rule
    rules = getattr(rule, "rules", None)
    if isinstance(rules, list):
        for i, child in enumerate(rules):
            yield from _with_paths(child, f"{path}/rules/{i}")
    if isinstance(rule, NotRule):
        yield from _with_paths(rule.rule, f"{path}/rule")


def create(
    conn: sa.Connection,
    workspace_id: int,
    *,
    name: str,
    rule: Rule,
    description: str = "",
    key: str | None = None,
    user_id: int | None,
    now: datetime,
) -> int:
    key = key or _free_key(conn, workspace_id, make_key(name))
    if not KEY_PATTERN.match(key):
        raise invalid("/key", "use lowercase letters, digits and underscores, e.g. vip_ending_soon")
    taken = sa.select(_segments.c.id).where(_segments.c.workspace_id == workspace_id, _segments.c.key == key)
    if conn.execute(taken).first():
        raise conflict("/key", f"another segment already has the key {key!r}")
    check_rule(conn, workspace_id, rule, "/rule", key)
    segment_id = conn.execute(
        sa.insert(_segments)
        .values(
            workspace_id=workspace_id,
            key=key,
            name=name,
            description=description,
            rule=msgspec.to_builtins(rule),
            status="building",
            created_at=now,
            updated_at=now,
            created_by=user_id,
        )
        .returning(_segments.c.id)
    ).scalar_one()
    live.start_build(conn, "segments", segment_id, workspace_id)
    return segment_id


def _free_key(conn: sa.Connection, workspace_id: int, base: str) -> str:
    taken = set(
        conn.execute(
            sa.select(_segments.c.key).where(_segments.c.workspace_id == workspace_id, _segments.c.key.like(base + "%"))
        ).scalars()
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def row(conn: sa.Connection, workspace_id: int, segment_id: int) -> Any:
    found = conn.execute(
        sa.select(_segments).where(_segments.c.id == segment_id, _segments.c.workspace_id == workspace_id)
    ).first()
    if found is None:
        raise missing("segment")
    return found


def update(
    conn: sa.Connection,
    workspace_id: int,
    segment_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    rule: Rule | None = None,
    now: datetime,
) -> None:
    current = row(conn, workspace_id, segment_id)
    values: dict[str, Any] = {"updated_at": now}
    if name is not None:
        values["name"] = name
    if description is not None:
        values["description"] = description
    rebuild = rule is not None and msgspec.to_builtins(rule) != current.rule
    if rebuild:
        check_rule(conn, workspace_id, rule, "/rule", current.key)
        values["rule"] = msgspec.to_builtins(rule)
        values["revision"] = current.revision + 1
    conn.execute(sa.update(_segments).where(_segments.c.id == segment_id).values(**values))
    if rebuild:
        live.start_build(conn, "segments", segment_id, workspace_id)


def delete(conn: sa.Connection, workspace_id: int, segment_id: int) -> None:
    current = row(conn, workspace_id, segment_id)
    users = journeys_using(conn, workspace_id, current.key)
    if any(j["status"] in ("published", "paused") for j in users):
        names = ", ".join(j["name"] for j in users if j["status"] in ("published", "paused"))
        raise conflict("", f"journeys use this segment: {names}; change or archive them first", "The segment is in use")
    others = [
        name
        for other_key, name, raw in conn.execute(
            sa.select(_segments.c.key, _segments.c.name, _segments.c.rule).where(
                _segments.c.workspace_id == workspace_id, _segments.c.id != segment_id
            )
        )
        if current.key in dependencies(definitions.parse_rule(raw)).segments
    ]
    if others:
        raise conflict("", f"other segments name this one: {', '.join(others)}", "The segment is in use")
    conn.execute(sa.delete(_segments).where(_segments.c.id == segment_id))


# -------------------------------------------------------------------------------------------------
# Reading
# -------------------------------------------------------------------------------------------------


def sizes(conn: sa.Connection, workspace_id: int) -> dict[int, int]:
    """Current size of every segment, from the daily counters (no scan of members)."""
    rows = conn.execute(
        sa.text(
            'SELECT segment_id, COALESCE(SUM(entered), 0) - COALESCE(SUM("left"), 0) FROM segment_daily'
            " WHERE workspace_id = :ws GROUP BY segment_id"
        ),
        {"ws": workspace_id},
    )
    return {segment_id: int(size) for segment_id, size in rows}


@dataclass
class DayPoint:
    day: str
    size: int
    entered: int
    left: int


def trend(conn: sa.Connection, segment_id: int, today: datetime, days: int = 30) -> list[DayPoint]:
    """Size at the end of each of the last ``days`` days (today included), with that day's entries and exits."""
    rows = conn.execute(
        sa.text('SELECT day, entered, "left" FROM segment_daily WHERE segment_id = :id ORDER BY day'),
        {"id": segment_id},
    ).all()
    per_day = {day: (int(entered), int(left)) for day, entered, left in rows}
    size = sum(e - lft for e, lft in per_day.values())
    points = []
    for offset in range(days):
        day = (today.date() - timedelta(days=offset)).isoformat()
        entered, left = per_day.get(day, (0, 0))
        points.append(DayPoint(day, size, entered, left))
        size -= entered - left
    return list(reversed(points))


def journeys_using(
    conn: sa.Connection, workspace_id: int, key: str, names: Callable[[Any, str], bool] | None = None
) -> list[dict[str, Any]]:
    """Journeys whose draft or published version names the segment (triggers, waits, rules), or what
    ``names`` looks for (a score's key in rules)."""
    names = names or _names_segment
    rows = conn.execute(
        sa.select(Journey.id, Journey.name, Journey.status, Journey.draft, JourneyVersion.graph)
        .outerjoin(JourneyVersion, JourneyVersion.id == Journey.published_version_id)
        .where(Journey.workspace_id == workspace_id, Journey.status != "archived")
        .order_by(Journey.name)
    )
    found = []
    for journey_id, name, status, draft, graph in rows:
        if names(draft, key) or names(graph, key):
            found.append({"id": journey_id, "name": name, "status": status})
    return found


def _names_segment(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        if value.get("segment") == key:
            return True
        return any(_names_segment(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_names_segment(v, key) for v in value)
    return False


def members(conn: sa.Connection, segment_id: int, *, after: int | None, limit: int) -> list[tuple[int, datetime]]:
    """(contact id, entered at), newest contacts first, cursor on the contact id."""
    query = sa.select(_members.c.contact_id, _members.c.entered_at).where(_members.c.segment_id == segment_id)
    if after is not None:
        query = query.where(_members.c.contact_id < after)
    return [tuple(r) for r in conn.execute(query.order_by(_members.c.contact_id.desc()).limit(limit))]


def contact_segments(conn: sa.Connection, workspace_id: int, contact_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(_segments.c.id, _segments.c.key, _segments.c.name, _members.c.entered_at)
        .join(_members, _members.c.segment_id == _segments.c.id)
        .where(_members.c.contact_id == contact_id, _segments.c.workspace_id == workspace_id)
        .order_by(_segments.c.name)
    )
    return [{"id": i, "key": k, "name": n, "entered_at": at} for i, k, n, at in rows]


@dataclass
class Preview:
    count: int
    evaluated: int
    total: int
    sample: list[int]

    @property
    def estimated(self) -> bool:
        return self.evaluated < self.total


def preview(conn: sa.Connection, workspace_id: int, rule: Rule, now: datetime, sample: int = 10) -> Preview:
    """How many contacts match a rule being written: every contact up to ``PREVIEW_SAMPLE``, else an
    evenly spread sample of that many, scaled up (the API says it is an estimate)."""
    check_rule(conn, workspace_id, rule, "/rule", None)
    fast = FastSQL(conn)
    total, low, high = fast.all(
        "SELECT count(*), COALESCE(min(id), 0), COALESCE(max(id), 0) FROM contacts WHERE workspace_id = ?",
        (workspace_id,),
    )[0]
    if total <= PREVIEW_SAMPLE:
        ids = [r[0] for r in fast.all("SELECT id FROM contacts WHERE workspace_id = ?", (workspace_id,))]
    else:
        step = max(1, (high - low + 1) // PREVIEW_SAMPLE)
        ids = [
            r[0]
            for r in fast.all(
                "SELECT id FROM contacts WHERE workspace_id = ? AND id % ? = 0 ORDER BY id LIMIT ?",
                (workspace_id, step, PREVIEW_SAMPLE),
            )
        ]
    matched: list[int] = []
    needs = rule_needs(rule)
    for start in range(0, len(ids), 5000):
        contacts = load_contacts(conn, ids[start : start + 5000])
        load_needs(conn, workspace_id, contacts, needs, now)
        matched += [cid for cid, contact in contacts.items() if evaluate(rule, contact, now)]
    evaluated = len(ids)
    count = len(matched) if evaluated >= total else round(len(matched) * total / max(evaluated, 1))
    return Preview(count, evaluated, total, sorted(matched, reverse=True)[:sample])
