"""Contacts and their subscriptions changed one at a time (the admin API, the web app): every change is
handed to audiences and journeys through the event path, as an identify call's would be."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from backend.contacts.events import contacts_changed
from backend.contacts.upsert import normalise_email, valid_timezone
from backend.db.models import Contact, Subscription
from backend.errors import Refused, conflict, invalid, missing

if TYPE_CHECKING:
    from backend.services import Services

_contacts = Contact.__table__
_subscriptions = Subscription.__table__

SCALARS = ("external_id", "anonymous_id", "email", "phone", "wechat_openid", "timezone", "locale")


def check_fields(email: Any, timezone: Any) -> None:
    if isinstance(email, str) and email.strip() and ("@" not in email or any(c.isspace() for c in email.strip())):
        raise invalid("/email", f"{email!r} is not an email address")
    if isinstance(timezone, str) and not valid_timezone(timezone):
        raise invalid("/timezone", f"unknown time zone {timezone!r}; use an IANA name such as Europe/Warsaw")


def duplicate(external_id: str | None, anonymous_id: str | None = None) -> Refused:
    if external_id is None and anonymous_id is not None:
        return conflict(
            "/anonymous_id",
            f"another anonymous contact already has anonymous_id {anonymous_id!r}",
            "A contact with this anonymous id exists",
        )
    return conflict(
        "/external_id",
        f"another contact already has external_id {external_id!r}",
        "A contact with this external id exists",
    )


def row(conn: sa.Connection, workspace_id: int, contact_id: int) -> Any:
    found = conn.execute(
        sa.select(_contacts).where(_contacts.c.id == contact_id, _contacts.c.workspace_id == workspace_id)
    ).first()
    if found is None:
        raise missing("contact")
    return found


def create(conn: sa.Connection, services: Services, workspace_id: int, values: dict[str, Any], now: datetime) -> int:
    check_fields(values.get("email"), values.get("timezone"))
    values = {**values, "email": normalise_email(values.get("email"))}
    values["tags"] = list(dict.fromkeys(values.get("tags") or ()))
    external_id = values.get("external_id")
    if (
        external_id is not None
        and conn.execute(
            sa.select(_contacts.c.id).where(
                _contacts.c.workspace_id == workspace_id, _contacts.c.external_id == external_id
            )
        ).first()
    ):
        raise duplicate(external_id)
    try:
        with conn.begin_nested():
            contact_id = conn.execute(
                sa.insert(_contacts)
                .values(workspace_id=workspace_id, created_at=now, updated_at=now, **values)
                .returning(_contacts.c.id)
            ).scalar_one()
    except sa.exc.IntegrityError:
        raise duplicate(external_id, values.get("anonymous_id")) from None
    _changed(conn, services, workspace_id, contact_id, now)
    return contact_id


def update(
    conn: sa.Connection, services: Services, workspace_id: int, contact_id: int, changes: dict[str, Any], now: datetime
) -> None:
    """``changes`` holds only what was sent: scalars and lists replace, ``attributes`` and ``consent``
    merge (a ``None`` value removes the key)."""
    check_fields(changes.get("email"), changes.get("timezone"))
    current = row(conn, workspace_id, contact_id)
    values: dict[str, Any] = {k: v for k, v in changes.items() if k in (*SCALARS, "push_tokens")}
    if "email" in changes:
        values["email"] = normalise_email(changes["email"])
    if "tags" in changes:
        values["tags"] = list(dict.fromkeys(changes["tags"]))
    for name in ("attributes", "consent"):
        if name in changes:
            merged = {**(getattr(current, name) or {}), **changes[name]}
            values[name] = {k: v for k, v in merged.items() if v is not None}
    if values.get("external_id") and values["external_id"] != current.external_id:
        taken = conn.execute(
            sa.select(_contacts.c.id).where(
                _contacts.c.workspace_id == workspace_id, _contacts.c.external_id == values["external_id"]
            )
        ).first()
        if taken:
            raise duplicate(values["external_id"])
    if not values:
        return
    try:
        with conn.begin_nested():
            conn.execute(sa.update(_contacts).where(_contacts.c.id == contact_id).values(updated_at=now, **values))
    except sa.exc.IntegrityError:
        raise duplicate(values.get("external_id", current.external_id), current.anonymous_id) from None
    _changed(conn, services, workspace_id, contact_id, now)


def delete(conn: sa.Connection, workspace_id: int, contact_id: int) -> None:
    """Erase the contact with everything attached to it (events, enrollments, memberships cascade)."""
    row(conn, workspace_id, contact_id)
    conn.execute(sa.delete(_contacts).where(_contacts.c.id == contact_id))


def _changed(conn: sa.Connection, services: Services, workspace_id: int, contact_id: int, now: datetime) -> None:
    if contacts_changed(conn, services, workspace_id, [contact_id], now).work_queued:
        services.waker.notify(conn)


# -------------------------------------------------------------------------------------------------
# Subscriptions
# -------------------------------------------------------------------------------------------------

SUBSCRIPTION_FIELDS = (
    "external_id",
    "name",
    "status",
    "start_at",
    "end_at",
    "duration",
    "auto_renew",
    "attributes",
)


def subscription_row(conn: sa.Connection, workspace_id: int, contact_id: int, subscription_id: int) -> Any:
    found = conn.execute(
        sa.select(_subscriptions).where(
            _subscriptions.c.id == subscription_id,
            _subscriptions.c.workspace_id == workspace_id,
            _subscriptions.c.contact_id == contact_id,
        )
    ).first()
    if found is None:
        raise missing("subscription")
    return found


def add_subscription(
    conn: sa.Connection, services: Services, workspace_id: int, contact_id: int, values: dict[str, Any], now: datetime
) -> int:
    row(conn, workspace_id, contact_id)
    _check_dates(values.get("start_at"), values.get("end_at"))
    external_id = values.get("external_id")
    if (
        external_id is not None
        and conn.execute(
            sa.select(_subscriptions.c.id).where(
                _subscriptions.c.workspace_id == workspace_id, _subscriptions.c.external_id == external_id
            )
        ).first()
    ):
        raise conflict("/external_id", f"another subscription already has the id {external_id!r}")
    subscription_id = conn.execute(
        sa.insert(_subscriptions)
        .values(
            workspace_id=workspace_id,
            contact_id=contact_id,
            auto_renew_before=False,
            updated_at=now,
            **values,
        )
        .returning(_subscriptions.c.id)
    ).scalar_one()
    _changed(conn, services, workspace_id, contact_id, now)
    return subscription_id


def change_subscription(
    conn: sa.Connection,
    services: Services,
    workspace_id: int,
    contact_id: int,
    subscription_id: int,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    """Only what was sent changes; turning auto-renew off or on remembers what it was before
    (``auto_renew_before``), which the win-back rule "auto-renew switched off" reads."""
    current = subscription_row(conn, workspace_id, contact_id, subscription_id)
    _check_dates(changes.get("start_at", current.start_at), changes.get("end_at", current.end_at))
    values = dict(changes)
    if "auto_renew" in values and values["auto_renew"] != current.auto_renew:
        values["auto_renew_before"] = current.auto_renew
    if "attributes" in values:
        merged = {**(current.attributes or {}), **values["attributes"]}
        values["attributes"] = {k: v for k, v in merged.items() if v is not None}
    if values:
        conn.execute(
            sa.update(_subscriptions).where(_subscriptions.c.id == subscription_id).values(updated_at=now, **values)
        )
        _changed(conn, services, workspace_id, contact_id, now)


def remove_subscription(
    conn: sa.Connection, services: Services, workspace_id: int, contact_id: int, subscription_id: int, now: datetime
) -> None:
    subscription_row(conn, workspace_id, contact_id, subscription_id)
    conn.execute(sa.delete(_subscriptions).where(_subscriptions.c.id == subscription_id))
    _changed(conn, services, workspace_id, contact_id, now)


def _check_dates(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end < start:
        raise invalid("/end_at", "the end is before the start")


# -------------------------------------------------------------------------------------------------
# Finding contacts (the list, its total and the export use the same filter)
# -------------------------------------------------------------------------------------------------


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_conditions(
    conn: sa.Connection, workspace_id: int, q: str | None, segment: str | None
) -> tuple[list[Any], int | None]:
    """WHERE conditions for "contacts matching this search, in this segment", and the segment's id.
    ``q`` is a prefix of the external id, the email or the phone (with or without its ``+``)."""
    from backend.db.models import Segment, SegmentMember

    conditions: list[Any] = [_contacts.c.workspace_id == workspace_id]
    text = (q or "").strip()
    if text:
        prefix = _like_prefix(text)
        matches = [
            _contacts.c.external_id.like(prefix, escape="\\"),
            _contacts.c.email.like(_like_prefix(text.lower()), escape="\\"),
            _contacts.c.phone.like(prefix, escape="\\"),
        ]
        if text[0].isdigit():
            matches.append(_contacts.c.phone.like("+" + prefix, escape="\\"))
        conditions.append(sa.or_(*matches))
    segment_id = None
    if segment:
        segment_id = conn.execute(
            sa.select(Segment.id).where(Segment.workspace_id == workspace_id, Segment.key == segment)
        ).scalar()
        if segment_id is None:
            raise invalid("/query/segment", f"there is no segment {segment!r}")
        conditions.append(
            _contacts.c.id.in_(sa.select(SegmentMember.contact_id).where(SegmentMember.segment_id == segment_id))
        )
    return conditions, segment_id
