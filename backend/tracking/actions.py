"""Opens, clicks, unsubscribes, preference changes and bounce notifications: each one short transaction
that records contact events (and consent) and feeds them to journeys.

Blocking functions (run them in a worker thread). A tracking request never fails because of a busy
database once the message is known: the recipient still gets the pixel or the redirect, and the lost
event is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from backend.db.models import Contact, OutboxMessage
from backend.db.session import read_connection
from backend.tracking import i18n
from backend.tracking.recording import (
    NewEvent,
    change_consent,
    consent_events,
    find_message,
    message_properties,
    record,
    user_agent,
    workspace_name,
)

log = logging.getLogger("waymark.tracking")

_outbox = OutboxMessage.__table__
_contacts = Contact.__table__

SOURCE = "tracking"


def _lookup(services: Any, public_id: str) -> Any | None:
    with read_connection(services.engine) as conn:
        return find_message(conn, public_id)


def _first(conn: sa.Connection, outbox_id: int, column: sa.Column, now) -> bool:
    """Set a first-time column; True when this call was the first (race-free: one UPDATE)."""
    result = conn.execute(sa.update(_outbox).where(_outbox.c.id == outbox_id, column.is_(None)).values({column: now}))
    return result.rowcount == 1


def _write(services: Any, what: str, work) -> None:
    """Run ``work(conn, now)`` in a write transaction; a database failure is logged, not raised."""
    now = services.clock.now()
    try:
        with services.engine.begin() as conn:
            queued = work(conn, now)
    except sa.exc.DBAPIError:
        log.exception("could not record %s", what)
        return
    if queued:
        services.waker.notify()


# -- opens and clicks ------------------------------------------------------------------------------


def open_message(services: Any, public_id: str, agent: str | None) -> bool:
    """Record ``email_opened``; False when no such message exists."""
    row = _lookup(services, public_id)
    if row is None:
        return False
    if row.test or row.contact_id is None:
        return True

    def work(conn: sa.Connection, now) -> bool:
        first = _first(conn, row.id, _outbox.c.opened_at, now)
        props = {**message_properties(row), "first": first}
        if agent:
            props["user_agent"] = user_agent(agent)
        return record(conn, services, row.workspace_id, [NewEvent(row.contact_id, "email_opened", props)], now, SOURCE)[
            1
        ]

    _write(services, "an open", work)
    return True


def click_message(services: Any, public_id: str, index: int, agent: str | None) -> str | None:
    """Record ``email_clicked`` (and an implied ``email_opened`` when the pixel never loaded); returns
    the link's original URL, or None when the message or the link does not exist."""
    row = _lookup(services, public_id)
    if row is None:
        return None
    links = row.links if isinstance(row.links, list) else []
    if not 0 <= index < len(links) or not isinstance(links[index], str):
        return None
    url = links[index]
    if row.test or row.contact_id is None:
        return url

    def work(conn: sa.Connection, now) -> bool:
        base = message_properties(row)
        extra = {"user_agent": user_agent(agent)} if agent else {}
        events = []
        if _first(conn, row.id, _outbox.c.opened_at, now):
            events.append(NewEvent(row.contact_id, "email_opened", {**base, "first": True, "implied": True, **extra}))
        first = _first(conn, row.id, _outbox.c.clicked_at, now)
        events.append(
            NewEvent(
                row.contact_id,
                "email_clicked",
                {**base, "url": url, "link_index": index, "first": first, **extra},
            )
        )
        return record(conn, services, row.workspace_id, events, now, SOURCE)[1]

    _write(services, "a click", work)
    return url


# -- unsubscribes and preferences ------------------------------------------------------------------


@dataclass
class Preferences:
    """What the preference page shows for one message's recipient."""

    public_id: str
    channel: str
    """The channel of the message the link came from."""
    lang: str
    sender: str
    channels: list[str]
    """The channels offered: those the contact has an address on, and the message's own."""
    subscribed: dict[str, bool]
    test: bool
    changed: dict[str, bool] = field(default_factory=dict)
    """What the request just changed."""


def _contact_state(conn: sa.Connection, row: Any) -> Any | None:
    return conn.execute(
        sa.select(
            _contacts.c.email,
            _contacts.c.phone,
            _contacts.c.wechat_openid,
            _contacts.c.push_tokens,
            _contacts.c.consent,
            _contacts.c.locale,
        ).where(_contacts.c.id == row.contact_id, _contacts.c.workspace_id == row.workspace_id)
    ).first()


