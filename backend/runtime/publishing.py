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

from backend.db.models import Enrollment, Journey, JourneyVersion
from backend.engine.registry import Registry
from backend.engine.validation import compile_graph
from backend.runtime.graphs import GraphCache

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

    migrated = _migrate(session, journey.id, version.id, {n.id: n.type for n in compiled.graph.nodes}, now)
    journey.published_version_id = version.id
    if journey.status != "paused":
        journey.status = "published"
    journey.updated_at = now
    return version, migrated


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
        result = session.execute(
            sa.update(_enr)
            .where(_enr.c.version_id == old_id, _enr.c.status == "active", _enr.c.node_id.in_(same))
            .values(version_id=version_id, due_at=now)
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
        .where(_enr.c.journey_id == journey.id, _enr.c.status == "active")
        .values(status="exited", exit_reason="journey archived", finished_at=now, due_at=None, wait_event=None)
    )
    journey.status = "archived"
    journey.updated_at = now
    return result.rowcount or 0
