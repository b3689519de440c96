"""Putting contacts into journeys: re-entry rules, control groups, date-trigger de-duplication."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.db.fastsql import FastSQL, int_array
from backend.engine.validation import CompiledGraph
from backend.runtime.snapshots import chunks


@dataclass
class EnrollResult:
    enrolled: int = 0
    control: int = 0
    skipped: int = 0
    control_contacts: list[int] = field(default_factory=list)


def in_control_group(journey_id: int, contact_id: int, percent: float) -> bool:
    """Stable per (journey, contact): re-entering does not move a contact between groups."""
    if percent <= 0:
        return False
    return zlib.crc32(f"cg:{journey_id}:{contact_id}".encode()) % 10_000 < percent * 100


def enroll(
    conn: sa.Connection,
    *,
    workspace_id: int,
    journey_id: int,
    version_id: int,
    graph: CompiledGraph,
    trigger_node: str,
    contact_ids: Sequence[int],
    now: datetime,
    context: dict[str, Any] | None = None,
    trigger_key: str | None = None,
    per_contact: dict[int, tuple[dict[str, Any], list[Any] | None]] | None = None,
) -> EnrollResult:
    """Create enrollments at ``trigger_node``, due now, honouring the journey's re-entry setting.

    ``per_contact`` gives each contact its own context and pending events (event triggers: the event
    that started it, and the request's later events for that contact)."""
    result = EnrollResult()
    wanted = list(dict.fromkeys(contact_ids))
    if not wanted:
        return result
    reentry = graph.settings.reentry
    blocked: set[int] = set()
    fast = FastSQL(conn)
    for part in chunks(sorted(wanted)):
        for contact_id, status, key in _existing(fast, journey_id, part):
            if (
                (trigger_key is not None and key == trigger_key)
                or reentry == "never"
                or (reentry == "after_exit" and status in ("active", "failed"))
            ):
                blocked.add(contact_id)
    percent = graph.settings.control_group_percent
    rows: list[tuple[int, bool]] = []
    for contact_id in wanted:
        if contact_id in blocked:
            result.skipped += 1
            continue
        control = in_control_group(journey_id, contact_id, percent)
        if control:
            result.control += 1
            result.control_contacts.append(contact_id)
        else:
            result.enrolled += 1
        rows.append((contact_id, control))
    if rows and per_contact is not None:
        _insert_each(fast, (workspace_id, journey_id, version_id, trigger_node, trigger_key), rows, per_contact, now)
    elif rows:
        # What the ORM stored: a missing context is JSON null, not SQL NULL.
        shared = (workspace_id, journey_id, version_id, trigger_node, fast.json(context) or "null", trigger_key)
        _insert(fast, shared, rows, now)
    return result


def _existing(fast: FastSQL, journey_id: int, contact_ids: Sequence[int]) -> list[tuple]:
    """Enrollments the journey already has for these contacts (sorted ids), for the re-entry rules.

    On PostgreSQL the ids go as one array literal (a list of thousands of bind parameters is matched
    linearly, row by row, once psycopg prepares the statement), and the id range bounds the index
    scan, so the plan stays an index range scan even before statistics know how big the table is
    (right after a bulk enrollment the planner otherwise reads the whole journey for every chunk)."""
    if fast.postgres:
        return fast.all(
            "SELECT contact_id, status, trigger_key FROM enrollments"
            " WHERE journey_id = ? AND contact_id BETWEEN ? AND ? AND contact_id = ANY(?::bigint[])",
            (journey_id, contact_ids[0], contact_ids[-1], int_array(contact_ids)),
        )
    in_list, params = fast.id_list(contact_ids)
    return fast.all(
        f"SELECT contact_id, status, trigger_key FROM enrollments WHERE journey_id = ? AND contact_id {in_list}",
        (journey_id, *params),
    )


_INSERT_COLUMNS = (
    "workspace_id, journey_id, version_id, node_id, context, trigger_key, contact_id, node_entered_at, due_at,"
    " status, control, entered_at, finished_at"
)


def _insert(fast: FastSQL, shared: tuple, rows: list[tuple[int, bool]], now: datetime) -> None:
    """Raw bulk insert. Rows differ only in contact and control flag, so PostgreSQL gets one ``unnest``
    of two array literals and SQLite an ``executemany`` of plain tuples: no per-row ORM processing."""
    at = fast.dt(now)
    if fast.postgres:
        fast.conn.exec_driver_sql(
            f"INSERT INTO enrollments ({_INSERT_COLUMNS})"
            " SELECT %s, %s, %s, %s, %s::jsonb, %s, r.contact_id, %s,"
            " CASE WHEN r.control THEN NULL ELSE %s END, CASE WHEN r.control THEN 'control' ELSE 'active' END,"
            " r.control, %s, CASE WHEN r.control THEN %s END"
            " FROM unnest(%s::bigint[], %s::boolean[]) WITH ORDINALITY AS r(contact_id, control, n) ORDER BY r.n",
            (
                *shared,
                at,
                at,
                at,
                at,
                int_array(contact_id for contact_id, _control in rows),
                "{" + ",".join("t" if control else "f" for _contact_id, control in rows) + "}",
            ),
        )
        return
    fast.many(
        f"INSERT INTO enrollments ({_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                *shared,
                contact_id,
                at,
                None if control else at,
                "control" if control else "active",
                control,
                at,
                at if control else None,
            )
            for contact_id, control in rows
        ],
    )


def _insert_each(fast: FastSQL, shared: tuple, rows: list[tuple[int, bool]], per_contact: dict, now: datetime) -> None:
    """Rows with a context and pending events of their own (event triggers: a request's worth)."""
    at = fast.dt(now)
    ws, journey_id, version_id, node_id, trigger_key = shared
    values = []
    for contact_id, control in rows:
        context, pending = per_contact[contact_id]
        values.append(
            (
                ws,
                journey_id,
                version_id,
                node_id,
                fast.json(context) or "null",
                trigger_key,
                contact_id,
                at,
                None if control else at,
                "control" if control else "active",
                control,
                at,
                at if control else None,
                None if control or not pending else fast.json(pending),
            )
        )
    fast.many(
        f"INSERT INTO enrollments ({_INSERT_COLUMNS}, pending_events)"
        " VALUES (?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb)",
        values,
    )