def _preferences(conn: sa.Connection, row: Any, accept_language: str | None) -> Preferences | None:
    channel = row.channel if row.channel in i18n.CHANNELS else "email"
    if row.contact_id is None:
        if not row.test:
            return None
        # A test send to a typed-in address: the page shows what the recipient would see, changes nothing.
        sender, workspace_locale = workspace_name(conn, row.workspace_id)
        return Preferences(
            public_id=row.public_id,
            channel=channel,
            lang=i18n.language(accept_language, workspace_locale),
            sender=sender,
            channels=[channel],
            subscribed=dict.fromkeys(i18n.CHANNELS, True),
            test=True,
        )
    contact = _contact_state(conn, row)
    if contact is None:
        return None
    sender, workspace_locale = workspace_name(conn, row.workspace_id)
    addresses = {
        "email": contact.email,
        "sms": contact.phone,
        "wechat": contact.wechat_openid,
        "push": contact.push_tokens,
    }
    channels = [c for c in i18n.CHANNELS if addresses[c] or c == row.channel]
    consent = contact.consent or {}
    return Preferences(
        public_id=row.public_id,
        channel=channel,
        lang=i18n.language(contact.locale, accept_language, workspace_locale),
        sender=sender,
        channels=channels,
        subscribed={c: consent.get(c, True) is not False for c in i18n.CHANNELS},
        test=bool(row.test),
    )


def preferences(services: Any, public_id: str, accept_language: str | None = None) -> Preferences | None:
    """The page's state (reads only: GET never changes anything)."""
    row = _lookup(services, public_id)
    if row is None:
        return None
    with read_connection(services.engine) as conn:
        return _preferences(conn, row, accept_language)


def set_preferences(
    services: Any, public_id: str, wanted: dict[str, bool] | None, source: str, accept_language: str | None = None
) -> Preferences | None:
    """Apply consent changes from an unsubscribe link (``source``: ``one_click``, ``preferences``) and
    record ``unsubscribed`` / ``resubscribed`` for each channel that changed; ``wanted=None``
    unsubscribes from the message's own channel. Test messages change nothing. None when the message or
    its contact does not exist."""
    row = _lookup(services, public_id)
    if row is None:
        return None
    now = services.clock.now()
    with services.engine.begin() as conn:
        state = _preferences(conn, row, accept_language)
        if state is None or state.test:
            return state
        wanted = {state.channel: False} if wanted is None else {c: bool(v) for c, v in wanted.items()}
        wanted = {c: v for c, v in wanted.items() if c in i18n.CHANNELS}
        if not wanted:
            return state
        changed = change_consent(conn, row.workspace_id, row.contact_id, wanted, now)
        props = {**message_properties(row), "source": source}
        events = consent_events(row.contact_id, changed, props)
        _, queued = record(conn, services, row.workspace_id, events, now, SOURCE)
        state.subscribed.update(wanted)
        state.changed = changed
    if queued:
        services.waker.notify()
    return state


# -- bounces at send time --------------------------------------------------------------------------


def delivery_extras(conn: sa.Connection, row: Any, channel: str, kind: str, result: Any, now) -> list[NewEvent]:
    """Events beyond ``email_sent`` / ``message_failed`` for one delivery outcome (the dispatcher stores
    them with its own): a recipient address an SMTP server refused for good (5xx to ``RCPT TO``) is a hard
    bounce — ``email_bounced`` — and withdraws email consent, so marketing stops going to it; a recipient
    who opted out at the provider (SMS ``STOP``) is ``unsubscribed`` from that channel here too, so the
    journeys stop trying and the contact page tells the truth."""
    if kind != "failed" or row.contact_id is None or result is None:
        return []
    if getattr(result, "opted_out", False):
        if row.test:
            return []
        changed = change_consent(conn, row.workspace_id, row.contact_id, {channel: False}, now)
        return consent_events(
            row.contact_id, changed, {**message_properties(row), "source": "provider", "reason": result.error}
        )
    if channel != "email" or getattr(result, "bounce", None) != "hard":
        return []
    changed = {} if row.test else change_consent(conn, row.workspace_id, row.contact_id, {"email": False}, now)
    props = {
        **message_properties(row),
        "channel": "email",
        "type": "hard",
        "reason": result.error,
        "source": "smtp",
        "consent_withdrawn": bool(changed),
    }
    return [NewEvent(row.contact_id, "email_bounced", props)]
