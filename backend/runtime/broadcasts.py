"""Broadcasts: a template sent once to everyone in a segment, now or at a set time, optionally at that
wall-clock time in each contact's time zone.

A broadcast sends through a small journey of its own (``trigger.manual`` → [``wait.until`` local time] →
``send``), published when the broadcast is created and hidden from the journeys list. So a broadcast
gets, with no second delivery path, what journeys have: consent and unsubscribes, quiet hours,
frequency caps (also across the workspace), the outbox's exactly-once delivery, per-message status and
reports. When its time comes, the worker takes the segment's members at that moment and enrolls them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.db.fastsql import FastSQL
from backend.db.models import Broadcast, Journey, OutboxMessage, Segment, SegmentMember, Template
from backend.engine.registry import Registry
from backend.engine.validation import compile_graph
from backend.errors import Issue, Refused, invalid, missing
from backend.runtime import readiness
from backend.runtime.enroll import enroll
from backend.runtime.graphs import GraphCache
from backend.runtime.publishing import archive, publish
from backend.runtime.snapshots import chunks

_broadcasts = Broadcast.__table__

EARLIEST_OFFSET = timedelta(hours=14)
"""The earliest time zone (UTC+14) reaches a local time this much before UTC does: a local-time
broadcast takes its audience then, and each contact waits for their own local time."""


def graph(
    template: str, channel: str, fallback: list[str], send_at: datetime, local_time: bool, settings: dict[str, Any]
) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "trigger.manual", "version": 1, "label": "Broadcast", "config": {}}
    ]
    if local_time:
        wall = send_at.replace(tzinfo=UTC).isoformat()  # read as wall-clock time in each contact's zone
        nodes.append(
            {
                "id": "local_time",
                "type": "wait.until",
                "version": 1,
                "label": "Local time",
                "config": {"mode": "datetime", "datetime": wall, "local": True},
            }
        )
    send_config: dict[str, Any] = {"template": template, "channel": channel, "marketing": True}
    if fallback:
        send_config["fallback"] = fallback
    nodes.append({"id": "send", "type": "send", "version": 1, "label": "Send", "config": send_config})
    edges = [
        {"id": f"e{i}", "source": a["id"], "port": "next", "target": b["id"]}
        for i, (a, b) in enumerate(itertools.pairwise(nodes))
    ]
    for i, node in enumerate(nodes):
        node["position"] = {"x": 0, "y": i * 120}
    return {"schema_version": 1, "nodes": nodes, "edges": edges, "settings": {"reentry": "always", **settings}}


def create(
    session: Session,
    *,
    workspace_id: int,
    name: str,
    segment: str,
    template: str,
    channel: str,
    fallback: list[str],
    send_at: datetime | None,
    local_time: bool,
    settings: dict[str, Any],
    registry: Registry,
    graphs: GraphCache,
    user_id: int | None,
    now: datetime,
    app_settings: Any,
) -> Broadcast:
    """Create and schedule a broadcast (``send_at`` None: now). The journey is validated like any other:
    a template that does not exist or has no body for the channel is refused before anything is sent."""
    conn = session.connection()
    if (
        conn.execute(sa.select(Segment.id).where(Segment.workspace_id == workspace_id, Segment.key == segment)).first()
        is None
    ):
        raise invalid("/segment", f"there is no segment {segment!r}")
    if (
        conn.execute(
            sa.select(Template.id).where(Template.workspace_id == workspace_id, Template.key == template)
        ).first()
        is None
    ):
        raise invalid("/template", f"there is no template {template!r}")
    if local_time and send_at is None:
        raise invalid("/local_time", "choose the date and time to send at in each contact's time zone")
    send_at = send_at or now
    if local_time or send_at.tzinfo is None:
        # A local-time broadcast keeps the wall-clock time as given (stored labelled UTC); a plain one
        # without an offset is UTC.
        send_at = send_at.replace(tzinfo=UTC)
    if send_at < now - timedelta(minutes=1) and not local_time:
        raise invalid("/send_at", "choose a time in the future, or send now")
    body = graph(template, channel, fallback, send_at, local_time, settings)
    issues = [
        Issue("/" + p.pointer.rsplit("/", 1)[-1], p.message)
        for p in readiness.problems(conn, workspace_id, compile_graph(body, registry), app_settings)
        if p.severity != "warning"
    ]
    if issues:
        raise Refused(400, "The broadcast cannot be sent", issues)
    journey = Journey(
        workspace_id=workspace_id,
        name=name,
        kind="broadcast",
        status="draft",
        draft=body,
        created_at=now,
        updated_at=now,
        created_by=user_id,
        updated_by=user_id,
    )
    session.add(journey)
    session.flush()
    publish(session, journey, registry=registry, graphs=graphs, now=now, user_id=user_id)
    starts_at = send_at - EARLIEST_OFFSET if local_time else send_at
    broadcast = Broadcast(
        workspace_id=workspace_id,
        name=name,
        segment_key=segment,
        template_key=template,
        journey_id=journey.id,
        send_at=send_at,
        local_time=local_time,
        starts_at=max(starts_at, now),
        status="scheduled",
        created_at=now,
        created_by=user_id,
    )
    session.add(broadcast)
    session.flush()
    return broadcast


def start_due(engine: sa.Engine, graphs: GraphCache, now: datetime) -> int:
    """Start the broadcasts whose time has come: enroll the segment's members as they are now, in one
    transaction per broadcast. Returns how many contacts were enrolled (the caller wakes the workers)."""
    started = 0
    while True:
        with engine.begin() as conn:
            fast = FastSQL(conn)
            lock = " FOR UPDATE SKIP LOCKED" if fast.postgres else ""
            due = fast.all(
                "SELECT id, workspace_id, journey_id, segment_key FROM broadcasts"
                f" WHERE status = 'scheduled' AND starts_at <= ? ORDER BY starts_at, id LIMIT 1{lock}",
                (fast.dt(now),),
            )
            if not due:
                return started
            broadcast_id, workspace_id, journey_id, segment_key = due[0]
            journey = conn.execute(sa.select(Journey.published_version_id).where(Journey.id == journey_id)).scalar_one()
            compiled = graphs.get(conn, journey)
            contact_ids = (
                conn.execute(
                    sa.select(SegmentMember.contact_id)
                    .join(Segment, Segment.id == SegmentMember.segment_id)
                    .where(Segment.workspace_id == workspace_id, Segment.key == segment_key)
                    .order_by(SegmentMember.contact_id)
                )
                .scalars()
                .all()
            )
            for part in chunks(contact_ids):
                enroll(
                    conn,
                    workspace_id=workspace_id,
                    journey_id=journey_id,
                    version_id=journey,
                    graph=compiled,
                    trigger_node="start",
                    contact_ids=part,
                    now=now,
                )
            conn.execute(
                sa.update(_broadcasts)
                .where(_broadcasts.c.id == broadcast_id)
                .values(status="sending", started_at=now, audience=len(contact_ids))
            )
            started += len(contact_ids)


def cancel(session: Session, workspace_id: int, broadcast_id: int, now: datetime) -> Broadcast:
    """Stop a broadcast: nobody else gets it (messages already handed to a provider are not recalled)."""
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.workspace_id != workspace_id:
        raise missing("broadcast")
    if broadcast.status == "cancelled":
        return broadcast
    journey = session.get(Journey, broadcast.journey_id)
    if journey is not None and journey.status != "archived":
        archive(session, journey, now)
    session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.journey_id == broadcast.journey_id, OutboxMessage.status == "pending")
        .values(status="skipped", last_error="broadcast cancelled")
    )
    broadcast.status = "cancelled"
    return broadcast


def message_counts(conn: sa.Connection, journey_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per broadcast journey, its messages by status (pending, sent, failed, skipped, …)."""
    out: dict[int, dict[str, int]] = {j: {} for j in journey_ids}
    if not journey_ids:
        return out
    rows = conn.execute(
        sa.select(OutboxMessage.journey_id, OutboxMessage.status, sa.func.count())
        .where(OutboxMessage.journey_id.in_(journey_ids), OutboxMessage.test.is_(False))
        .group_by(OutboxMessage.journey_id, OutboxMessage.status)
    )
    for journey_id, status, count in rows:
        out[journey_id][status] = count
    return out
