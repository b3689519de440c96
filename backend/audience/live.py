"""Keeping segment membership and computed values current, three ways:

* :func:`update` — incrementally, inside the transaction that stores a batch of events or trait changes
  (called by the one event path), for just the contacts and definitions the batch can affect;
* :func:`recheck` — by time, for contacts whose ``audience_checks.due_at`` has come: a window slid, a
  package's end came a day closer. Each evaluation stores when its answer can next change
  (``rules.horizon``), so the job never rescans every contact;
* :func:`build_step` — backfill after a definition is saved, a chunk of contacts per transaction, with
  progress on the definition's row.

Membership changes come back as :class:`Derived` events (``segment_entered`` / ``segment_left``) for the
event path to store and hand to journeys.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.audience import definitions, prefilter, scoring
from backend.audience.computed import compute
from backend.audience.definitions import ComputedDef, Definitions, ScoreDef, SegmentDef
from backend.db.fastsql import FastSQL, int_array
from backend.engine.rules import evaluate, horizon
from backend.engine.sdk import SCORE_CHANGED, SEGMENT_ENTERED, SEGMENT_LEFT, Contact, Needs
from backend.runtime.events import IncomingEvent
from backend.runtime.snapshots import chunks, json_dict, load_contacts, load_needs

log = logging.getLogger("waymark.audience")

ENTERED, LEFT = SEGMENT_ENTERED, SEGMENT_LEFT
BUILD_CHUNK = 5000
"""Contacts evaluated per backfill transaction."""
PREFILTERED_SPAN = 10
"""With a SQL prefilter, a backfill step covers this many chunks' worth of contact ids."""


@dataclass(slots=True)
class Derived:
    contact_id: int
    name: str
    properties: dict[str, Any]
    occurred_at: datetime | None = None


@dataclass
class _Pass:
    """What one update, re-check or backfill chunk changes; written at the end, set-based."""

    workspace_id: int
    now: datetime
    joins: list[tuple[SegmentDef, int]] = field(default_factory=list)
    leaves: list[tuple[SegmentDef, int]] = field(default_factory=list)
    computed: dict[int, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))
    """Per contact, computed values that changed."""
    due: dict[int, datetime] = field(default_factory=dict)
    """Per contact, the earliest moment something may change by the clock."""
    score_rows: list[tuple[int, int, float, int | None]] = field(default_factory=list)
    """(score id, contact id, points, level or None when the contact no longer has a score)."""
    score_levels: dict[int, dict[str, int | None]] = field(default_factory=lambda: defaultdict(dict))
    """Per contact, score levels that changed (None: no score any more)."""
    level_changes: list[tuple[ScoreDef, int, int | None, int | None]] = field(default_factory=list)
    """(score, contact, previous level, new level) for ``score_changed`` events."""

    def due_at(self, contact_id: int, moment: datetime | None) -> None:
        if moment is not None:
            current = self.due.get(contact_id)
            if current is None or moment < current:
                self.due[contact_id] = moment


# -------------------------------------------------------------------------------------------------
# Incremental
# -------------------------------------------------------------------------------------------------


