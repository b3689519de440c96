"""Batch loading of what blocks need: contact snapshots, subscriptions, event counts. One query per
kind per batch, never one per contact."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from backend.db.fastsql import FastSQL
from backend.db.models import Event as EventRow
from backend.db.models import Segment, SegmentMember
from backend.db.models import Subscription as SubscriptionRow
from backend.engine.rules import matches_frozen_filters
from backend.engine.sdk import Contact, EventQuery, Needs, Subscription

CHUNK = 5000
"""Ids per IN (...) list; well under SQLite's 32,766 bound parameters."""

_events = EventRow.__table__
_subscriptions = SubscriptionRow.__table__
_segments = Segment.__table__
_members = SegmentMember.__table__


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


CONTACT_COLUMNS = (
    "external_id, attributes, tags, email, phone, wechat_openid, push_tokens, consent, timezone, locale, computed,"
    " scores"
)
"""The snapshot columns after ``id``, in the order :func:`contact_from_row` reads them."""

CONTACT_COLUMNS_PG = (
    "external_id, attributes::text, tags::text, email, phone, wechat_openid, push_tokens::text, consent::text,"
    " timezone, locale, computed::text, scores::text"
)
"""The same on PostgreSQL, with JSON as text: msgspec decodes it several times faster than psycopg's
``json.loads``, and the common empty values are not decoded at all."""

_decode = msgspec.json.decode


def json_dict(value: Any) -> dict:
    """A JSON object column as a fresh dict (``{}`` for NULL, empty or already-decoded falsy values)."""
    if value is None or value == "{}":
        return {}
    if isinstance(value, str | bytes):
        value = _decode(value)
    return value or {}


def json_list(value: Any) -> list:
    """A JSON array column as a fresh list (``[]`` for NULL or empty)."""
    if value is None or value == "[]":
        return []
    if isinstance(value, str | bytes):
        value = _decode(value)
    return value or []


def contact_from_row(
    cid: int, ext, attrs, tags, email, phone, openid, push, consent, tz, locale, computed, scores
) -> Contact:
    """A snapshot from the columns of :data:`CONTACT_COLUMNS` (in that order)."""
    return Contact(
        id=cid,
        external_id=ext,
        attributes=json_dict(attrs),
        tags=set(json_list(tags)),
        email=email,
        phone=phone,
        wechat_openid=openid,
        push_tokens=json_list(push),
        consent=json_dict(consent),
        timezone=tz,
        locale=locale,
        computed=json_dict(computed),
        scores=json_dict(scores),
    )


def load_contacts(conn: sa.Connection, ids: Iterable[int]) -> dict[int, Contact]:
    fast = FastSQL(conn)
    columns = CONTACT_COLUMNS_PG if fast.postgres else CONTACT_COLUMNS
    ids = sorted(set(ids))
    out: dict[int, Contact] = {}
    for part in chunks(ids):
        in_list, params = fast.id_list(part)
        for row in fast.all(f"SELECT id, {columns} FROM contacts WHERE id {in_list}", params):
            out[row[0]] = contact_from_row(*row)
    return out


def load_needs(
    conn: sa.Connection,
    workspace_id: int,
    contacts: dict[int, Contact],
    needs: Needs,
    now: datetime,
    *,
    spans: bool = False,
) -> None:
    """Fill ``subscriptions``, ``event_counts`` (and with ``spans`` the windows' oldest and newest
    event, for segments' re-check times) and ``segments`` on the snapshots in place."""
    ids = sorted(contacts)
    if needs.subscriptions:
        grouped = load_subscriptions(conn, workspace_id, ids)
        for cid in ids:
            contacts[cid].subscriptions = grouped.get(cid, [])
    for query in needs.events:
        counts, windows = count_events(conn, workspace_id, ids, query, now, spans=spans and query.within is not None)
        for cid in ids:
            contact = contacts[cid]
            if not contact.event_counts:
                contact.event_counts = {}
            contact.event_counts[query] = counts.get(cid, 0)
            window = windows.get(cid)
            if window is not None:
                if not contact.event_spans:
                    contact.event_spans = {}
                contact.event_spans[query] = window
    if needs.segments:
        memberships = load_segment_keys(conn, ids)
        for cid in ids:
            contacts[cid].segments = memberships.get(cid, set())


