"""The tick: claim due enrollments, run them through their journey versions, commit the result.

One batch = one transaction: the claimed rows, their transitions, step log rows, contact changes and
outbox messages commit together or not at all. A worker killed mid-batch therefore loses nothing (the
rows are still due) and sends nothing (messages only reach the outbox on commit).

The hot path is shaped by what a batch looks like: thousands of rows but only a handful of distinct
values per column (every contact on a node leaves through the same few ports into the same wait). So
one query claims the enrollments and reads their contacts, and on PostgreSQL each write sends the
per-row ids as integer array literals plus a small table of the distinct values (dictionary encoding)
instead of thousands of per-row values the driver would have to dump one by one.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

import msgspec
import sqlalchemy as sa

from backend.clock import Clock
from backend.db.fastsql import UTC, FastSQL, chunked_lines, copy_field, int_array
from backend.engine.interpreter import Result, advance, needs_from
from backend.engine.sdk import Contact, Event, Item
from backend.engine.validation import GraphInvalid
from backend.runtime.graphs import GraphCache
from backend.runtime.snapshots import CONTACT_COLUMNS, contact_from_row, json_dict, json_list, load_needs

log = logging.getLogger(__name__)

_decode = msgspec.json.decode


@dataclass
class BatchReport:
    claimed: int = 0
    steps: int = 0
    messages: int = 0
    seconds: float = 0.0
    seconds_per_block: dict[str, float] = field(default_factory=dict)
    steps_per_block: dict[str, int] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _VersionBatch:
    """The claimed enrollments of one journey version."""

    workspace_id: int
    journey_id: int
    items: list[Item] = field(default_factory=list)


@dataclass
class _Claimed:
    count: int
    versions: dict[int, _VersionBatch]
    contacts: dict[int, Contact]
    originals: dict[int, tuple[Any, Any]] | None
    """PostgreSQL only: each contact's tags and attributes as read (raw JSON text, immutable), so the
    write can merge just this batch's changes into rows other transactions may have changed meanwhile."""


SET_ASIDE_FOR = timedelta(minutes=5)
"""How long contacts of a version that cannot run wait before it is tried again."""