def update(
    conn: sa.Connection,
    workspace_id: int,
    events: Sequence[IncomingEvent],
    changed_contacts: Collection[int],
    now: datetime,
) -> list[Derived]:
    """Re-evaluate what a stored batch can affect: computed properties over the batch's event names for
    the contacts who did them, and segments whose rules read those events, changed traits, changed
    computed values or changed segments."""
    if not events and not changed_contacts:
        return []
    defs = definitions.load(conn, workspace_id)
    if defs.empty:
        return []
    by_name: dict[str, set[int]] = defaultdict(set)
    for event in events:
        by_name[event.name].add(event.contact_id)
    work = _Pass(workspace_id, now)
    computed_changed = _refresh_computed(
        conn, work, [(c, by_name[c.spec.event]) for c in defs.computed if c.spec.event in by_name], exact=False
    )
    scores_changed = _refresh_scores(
        conn,
        work,
        [(p, set().union(*(by_name[n] for n in p.spec.names() if n in by_name))) for p in defs.scores],
    )
    changed = set(changed_contacts)

    def affected(seg: SegmentDef, members_changed: dict[str, set[int]]) -> set[int]:
        ids: set[int] = set()
        for name in seg.deps.events & by_name.keys():
            ids |= by_name[name]
        if seg.deps.traits or seg.deps.subscriptions:
            ids |= changed
        for key in seg.deps.computed:
            ids |= computed_changed.get(key, set())
        for key in seg.deps.scores:
            ids |= scores_changed.get(key, set())
        for key in seg.deps.segments:
            ids |= members_changed.get(key, set())
        if seg.status != "ready":  # contacts the backfill has not reached yet get their answer from it
            ids = {i for i in ids if i <= seg.built_through}
        return ids

    _evaluate_segments(conn, defs, work, affected)
    return _write(conn, work, exact=False)


# -------------------------------------------------------------------------------------------------
# By time
# -------------------------------------------------------------------------------------------------


def claim_due(conn: sa.Connection, now: datetime, limit: int) -> dict[int, list[int]]:
    """Take contacts whose re-check time has come (removing their rows, in the caller's transaction:
    a crash puts them back). PostgreSQL workers skip rows another worker holds, so they share the load."""
    fast = FastSQL(conn)
    if fast.postgres:
        rows = fast.all(
            "DELETE FROM audience_checks WHERE contact_id IN (SELECT contact_id FROM audience_checks"
            " WHERE due_at <= ? ORDER BY due_at LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING workspace_id, contact_id",
            (now, limit),
        )
    else:
        rows = fast.all(
            "SELECT workspace_id, contact_id FROM audience_checks WHERE due_at <= ? ORDER BY due_at LIMIT ?",
            (fast.dt(now), limit),
        )
        for part in chunks([cid for _ws, cid in rows]):
            in_list, params = fast.id_list(part)
            fast.execute(f"DELETE FROM audience_checks WHERE contact_id {in_list}", params)
    out: dict[int, list[int]] = defaultdict(list)
    for workspace_id, contact_id in rows:
        out[workspace_id].append(contact_id)
    return out


def recheck(conn: sa.Connection, workspace_id: int, contact_ids: Sequence[int], now: datetime) -> list[Derived]:
    """Recompute windowed computed values and clock-dependent segments of these contacts, store their
    next re-check time exactly, and return the membership changes."""
    defs = definitions.load(conn, workspace_id)
    work = _Pass(workspace_id, now)
    if defs.empty:
        return []
    ids = set(contact_ids)
    computed_changed = _refresh_computed(
        conn, work, [(c, ids) for c in defs.computed if c.spec.window is not None], exact=True
    )
    scores_changed = _refresh_scores(conn, work, [(p, ids) for p in defs.scores])

    def affected(seg: SegmentDef, members_changed: dict[str, set[int]]) -> set[int]:
        found = set(ids) if seg.deps.clock else set()
        for key in seg.deps.computed:
            found |= computed_changed.get(key, set())
        for key in seg.deps.scores:
            found |= scores_changed.get(key, set())
        for key in seg.deps.segments:
            found |= members_changed.get(key, set())
        if seg.status != "ready":
            found = {i for i in found if i <= seg.built_through}
        return found

    _evaluate_segments(conn, defs, work, affected)
    for contact_id in ids:
        work.due.setdefault(contact_id, None)  # type: ignore[arg-type]  # no time-based change left: no row
    return _write(conn, work, exact=True)


# -------------------------------------------------------------------------------------------------
# Backfill
# -------------------------------------------------------------------------------------------------


@dataclass
class BuildReport:
    kind: str = ""
    definition_id: int = 0
    evaluated: int = 0
    finished: bool = False


