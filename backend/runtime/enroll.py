"""Putting contacts into journeys: re-entry rules, control groups, date-trigger de-duplication."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.db.models import Enrollment
from backend.engine.validation import CompiledGraph
from backend.runtime.snapshots import chunks

_enr = Enrollment.__table__


@dataclass
class EnrollResult:
    enrolled: int = 0
    control: int = 0
    skipped: int = 0


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
) -> EnrollResult:
    """Create enrollments at ``trigger_node``, due now, honouring the journey's re-entry setting."""
    result = EnrollResult()
    wanted = list(dict.fromkeys(contact_ids))
    if not wanted:
        return result
    reentry = graph.settings.reentry
    blocked: set[int] = set()
    for part in chunks(wanted):
        query = sa.select(_enr.c.contact_id, _enr.c.status, _enr.c.trigger_key).where(
            _enr.c.journey_id == journey_id, _enr.c.contact_id.in_(part)
        )
        for contact_id, status, key in conn.execute(query):
            if (
                (trigger_key is not None and key == trigger_key)
                or reentry == "never"
                or (reentry == "after_exit" and status == "active")
            ):
                blocked.add(contact_id)
    percent = graph.settings.control_group_percent
    rows = []
    for contact_id in wanted:
        if contact_id in blocked:
            result.skipped += 1
            continue
        control = in_control_group(journey_id, contact_id, percent)
        if control:
            result.control += 1
        else:
            result.enrolled += 1
        rows.append(
            {
                "workspace_id": workspace_id,
                "journey_id": journey_id,
                "version_id": version_id,
                "contact_id": contact_id,
                "node_id": trigger_node,
                "node_entered_at": now,
                "due_at": None if control else now,
                "status": "control" if control else "active",
                "control": control,
                "context": context,
                "trigger_key": trigger_key,
                "entered_at": now,
                "finished_at": now if control else None,
            }
        )
    if rows:
        conn.execute(_enr.insert(), rows)
    return result
