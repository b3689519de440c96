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
from backend.runtime.failures import TriggerChecks
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
    conn: sa.Connection,
    cache: GraphCache,
    workspace_id: int,
    events: Sequence[IncomingEvent],
    now: datetime,
    *,
    keep_order: bool = False,
) -> EventEffects:
    """Apply a stored batch to journeys, set-based, with the effect the events would have had one call at
    a time in timestamp order (ties keep the order sent) — or in the order given, with ``keep_order``
    (single calls stored together by the group-commit writer, which arrived in that order):

    * an enrollment waiting for one of the events is woken by the first of them; the contact's later
      events of the batch travel with it (``pending_events``) and are applied when it next stops;
    * goals and exit rules apply to enrollments that existed, up to the event that wakes them;
    * an event trigger starts an enrollment that carries the contact's later events the same way, so
      a ``wait.event``, a goal or an exit rule reached right after the trigger sees them.
    """
    effects = EventEffects()
    if not events:
        return effects
    ordered = list(events) if keep_order else sorted(events, key=lambda e: e.occurred_at)
    sdk = [Event(name=e.name, properties=e.properties, occurred_at=e.occurred_at) for e in ordered]
    positions: dict[int, list[int]] = defaultdict(list)
    for index, ev in enumerate(ordered):
        positions[ev.contact_id].append(index)

    def later(contact_id: int, index: int) -> list[dict[str, Any]]:
        return [msgspec.to_builtins(sdk[i]) for i in positions[contact_id] if i > index]

    wakes = _waiting(conn, workspace_id, ordered, positions)
    _exit_and_convert(conn, cache, workspace_id, ordered, positions, wakes, now, effects)
    effects.woken += _wake(conn, wakes, sdk, later, now)
    _start(conn, cache, workspace_id, ordered, sdk, later, now, effects)
    return effects


def _waiting(
    conn: sa.Connection, workspace_id: int, ordered: Sequence[IncomingEvent], positions: dict[int, list[int]]
) -> dict[int, tuple[int, int]]:
    """Enrollments waiting for an event of the batch: {enrollment id: (contact id, position of the first
    such event)}. One SELECT per chunk of contacts."""
    names = sorted({e.name for e in ordered})
    found: dict[int, tuple[int, int]] = {}
    for part in chunks(sorted(positions)):
        rows = conn.execute(
            sa.select(_enr.c.id, _enr.c.contact_id, _enr.c.wait_event).where(
                _enr.c.workspace_id == workspace_id,
                _enr.c.wait_event.in_(names),
                _enr.c.contact_id.in_(part),
                _enr.c.status == "active",
            )
        )
        for enrollment_id, contact_id, wait_event in rows:
            first = next((i for i in positions[contact_id] if ordered[i].name == wait_event), None)
            if first is not None:
                found[enrollment_id] = (contact_id, first)
    return found


def _wake(conn: sa.Connection, wakes: dict[int, tuple[int, int]], sdk: list[Event], later, now: datetime) -> int:
    """Make the waiting enrollments due now with the event that woke them (one executemany UPDATE);
    an enrollment a goal or exit rule ended meanwhile stays ended."""
    if not wakes:
        return 0
    updates = []
    for enrollment_id, (contact_id, index) in wakes.items():
        pending = later(contact_id, index)
        updates.append({"_id": enrollment_id, "_wake": msgspec.to_builtins(sdk[index]), "_pending": pending or None})
    conn.execute(
        sa.update(_enr)
        .where(_enr.c.id == sa.bindparam("_id"), _enr.c.status == "active")
        .values(
            due_at=now,
            wake_event=sa.bindparam("_wake", type_=_enr.c.wake_event.type),
            pending_events=sa.bindparam("_pending", type_=_enr.c.pending_events.type),
        ),
        updates,
    )
    return len(updates)


def _start(conn, cache, workspace_id, ordered, sdk, later, now: datetime, effects: EventEffects) -> None:
    """Event triggers, set-based: per journey, every contact's first matching event enrolls in one
    statement; a second matching event of the same contact (re-entry "always") goes in a second round."""
    versions = cache.runnable(conn, live_versions(conn, workspace_id))
    for journey_id, version_id, compiled in versions:
        triggers = [
            (node_id, compiled.nodes[node_id])
            for node_id in compiled.triggers
            if compiled.nodes[node_id].block.trigger == "event"
        ]
        if not triggers:
            continue
        rounds: list[dict[str, dict[int, int]]] = []
        seen: dict[int, int] = defaultdict(int)
        checks = TriggerChecks()  # a plug-in trigger that raises must not fail the ingest
        for index, ev in enumerate(ordered):
            for node_id, node in triggers:
                if checks.matches(journey_id, node_id, node, sdk[index]):
                    depth = seen[ev.contact_id]
                    seen[ev.contact_id] += 1
                    while len(rounds) <= depth:
                        rounds.append(defaultdict(dict))
                    rounds[depth][node_id][ev.contact_id] = index
                    break  # one entry per journey per event, even with several matching triggers
        checks.record(conn, workspace_id)
        goal = compiled.settings.goal
        for by_node in rounds:
            for node_id, firsts in by_node.items():
                result = enroll(
                    conn,
                    workspace_id=workspace_id,
                    journey_id=journey_id,
                    version_id=version_id,
                    graph=compiled,
                    trigger_node=node_id,
                    contact_ids=list(firsts),
                    now=now,
                    per_contact={
                        cid: ({"event": msgspec.to_builtins(sdk[i])}, later(cid, i)) for cid, i in firsts.items()
                    },
                )
                effects.enrolled += result.enrolled
                if goal is not None and result.control_contacts:
                    # Control contacts never tick: a goal reached later in the same request counts now.
                    converted = [
                        cid
                        for cid in result.control_contacts
                        if any(p["name"] == goal.event for p in later(cid, firsts[cid]))
                    ]
                    if converted:
                        conn.execute(
                            sa.update(_enr)
                            .where(
                                _enr.c.journey_id == journey_id,
                                _enr.c.contact_id.in_(converted),
                                _enr.c.status == "control",
                                _enr.c.converted_at.is_(None),
                            )
                            .values(converted_at=now)
                        )
                        effects.converted += len(converted)


def _exit_and_convert(conn, cache, workspace_id, ordered, positions, wakes, now, effects: EventEffects) -> None:
    """Goals and ``exit_when`` apply to every version a contact is in, old ones included — for an
    enrollment the batch wakes, only the events up to the waking one (the later ones travel with it)."""
    woken_at = {enrollment_id: index for enrollment_id, (_cid, index) in wakes.items()}
    rows = []
    for part in chunks(sorted(positions)):
        rows += conn.execute(
            sa.select(_enr.c.id, _enr.c.contact_id, _enr.c.version_id, _enr.c.status, _enr.c.converted_at).where(
                _enr.c.workspace_id == workspace_id,
                _enr.c.contact_id.in_(part),
                _enr.c.status.in_(("active", "control")),
            )
        ).all()
    exits, conversions = [], []
    runnable = {v: compiled for _, v, compiled in cache.runnable(conn, {(0, r.version_id) for r in rows})}
    for enrollment_id, contact_id, version_id, status, converted_at in rows:
        if version_id not in runnable:
            continue  # a version that cannot run is set aside by the tick; its settings are unknown here
        settings = runnable[version_id].settings
        last = woken_at.get(enrollment_id)
        names = {ordered[i].name for i in positions[contact_id] if last is None or i <= last}
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