def build_step(engine: sa.Engine, now: datetime, chunk: int = BUILD_CHUNK) -> BuildReport | None:
    """Evaluate the next chunk of contacts for one definition that is being built; None when nothing
    is being built. Definitions are claimed with SKIP LOCKED, so several workers build side by side."""
    with engine.begin() as conn:
        fast = FastSQL(conn)
        lock = " FOR UPDATE SKIP LOCKED" if fast.postgres else ""
        for table, kind in (("computed_properties", "computed"), ("scores", "score"), ("segments", "segment")):
            row = fast.all(
                f"SELECT id, workspace_id, revision, built_through FROM {table} WHERE status = 'building'"
                f" ORDER BY updated_at, id LIMIT 1{lock}"
            )
            if row:
                definition_id, workspace_id, revision, built_through = row[0]
                return _build_chunk(conn, kind, table, definition_id, workspace_id, revision, built_through, now, chunk)
    return None


def _build_chunk(conn, kind, table, definition_id, workspace_id, revision, built_through, now, chunk) -> BuildReport:
    fast = FastSQL(conn)
    defs = definitions.load(conn, workspace_id)
    seg = next(s for s in defs.segments if s.id == definition_id) if kind == "segment" else None
    # A segment whose rule has a SQL superset covers many more contacts per step: only those that can
    # match (and its current members, who may have to leave) are loaded and evaluated.
    condition = prefilter.superset(seg.rule, fast, workspace_id, now, defs) if seg is not None else None
    span = chunk if condition is None else chunk * PREFILTERED_SPAN
    ids = [
        cid
        for (cid,) in fast.all(
            "SELECT id FROM contacts WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?",
            (workspace_id, built_through, span),
        )
    ]
    report = BuildReport(kind, definition_id, len(ids))
    work = _Pass(workspace_id, now)
    if ids:
        if kind == "computed":
            target = next(c for c in defs.computed if c.id == definition_id)
            _refresh_computed(conn, work, [(target, set(ids))], exact=False, building=True)
        elif kind == "score":
            score = next(p for p in defs.scores if p.id == definition_id)
            _refresh_scores(conn, work, [(score, set(ids))], building=True)
        else:
            todo = ids if condition is None else _candidates(fast, workspace_id, seg, condition, ids[0], ids[-1])
            for part in chunks(todo, chunk):
                part_ids = set(part)
                _evaluate_segments(conn, defs, work, lambda s, _c, part_ids=part_ids: part_ids if s is seg else set())
        _write(conn, work, exact=False, history=False)
    done = len(ids) < span
    fast.execute(
        f"UPDATE {table} SET built_through = ?, progress_done = progress_done + ?,"
        f" status = CASE WHEN ? THEN 'ready' ELSE status END, built_at = CASE WHEN ? THEN ? ELSE built_at END"
        " WHERE id = ? AND revision = ?",
        (ids[-1] if ids else built_through, len(ids), done, done, fast.dt(now), definition_id, revision),
    )
    report.finished = done
    return report


def _candidates(
    fast: FastSQL, workspace_id: int, seg: SegmentDef, condition: prefilter.Condition, low: int, high: int
) -> list[int]:
    """Contacts with ids in [low, high] that the prefilter lets through, and the segment's members there."""
    sql, params = condition
    rows = fast.all(
        f"SELECT c.id FROM contacts c WHERE c.workspace_id = ? AND c.id BETWEEN ? AND ? AND ({sql})"
        " UNION SELECT contact_id FROM segment_members WHERE segment_id = ? AND contact_id BETWEEN ? AND ?",
        (workspace_id, low, high, *params, seg.id, low, high),
    )
    return sorted(cid for (cid,) in rows)


