"""What an incoming event does to journeys, inside the ingesting transaction: start event-triggered
enrollments, wake ``wait.event`` enrollments, apply journey exit rules and goals. Everything it makes
due is due *now*, and the caller wakes the worker after commit, so the first message does not wait for
the next poll."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from backend.db.models import Enrollment, JourneyVersion
from backend.engine.sdk import Event
from backend.runtime.enroll import enroll
from backend.runtime.graphs import GraphCache
from backend.runtime.snapshots import chunks

_enr = Enrollment.__table__
_versions = JourneyVersion.__table__


class IncomingEvent(msgspec.Struct, kw_only=True):
    contact_id: int
    name: str
    properties: dict[str, Any] = {}
    occurred_at: datetime
    event_id: int | None = None


@dataclass
class EventEffects:
    enrolled: int = 0
    woken: int = 0
    exited: int = 0
    converted: int = 0

    @property
    def work_queued(self) -> bool:
        return bool(self.enrolled or self.woken)


def live_versions(conn: sa.Connection, workspace_id: int) -> list[tuple[int, int]]:
    """(journey id, version id) of every published version in the workspace."""
    return conn.execute(
        sa.select(_versions.c.journey_id, _versions.c.id).where(
            _versions.c.workspace_id == workspace_id, _versions.c.status == "published"
        )
    ).all()


def handle_events(
    conn: sa.Connection, cache: GraphCache, workspace_id: int, events: Sequence[IncomingEvent], now: datetime
) -> EventEffects:
    effects = EventEffects()
    if not events:
        return effects
    versions = cache.runnable(conn, live_versions(conn, workspace_id))

    _exit_and_convert(conn, cache, workspace_id, events, now, effects)

    last_by_name: dict[tuple[int, str], Event] = {}
    for ev in events:
        sdk_event = Event(name=ev.name, properties=ev.properties, occurred_at=ev.occurred_at)
        last_by_name[(ev.contact_id, ev.name)] = sdk_event
        for journey_id, version_id, compiled in versions:
            for node_id in compiled.triggers:
                node = compiled.nodes[node_id]
                if node.block.trigger != "event" or not node.block.matches(node.config, sdk_event):
                    continue
                result = enroll(
                    conn,
                    workspace_id=workspace_id,
                    journey_id=journey_id,
                    version_id=version_id,
                    graph=compiled,
                    trigger_node=node_id,
                    contact_ids=[ev.contact_id],
                    now=now,
                    context={"event": msgspec.to_builtins(sdk_event)},
                )
                effects.enrolled += result.enrolled
                break  # one entry per journey per event, even with several matching triggers

    effects.woken += _wake(conn, workspace_id, last_by_name, now)
    return effects


def _wake(conn: sa.Connection, workspace_id: int, last_by_name: dict[tuple[int, str], Event], now: datetime) -> int:
    """Make ``wait.event`` enrollments waiting for one of these events due now: one SELECT and one
    executemany UPDATE for the whole batch. An enrollment woken by several events of a batch gets the
    last one (as if the events had arrived one by one)."""
    contact_ids = sorted({contact_id for contact_id, _ in last_by_name})
    names = sorted({name for _, name in last_by_name})
    updates = []
    for part in chunks(contact_ids):
        rows = conn.execute(
            sa.select(_enr.c.id, _enr.c.contact_id, _enr.c.wait_event).where(
                _enr.c.workspace_id == workspace_id,
                _enr.c.wait_event.in_(names),
                _enr.c.contact_id.in_(part),
                _enr.c.status == "active",
            )
        )
        for enrollment_id, contact_id, wait_event in rows:
            event = last_by_name.get((contact_id, wait_event))
            if event is not None:
                updates.append({"_id": enrollment_id, "_wake": msgspec.to_builtins(event)})
    if updates:
        conn.execute(
            sa.update(_enr)
            .where(_enr.c.id == sa.bindparam("_id"))
            .values(due_at=now, wake_event=sa.bindparam("_wake", type_=_enr.c.wake_event.type)),
            updates,
        )
    return len(updates)


def _exit_and_convert(conn, cache, workspace_id, events, now, effects: EventEffects) -> None:
    """Goals and ``exit_when`` apply to every version a contact is in, old ones included."""
    names_by_contact: dict[int, set[str]] = defaultdict(set)
    for ev in events:
        names_by_contact[ev.contact_id].add(ev.name)
    rows = conn.execute(
        sa.select(_enr.c.id, _enr.c.contact_id, _enr.c.version_id, _enr.c.status, _enr.c.converted_at).where(
            _enr.c.workspace_id == workspace_id,
            _enr.c.contact_id.in_(list(names_by_contact)),
            _enr.c.status.in_(("active", "control")),
        )
    ).all()
    exits, conversions = [], []
    runnable = {v: compiled for _, v, compiled in cache.runnable(conn, {(0, r.version_id) for r in rows})}
    for enrollment_id, contact_id, version_id, status, converted_at in rows:
        if version_id not in runnable:
            continue  # a version that cannot run is set aside by the tick; its settings are unknown here
        settings = runnable[version_id].settings
        names = names_by_contact[contact_id]
        goal = settings.goal
        if goal is not None and goal.event in names and converted_at is None:
            conversions.append({"_id": enrollment_id})
            if goal.exit and status == "active":
                exits.append({"_id": enrollment_id, "reason": "goal reached"})
                continue
        if status == "active" and names.intersection(settings.exit_when):
            exits.append(
                {
                    "_id": enrollment_id,
                    "reason": "exit event: " + ", ".join(sorted(names & set(settings.exit_when))),
                }
            )
    if conversions:
        conn.execute(sa.update(_enr).where(_enr.c.id == sa.bindparam("_id")).values(converted_at=now), conversions)
        effects.converted += len(conversions)
    if exits:
        conn.execute(
            sa.update(_enr)
            .where(_enr.c.id == sa.bindparam("_id"))
            .values(
                status="exited",
                exit_reason=sa.bindparam("reason"),
                finished_at=now,
                due_at=None,
                wait_event=None,
            ),
            exits,
        )
        effects.exited += len(exits)
