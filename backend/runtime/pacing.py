"""A journey's delivery rules, applied when its messages are delivered: quiet hours hold a message back
until the window ends in the contact's (or the journey's) timezone, without spending an attempt; a
frequency cap skips marketing messages past N per period per contact from the journey, with the reason
recorded. Transactional messages (``marketing: false``) and test sends are never held or capped."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from backend.db.models import OutboxMessage
from backend.engine.graph import Settings
from backend.engine.sdk import Contact
from backend.engine.timeutil import parse_hhmm, quiet_until, zone
from backend.engine.validation import GraphInvalid
from backend.runtime.graphs import GraphCache

_outbox = OutboxMessage.__table__


@dataclass
class Hold:
    defer_until: datetime | None = None
    skip_reason: str | None = None


def holds(
    conn: sa.Connection, graphs: GraphCache, rows: Sequence[Any], contacts: dict[int, Contact], now: datetime
) -> dict[int, Hold]:
    """Outbox row id → what its journey's rules say about delivering it now (absent: deliver)."""
    settings: dict[int, Settings | None] = {}
    subject = []
    for row in rows:
        if row.version_id is None or row.test or (row.payload or {}).get("marketing") is False:
            continue
        if row.version_id not in settings:
            try:
                settings[row.version_id] = graphs.get(conn, row.version_id).settings
            except GraphInvalid:
                settings[row.version_id] = None
        rules = settings[row.version_id]
        if rules is not None and (rules.quiet_hours or rules.frequency_cap) and row.contact_id in contacts:
            subject.append((row, rules))

    out: dict[int, Hold] = {}
    capped: list[tuple[Any, Settings]] = []
    for row, rules in subject:
        if rules.quiet_hours:
            contact = contacts[row.contact_id]
            tz = zone(rules.timezone if rules.timezone != "contact" else contact.timezone)
            until = quiet_until(parse_hhmm(rules.quiet_hours.start), parse_hhmm(rules.quiet_hours.end), tz, now)
            if until is not None:
                out[row.id] = Hold(defer_until=until)
                continue
        if rules.frequency_cap:
            capped.append((row, rules))
    out.update(_caps(conn, capped, now))
    return out


def _caps(conn: sa.Connection, capped: list[tuple[Any, Settings]], now: datetime) -> dict[int, Hold]:
    """One count query per (journey or workspace, period); messages in this batch count against the cap as
    they pass."""
    groups: dict[tuple[str, int, timedelta], list[tuple[Any, Settings]]] = defaultdict(list)
    for row, rules in capped:
        cap = rules.frequency_cap
        scope = ("workspace", row.workspace_id) if cap.across == "workspace" else ("journey", row.journey_id)
        groups[(*scope, cap.per)].append((row, rules))
    out: dict[int, Hold] = {}
    for (scope, scope_id, per), members in groups.items():
        contact_ids = sorted({row.contact_id for row, _ in members})
        column = _outbox.c.workspace_id if scope == "workspace" else _outbox.c.journey_id
        sent = dict(
            conn.execute(
                sa.select(_outbox.c.contact_id, sa.func.count())
                .where(
                    column == scope_id,
                    _outbox.c.contact_id.in_(contact_ids),
                    _outbox.c.status == "sent",
                    _outbox.c.test.is_(False),
                    _outbox.c.sent_at >= now - per,
                )
                .group_by(_outbox.c.contact_id)
            ).all()
        )
        for row, rules in sorted(members, key=lambda m: m[0].id):
            cap = rules.frequency_cap.messages
            if sent.get(row.contact_id, 0) >= cap:
                where = " across the workspace" if scope == "workspace" else ""
                out[row.id] = Hold(skip_reason=f"frequency cap: at most {cap} message(s) per {_period(per)}{where}")
            else:
                sent[row.contact_id] = sent.get(row.contact_id, 0) + 1
    return out


def _period(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:g} day(s)" if hours >= 24 else f"{hours:g} hour(s)"
