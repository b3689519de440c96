"""Engagement score definitions: create, change, delete; the histogram of levels and its trend; the daily
upkeep (percentile bands, the trend's snapshot)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa

from backend.audience import definitions, live, scoring, segments
from backend.audience.scoring import LEVELS, ScoreSpec
from backend.audience.segments import KEY_PATTERN, make_key
from backend.db.fastsql import FastSQL
from backend.db.models import ContactScore, Score, ScoreDaily, Segment
from backend.engine.rules import dependencies
from backend.errors import Issue, Refused, conflict, invalid, missing

_scores = Score.__table__
_contact_scores = ContactScore.__table__
_daily = ScoreDaily.__table__

BANDS_EVERY = timedelta(days=1)
"""How often percentile bands are recomputed from the workspace's points."""


def check(spec: ScoreSpec) -> None:
    issues = [Issue("/definition" + p.path, p.message) for p in scoring.spec_problems(spec)]
    if issues:
        raise Refused(400, "The score has problems", issues)


def create(
    conn: sa.Connection,
    workspace_id: int,
    *,
    name: str,
    spec: ScoreSpec,
    description: str = "",
    key: str | None = None,
    now: datetime,
) -> int:
    key = key or make_key(name)
    if not KEY_PATTERN.match(key):
        raise invalid("/key", "use lowercase letters, digits and underscores, e.g. email_engagement")
    taken = sa.select(_scores.c.id).where(_scores.c.workspace_id == workspace_id, _scores.c.key == key)
    if conn.execute(taken).first():
        raise conflict("/key", f"another score already has the key {key!r}")
    check(spec)
    score_id = conn.execute(
        sa.insert(_scores)
        .values(
            workspace_id=workspace_id,
            key=key,
            name=name,
            description=description,
            definition=msgspec.to_builtins(spec),
            status="building",
            created_at=now,
            updated_at=now,
        )
        .returning(_scores.c.id)
    ).scalar_one()
    live.start_build(conn, "scores", score_id, workspace_id)
    return score_id


def row(conn: sa.Connection, workspace_id: int, score_id: int) -> Any:
    found = conn.execute(
        sa.select(_scores).where(_scores.c.id == score_id, _scores.c.workspace_id == workspace_id)
    ).first()
    if found is None:
        raise missing("score")
    return found


def update(
    conn: sa.Connection,
    workspace_id: int,
    score_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    spec: ScoreSpec | None = None,
    now: datetime,
) -> None:
    current = row(conn, workspace_id, score_id)
    values: dict[str, Any] = {"updated_at": now}
    if name is not None:
        values["name"] = name
    if description is not None:
        values["description"] = description
    rebuild = spec is not None and msgspec.to_builtins(spec) != current.definition
    if rebuild:
        check(spec)
        values["definition"] = msgspec.to_builtins(spec)
        values["revision"] = current.revision + 1
        values["cutoffs"] = None
        values["cutoffs_at"] = None
    conn.execute(sa.update(_scores).where(_scores.c.id == score_id).values(**values))
    if rebuild:
        live.start_build(conn, "scores", score_id, workspace_id)


def using(conn: sa.Connection, workspace_id: int, key: str) -> list[str]:
    return [
        name
        for name, raw in conn.execute(sa.select(Segment.name, Segment.rule).where(Segment.workspace_id == workspace_id))
        if key in dependencies(definitions.parse_rule(raw)).scores
    ]


def journeys_using(conn: sa.Connection, workspace_id: int, key: str) -> list[dict[str, Any]]:
    """Journeys whose draft or published version has a rule on the score (conditions, split.rules)."""
    return segments.journeys_using(conn, workspace_id, key, _names_score)