class Ticker:
    """Advances due enrollments. Stateless apart from the compiled-graph cache, so any number of
    workers can run one each against the same database."""

    DEFAULT_BATCH_SIZE = 5000

    def __init__(
        self,
        engine: sa.Engine,
        cache: GraphCache,
        clock: Clock,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrent_batches: int = 1,
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.clock = clock
        self.batch_size = batch_size
        self.is_postgres = engine.dialect.name == "postgresql"
        self.profile = False
        self.concurrent_batches = concurrent_batches
        """Batches in flight at once on PostgreSQL (see :meth:`_run_concurrently`); SQLite has a single
        writer, so it always runs one."""
        self._claim_sql = _claim_sql(self.is_postgres)
        self.on_contacts_changed: Callable[[sa.Connection, int, list[int], datetime], Any] | None = None
        """Called in the batch's transaction with the contacts whose tags or attributes its blocks changed,
        per workspace (the worker hands them to audiences, which may start or wake journeys)."""
        self.after_claim: Callable[[list[int]], None] | None = None
        """Test hook: called with the claimed enrollment ids inside the transaction, right after the claim
        (the crash tests kill the process here)."""

    def run_until_idle(self, max_batches: int | None = None) -> BatchReport:
        """Run batches until nothing is due (or ``max_batches``); returns the totals."""
        if self.concurrent_batches > 1 and self.is_postgres:
            return self._run_concurrently(max_batches)
        total = BatchReport()
        batches = 0
        while max_batches is None or batches < max_batches:
            report = self.run_batch()
            batches += 1
            _accumulate(total, report)
            if report.claimed < self.batch_size:
                break
        return total

    def _run_concurrently(self, max_batches: int | None) -> BatchReport:
        """``concurrent_batches`` claim loops on their own connections, exactly like that many workers:
        while one batch waits for PostgreSQL to write it, the next one is claimed and interpreted, so
        the client and the server work at the same time. SKIP LOCKED keeps the batches disjoint."""
        total = BatchReport()
        lock = threading.Lock()
        started = 0
        errors: list[BaseException] = []

        def loop() -> None:
            nonlocal started
            while not errors:
                with lock:
                    if max_batches is not None and started >= max_batches:
                        return
                    started += 1
                try:
                    report = self.run_batch()
                except BaseException as exc:
                    errors.append(exc)
                    return
                with lock:
                    _accumulate(total, report)
                if report.claimed < self.batch_size:
                    return

        threads = [threading.Thread(target=loop, name=f"tick-{n}") for n in range(self.concurrent_batches)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return total

    def run_batch(self, now: datetime | None = None) -> BatchReport:
        """Claim, advance and persist one batch in one transaction."""
        with _gc_paused():
            return self._run_batch(now)

    def _run_batch(self, now: datetime | None) -> BatchReport:
        now = now or self.clock.now()
        report = BatchReport()
        phases = report.phase_seconds
        clock = time.perf_counter
        timer = clock if self.profile else None
        started = clock()
        with self.engine.connect() as conn:
            with conn.begin():
                fast = FastSQL(conn)
                claimed = self._claim(fast, now)
                phases["claim_load"] = clock() - started
                report.claimed = claimed.count
                if not claimed.count:
                    return report
                if self.after_claim is not None:
                    self.after_claim([i.enrollment_id for b in claimed.versions.values() for i in b.items])

                results: list[tuple[int, int, int, Result]] = []
                for version_id, batch in list(claimed.versions.items()):
                    try:
                        compiled = self.cache.get(conn, version_id)
                    except GraphInvalid as exc:
                        self._set_aside(fast, version_id, batch, now, exc)
                        del claimed.versions[version_id]
                        continue
                    mark = clock()
                    needs = needs_from(compiled, {item.node_id for item in batch.items})
                    if needs.subscriptions or needs.events or needs.segments:
                        load_needs(
                            conn,
                            batch.workspace_id,
                            {item.contact.id: item.contact for item in batch.items},
                            needs,
                            now,
                        )
                    phases["load_needs"] = phases.get("load_needs", 0.0) + clock() - mark
                    mark = clock()
                    result = advance(
                        compiled,
                        batch.items,
                        now,
                        journey_id=batch.journey_id,
                        version_id=version_id,
                        timer=timer,
                    )
                    phases["interpret"] = phases.get("interpret", 0.0) + clock() - mark
                    results.append((batch.workspace_id, batch.journey_id, version_id, result))
                    for block_type, secs in result.seconds_per_node.items():
                        report.seconds_per_block[block_type] = report.seconds_per_block.get(block_type, 0.0) + secs
                    if self.profile:
                        for node_id, count in Counter(map(_node_of, result.steps)).items():
                            block_type = compiled.nodes[node_id].block.type
                            report.steps_per_block[block_type] = report.steps_per_block.get(block_type, 0) + count

                mark = clock()
                report.steps, report.messages = self._persist(fast, results, claimed, now, phases if timer else None)
                phases["persist"] = clock() - mark
                mark = clock()
            phases["commit"] = clock() - mark
        report.seconds = clock() - started
        return report

    def _set_aside(self, fast: FastSQL, version_id: int, batch: _VersionBatch, now: datetime, exc: GraphInvalid):
        """A version that no longer compiles (e.g. its plugin block type was uninstalled) must not stop
        every other journey's contacts: its enrollments wait and are retried later, loudly."""
        log.error(
            "journey version %s cannot run (%s); %d contacts wait %s before the next try",
            version_id,
            "; ".join(f"{p.pointer}: {p.message}" for p in exc.problems[:3]),
            len(batch.items),
            SET_ASIDE_FOR,
        )
        ids = [item.enrollment_id for item in batch.items]
        in_list, params = fast.id_list(ids)
        fast.conn.exec_driver_sql(
            fast.sql(f"UPDATE enrollments SET due_at = ? WHERE id {in_list}"), (fast.dt(now + SET_ASIDE_FOR), *params)
        )

    # -- claiming --------------------------------------------------------------------------------

    def _claim(self, fast: FastSQL, now: datetime) -> _Claimed:
        """Lock the next due enrollments and read their contacts, in one query."""
        rows = fast.all(self._claim_sql, (fast.dt(now), self.batch_size))
        versions: dict[int, _VersionBatch] = {}
        contacts: dict[int, Contact] = {}
        originals: dict[int, tuple[Any, Any]] | None = {} if fast.postgres else None
        parse_dt = _DatetimeReader(fast.postgres)
        for (
            enrollment_id,
            workspace_id,
            journey_id,
            version_id,
            contact_id,
            node_id,
            entered_at,
            state,
            wake_event,
            context,
            pending_events,
            external_id,
            attributes,
            tags,
            email,
            phone,
            openid,
            push_tokens,
            consent,
            tz,
            locale,
            computed,
            scores,
        ) in rows:
            contact = contacts.get(contact_id)
            if contact is None:
                # One snapshot per contact even when it has several journeys due in this batch: the
                # second journey's blocks must see the first one's tags.
                contact = contacts[contact_id] = contact_from_row(
                    contact_id,
                    external_id,
                    attributes,
                    tags,
                    email,
                    phone,
                    openid,
                    push_tokens,
                    consent,
                    tz,
                    locale,
                    computed,
                    scores,
                )
                if originals is not None:
                    originals[contact_id] = (tags, attributes)
            batch = versions.get(version_id)
            if batch is None:
                batch = versions[version_id] = _VersionBatch(workspace_id, journey_id)
            batch.items.append(
                Item(
                    enrollment_id=enrollment_id,
                    contact=contact,
                    node_id=node_id,
                    entered_at=parse_dt(entered_at),
                    state=json_dict(state),
                    event=_wake_event(wake_event),
                    context=json_dict(context),
                    pending=_pending_events(pending_events) if pending_events is not None else [],
                )
            )
        return _Claimed(len(rows), versions, contacts, originals)

    # -- persisting ------------------------------------------------------------------------------

    def _persist(
        self, fast: FastSQL, results, claimed: _Claimed, now: datetime, phases: dict[str, float] | None
    ) -> tuple[int, int]:
        clock = time.perf_counter
        mark = clock()

        def lap(name: str) -> None:
            nonlocal mark
            if phases is not None:
                phases[f"persist.{name}"] = phases.get(f"persist.{name}", 0.0) + clock() - mark
                mark = clock()

        steps = 0
        messages = 0
        transitions = _Dictionary()
        counters: dict[tuple[int, int, str, str], int] = {}
        outbox: list[tuple] = []
        dirty: dict[int, Contact] = {}
        failed: list[tuple[int, int, Result]] = []
        for workspace_id, journey_id, version_id, result in results:
            if result.failures:
                failed.append((journey_id, version_id, result))
            for t in result.transitions:
                transitions.add(
                    t.enrollment_id,
                    (
                        t.node_id,
                        t.entered_at,
                        t.due_at,
                        t.wait_event,
                        None if t.state is None else fast.json(t.state),
                        t.status,
                        t.exit_reason,
                    ),
                )
            for m in result.messages:
                outbox.append((m.enrollment_id, m.contact_id, workspace_id, journey_id, version_id, m))
            dirty.update(result.dirty_contacts)
            steps += len(result.steps)
            messages += len(result.messages)
        lap("prepare")

        self._write_transitions(fast, transitions, now)
        conversions = [e for _ws, _j, _v, result in results for e in result.conversions]
        if conversions:
            in_list, params = fast.id_list(conversions)
            fast.execute(
                f"UPDATE enrollments SET converted_at = ? WHERE converted_at IS NULL AND id {in_list}",
                (fast.dt(now), *params),
            )
        if failed:
            _park(fast, failed, now)
        lap("transitions")
        self._write_steps(fast, results, counters, now)
        lap("step_log")
        if dirty:
            self._write_contacts(fast, dirty, claimed.originals, now)
            if self.on_contacts_changed is not None:
                by_workspace: dict[int, list[int]] = {}
                for workspace_id, _journey_id, _version_id, result in results:
                    by_workspace.setdefault(workspace_id, []).extend(result.dirty_contacts)
                for workspace_id, ids in by_workspace.items():
                    self.on_contacts_changed(fast.conn, workspace_id, sorted(set(ids)), now)
        lap("contacts")
        if outbox:
            self._write_outbox(fast, outbox, now)
        lap("outbox")
        # Last before commit: concurrent batches bump the same counter rows, and the row lock this
        # takes is then held only for the commit.
        if counters:
            fast.many(
                "INSERT INTO node_counters (workspace_id, journey_id, node_id, outcome, count)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (journey_id, node_id, outcome)"
                " DO UPDATE SET count = node_counters.count + excluded.count",
                [(ws, j, n, o, c) for (ws, j, n, o), c in sorted(counters.items())],
            )
        lap("counters")
        return steps, messages

    def _write_transitions(self, fast: FastSQL, transitions: _Dictionary, now: datetime) -> None:
        if not transitions.rows:
            return
        dt = _DatetimeWriter(fast)
        values = [
            (node, dt(entered), dt(due), wait, state, status, None if status == "active" else dt(now), reason)
            for node, entered, due, wait, state, status, reason in transitions.values
        ]
        if not fast.postgres:
            assignments = (
                "node_id = ?, node_entered_at = ?, due_at = ?, wait_event = ?, wake_event = NULL,"
                " pending_events = NULL, state = ?, status = ?, finished_at = ?, exit_reason = ?"
            )
            if len(values) <= _GROUPED_MAX:
                for value, ids in zip(values, transitions.grouped(), strict=True):
                    fast.execute(
                        f"UPDATE enrollments SET {assignments} WHERE id IN {_JSON_IDS}", (*value, json_ints(ids))
                    )
            else:
                fast.many(
                    f"UPDATE enrollments SET {assignments} WHERE id = ?",
                    [(*values[k], enrollment_id) for enrollment_id, k in transitions.rows],
                )
            return
        ids, keys = transitions.columns()
        fast.conn.exec_driver_sql(
            "UPDATE enrollments AS e SET node_id = d.node_id, node_entered_at = d.node_entered_at,"
            " due_at = d.due_at, wait_event = d.wait_event, wake_event = NULL, pending_events = NULL, state = d.state,"
            " status = d.status, finished_at = d.finished_at, exit_reason = d.exit_reason"
            " FROM unnest(%s::bigint[], %s::int[]) AS v(id, k)"
            " JOIN unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::text[], %s::jsonb[], %s::text[],"
            " %s::timestamptz[], %s::text[]) WITH ORDINALITY"
            " AS d(node_id, node_entered_at, due_at, wait_event, state, status, finished_at, exit_reason, k)"
            " ON d.k = v.k"
            " WHERE e.id = v.id",
            (int_array(ids), int_array(keys), *(list(column) for column in zip(*values, strict=True))),
        )

    def _write_steps(self, fast: FastSQL, results, counters: dict, now: datetime) -> None:
        """One step_log row per step, and the per-node counts for ``node_counters``."""
        if fast.postgres:
            at = now.astimezone(UTC).isoformat()

            def lines():
                for workspace_id, journey_id, version_id, result in results:
                    tails: dict[tuple[str, str], str] = {}
                    for s in result.steps:
                        key = (s.node_id, s.outcome)
                        tail = tails.get(key)
                        if tail is None:
                            tail = tails[key] = (
                                f"{copy_field(s.node_id)}\t{copy_field(s.outcome)}"
                                f"\t{workspace_id}\t{journey_id}\t{version_id}\t{at}\n"
                            )
                        yield f"{s.enrollment_id}\t{s.contact_id}\t{tail}"
                    _count(counters, workspace_id, journey_id, result)

            fast.copy_text(
                "step_log",
                ("enrollment_id", "contact_id", "node_id", "outcome", "workspace_id", "journey_id", "version_id", "at"),
                chunked_lines(lines()),
            )
            return
        # SQLite: one INSERT … SELECT per (version, node, outcome) over a JSON array of
        # [enrollment, contact] pairs; json_each walks it in C, with no per-row parameter binding.
        at = fast.dt(now)
        for workspace_id, journey_id, version_id, result in results:
            pairs: dict[tuple[str, str], list[str]] = {}
            for s in result.steps:
                key = (s.node_id, s.outcome)
                group = pairs.get(key)
                if group is None:
                    group = pairs[key] = []
                group.append(f"[{s.enrollment_id},{s.contact_id}]")
            for (node_id, outcome), group in pairs.items():
                counters[(workspace_id, journey_id, node_id, outcome)] = counters.get(
                    (workspace_id, journey_id, node_id, outcome), 0
                ) + len(group)
                fast.execute(
                    "INSERT INTO step_log (workspace_id, journey_id, version_id, enrollment_id, contact_id, node_id,"
                    " outcome, at) SELECT ?, ?, ?, json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?, ?, ?"
                    " FROM json_each(?) ORDER BY key",
                    (workspace_id, journey_id, version_id, node_id, outcome, at, "[" + ",".join(group) + "]"),
                )

    def _write_contacts(self, fast: FastSQL, dirty: dict[int, Contact], originals, now: datetime) -> None:
        now_db = fast.dt(now)
        if not fast.postgres:
            # SQLite: this transaction holds the database's write lock, so nobody changed these rows
            # since they were read; writing the whole new value is safe and fastest.
            js = fast.json
            values = _Dictionary()
            for c in dirty.values():
                values.add(c.id, (js(sorted(c.tags)), js(c.attributes)))
            if len(values.values) <= _GROUPED_MAX:
                for (tags, attributes), ids in zip(values.values, values.grouped(), strict=True):
                    fast.execute(
                        f"UPDATE contacts SET tags = ?, attributes = ?, updated_at = ? WHERE id IN {_JSON_IDS}",
                        (tags, attributes, now_db, json_ints(ids)),
                    )
            else:
                fast.many(
                    "UPDATE contacts SET tags = ?, attributes = ?, updated_at = ? WHERE id = ?",
                    [(*values.values[k], now_db, contact_id) for contact_id, k in values.rows],
                )
            return
        # PostgreSQL: other transactions may have changed these contacts meanwhile (an identify call),
        # so apply only what this batch changed, as a merge inside the UPDATE.
        js = fast.json
        diffs = _Dictionary()
        # In id order, so concurrent batches sharing contacts lock them in the same order.
        for _id, c in sorted(dirty.items()):
            raw_tags, raw_attrs = originals[c.id]
            tags_before = set(json_list(raw_tags))
            attrs_before = json_dict(raw_attrs)
            diffs.add(
                c.id,
                (
                    js(sorted(c.tags - tags_before)),
                    js(sorted(tags_before - c.tags)),
                    js({k: v for k, v in c.attributes.items() if attrs_before.get(k, _MISSING) != v}),
                ),
            )
        ids, keys = diffs.columns()
        added, removed, attrs = (list(column) for column in zip(*diffs.values, strict=True))
        fast.conn.exec_driver_sql(
            "UPDATE contacts AS c SET tags = (SELECT COALESCE(jsonb_agg(DISTINCT t ORDER BY t), '[]'::jsonb)"
            " FROM jsonb_array_elements_text(c.tags || d.added) AS t WHERE NOT jsonb_exists(d.removed, t)),"
            " attributes = CASE WHEN d.attrs = '{}'::jsonb THEN c.attributes ELSE c.attributes || d.attrs END,"
            " updated_at = %s"
            " FROM unnest(%s::bigint[], %s::int[]) AS v(id, k)"
            " JOIN unnest(%s::jsonb[], %s::jsonb[], %s::jsonb[]) WITH ORDINALITY AS d(added, removed, attrs, k)"
            " ON d.k = v.k"
            " WHERE c.id = v.id",
            (now_db, int_array(ids), int_array(keys), added, removed, attrs),
        )

    def _write_outbox(self, fast: FastSQL, outbox: list[tuple], now: datetime) -> None:
        """One outbox row per queued message; the idempotency key makes a repeated step a no-op."""
        now_db = fast.dt(now)
        js = fast.json
        payloads: dict[int, str] = {}
        rows = _Dictionary()
        for enrollment_id, contact_id, workspace_id, journey_id, version_id, m in outbox:
            msg = m.message
            # A node's batch shares one message object and (usually) an empty context: encode it once.
            payload = payloads.get(id(msg)) if not m.context else None
            if payload is None:
                payload = js(
                    {**msg.payload, "fallback": msg.fallback, "marketing": msg.marketing, "context": m.context}
                )
                if not m.context:
                    payloads[id(msg)] = payload
            rows.add(
                (enrollment_id, contact_id),
                (workspace_id, journey_id, version_id, m.node_id, msg.channel, msg.template, payload),
            )
        columns = (
            "workspace_id, idempotency_key, contact_id, enrollment_id, journey_id, version_id, node_id, channel,"
            " template_key, payload, status, attempts, next_attempt_at, created_at, test"
        )
        if not fast.postgres:
            if len(rows.values) <= _GROUPED_MAX:
                for (ws, j, v, node, channel, template, payload), group in zip(
                    rows.values, rows.grouped(), strict=True
                ):
                    fast.execute(
                        f"INSERT INTO outbox ({columns})"
                        " SELECT ?, 'enr:' || json_extract(value, '$[0]') || ':' || ?, json_extract(value, '$[1]'),"
                        " json_extract(value, '$[0]'), ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, FALSE"
                        " FROM json_each(?) WHERE true ORDER BY key"
                        " ON CONFLICT (workspace_id, idempotency_key) DO NOTHING",
                        (ws, node, j, v, node, channel, template, payload, now_db, now_db, json_pairs(group)),
                    )
                return
            fast.many(
                f"INSERT INTO outbox ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, FALSE)"
                " ON CONFLICT (workspace_id, idempotency_key) DO NOTHING",
                [
                    (ws, f"enr:{eid}:{node}", cid, eid, j, v, node, channel, template, payload, now_db, now_db)
                    for (eid, cid), k in rows.rows
                    for ws, j, v, node, channel, template, payload in (rows.values[k],)
                ],
            )
            return
        fast.conn.exec_driver_sql(
            f"INSERT INTO outbox ({columns})"
            " SELECT d.workspace_id, 'enr:' || v.enrollment_id || ':' || d.node_id, v.contact_id, v.enrollment_id,"
            " d.journey_id, d.version_id, d.node_id, d.channel, d.template_key, d.payload, 'pending', 0, %s, %s,"
            " FALSE"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::int[]) AS v(enrollment_id, contact_id, k)"
            " JOIN unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::jsonb[])"
            " WITH ORDINALITY AS d(workspace_id, journey_id, version_id, node_id, channel, template_key, payload, k)"
            " ON d.k = v.k"
            " ORDER BY v.enrollment_id"
            " ON CONFLICT (workspace_id, idempotency_key) DO NOTHING",
            (
                now_db,
                now_db,
                int_array(e for (e, _c), _k in rows.rows),
                int_array(c for (_e, c), _k in rows.rows),
                int_array(k + 1 for _row, k in rows.rows),
                *(list(column) for column in zip(*rows.values, strict=True)),
            ),
        )


def _park(fast: FastSQL, failed: list[tuple[int, int, Result]], now: datetime) -> None:
    """Enrollments whose block raised stop on that block with status ``failed`` and the error, out of
    the claim (which takes only ``active`` rows) until an operator retries them (see
    ``backend.runtime.failures.retry``). They keep the event that woke them and the request's events not
    applied yet, and one that failed on the block it was claimed on keeps what it waits for, so a retry
    runs the very same step again."""
    to_builtins = msgspec.to_builtins
    rows = []
    for journey_id, version_id, result in failed:
        by_node: dict[str, list] = {}
        for f in result.failures:
            by_node.setdefault(f.node_id, []).append(f)
            rows.append(
                (
                    f.node_id,
                    fast.dt(f.entered_at),
                    None if f.state is None else fast.json(f.state),
                    None if f.event is None else fast.json(to_builtins(f.event)),
                    fast.json(to_builtins(f.pending)) if f.pending else None,
                    f.error_type,
                    f.error_message,
                    fast.dt(now),
                    f.arrived,
                    f.enrollment_id,
                )
            )
        for node_id, failures in by_node.items():
            first = failures[0]
            log.error(
                "block %s of journey %s (version %s) raised for %d contact(s), parked as failed: %s: %s",
                node_id,
                journey_id,
                version_id,
                len(failures),
                first.error_type,
                first.error_message,
                exc_info=first.exception,
            )
    fast.many(
        "UPDATE enrollments SET node_id = ?, node_entered_at = ?, state = ?::jsonb, wake_event = ?::jsonb,"
        " pending_events = ?::jsonb, status = 'failed', due_at = NULL, error_type = ?, error_message = ?,"
        " failed_at = ?, wait_event = CASE WHEN ? THEN NULL ELSE wait_event END"
        " WHERE id = ?",
        rows,
    )


_MISSING = object()
_node_of = attrgetter("node_id")

_GROUPED_MAX = 64
"""SQLite: with up to this many distinct value tuples in a batch, write one statement per tuple over a
JSON array of ids (``json_each`` walks it in C, about a third cheaper than binding every row's values
through ``executemany``); with more, one statement per tuple would cost more than it saves."""

_JSON_IDS = "(SELECT value FROM json_each(?))"


def json_ints(values) -> str:
    return "[" + ",".join(map(str, values)) + "]"


def json_pairs(pairs) -> str:
    return "[" + ",".join(f"[{a},{b}]" for a, b in pairs) + "]"


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while any batch runs in this process.

    A batch allocates tens of thousands of small containers (snapshots, items, outcomes) that die by
    reference counting when it ends; letting the collector walk them, and the whole heap, every few
    hundred allocations doubled the claim's cost in measurements. Nothing in a batch forms cycles.
    Counted, so concurrent batches in threads do not switch it back on under each other.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            last = _gc_pausers == 0
            if last and _gc_was_enabled:
                gc.enable()
        if not last and _gc_was_enabled:
            # Batches overlapping back to back could keep it paused indefinitely; sweep the young
            # generation once per batch so cycles made by other threads (API requests) still go.
            gc.collect(0)


class _Dictionary:
    """Rows as (row id, index into ``values``): the few distinct value tuples of a batch stored once."""

    __slots__ = ("_index", "rows", "values")

    def __init__(self) -> None:
        self._index: dict[tuple, int] = {}
        self.values: list[tuple] = []
        self.rows: list[tuple[Any, int]] = []

    def add(self, row_id: Any, value: tuple) -> None:
        k = self._index.get(value)
        if k is None:
            k = self._index[value] = len(self.values)
            self.values.append(value)
        self.rows.append((row_id, k))

    def grouped(self) -> list[list]:
        """Row ids per value, in the order of ``values``."""
        groups: list[list] = [[] for _ in self.values]
        for row_id, k in self.rows:
            groups[k].append(row_id)
        return groups

    def columns(self) -> tuple[list, list[int]]:
        """Row ids and 1-based keys (``WITH ORDINALITY`` counts from 1)."""
        return [row_id for row_id, _k in self.rows], [k + 1 for _row_id, k in self.rows]


class _DatetimeWriter:
    """``FastSQL.dt`` memoised: a batch's timestamps are a handful of distinct values."""

    def __init__(self, fast: FastSQL) -> None:
        self._dt = fast.dt
        self._cache: dict[datetime | None, Any] = {None: None}

    def __call__(self, value: datetime | None) -> Any:
        try:
            return self._cache[value]
        except KeyError:
            converted = self._cache[value] = self._dt(value)
            return converted


class _DatetimeReader:
    """Timestamps as aware UTC datetimes; SQLite's text values parsed once per distinct value."""

    def __init__(self, postgres: bool) -> None:
        self._postgres = postgres
        self._cache: dict[Any, datetime] = {}

    def __call__(self, value: Any) -> datetime:
        if self._postgres:
            return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        parsed = self._cache.get(value)
        if parsed is None:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
            parsed = self._cache[value] = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
        return parsed


def _pending_events(value: Any) -> list[Event]:
    if isinstance(value, str | bytes):
        value = _decode(value)
    return msgspec.convert(value or [], list[Event])


def _wake_event(value: Any) -> Event | None:
    """The event that woke the enrollment; NULL and JSON null (what the ORM stores for None) are none."""
    if isinstance(value, str | bytes):
        value = _decode(value)
    return msgspec.convert(value, Event) if value else None


def _count(counters: dict, workspace_id: int, journey_id: int, result: Result) -> None:
    for s in result.steps:
        key = (workspace_id, journey_id, s.node_id, s.outcome)
        counters[key] = counters.get(key, 0) + 1


def _claim_sql(postgres: bool) -> str:
    """Due enrollments of live versions, oldest first, joined with their contacts' snapshot columns.

    PostgreSQL locks the claimed rows with ``FOR UPDATE SKIP LOCKED`` inside a materialised CTE, so
    concurrent workers take disjoint batches; JSON comes back as text for msgspec to decode.
    """
    enrollment_columns = (
        "id, workspace_id, journey_id, version_id, contact_id, node_id, node_entered_at, state, wake_event, context,"
        " pending_events"
    )
    due = (
        f"SELECT {enrollment_columns} FROM enrollments"
        " WHERE status = 'active' AND due_at <= ? AND version_id NOT IN"
        " (SELECT id FROM journey_versions WHERE status IN ('paused', 'archived'))"
        " ORDER BY due_at LIMIT ?"
    )
    contact_columns = ", ".join(f"c.{name.strip()}" for name in CONTACT_COLUMNS.split(","))
    selected = (
        "e.id, e.workspace_id, e.journey_id, e.version_id, e.contact_id, e.node_id, e.node_entered_at,"
        " e.state, e.wake_event, e.context, e.pending_events"
    )
    if postgres:
        selected = selected.replace(
            "e.state, e.wake_event, e.context, e.pending_events",
            "e.state::text, e.wake_event::text, e.context::text, e.pending_events::text",
        )
        contact_columns = ", ".join(
            f"{column}::text"
            if column.split(".")[1] in ("attributes", "tags", "push_tokens", "consent", "computed", "scores")
            else column
            for column in contact_columns.split(", ")
        )
        return (
            f"WITH e AS MATERIALIZED ({due} FOR UPDATE SKIP LOCKED)"
            f" SELECT {selected}, {contact_columns} FROM e JOIN contacts c ON c.id = e.contact_id"
        )
    return f"SELECT {selected}, {contact_columns} FROM ({due}) AS e JOIN contacts c ON c.id = e.contact_id"


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
