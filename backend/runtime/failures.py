"""Blocks that raise: what the operator sees and does about it.

The tick parks an enrollment whose block's step raised (status ``failed``, with the exception's type and
message, see ``tick._park``); everyone else in the batch moves on. A step is a pure function of the
contact, the config and the time, so running it again unchanged would most likely raise again: nothing
retries on its own. Once the cause is fixed (a new version of the journey published, the plug-in package
upgraded), :func:`retry` puts the parked enrollments back on the same block, due now.

A trigger whose ``matches()`` raises cannot say whether the event starts the journey: the event is stored
and the contact does not enter; :class:`TriggerChecks` counts it as an ``error`` on the trigger block.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.db.fastsql import FastSQL
from backend.db.models import Enrollment, JourneyVersion
from backend.engine.interpreter import describe_error
from backend.engine.sdk import Event
from backend.engine.validation import CompiledNode
from backend.runtime.snapshots import chunks

log = logging.getLogger(__name__)

_enr = Enrollment.__table__


@dataclass
class NodeFailures:
    """The enrollments parked on one block: how many, and the latest error."""

    count: int
    error_type: str | None
    error_message: str | None
    failed_at: datetime | None


def node_failures(conn: sa.Connection, journey_id: int) -> dict[str, NodeFailures]:
    """Parked enrollments of a journey (every version) per block, with the newest error of each."""
    versions = sa.select(JourneyVersion.id).where(JourneyVersion.journey_id == journey_id)
    counts = conn.execute(
        sa.select(_enr.c.node_id, sa.func.count())
        .where(_enr.c.version_id.in_(versions), _enr.c.status == "failed")
        .group_by(_enr.c.node_id)
    ).all()
    out: dict[str, NodeFailures] = {}
    for node_id, count in counts:
        latest = conn.execute(
            sa.select(_enr.c.error_type, _enr.c.error_message, _enr.c.failed_at)
            .where(_enr.c.version_id.in_(versions), _enr.c.node_id == node_id, _enr.c.status == "failed")
            .order_by(_enr.c.failed_at.desc(), _enr.c.id.desc())
            .limit(1)
        ).first()
        out[node_id] = NodeFailures(count, *(latest or (None, None, None)))
    return out


def retry(
    conn: sa.Connection,
    *,
    workspace_id: int,
    journey_id: int,
    now: datetime,
    node_id: str | None = None,
    contact_ids: Sequence[int] = (),
) -> int:
    """Put parked enrollments of a journey back on the block they failed on, due now (all of them, or
    those on ``node_id`` and/or of ``contact_ids``). Returns how many. The caller wakes the worker after
    commit. An enrollment of a paused journey stays put until the journey is resumed, like any other."""
    conditions = [_enr.c.workspace_id == workspace_id, _enr.c.journey_id == journey_id, _enr.c.status == "failed"]
    if node_id is not None:
        conditions.append(_enr.c.node_id == node_id)
    values: dict[str, Any] = {
        "status": "active",
        "due_at": now,
        "error_type": None,
        "error_message": None,
        "failed_at": None,
    }
    if not contact_ids:
        return conn.execute(sa.update(_enr).where(*conditions).values(**values)).rowcount or 0
    retried = 0
    for part in chunks(sorted(set(contact_ids))):
        result = conn.execute(sa.update(_enr).where(*conditions, _enr.c.contact_id.in_(part)).values(**values))
        retried += result.rowcount or 0
    return retried


class TriggerChecks:
    """``matches()`` of event triggers for one batch of incoming events. A trigger that raises answers
    "no" (the event is kept, the contact does not enter), and :meth:`record` counts the errors on the
    trigger block and logs each failing trigger once per batch, instead of failing the whole ingest."""

    def __init__(self) -> None:
        self.errors: dict[tuple[int, str], list[Any]] = {}

    def matches(self, journey_id: int, node_id: str, node: CompiledNode, event: Event) -> bool:
        try:
            return bool(node.block.matches(node.config, event))
        except Exception as exc:
            entry = self.errors.get((journey_id, node_id))
            if entry is None:
                self.errors[(journey_id, node_id)] = [1, exc]
            else:
                entry[0] += 1
            return False

    def record(self, conn: sa.Connection, workspace_id: int) -> None:
        if not self.errors:
            return
        errors = sorted(self.errors.items(), key=lambda kv: kv[0])
        for (journey_id, node_id), (count, exc) in errors:
            error_type, message = describe_error(exc)
            log.error(
                "trigger %s of journey %s raised on %d event(s), which did not start the journey: %s: %s",
                node_id,
                journey_id,
                count,
                error_type,
                message,
                exc_info=exc,
            )
        FastSQL(conn).many(
            "INSERT INTO node_counters (workspace_id, journey_id, node_id, outcome, count)"
            " VALUES (?, ?, ?, 'error', ?) ON CONFLICT (journey_id, node_id, outcome)"
            " DO UPDATE SET count = node_counters.count + excluded.count",
            [(workspace_id, j, n, count) for (j, n), (count, _exc) in errors],
        )
        self.errors.clear()