def load_subscriptions(conn: sa.Connection, workspace_id: int, ids: Sequence[int]) -> dict[int, list[Subscription]]:
    grouped: dict[int, list[Subscription]] = defaultdict(list)
    for part in chunks(ids):
        rows = conn.execute(
            sa.select(
                _subscriptions.c.contact_id,
                _subscriptions.c.name,
                _subscriptions.c.status,
                _subscriptions.c.start_at,
                _subscriptions.c.end_at,
                _subscriptions.c.duration,
                _subscriptions.c.auto_renew,
                _subscriptions.c.auto_renew_before,
                _subscriptions.c.attributes,
            ).where(_subscriptions.c.workspace_id == workspace_id, _subscriptions.c.contact_id.in_(part))
        )
        for cid, name, status, start, end, duration, renew, renew_before, attrs in rows:
            grouped[cid].append(
                Subscription(
                    name=name,
                    status=status,
                    start_at=start,
                    end_at=end,
                    duration=duration,
                    auto_renew=renew,
                    auto_renew_before=renew_before,
                    attributes=attrs or {},
                )
            )
    return grouped


def load_segment_keys(conn: sa.Connection, ids: Sequence[int]) -> dict[int, set[str]]:
    """The keys of the segments each contact is in."""
    out: dict[int, set[str]] = defaultdict(set)
    for part in chunks(ids):
        rows = conn.execute(
            sa.select(_members.c.contact_id, _segments.c.key)
            .join(_segments, _segments.c.id == _members.c.segment_id)
            .where(_members.c.contact_id.in_(part))
        )
        for cid, key in rows:
            out[cid].add(key)
    return out


def count_events(
    conn: sa.Connection,
    workspace_id: int,
    contact_ids: Sequence[int],
    query: EventQuery,
    now: datetime,
    *,
    spans: bool = False,
) -> tuple[dict[int, int], dict[int, tuple[datetime, datetime]]]:
    """Per contact: how many events match ``query`` and, with ``spans``, the oldest and newest of them."""
    fast = FastSQL(conn)
    where = "workspace_id = ? AND name = ?"
    base: list[Any] = [workspace_id, query.name]
    if query.within is not None:
        where += " AND occurred_at >= ?"
        base.append(fast.dt(now - query.within))
    counts: dict[int, int] = defaultdict(int)
    windows: dict[int, tuple[datetime, datetime]] = {}
    read_dt = fast.read_dt
    for part in chunks(contact_ids):
        in_list, params = fast.id_list(part)
        if not query.where:
            columns = "contact_id, count(*)" + (", min(occurred_at), max(occurred_at)" if spans else "")
            rows = fast.all(
                f"SELECT {columns} FROM events WHERE {where} AND contact_id {in_list} GROUP BY contact_id",
                (*base, *params),
            )
            for row in rows:
                counts[row[0]] = row[1]
                if spans:
                    windows[row[0]] = (read_dt(row[2]), read_dt(row[3]))
        else:
            props_column = "properties::text" if fast.postgres else "properties"
            rows = fast.all(
                f"SELECT contact_id, {props_column}, occurred_at FROM events WHERE {where} AND contact_id {in_list}",
                (*base, *params),
            )
            for cid, props, at in rows:
                if matches_frozen_filters(json_dict(props), query.where, now):
                    counts[cid] += 1
                    if spans:
                        at = read_dt(at)
                        old = windows.get(cid)
                        windows[cid] = (min(old[0], at), max(old[1], at)) if old else (at, at)
    return counts, windows


def as_aware(value: Any) -> datetime:
    """Aggregates bypass the column type: SQLite hands back text, PostgreSQL aware datetimes."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
