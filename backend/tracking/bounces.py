"""Asynchronous delivery notifications from email providers (``POST /v1/bounces``).

A provider (or a small adapter in front of it: SES/SNS, Postmark, Mailgun, a DSN-parsing mailbox)
posts one notification or a list of them::

    {"type": "hard", "message_id": "<wm.3f…@acme.test>", "reason": "550 5.1.1 user unknown",
     "id": "provider-notification-42"}

``type``: ``hard`` / ``soft`` (bounces), ``complaint`` (marked as spam), ``delivered``, ``unsubscribe``
(the provider handled a ``List-Unsubscribe`` mailto or its own unsubscribe link).
The message is found by ``message_id`` (the ``Message-ID`` header Waymark sent, with or without
``<>``), else every contact of the workspace with that ``email`` is concerned. ``id`` makes repeats
harmless: a notification id seen before is ignored.

Effects: ``email_bounced`` (``type`` hard|soft), ``spam_complaint``, ``email_delivered``,
``unsubscribed`` contact events; hard bounces, complaints and unsubscribes withdraw email consent
(``consent.email = false``) — the event's ``reason`` says why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa

from backend.db.models import Contact, OutboxMessage
from backend.tracking.recording import NewEvent, change_consent, message_properties, record

_outbox = OutboxMessage.__table__
_contacts = Contact.__table__

NotificationType = Literal["hard", "soft", "complaint", "delivered", "unsubscribe"]
MAX_NOTIFICATIONS = 500
EVENT = {
    "hard": "email_bounced",
    "soft": "email_bounced",
    "complaint": "spam_complaint",
    "delivered": "email_delivered",
}
WITHDRAWS_CONSENT = frozenset({"hard", "complaint", "unsubscribe"})


class Notification(msgspec.Struct, kw_only=True):
    type: NotificationType
    message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    """The ``Message-ID`` header of the email Waymark sent (``<wm.…@domain>``, brackets optional)."""
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)] | None = None
    """The recipient, when the provider does not report the Message-ID."""
    reason: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    """The provider's diagnostic (``550 5.1.1 user unknown``)."""
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    """The provider's notification id: a repeat of one already received is ignored."""
    provider: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    occurred_at: datetime | None = None


class Notifications(msgspec.Struct, kw_only=True):
    notifications: Annotated[list[Notification], msgspec.Meta(max_length=MAX_NOTIFICATIONS)]


class NotificationResult(msgspec.Struct, kw_only=True):
    success: bool = True
    received: int
    matched: int
    """Notifications that found a message or a contact (the others are ignored: 200 all the same, so a
    provider does not retry a notification about a contact deleted meanwhile)."""
    duplicates: int = 0


def _targets(conn: sa.Connection, workspace_id: int, item: Notification) -> list[tuple[int, dict[str, Any]]]:
    """(contact id, message properties) for each contact concerned."""
    if item.message_id:
        bare = item.message_id.strip().strip("<>")
        row = conn.execute(
            sa.select(
                _outbox.c.id,
                _outbox.c.contact_id,
                _outbox.c.journey_id,
                _outbox.c.node_id,
                _outbox.c.channel,
                _outbox.c.template_key,
                _outbox.c.test,
            ).where(
                _outbox.c.workspace_id == workspace_id,
                _outbox.c.provider_message_id.in_((f"<{bare}>", bare)),
            )
        ).first()
        if row is not None and row.contact_id is not None and not row.test:
            return [(row.contact_id, message_properties(row))]
        if row is not None or not item.email:
            return []
    if not item.email:
        return []
    email = item.email.strip()
    ids = conn.execute(
        sa.select(_contacts.c.id).where(
            _contacts.c.workspace_id == workspace_id,
            _contacts.c.email.in_(sorted({email, email.lower()})),  # stored lower-cased (ingest)
        )
    ).scalars()
    return [(contact_id, {"channel": "email"}) for contact_id in ids]


def process(services: Any, workspace_id: int, items: list[Notification]) -> NotificationResult:
    """All notifications of a request in one transaction (blocking)."""
    result = NotificationResult(received=len(items), matched=0)
    now = services.clock.now()
    queued = False
    with services.engine.begin() as conn:
        for item in items:
            targets = _targets(conn, workspace_id, item)
            if targets:
                result.matched += 1
            for contact_id, message in targets:
                props: dict[str, Any] = {**message, "channel": "email", "source": "provider"}
                if item.type in ("hard", "soft"):
                    props["type"] = item.type
                for key in ("reason", "provider"):
                    if getattr(item, key):
                        props[key] = getattr(item, key)
                if item.occurred_at is not None:
                    props["reported_at"] = item.occurred_at.isoformat()
                dedupe = f"wm:notify:{item.id}:{contact_id}" if item.id else None
                changed: dict[str, bool] = {}
                if item.type in WITHDRAWS_CONSENT:
                    changed = change_consent(conn, workspace_id, contact_id, {"email": False}, now)
                if item.type == "unsubscribe":
                    events = [NewEvent(contact_id, "unsubscribed", props, message_id=dedupe)] if changed else []
                else:
                    if item.type in WITHDRAWS_CONSENT:
                        props["consent_withdrawn"] = bool(changed)
                    events = [NewEvent(contact_id, EVENT[item.type], props, message_id=dedupe)]
                stored, work = record(conn, services, workspace_id, events, now, "provider")
                queued = queued or work
                if events and not stored:
                    result.duplicates += 1
    if queued:
        services.waker.notify()
    return result
