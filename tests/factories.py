"""Test data builders shared by the suites (plain functions, no magic)."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.db.models import Contact, Enrollment, Journey
from backend.runtime import publishing


def add_contact(sessions, workspace_id: int, **fields: Any) -> int:
    fields.setdefault("attributes", {})
    fields.setdefault("tags", [])
    with sessions.begin() as session:
        contact = Contact(workspace_id=workspace_id, **fields)
        session.add(contact)
        session.flush()
        return contact.id


def publish_graph(services, workspace_id: int, graph: dict, name: str = "Journey", journey_id: int | None = None):
    """Create (or update) a journey with ``graph`` as its draft and publish it. Returns (journey, version) ids."""
    now = services.clock.now()
    with services.sessions.begin() as session:
        if journey_id is None:
            journey = Journey(workspace_id=workspace_id, name=name, draft=graph, created_at=now, updated_at=now)
            session.add(journey)
            session.flush()
        else:
            journey = session.get(Journey, journey_id)
            journey.draft = graph
        version, _ = publishing.publish(session, journey, registry=services.registry, graphs=services.graphs, now=now)
        return journey.id, version.id


def enrollments(engine, journey_id: int) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(Enrollment.__table__).where(Enrollment.journey_id == journey_id).order_by(Enrollment.id)
        )
        return [dict(r._mapping) for r in rows]


def linear_graph(*nodes: dict, settings: dict | None = None) -> dict:
    """Nodes connected in order through their ``next`` port (override with ``_port`` on a node)."""
    edges = []
    for i, (a, b) in enumerate(itertools.pairwise(nodes)):
        edges.append({"id": f"e{i}", "source": a["id"], "target": b["id"], "port": a.get("_port", "next")})
    clean = [{k: v for k, v in n.items() if k != "_port"} for n in nodes]
    return {"nodes": clean, "edges": edges, "settings": settings or {}}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
