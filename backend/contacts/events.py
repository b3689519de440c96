"""The one event path: store a batch of events, then hand it — once, set-based — to audiences and to
journeys, in the caller's transaction.

Order matters and is kept: events are applied in the order of their timestamps (ties keep the order
they were sent in), so a request carrying several events for one contact has the effect they would
have had one call at a time (see backend/runtime/events.py for how journeys honour that).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from backend.audience import live as audience
from backend.db.fastsql import FastSQL
from backend.runtime.events import EventEffects, IncomingEvent, handle_events

if TYPE_CHECKING:
    from backend.services import Services

SQLITE_ROWS = 2000
"""Rows per multi-row statement on SQLite (at most 7 parameters each; SQLite allows 32,766)."""


@dataclass(slots=True)
class NewEvent:
    contact_id: int
    name: str
    properties: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    """Set to de-duplicate (Segment's messageId, provider notifications): a repeat is not stored or
    acted on again. Left empty, a unique id is made up."""
    occurred_at: datetime | None = None
    """When it happened; ``None`` means now."""


@dataclass
class Recorded:
    stored: list[NewEvent]
    effects: EventEffects

    @property
    def work_queued(self) -> bool:
        return self.effects.work_queued


def insert_events(
    fast: FastSQL, workspace_id: int, events: Sequence[NewEvent], now: datetime, source: str
) -> dict[str, int]:
    """Insert in the order given (event ids follow it); rows whose message id is taken are skipped.
    Returns {message id: event id} of the rows inserted. Every event must have a message id."""
    if not events:
        return {}
    json, dt = fast.json, fast.dt
    tail = " ON CONFLICT (workspace_id, message_id) DO NOTHING RETURNING id, message_id"
    columns = "workspace_id, contact_id, name, properties, occurred_at, received_at, message_id, source"
    if fast.postgres:
        rows = fast.all(
            f"INSERT INTO events ({columns})"
            " SELECT ?, v.contact_id, v.name, v.properties::jsonb, v.occurred_at, ?, v.message_id, ?"
            " FROM unnest(?::bigint[], ?::text[], ?::text[], ?::timestamptz[], ?::text[]) WITH ORDINALITY"
            " AS v(contact_id, name, properties, occurred_at, message_id, n) ORDER BY v.n" + tail,
            (
                workspace_id,
                now,
                source,
                [e.contact_id for e in events],
                [e.name for e in events],
                [json(e.properties) for e in events],
                [e.occurred_at or now for e in events],
                [e.message_id for e in events],
            ),
        )
        return {message_id: event_id for event_id, message_id in rows}
    out: dict[str, int] = {}
    received = dt(now)
    for start in range(0, len(events), SQLITE_ROWS):
        part = events[start : start + SQLITE_ROWS]
        params: list[Any] = []
        for e in part:
            params += (
                workspace_id,
                e.contact_id,
                e.name,
                json(e.properties),
                dt(e.occurred_at or now),
                received,
                e.message_id,
                source,
            )
        rows = fast.all(
            f"INSERT INTO events ({columns}) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(part)) + tail,
            params,
        )
        out.update((message_id, event_id) for event_id, message_id in rows)
    return out


def record(
    conn: sa.Connection,
    services: Services,
    workspace_id: int,
    events: Sequence[NewEvent],
    now: datetime,
    source: str,
) -> Recorded:
    """Store events about known contacts (tracking, delivery, imports) and propagate them. Repeats of
    a message id are left out. When journey work became due, the waker is notified on commit."""
    if not events:
        return Recorded([], EventEffects())
    for event in events:
        if event.message_id is None:
            event.message_id = f"wm:{uuid.uuid4().hex}"
    claimed = insert_events(FastSQL(conn), workspace_id, events, now, source)
    stored = [e for e in events if e.message_id in claimed]
    if not stored:
        return Recorded([], EventEffects())
    effects = propagate(
        conn,
        services,
        workspace_id,
        [
            IncomingEvent(
                contact_id=e.contact_id,
                name=e.name,
                properties=e.properties,
                occurred_at=e.occurred_at or now,
                event_id=claimed[e.message_id],
            )
            for e in stored
        ],
        (),
        now,
    )
    if effects.work_queued:
        services.waker.notify(conn)  # NOTIFY is delivered on commit (PostgreSQL)
    return Recorded(stored, effects)


def propagate(
    conn: sa.Connection,
    services: Services,
    workspace_id: int,
    events: Sequence[IncomingEvent],
    changed_contacts: Collection[int],
    now: datetime,
    *,
    keep_order: bool = False,
) -> EventEffects:
    """Hand stored events and changed contacts to audiences, store what audiences derive from them
    (segment entries and exits), then hand everything to journeys. The caller wakes the workers.
    Journeys see the events in timestamp order, or as given with ``keep_order`` (arrival order)."""
    derived = store_derived(conn, workspace_id, audience.update(conn, workspace_id, events, changed_contacts, now), now)
    return hand_to_journeys(conn, services, workspace_id, [*events, *derived], now, keep_order=keep_order)


def store_derived(
    conn: sa.Connection, workspace_id: int, derived: Sequence[audience.Derived], now: datetime
) -> list[IncomingEvent]:
    """Store events that audiences derived (segment entries and exits) as ``system`` events."""
    if not derived:
        return []
    rows = [
        NewEvent(d.contact_id, d.name, d.properties, f"wm:{uuid.uuid4().hex}", d.occurred_at or now) for d in derived
    ]
    ids = insert_events(FastSQL(conn), workspace_id, rows, now, "system")
    return [
        IncomingEvent(
            contact_id=r.contact_id,
            name=r.name,
            properties=r.properties,
            occurred_at=r.occurred_at or now,
            event_id=ids.get(r.message_id or ""),
        )
        for r in rows
    ]


def hand_to_journeys(
    conn: sa.Connection,
    services: Services,
    workspace_id: int,
    events: Sequence[IncomingEvent],
    now: datetime,
    *,
    keep_order: bool = False,
) -> EventEffects:
    if not events:
        return EventEffects()
    return handle_events(conn, services.graphs, workspace_id, events, now, keep_order=keep_order)


def contacts_changed(
    conn: sa.Connection, services: Services, workspace_id: int, contact_ids: Collection[int], now: datetime
) -> EventEffects:
    """Traits changed without an event (the admin API, a journey's tag or attribute block): audiences
    re-evaluate those contacts, and their entries and exits travel to journeys like any event."""
    if not contact_ids:
        return EventEffects()
    return propagate(conn, services, workspace_id, (), contact_ids, now)


RECHECK_BATCH = 5000


def run_rechecks(services: Services, limit: int = RECHECK_BATCH) -> int:
    """One batch of due time-based re-checks (a transaction): segment entries and exits they cause are
    stored and handed to journeys like any event. Returns how many contacts were re-checked."""
    now = services.clock.now()
    with services.engine.begin() as conn:
        due = audience.claim_due(conn, now, limit)
        queued = False
        for workspace_id, contact_ids in due.items():
            derived = store_derived(conn, workspace_id, audience.recheck(conn, workspace_id, contact_ids, now), now)
            queued = hand_to_journeys(conn, services, workspace_id, derived, now).work_queued or queued
        if queued:
            services.waker.notify(conn)
    if queued:
        services.waker.notify()
    return sum(len(ids) for ids in due.values())