def _names_score(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        if value.get("kind") == "score" and value.get("key") == key:
            return True
        return any(_names_score(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_names_score(v, key) for v in value)
    return False


def delete(conn: sa.Connection, workspace_id: int, score_id: int) -> None:
    current = row(conn, workspace_id, score_id)
    users = using(conn, workspace_id, current.key)
    if users:
        raise conflict("", f"segments use this score: {', '.join(users)}", "The score is in use")
    conn.execute(sa.delete(_scores).where(_scores.c.id == score_id))
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "UPDATE contacts SET scores = scores - %s WHERE workspace_id = %s AND scores ? %s",
            (current.key, workspace_id, current.key),
        )
    else:
        path = '$."' + current.key + '"'
        conn.exec_driver_sql(
            "UPDATE contacts SET scores = json_remove(scores, ?) WHERE workspace_id = ? AND json_type(scores, ?)"
            " IS NOT NULL",
            (path, workspace_id, path),
        )


def histogram(conn: sa.Connection, score_id: int) -> list[int]:
    """Contacts at each level, 1 to 10."""
    counts = [0] * LEVELS
    rows = conn.execute(
        sa.select(_contact_scores.c.level, sa.func.count())
        .where(_contact_scores.c.score_id == score_id)
        .group_by(_contact_scores.c.level)
    )
    for level, count in rows:
        if 1 <= level <= LEVELS:
            counts[level - 1] = count
    return counts


def trend(conn: sa.Connection, score_id: int, today: datetime, days: int = 30) -> list[dict[str, Any]]:
    """The histogram as recorded once a day (by the upkeep), with today's point live."""
    rows = conn.execute(
        sa.select(_daily.c.day, _daily.c.levels).where(_daily.c.score_id == score_id).order_by(_daily.c.day.desc())
    ).all()[:days]
    points = {day: list(levels) for day, levels in rows}
    points[today.date().isoformat()] = histogram(conn, score_id)
    return [{"day": day, "levels": points[day]} for day in sorted(points)[-days:]]


# -------------------------------------------------------------------------------------------------
# Upkeep (the worker, about once a day per score)
# -------------------------------------------------------------------------------------------------


def upkeep(engine: sa.Engine, now: datetime) -> int:
    """For each ready score: store today's histogram for the trend, and refresh percentile bands that are
    a day old. Contacts whose level the new bands change are made due for a re-check now, which moves
    them (and their segments, and journeys waiting on them) through the usual path. Returns the number
    of scores looked after."""
    done = 0
    today = now.date().isoformat()
    with engine.begin() as conn:
        fast = FastSQL(conn)
        rows = fast.all(
            "SELECT s.id, s.workspace_id, s.definition, s.cutoffs_at FROM scores s WHERE s.status = 'ready' AND"
            " (NOT EXISTS (SELECT 1 FROM score_daily d WHERE d.score_id = s.id AND d.day = ?) OR"
            " (s.cutoffs_at IS NULL OR s.cutoffs_at <= ?))",
            (today, fast.dt(now - BANDS_EVERY)),
        )
        for score_id, workspace_id, raw, cutoffs_at in rows:
            spec = msgspec.convert(fast.read_json(raw), ScoreSpec)
            if spec.bands.mode == "percentile" and (
                cutoffs_at is None or fast.read_dt(cutoffs_at) <= now - BANDS_EVERY
            ):
                _refresh_bands(fast, score_id, workspace_id, spec, now)
            elif cutoffs_at is None or fast.read_dt(cutoffs_at) <= now - BANDS_EVERY:
                fast.execute("UPDATE scores SET cutoffs_at = ? WHERE id = ?", (fast.dt(now), score_id))
            fast.execute(
                "INSERT INTO score_daily (score_id, day, workspace_id, levels) VALUES (?, ?, ?, ?::jsonb)"
                " ON CONFLICT (score_id, day) DO UPDATE SET levels = excluded.levels",
                (score_id, today, workspace_id, fast.json(histogram(conn, score_id))),
            )
            done += 1
    return done


def _refresh_bands(fast: FastSQL, score_id: int, workspace_id: int, spec: ScoreSpec, now: datetime) -> None:
    rows = fast.all("SELECT contact_id, points, level, computed_at FROM contact_scores WHERE score_id = ?", (score_id,))
    current: list[tuple[int, float, int]] = []
    for cid, points, level, at in rows:
        if spec.fading.mode == "decay":
            points = points * 0.5 ** ((now - fast.read_dt(at)) / spec.fading.half_life)
        current.append((cid, points, level))
    cutoffs = scoring.deciles([p for _cid, p, _level in current])
    fast.execute(
        "UPDATE scores SET cutoffs = ?::jsonb, cutoffs_at = ? WHERE id = ?",
        (fast.json(cutoffs), fast.dt(now), score_id),
    )
    moved = [cid for cid, points, level in current if scoring.level(spec, points, cutoffs) != level]
    fast.many(
        "INSERT INTO audience_checks (contact_id, workspace_id, due_at) VALUES (?, ?, ?)"
        " ON CONFLICT (contact_id) DO UPDATE SET due_at = excluded.due_at",
        [(cid, workspace_id, fast.dt(now)) for cid in moved],
    )
