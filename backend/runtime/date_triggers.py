"""Date triggers ("7 days before the subscription ends, at 09:00 local time").

The scheduler runs :func:`scan` every few minutes. A contact enters once its local clock has passed the
trigger's time on the matching local date; ``trigger_key`` (node + local date) makes every later scan of
the same day a no-op, so scans can be frequent, overlapping, or late (a server that was down at 09:00
still sends at 09:20), and never double-enroll.

Candidates are narrowed in SQL before the exact check in Python: subscription end dates by range,
date attributes (ISO 8601 strings) by their ``YYYY-MM-DD`` / ``-MM-DD`` prefix around today.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from backend.db.models import Contact as ContactRow
from backend.db.models import Subscription as SubscriptionRow
from backend.db.models import Workspace
from backend.engine.sdk import Needs, StepContext
from backend.engine.timeutil import contact_zone, parse_hhmm
from backend.engine.validation import CompiledGraph
from backend.runtime.enroll import enroll
from backend.runtime.events import live_versions
from backend.runtime.graphs import GraphCache
from backend.runtime.snapshots import load_contacts, load_needs

log = logging.getLogger("waymark.date_triggers")

CHUNK = 2000


@dataclass
class ScanReport:
    candidates: int = 0
    enrolled: int = 0


def scan(engine: sa.Engine, graphs: GraphCache, now: datetime) -> ScanReport:
    report = ScanReport()
    with engine.connect() as conn:
        workspaces = conn.execute(sa.select(Workspace.id)).scalars().all()
    for workspace_id in workspaces:
        with engine.connect() as conn:
            versions = graphs.runnable(conn, live_versions(conn, workspace_id))
        for journey_id, version_id, compiled in versions:
            for node_id in compiled.triggers:
                node = compiled.nodes[node_id]
                if node.block.trigger != "date":
                    continue
                _scan_node(engine, workspace_id, journey_id, version_id, compiled, node_id, now, report)
    return report


def _scan_node(engine, workspace_id, journey_id, version_id, compiled: CompiledGraph, node_id, now, report) -> None:
    node = compiled.nodes[node_id]
    block, config = node.block, node.config
    at = parse_hhmm(config.at)
    for ids in _candidate_chunks(engine, workspace_id, config, now):
        with engine.begin() as conn:
            contacts = load_contacts(conn, ids)
            if config.source == "subscription_end":
                load_needs(conn, workspace_id, contacts, Needs(subscriptions=True), now)
            ready: dict[date, list[int]] = {}
            ctx = StepContext(now=now, node_id=node_id, journey_timezone=compiled.settings.timezone)
            for contact in contacts.values():
                tz = contact_zone(contact, ctx)
                local_now = now.astimezone(tz)
                if local_now.time() < at:
                    continue
                today = local_now.date()
                if block.fires_on(config, contact, today, tz):
                    ready.setdefault(today, []).append(contact.id)
            report.candidates += len(contacts)
            for today, contact_ids in ready.items():
                result = enroll(
                    conn,
                    workspace_id=workspace_id,
                    journey_id=journey_id,
                    version_id=version_id,
                    graph=compiled,
                    trigger_node=node_id,
                    contact_ids=contact_ids,
                    now=now,
                    context={"source": "date", "date": today.isoformat()},
                    trigger_key=f"{node_id}:{today.isoformat()}",
                )
                report.enrolled += result.enrolled


def _candidate_chunks(engine, workspace_id: int, config, now: datetime) -> Iterator[list[int]]:
    """Contact ids that might fire today somewhere on Earth (local dates span today ± 1)."""
    days = [(now + timedelta(days=d)).date() - timedelta(days=config.offset_days) for d in (-1, 0, 1)]
    contacts = ContactRow.__table__
    if config.source == "subscription_end":
        subs = SubscriptionRow.__table__
        low = datetime.combine(min(days) - timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
        high = datetime.combine(max(days) + timedelta(days=2), datetime.min.time(), tzinfo=now.tzinfo)
        query = sa.select(subs.c.contact_id).distinct().where(subs.c.workspace_id == workspace_id)
        if config.yearly:
            query = query.where(subs.c.end_at.is_not(None))
        else:
            query = query.where(subs.c.end_at >= low, subs.c.end_at < high)
        if config.subscription:
            query = query.where(subs.c.name == config.subscription)
    else:
        value = _json_text(contacts.c.attributes, config.attribute or "")
        patterns = [f"%-{d:%m-%d}%" if config.yearly else f"{d:%Y-%m-%d}%" for d in days]
        if config.yearly:
            patterns.append("%-02-29%")  # leap-day anniversaries fire on 28 February
        query = sa.select(contacts.c.id).where(
            contacts.c.workspace_id == workspace_id, sa.or_(*(value.like(p) for p in patterns))
        )
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(query)]
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _json_text(column, key: str):
    """The text of ``attributes[key]`` (dotted paths allowed), portable across SQLite and PostgreSQL."""
    parts = key.split(".")
    return (column[parts[0]] if len(parts) == 1 else column[tuple(parts)]).as_string()
