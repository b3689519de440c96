"""What tracking writes: contact events (fed to journeys like any event) and consent changes.

Event names (docs/journeys.md lists them for marketers):

=====================  ==========================================================================
``email_sent``          the SMTP server accepted the message (recorded by the dispatcher)
``email_delivered``     a provider reported delivery (``POST /v1/bounces`` with ``type: delivered``)
``email_opened``        the open pixel was fetched, or a link clicked before any pixel (``implied``);
                        every open is recorded, ``first: true`` on the first one of a message
``email_clicked``       a tracked link was followed: ``url``, ``link_index``, ``first``
``email_bounced``       ``type: hard`` (the address was refused; email consent is withdrawn) or ``soft``
``spam_complaint``      the recipient reported the message as spam (email consent withdrawn)
``unsubscribed``        consent withdrawn for ``channel`` (one-click, preference page, provider)
``resubscribed``        consent given again on the preference page
``message_failed``      delivery failed for good (dispatcher) · ``message_skipped``: not sent, with ``reason``
=====================  ==========================================================================

Every tracking event carries ``channel``, ``outbox_id``, ``template``, ``journey_id`` and ``node_id``
of the message it is about, so a journey can tell which message was opened.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.contacts import events as event_path
from backend.contacts.events import NewEvent
from backend.db.models import Contact, OutboxMessage, Workspace

log = logging.getLogger("waymark.tracking")

_outbox = OutboxMessage.__table__
_contacts = Contact.__table__

CONSENT_EVENT = {False: "unsubscribed", True: "resubscribed"}
MAX_USER_AGENT = 300

__all__ = ["NewEvent", "record"]


def find_message(conn: sa.Connection, public_id: str) -> Any | None:
    return conn.execute(
        sa.select(
            _outbox.c.id,
            _outbox.c.workspace_id,
            _outbox.c.contact_id,
            _outbox.c.journey_id,
            _outbox.c.node_id,
            _outbox.c.channel,
            _outbox.c.template_key,
            _outbox.c.links,
            _outbox.c.test,
            _outbox.c.public_id,
        ).where(_outbox.c.public_id == public_id)
    ).first()


def message_properties(row: Any) -> dict[str, Any]:
    """The same fields the dispatcher puts on ``email_sent``."""
    return {
        "channel": row.channel,
        "outbox_id": row.id,
        "template": row.template_key,
        "journey_id": row.journey_id,
        "node_id": row.node_id,
    }


def record(
    conn: sa.Connection, services: Any, workspace_id: int, events: Sequence[NewEvent], now: datetime, source: str
) -> tuple[list[NewEvent], bool]:
    """Store the events through the one event path in ``conn``'s transaction. Returns the events stored
    (repeats of a ``message_id`` are left out) and whether journey work became due (the waker is
    notified on commit; call ``services.waker.notify()`` after it too on SQLite)."""
    recorded = event_path.record(conn, services, workspace_id, events, now, source)
    return recorded.stored, recorded.work_queued


def change_consent(
    conn: sa.Connection, workspace_id: int, contact_id: int, changes: dict[str, bool], now: datetime
) -> dict[str, bool]:
    """Set ``consent[channel]`` for each change; returns the ones that actually changed (an unsubscribe
    of someone already unsubscribed changes nothing and records nothing)."""
    query = sa.select(_contacts.c.consent).where(_contacts.c.id == contact_id, _contacts.c.workspace_id == workspace_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        return {}
    current = dict(row.consent or {})
    # Absent means never asked, treated as granted: granting it explicitly is stored but is no change.
    changed = {channel: value for channel, value in changes.items() if current.get(channel, True) is not value}
    if any(current.get(channel) is not value for channel, value in changes.items()):
        conn.execute(
            sa.update(_contacts)
            .where(_contacts.c.id == contact_id)
            .values(consent={**current, **changes}, updated_at=now)
        )
    return changed


def consent_events(contact_id: int, changed: dict[str, bool], properties: dict[str, Any]) -> list[NewEvent]:
    return [
        NewEvent(contact_id, CONSENT_EVENT[value], {**properties, "channel": channel})
        for channel, value in changed.items()
    ]


def workspace_name(conn: sa.Connection, workspace_id: int) -> tuple[str, str]:
    row = conn.execute(sa.select(Workspace.name, Workspace.locale).where(Workspace.id == workspace_id)).first()
    return (row.name, row.locale) if row else ("", "en")


def user_agent(value: str | None) -> str | None:
    return value[:MAX_USER_AGENT] if value else None