def start_build(conn: sa.Connection, table: str, definition_id: int, workspace_id: int) -> None:
    """Mark a definition for (re)building from the first contact, with the total to show progress."""
    total = conn.execute(
        sa.text("SELECT count(*) FROM contacts WHERE workspace_id = :ws"), {"ws": workspace_id}
    ).scalar_one()
    conn.execute(
        sa.text(
            f"UPDATE {table} SET status = 'building', built_through = 0, progress_done = 0,"
            " progress_total = :total WHERE id = :id"
        ),
        {"total": total, "id": definition_id},
    )


# -------------------------------------------------------------------------------------------------
# Evaluation
# -------------------------------------------------------------------------------------------------


def _refresh_computed(
    conn: sa.Connection,
    work: _Pass,
    targets: Iterable[tuple[ComputedDef, set[int]]],
    *,
    exact: bool,
    building: bool = False,
) -> dict[str, set[int]]:
    """Recompute values; returns, per key, the contacts whose value changed. While a property is being
    built, events only update contacts the backfill has passed; the backfill itself (``building``)
    computes its chunk, which lies beyond that point."""
    changed: dict[str, set[int]] = defaultdict(set)
    targets = [(d, ids) for d, ids in targets if ids]
    if not targets:
        return changed
    all_ids = sorted(set().union(*(ids for _d, ids in targets)))
    current = _computed_values(conn, all_ids)
    for prop, ids in targets:
        if prop.status != "ready" and not building:  # the backfill gives the rest their value
            ids = {i for i in ids if i <= prop.built_through}
        for cid, (value, until) in compute(conn, work.workspace_id, prop.spec, sorted(ids), work.now).items():
            if cid not in current:
                continue  # deleted meanwhile
            before = current[cid].get(prop.key, _ABSENT)
            if value is None and before is _ABSENT:
                pass
            elif before != value or (value is None) != (before is None):
                work.computed[cid][prop.key] = value
                current[cid][prop.key] = value
                changed[prop.key].add(cid)
            work.due_at(cid, until)
    return changed


def _refresh_scores(
    conn: sa.Connection, work: _Pass, targets: Iterable[tuple[ScoreDef, set[int]]], *, building: bool = False
) -> dict[str, set[int]]:
    """Recompute points and levels; returns, per score key, the contacts whose level changed. A level
    change becomes a ``score_changed`` event, except while a score is first being built."""
    changed: dict[str, set[int]] = defaultdict(set)
    targets = [(d, ids) for d, ids in targets if ids]
    if not targets:
        return changed
    fast = FastSQL(conn)
    for score, ids in targets:
        if score.status != "ready" and not building:
            ids = {i for i in ids if i <= score.built_through}
        if not ids:
            continue
        ordered = sorted(ids)
        previous: dict[int, int] = {}
        for part in chunks(ordered):
            in_list, params = fast.id_list(part)
            previous.update(
                fast.all(
                    f"SELECT contact_id, level FROM contact_scores WHERE score_id = ? AND contact_id {in_list}",
                    (score.id, *params),
                )
            )
        tallies = scoring.compute(conn, work.workspace_id, score.spec, ordered, work.now)
        for cid in ordered:
            tally = tallies.get(cid)
            before = previous.get(cid)
            if tally is None:
                if before is not None:
                    work.score_rows.append((score.id, cid, 0.0, None))
                    work.score_levels[cid][score.key] = None
                    changed[score.key].add(cid)
                    if not building:
                        work.level_changes.append((score, cid, before, None))
                continue
            new = scoring.level(score.spec, tally.points, score.cutoffs)
            work.score_rows.append((score.id, cid, tally.points, new))
            work.due_at(cid, scoring.next_change(score.spec, tally, new, work.now))
            if new != before:
                work.score_levels[cid][score.key] = new
                changed[score.key].add(cid)
                if not building:
                    work.level_changes.append((score, cid, before, new))
    return changed


_ABSENT = object()


