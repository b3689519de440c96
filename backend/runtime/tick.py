"""The tick: claim due enrollments, run them through their journey versions, commit the result.

One batch = one transaction: the claimed rows, their transitions, step log rows, contact changes and
outbox messages commit together or not at all. A worker killed mid-batch therefore loses nothing (the
rows are still due) and sends nothing (messages only reach the outbox on commit).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import msgspec
import sqlalchemy as sa

from backend.clock import Clock
from backend.db.fastsql import FastSQL
from backend.engine.interpreter import Cursor, Result, advance, needs_from
from backend.engine.sdk import Contact, Event
from backend.runtime.graphs import GraphCache
from backend.runtime.snapshots import load_contacts, load_needs

log = logging.getLogger(__name__)

_event_decoder = msgspec.convert


@dataclass
class BatchReport:
    claimed: int = 0
    steps: int = 0
    messages: int = 0
    seconds: float = 0.0
    seconds_per_block: dict[str, float] = field(default_factory=dict)
    steps_per_block: dict[str, int] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)


class Ticker:
    """Advances due enrollments. Stateless apart from the compiled-graph cache, so any number of
    workers can run one each against the same database."""

    def __init__(self, engine: sa.Engine, cache: GraphCache, clock: Clock, batch_size: int = 5000) -> None:
        self.engine = engine
        self.cache = cache
        self.clock = clock
        self.batch_size = batch_size
        self.is_postgres = engine.dialect.name == "postgresql"
        self.profile = False
        self.after_claim: Callable[[list], None] | None = None
        """Test hook: runs inside the transaction right after claiming (crash-safety tests kill the
        process here)."""

    def run_until_idle(self, max_batches: int | None = None) -> BatchReport:
        """Run batches until nothing is due (or ``max_batches``); returns the totals."""
        total = BatchReport()
        batches = 0
        while max_batches is None or batches < max_batches:
            report = self.run_batch()
            batches += 1
            _accumulate(total, report)
            if report.claimed < self.batch_size:
                break
        return total

    def run_batch(self, now: datetime | None = None) -> BatchReport:
        now = now or self.clock.now()
        report = BatchReport()
        timer = time.perf_counter if self.profile else None
        started = time.perf_counter()
        with self.engine.begin() as conn:
            rows = self._claim(conn, now)
            report.claimed = len(rows)
            if not rows:
                return report
            if self.after_claim is not None:
                self.after_claim(rows)
            mark = time.perf_counter()
            contacts = load_contacts(conn, {r.contact_id for r in rows})
            originals = (
                {cid: (frozenset(c.tags), dict(c.attributes)) for cid, c in contacts.items()}
                if self.is_postgres
                else None
            )
            report.phase_seconds["load_contacts"] = time.perf_counter() - mark

            by_version: dict[int, list] = defaultdict(list)
            for row in rows:
                by_version[row.version_id].append(row)

            results: list[tuple[int, int, int, Result]] = []
            for version_id, version_rows in by_version.items():
                compiled = self.cache.get(conn, version_id)
                workspace_id = version_rows[0].workspace_id
                journey_id = version_rows[0].journey_id
                mark = time.perf_counter()
                needs = needs_from(compiled, {r.node_id for r in version_rows})
                if needs.subscriptions or needs.events:
                    load_needs(
                        conn,
                        workspace_id,
                        {r.contact_id: contacts[r.contact_id] for r in version_rows},
                        needs,
                        now,
                    )
                report.phase_seconds["load_needs"] = report.phase_seconds.get("load_needs", 0.0) + (
                    time.perf_counter() - mark
                )
                cursors = [_cursor(row, contacts[row.contact_id]) for row in version_rows]
                mark = time.perf_counter()
                result = advance(compiled, cursors, now, journey_id=journey_id, version_id=version_id, timer=timer)
                report.phase_seconds["interpret"] = report.phase_seconds.get("interpret", 0.0) + (
                    time.perf_counter() - mark
                )
                results.append((workspace_id, journey_id, version_id, result))
                for block_type, secs in result.seconds_per_node.items():
                    report.seconds_per_block[block_type] = report.seconds_per_block.get(block_type, 0.0) + secs
                if self.profile:
                    for step in result.steps:
                        block_type = compiled.nodes[step.node_id].block.type
                        report.steps_per_block[block_type] = report.steps_per_block.get(block_type, 0) + 1

            mark = time.perf_counter()
            report.steps, report.messages = self._persist(conn, results, contacts, originals, now)
            report.phase_seconds["persist"] = time.perf_counter() - mark
        report.seconds = time.perf_counter() - started
        return report

    # ------------------------------------------------------------------------------------------

    def _claim(self, conn: sa.Connection, now: datetime) -> list[tuple]:
        fast = FastSQL(conn)
        rows = fast.all(
            "SELECT id, workspace_id, journey_id, version_id, contact_id, node_id, node_entered_at, state,"
            " wake_event, context FROM enrollments"
            " WHERE status = 'active' AND due_at <= ? AND version_id NOT IN"
            " (SELECT id FROM journey_versions WHERE status IN ('paused', 'archived'))"
            " ORDER BY due_at LIMIT ?" + (" FOR UPDATE SKIP LOCKED" if self.is_postgres else ""),
            (fast.dt(now), self.batch_size),
        )
        read_dt, read_json = fast.read_dt, fast.read_json
        return [
            _Claimed(i, ws, j, v, c, n, read_dt(entered), read_json(st), read_json(wake), read_json(ctx))
            for i, ws, j, v, c, n, entered, st, wake, ctx in rows
        ]

    def _persist(self, conn: sa.Connection, results, contacts: dict[int, Contact], originals, now: datetime):
        fast = FastSQL(conn)
        now_db = fast.dt(now)
        dt, js = fast.dt, fast.json
        transitions = []
        step_rows = []
        counter: Counter[tuple[int, int, str, str]] = Counter()
        outbox_rows = []
        dirty: dict[int, Contact] = {}
        for workspace_id, journey_id, version_id, result in results:
            for t in result.transitions:
                transitions.append(
                    (
                        t.node_id,
                        dt(t.entered_at) if t.entered_at is not now else now_db,
                        dt(t.due_at),
                        t.wait_event,
                        js(t.state),
                        t.status,
                        None if t.status == "active" else now_db,
                        t.exit_reason,
                        t.enrollment_id,
                    )
                )
            for s in result.steps:
                step_rows.append(
                    (
                        workspace_id,
                        journey_id,
                        version_id,
                        s.enrollment_id,
                        s.contact_id,
                        s.node_id,
                        s.outcome,
                        now_db,
                    )
                )
                counter[(workspace_id, journey_id, s.node_id, s.outcome)] += 1
            for m in result.messages:
                msg = m.message
                payload = {
                    **msg.payload,
                    "fallback": msg.fallback,
                    "marketing": msg.marketing,
                    "context": m.context,
                }
                outbox_rows.append(
                    (
                        workspace_id,
                        f"enr:{m.enrollment_id}:{m.node_id}",
                        m.contact_id,
                        m.enrollment_id,
                        journey_id,
                        version_id,
                        m.node_id,
                        msg.channel,
                        msg.template,
                        js(payload),
                        now_db,
                        now_db,
                    )
                )
            dirty.update(result.dirty_contacts)

        self._write_transitions(fast, transitions)
        fast.copy_rows(
            "step_log",
            (
                "workspace_id",
                "journey_id",
                "version_id",
                "enrollment_id",
                "contact_id",
                "node_id",
                "outcome",
                "at",
            ),
            step_rows,
        )
        if counter:
            fast.many(
                "INSERT INTO node_counters (workspace_id, journey_id, node_id, outcome, count) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (journey_id, node_id, outcome) DO UPDATE SET count = node_counters.count + excluded.count",
                [(ws, j, n, o, c) for (ws, j, n, o), c in sorted(counter.items())],
            )
        if dirty:
            self._write_contacts(fast, dirty, originals, now_db)
        fast.many(
            "INSERT INTO outbox (workspace_id, idempotency_key, contact_id, enrollment_id, journey_id, version_id,"
            " node_id, channel, template_key, payload, status, attempts, next_attempt_at, created_at, test)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, 'pending', 0, ?, ?, FALSE)"
            " ON CONFLICT (workspace_id, idempotency_key) DO NOTHING",
            outbox_rows,
        )
        return len(step_rows), len(outbox_rows)

    def _write_transitions(self, fast: FastSQL, rows: list[tuple]) -> None:
        if not rows:
            return
        if not self.is_postgres:
            fast.many(
                "UPDATE enrollments SET node_id = ?, node_entered_at = ?, due_at = ?, wait_event = ?,"
                " wake_event = NULL, state = ?, status = ?, finished_at = ?, exit_reason = ? WHERE id = ?",
                rows,
            )
            return
        columns = list(zip(*rows, strict=True))
        fast.conn.exec_driver_sql(
            "UPDATE enrollments AS e SET node_id = v.node_id, node_entered_at = v.node_entered_at,"
            " due_at = v.due_at, wait_event = v.wait_event, wake_event = NULL, state = v.state::jsonb,"
            " status = v.status, finished_at = v.finished_at, exit_reason = v.exit_reason"
            " FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::text[], %s::text[], %s::text[],"
            " %s::timestamptz[], %s::text[], %s::bigint[])"
            " AS v(node_id, node_entered_at, due_at, wait_event, state, status, finished_at, exit_reason, id)"
            " WHERE e.id = v.id",
            tuple(list(c) for c in columns),
        )

    def _write_contacts(self, fast: FastSQL, dirty: dict[int, Contact], originals, now_db) -> None:
        if not self.is_postgres:
            # SQLite: this transaction holds the database's write lock, so nobody changed these rows
            # since they were read; writing the whole new value is safe and fastest.
            fast.many(
                "UPDATE contacts SET tags = ?, attributes = ?, updated_at = ? WHERE id = ?",
                [(fast.json(sorted(c.tags)), fast.json(c.attributes), now_db, c.id) for c in dirty.values()],
            )
            return
        # PostgreSQL: other transactions may have changed these contacts meanwhile (an identify call),
        # so apply only what this batch changed, as a merge inside the UPDATE.
        ids, added, removed, attrs = [], [], [], []
        for c in dirty.values():
            tags_before, attrs_before = originals[c.id]
            ids.append(c.id)
            added.append(fast.json(sorted(c.tags - tags_before)))
            removed.append(fast.json(sorted(tags_before - c.tags)))
            attrs.append(fast.json({k: v for k, v in c.attributes.items() if attrs_before.get(k, _MISSING) != v}))
        fast.conn.exec_driver_sql(
            "UPDATE contacts AS c SET tags = (SELECT COALESCE(jsonb_agg(DISTINCT t ORDER BY t), '[]'::jsonb)"
            " FROM jsonb_array_elements_text(c.tags || v.added::jsonb) AS t"
            " WHERE NOT jsonb_exists(v.removed::jsonb, t)),"
            " attributes = c.attributes || v.attrs::jsonb, updated_at = %s"
            " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS v(id, added, removed, attrs)"
            " WHERE c.id = v.id",
            (now_db, ids, added, removed, attrs),
        )


_MISSING = object()


class _Claimed(NamedTuple):
    id: int
    workspace_id: int
    journey_id: int
    version_id: int
    contact_id: int
    node_id: str
    node_entered_at: datetime
    state: dict | None
    wake_event: dict | None
    context: dict | None


def _cursor(row, contact: Contact) -> Cursor:
    wake = row.wake_event
    return Cursor(
        enrollment_id=row.id,
        contact=contact,
        node_id=row.node_id,
        entered_at=row.node_entered_at,
        state=row.state or {},
        event=_event_decoder(wake, Event) if wake else None,
        context=row.context or {},
    )


def _accumulate(total: BatchReport, report: BatchReport) -> None:
    total.claimed += report.claimed
    total.steps += report.steps
    total.messages += report.messages
    total.seconds += report.seconds
    for key, value in report.seconds_per_block.items():
        total.seconds_per_block[key] = total.seconds_per_block.get(key, 0.0) + value
    for key, value in report.steps_per_block.items():
        total.steps_per_block[key] = total.steps_per_block.get(key, 0) + value
    for key, value in report.phase_seconds.items():
        total.phase_seconds[key] = total.phase_seconds.get(key, 0.0) + value
