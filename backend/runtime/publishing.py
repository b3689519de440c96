"""Journey lifecycle: publish a draft as a new version, pause, resume, archive.

Migration rule on publish (documented in docs/journeys.md): an active contact moves to the new version
when the block it sits on still exists there under the same id *and* type; it is then re-checked on the
next tick against the new configuration (a lengthened wait holds it longer, a shortened one may release
it at once). Contacts whose block was removed or retyped finish on the version they entered.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.db.models import Enrollment, Journey, JourneyVersion, Segment, SegmentMember
from backend.engine.registry import Registry
from backend.engine.validation import compile_graph
from backend.runtime.enroll import enroll
from backend.runtime.graphs import GraphCache
from backend.runtime.snapshots import chunks

_enr = Enrollment.__table__

LIVE_VERSION_STATUSES = ("published", "superseded")


def publish(
    session: Session,
    journey: Journey,
    *,
    registry: Registry,
    graphs: GraphCache,
    now: datetime,
    user_id: int | None = None,
    key_prefix: str | None = None,
    note: str = "",
) -> tuple[JourneyVersion, int]:
    """Snapshot the draft as the next version. Raises ``GraphInvalid`` with every problem when the
    draft is not publishable. Returns the version and how many enrollments migrated to it."""
    if journey.status == "archived":
        raise ValueError("an archived journey cannot be published")
    compiled = compile_graph(journey.draft, registry)
    number = (
        session.execute(
            sa.select(sa.func.max(JourneyVersion.number)).where(JourneyVersion.journey_id == journey.id)
        ).scalar()
        or 0
    ) + 1
    graph = msgspec.to_builtins(compiled.graph)
    version = JourneyVersion(
        workspace_id=journey.workspace_id,
        journey_id=journey.id,
        number=number,
        graph=graph,
        status="paused" if journey.status == "paused" else "published",
        published_at=now,
        published_by=user_id,
        published_by_key=key_prefix,
        note=note,
    )
    session.add(version)
    session.flush()
    graphs.put(version.id, compiled)

    older = session.execute(
        sa.select(JourneyVersion).where(
            JourneyVersion.journey_id == journey.id,
            JourneyVersion.id != version.id,
            JourneyVersion.status.in_(("published", "paused")),
        )
    ).scalars()
    for old in older:
        old.status = "superseded"

    previous_nodes = _previous_nodes(session, journey.published_version_id)
    migrated = _migrate(session, journey.id, version.id, {n.id: n.type for n in compiled.graph.nodes}, now)
    if version.status == "published":
        _start_existing_members(session, journey, version.id, compiled, previous_nodes, now)
    journey.published_version_id = version.id
    if journey.status != "paused":
        journey.status = "published"
    journey.updated_at = now
    return version, migrated


def _previous_nodes(session: Session, version_id: int | None) -> set[tuple[str, str]]:
    if version_id is None:
        return set()
    graph = session.execute(sa.select(JourneyVersion.graph).where(JourneyVersion.id == version_id)).scalar()
    return {(n["id"], n["type"]) for n in (graph or {}).get("nodes", [])}


def _start_existing_members(session, journey, version_id, compiled, previous_nodes, now: datetime) -> None:
    """Triggers that start a segment's current members ("include people already in it") do so once, when
    the block is first published — not again on every later version."""
    conn = session.connection()
    for node_id in compiled.triggers:
        node = compiled.nodes[node_id]
        members_of = getattr(node.block, "members_on_publish", None)
        key = members_of(node.config) if members_of is not None else None
        if key is None or (node_id, node.block.type) in previous_nodes:
            continue
        contact_ids = (
            conn.execute(
                sa.select(SegmentMember.contact_id)
                .join(Segment, Segment.id == SegmentMember.segment_id)
                .where(Segment.workspace_id == journey.workspace_id, Segment.key == key)
                .order_by(SegmentMember.contact_id)
            )
            .scalars()
            .all()
        )
        for part in chunks(contact_ids):
            enroll(
                conn,
                workspace_id=journey.workspace_id,
                journey_id=journey.id,
                version_id=version_id,
                graph=compiled,
                trigger_node=node_id,
                contact_ids=part,
                now=now,
            )


def _migrate(session: Session, journey_id: int, version_id: int, node_types: dict[str, str], now: datetime) -> int:
    versions = session.execute(
        sa.select(JourneyVersion.id, JourneyVersion.graph).where(
            JourneyVersion.journey_id == journey_id, JourneyVersion.id != version_id
        )
    ).all()
    moved = 0
    for old_id, old_graph in versions:
        same = [n["id"] for n in old_graph.get("nodes", []) if node_types.get(n["id"]) == n["type"]]
        if not same:
            continue
        # Parked (failed) enrollments move too, still parked: a retry then runs the fixed version.
        result = session.execute(
            sa.update(_enr)
            .where(_enr.c.version_id == old_id, _enr.c.status.in_(("active", "failed")), _enr.c.node_id.in_(same))
            .values(version_id=version_id, due_at=sa.case((_enr.c.status == "active", now), else_=_enr.c.due_at))
        )
        moved += result.rowcount or 0
    return moved


def pause(session: Session, journey: Journey, now: datetime) -> None:
    """Stop the journey: no new entries, nobody advances. Waiting contacts keep their place."""
    if journey.status != "published":
        raise ValueError(f"only a published journey can be paused (this one is {journey.status})")
    session.execute(
        sa.update(JourneyVersion)
        .where(JourneyVersion.journey_id == journey.id, JourneyVersion.status.in_(LIVE_VERSION_STATUSES))
        .values(status="paused")
    )
    journey.status = "paused"
    journey.updated_at = now


def resume(session: Session, journey: Journey, now: datetime) -> None:
    if journey.status != "paused":
        raise ValueError(f"only a paused journey can be resumed (this one is {journey.status})")
    # The journey remembers which version is current; every other paused version was superseded.
    session.execute(
        sa.update(JourneyVersion)
        .where(JourneyVersion.journey_id == journey.id, JourneyVersion.status == "paused")
        .values(status=sa.case((JourneyVersion.id == journey.published_version_id, "published"), else_="superseded"))
    )
    journey.status = "published"
    journey.updated_at = now


def archive(session: Session, journey: Journey, now: datetime) -> int:
    """Retire the journey: everyone still in it exits. Returns how many contacts were taken out."""
    session.execute(sa.update(JourneyVersion).where(JourneyVersion.journey_id == journey.id).values(status="archived"))
    result = session.execute(
        sa.update(_enr)
        .where(_enr.c.journey_id == journey.id, _enr.c.status.in_(("active", "failed")))
        .values(status="exited", exit_reason="journey archived", finished_at=now, due_at=None, wait_event=None)
    )
    journey.status = "archived"
    journey.updated_at = now
    return result.rowcount or 0