def _computed_values(conn: sa.Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    fast = FastSQL(conn)
    cast = "::text" if fast.postgres else ""
    out: dict[int, dict[str, Any]] = {}
    for part in chunks(ids):
        in_list, params = fast.id_list(part)
        for cid, computed in fast.all(f"SELECT id, computed{cast} FROM contacts WHERE id {in_list}", params):
            out[cid] = json_dict(computed)
    return out


def _evaluate_segments(conn: sa.Connection, defs: Definitions, work: _Pass, affected) -> None:
    """Level by level (a segment naming another is evaluated after it), so a change travels through
    "in segment" rules within the same pass."""
    members_changed: dict[str, set[int]] = defaultdict(set)
    for level in defs.levels():
        todo = {seg: ids for seg in level if (ids := affected(seg, members_changed))}
        if not todo:
            continue
        all_ids = sorted(set().union(*todo.values()))
        contacts = load_contacts(conn, all_ids)
        needs = _load_needs(conn, work, todo, contacts)
        for cid, values in work.computed.items():  # values changed in this pass, not yet written
            contact = contacts.get(cid)
            if contact is not None:
                contact.computed = {**contact.computed, **values}
        for cid, levels in work.score_levels.items():
            contact = contacts.get(cid)
            if contact is not None:
                merged = {**contact.scores, **levels}
                contact.scores = {k: v for k, v in merged.items() if v is not None}
        if needs.segments:  # this pass's earlier levels are not written yet
            for seg, cid in work.joins:
                if cid in contacts:
                    contacts[cid].segments.add(seg.key)
            for seg, cid in work.leaves:
                if cid in contacts:
                    contacts[cid].segments.discard(seg.key)
        current = _current_members(conn, [seg.id for seg in todo], all_ids)
        for seg, ids in todo.items():
            _decide(seg, ids, contacts, current, work, members_changed)


def _load_needs(conn: sa.Connection, work: _Pass, todo: dict[SegmentDef, set[int]], contacts: dict[int, Contact]):
    """Event counts, packages and memberships, each only for the contacts of the segments that read
    them (a batch's logins need not count everyone's rentals). Returns the union of the needs."""
    wanted: dict[Needs, set[int]] = defaultdict(set)
    for seg, ids in todo.items():
        for query in seg.needs.events:
            wanted[Needs(events=(query,))] |= ids
        if seg.needs.subscriptions:
            wanted[Needs(subscriptions=True)] |= ids
        if seg.needs.segments:
            wanted[Needs(segments=True)] |= ids
    union = Needs()
    for needs, ids in wanted.items():
        union = union | needs
        part = contacts if len(ids) == len(contacts) else {c: contacts[c] for c in ids if c in contacts}
        load_needs(conn, work.workspace_id, part, needs, work.now, spans=True)
    return union


def _decide(seg: SegmentDef, ids: set[int], contacts: dict[int, Contact], current: set[tuple[int, int]], work, changed):
    rule, now, clock = seg.rule, work.now, seg.deps.clock
    for cid in ids:
        contact = contacts.get(cid)
        if contact is None:
            continue
        inside = evaluate(rule, contact, now)
        if inside != ((seg.id, cid) in current):
            (work.joins if inside else work.leaves).append((seg, cid))
            changed[seg.key].add(cid)
        if clock:
            work.due_at(cid, horizon(rule, contact, now))


def _current_members(conn: sa.Connection, segment_ids: list[int], contact_ids: list[int]) -> set[tuple[int, int]]:
    fast = FastSQL(conn)
    out: set[tuple[int, int]] = set()
    seg_list, seg_params = fast.id_list(segment_ids)
    for part in chunks(contact_ids):
        in_list, params = fast.id_list(part)
        out.update(
            fast.all(
                f"SELECT segment_id, contact_id FROM segment_members WHERE segment_id {seg_list}"
                f" AND contact_id {in_list}",
                (*seg_params, *params),
            )
        )
    return out


# -------------------------------------------------------------------------------------------------
# Writing
# -------------------------------------------------------------------------------------------------


def _write(conn: sa.Connection, work: _Pass, *, exact: bool, history: bool = True) -> list[Derived]:
    fast = FastSQL(conn)
    now, ws = work.now, work.workspace_id
    at = fast.dt(now)
    if work.computed:
        _write_computed(fast, work.computed)
    if work.score_rows:
        _write_scores(fast, ws, work, at)
    if fast.postgres:
        _write_members_pg(fast, ws, work, at, history)
    else:
        if work.joins:
            fast.many(
                "INSERT INTO segment_members (segment_id, contact_id, workspace_id, entered_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (segment_id, contact_id) DO NOTHING",
                [(seg.id, cid, ws, at) for seg, cid in work.joins],
            )
        if work.leaves:
            fast.many(
                "DELETE FROM segment_members WHERE segment_id = ? AND contact_id = ?",
                [(seg.id, cid) for seg, cid in work.leaves],
            )
        if history and (work.joins or work.leaves):
            fast.many(
                "INSERT INTO segment_changes (workspace_id, segment_id, contact_id, entered, at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(ws, seg.id, cid, True, at) for seg, cid in work.joins]
                + [(ws, seg.id, cid, False, at) for seg, cid in work.leaves],
            )
    _write_due(fast, ws, work.due, exact)
    if work.joins or work.leaves:
        _bump_daily(fast, ws, work, now)
    if not history:
        return []
    scored = [
        Derived(cid, SCORE_CHANGED, {"score": s.key, "score_name": s.name, "level": new, "previous": old}, now)
        for s, cid, old, new in work.level_changes
    ]
    entered = [Derived(cid, ENTERED, _properties(seg), now) for seg, cid in work.joins]
    return scored + entered + [Derived(cid, LEFT, _properties(seg), now) for seg, cid in work.leaves]


def _properties(seg: SegmentDef) -> dict[str, Any]:
    return {"segment": seg.key, "segment_id": seg.id, "segment_name": seg.name}


def _write_members_pg(fast: FastSQL, ws: int, work: _Pass, at: Any, history: bool) -> None:
    """PostgreSQL: one statement per kind over arrays (``executemany`` would be a round trip per row,
    and a backfill writes tens of thousands)."""
    if work.joins:
        fast.execute(
            "INSERT INTO segment_members (segment_id, contact_id, workspace_id, entered_at)"
            " SELECT s, c, ?, ? FROM unnest(?::bigint[], ?::bigint[]) AS v(s, c)"
            " ON CONFLICT (segment_id, contact_id) DO NOTHING",
            (ws, at, int_array(seg.id for seg, _ in work.joins), int_array(cid for _, cid in work.joins)),
        )
    if work.leaves:
        fast.execute(
            "DELETE FROM segment_members m USING unnest(?::bigint[], ?::bigint[]) AS v(s, c)"
            " WHERE m.segment_id = v.s AND m.contact_id = v.c",
            (int_array(seg.id for seg, _ in work.leaves), int_array(cid for _, cid in work.leaves)),
        )
    if history and (work.joins or work.leaves):
        changes = [(seg.id, cid, True) for seg, cid in work.joins] + [(seg.id, cid, False) for seg, cid in work.leaves]
        fast.execute(
            "INSERT INTO segment_changes (workspace_id, segment_id, contact_id, entered, at)"
            " SELECT ?, s, c, e, ? FROM unnest(?::bigint[], ?::bigint[], ?::boolean[]) AS v(s, c, e)",
            (
                ws,
                at,
                int_array(s for s, _, _ in changes),
                int_array(c for _, c, _ in changes),
                [e for *_, e in changes],
            ),
        )


def _write_computed(fast: FastSQL, values: dict[int, dict[str, Any]]) -> None:
    """Merge changed keys into ``contacts.computed`` (other keys, written by other transactions, stay)."""
    if fast.postgres:
        # One JSON document {contact id: changes}: psycopg would escape a text array item by item.
        fast.execute(
            "UPDATE contacts c SET computed = jsonb_strip_nulls(c.computed || v.value)"
            " FROM jsonb_each(?::jsonb) AS v(key, value) WHERE c.id = v.key::bigint",
            (fast.json({str(cid): changes for cid, changes in sorted(values.items())}),),
        )
    else:
        rows = [(fast.json(changes), cid) for cid, changes in sorted(values.items())]
        fast.many("UPDATE contacts SET computed = json_patch(computed, ?) WHERE id = ?", rows)


def _write_scores(fast: FastSQL, workspace_id: int, work: _Pass, at: Any) -> None:
    gone = [(score_id, cid) for score_id, cid, _points, level in work.score_rows if level is None]
    kept = [
        (score_id, cid, workspace_id, points, level, at)
        for score_id, cid, points, level in work.score_rows
        if level is not None
    ]
    if gone:
        fast.many("DELETE FROM contact_scores WHERE score_id = ? AND contact_id = ?", gone)
    if kept:
        fast.many(
            "INSERT INTO contact_scores (score_id, contact_id, workspace_id, points, level, computed_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (score_id, contact_id) DO UPDATE SET points = excluded.points,"
            " level = excluded.level, computed_at = excluded.computed_at",
            kept,
        )
    if work.score_levels:
        rows = [(fast.json(levels), cid) for cid, levels in sorted(work.score_levels.items())]
        if fast.postgres:
            fast.many("UPDATE contacts SET scores = jsonb_strip_nulls(scores || ?::jsonb) WHERE id = ?", rows)
        else:
            fast.many("UPDATE contacts SET scores = json_patch(scores, ?) WHERE id = ?", rows)


def _write_due(fast: FastSQL, workspace_id: int, due: dict[int, datetime | None], exact: bool) -> None:
    if not due:
        return
    dt = fast.dt
    rows = [(cid, workspace_id, dt(moment)) for cid, moment in sorted(due.items()) if moment is not None]
    update = "ON CONFLICT (contact_id) DO UPDATE SET due_at = excluded.due_at"
    if exact:
        gone = [cid for cid, moment in due.items() if moment is None]
        for part in chunks(sorted(gone)):
            in_list, params = fast.id_list(part)
            fast.execute(f"DELETE FROM audience_checks WHERE contact_id {in_list}", params)
    else:
        # Only an earlier time is written: most evaluations find the stored one still first, and an
        # update that changes nothing would still rewrite the row (and its index entry).
        update += " WHERE excluded.due_at < audience_checks.due_at"
    if fast.postgres:
        fast.execute(
            "INSERT INTO audience_checks (contact_id, workspace_id, due_at)"
            f" SELECT c, ?, d FROM unnest(?::bigint[], ?::timestamptz[]) AS v(c, d) {update}",
            (workspace_id, int_array(c for c, _, _ in rows), "{" + ",".join(d.isoformat() for _, _, d in rows) + "}"),
        )
    else:
        fast.many(f"INSERT INTO audience_checks (contact_id, workspace_id, due_at) VALUES (?, ?, ?) {update}", rows)


def _bump_daily(fast: FastSQL, workspace_id: int, work: _Pass, now: datetime) -> None:
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for seg, _cid in work.joins:
        counts[seg.id][0] += 1
    for seg, _cid in work.leaves:
        counts[seg.id][1] += 1
    day = now.date().isoformat()
    fast.many(
        'INSERT INTO segment_daily (segment_id, day, workspace_id, entered, "left") VALUES (?, ?, ?, ?, ?)'
        " ON CONFLICT (segment_id, day) DO UPDATE SET entered = segment_daily.entered + excluded.entered,"
        ' "left" = segment_daily."left" + excluded."left"',
        [(seg_id, day, workspace_id, entered, left) for seg_id, (entered, left) in sorted(counts.items())],
    )
