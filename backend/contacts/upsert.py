"""Creating and updating contacts from what they tell us — Segment calls (identify traits, anonymous
ids, aliases), CSV imports and the admin API — and storing the events that came with them.

One request is written in one transaction with set-based statements:

1. skip ``messageId``\\ s already stored (the unique constraint, not this pre-check, decides: a retry racing
   the original rolls back and goes again);
2. resolve ``userId`` / ``anonymousId`` to contacts with one SELECT, create the missing ones with one
   INSERT, merge anonymous contacts into the identified one (identify, and any call carrying both ids);
3. apply traits, upsert subscriptions, store the events (:func:`backend.contacts.events.insert_events`);
4. hand the batch and the changed contacts to audiences and journeys once
   (:func:`backend.contacts.events.propagate`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa
from msgspec import UNSET, Meta, UnsetType

from backend.contacts.events import SQLITE_ROWS, NewEvent, insert_events, propagate
from backend.db.fastsql import FastSQL
from backend.db.models import Contact, Enrollment, Event, OutboxMessage, StepLog, Subscription
from backend.runtime.events import IncomingEvent

if TYPE_CHECKING:
    from backend.services import Services

DB_BUSY_SECONDS = 5.0
"""How long a request waits for the database (SQLite write lock, PostgreSQL row/table locks, a free
ingestion slot) before giving up with :class:`Busy`."""
MAX_ATTEMPTS = 4
"""Attempts when a concurrent request created the same contact or subscription first."""

_events = Event.__table__
_contacts = Contact.__table__
_subscriptions = Subscription.__table__
_enrollments = Enrollment.__table__


class Busy(Exception):
    """The database (or this process's ingestion slots) stayed busy; retry after ``seconds``."""

    def __init__(self, seconds: float, detail: str) -> None:
        super().__init__(detail)
        self.seconds = seconds
        self.detail = detail


# Waymark traits (identify). Everything else a trait carries is stored as a contact attribute.


class SubscriptionTrait(msgspec.Struct, kw_only=True):
    id: Annotated[str, Meta(min_length=1, max_length=255)] | int
    name: Annotated[str, Meta(min_length=1, max_length=200)] | UnsetType = UNSET
    status: Annotated[str, Meta(min_length=1, max_length=32)] | UnsetType = UNSET
    start_at: datetime | UnsetType | None = UNSET
    end_at: datetime | UnsetType | None = UNSET
    duration: Annotated[str, Meta(max_length=32)] | UnsetType | None = UNSET
    auto_renew: bool | UnsetType = UNSET


SUBSCRIPTION_FIELDS = frozenset(SubscriptionTrait.__struct_fields__)


class ContactTraits(msgspec.Struct, kw_only=True):
    email: Annotated[str, Meta(max_length=320)] | UnsetType | None = UNSET
    phone: Annotated[str, Meta(max_length=32)] | UnsetType | None = UNSET
    wechat_openid: Annotated[str, Meta(max_length=128)] | UnsetType | None = UNSET
    timezone: Annotated[str, Meta(max_length=64)] | UnsetType | None = UNSET
    locale: Annotated[str, Meta(max_length=16)] | UnsetType | None = UNSET
    tags: list[Annotated[str, Meta(min_length=1, max_length=100)]] | UnsetType | None = UNSET
    push_tokens: list[Any] | UnsetType | None = UNSET
    consent: dict[str, bool] | UnsetType | None = UNSET
    subscriptions: list[SubscriptionTrait] | UnsetType | None = UNSET


CONTACT_TRAITS = frozenset(ContactTraits.__struct_fields__)
SCALAR_TRAITS = ("email", "phone", "wechat_openid", "timezone", "locale")


@lru_cache(maxsize=1024)
def valid_timezone(name: str) -> bool:
    if not name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


def normalise_email(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value or None


@dataclass(slots=True)
class Item:
    """One message, normalised: what it says about the contact and the event row to store."""

    kind: str
    user_id: str | None
    anonymous_id: str | None
    name: str
    properties: dict[str, Any]
    occurred_at: datetime
    message_id: str
    traits: ContactTraits | None = None
    attributes: dict[str, Any] | None = None
    subscription_extras: list[dict[str, Any]] | None = None
    context_timezone: str | None = None
    context_locale: str | None = None
    event_id: int | None = None
    contact: Any = None
    match_email: str | None = None
    """Imports: a normalised email that identifies the contact when there is no ``user_id`` (the oldest
    contact with it, else a new one), or that adopts a contact without an external id when the
    ``user_id`` is new."""
    add_tags: list[str] | None = None
    """Tags added to the contact's own (``traits.tags`` replaces them)."""


def aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_BUSY_SQLSTATES = {"55P03", "40P01", "40001", "53300", "57014"}
"""lock_not_available, deadlock_detected, serialization_failure, too_many_connections, query_canceled."""
_RETRY_SQLSTATES = {"40P01", "40001"}


def is_busy(exc: BaseException) -> bool:
    if isinstance(exc, sa.exc.TimeoutError):
        return True
    if not isinstance(exc, sa.exc.OperationalError | sa.exc.DBAPIError):
        return False
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


@contextmanager
def write_transaction(engine: sa.Engine, busy_seconds: float) -> Iterator[sa.Connection]:
    """A transaction that waits at most ``busy_seconds`` for locks (instead of the usual 30 s)."""
    millis = max(1, int(busy_seconds * 1000))
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        previous = None
        if raw is not None:
            previous = raw.execute("PRAGMA busy_timeout").fetchone()[0]
            raw.execute(f"PRAGMA busy_timeout = {millis}")
        try:
            with conn.begin():
                if raw is None:
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{millis}ms'")
                yield conn
        finally:
            if raw is not None:
                raw.execute(f"PRAGMA busy_timeout = {int(previous)}")


# -------------------------------------------------------------------------------------------------
# Storing
# -------------------------------------------------------------------------------------------------


@dataclass
class IngestResult:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    contacts_created: int = 0
    merged: int = 0
    enrolled: int = 0
    woken: int = 0


_JSON_COLUMNS = frozenset({"push_tokens", "consent", "attributes", "tags"})
_STATE_COLUMNS = (
    "external_id",
    "anonymous_id",
    "email",
    "phone",
    "wechat_openid",
    "push_tokens",
    "consent",
    "attributes",
    "tags",
    "timezone",
    "locale",
)


@dataclass(eq=False, slots=True)
class _Rec:
    """A contact as the request sees it: loaded, or to be created (``id`` None until inserted)."""

    id: int | None
    state: dict[str, Any]
    original: dict[str, Any] | None
    into: _Rec | None = None
    subscriptions: list = field(default_factory=list)

    def canonical(self) -> _Rec:
        rec = self
        while rec.into is not None:
            rec = rec.into
        return rec


def _new_state(external_id: str | None, anonymous_id: str | None) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "anonymous_id": anonymous_id,
        "email": None,
        "phone": None,
        "wechat_openid": None,
        "push_tokens": [],
        "consent": {},
        "attributes": {},
        "tags": [],
        "timezone": None,
        "locale": None,
    }


def store(
    conn: sa.Connection,
    services: Services,
    workspace_id: int,
    items: list[Item],
    now: datetime,
    event_source: str = "api",
    *,
    arrival_order: bool = False,
) -> IngestResult:
    """Write one request's messages in the caller's transaction (see the module docstring). Journeys
    see a request's events in timestamp order; with ``arrival_order`` (calls grouped by the
    group-commit writer, each of which the server would have handled in turn) in the order given."""
    result = IngestResult(received=len(items))
    unique: dict[str, Item] = {}
    for item in items:
        unique.setdefault(item.message_id, item)

    # 1. Skip what is already stored (and repeats within the request).
    fast = FastSQL(conn)
    stored = _stored_message_ids(fast, workspace_id, list(unique))
    accepted = [item for item in items if unique[item.message_id] is item and item.message_id not in stored]
    result.accepted = len(accepted)
    result.duplicates = len(items) - len(accepted)
    if not accepted:
        return result

    # 2. Who is who, and what the messages say about them (in memory).
    created, merges = _resolve(fast, workspace_id, accepted, result)
    for item in accepted:
        rec = item.contact.canonical()
        state = rec.state
        if item.traits is not None:
            _apply_traits(state, item.traits, item.attributes or {})
            if item.traits.subscriptions:
                for sub, extras in zip(item.traits.subscriptions, item.subscription_extras or (), strict=False):
                    rec.subscriptions.append((sub, extras))
        if item.add_tags:
            state["tags"] = list(dict.fromkeys([*state["tags"], *item.add_tags]))
        if item.context_timezone and not state["timezone"]:
            state["timezone"] = item.context_timezone
        if item.context_locale and not state["locale"]:
            state["locale"] = item.context_locale
    for source, target in merges:
        _merge_state(target.canonical().state, source.original)

    # 3. New contacts, inserted with their fields.
    _create_contacts(fast, workspace_id, created, now)
    result.contacts_created = len(created)

    # 4. The events. The unique (workspace, messageId) constraint is what decides: when a concurrent request
    #    stored one of them since step 1, this transaction is rolled back and retried (see ingest()).
    claimed = insert_events(
        fast,
        workspace_id,
        [
            NewEvent(item.contact.canonical().id, item.name, item.properties, item.message_id, item.occurred_at)
            for item in accepted
        ],
        now,
        event_source,
    )
    if len(claimed) != len(accepted):
        raise _Raced
    for item in accepted:
        item.event_id = claimed[item.message_id]

    # 5. Merges, changed contacts, subscriptions.
    _write_merges(conn, workspace_id, merges)
    _write_contacts(fast, accepted, now)
    _write_subscriptions(conn, workspace_id, accepted, now)

    # 6. Audiences and journeys, once for the whole request.
    changed = {rec.id for rec in created}
    for item in accepted:
        rec = item.contact.canonical()
        if rec.subscriptions or rec.state != rec.original:
            changed.add(rec.id)
    effects = propagate(
        conn,
        services,
        workspace_id,
        [
            IncomingEvent(
                contact_id=item.contact.canonical().id,
                name=item.name,
                properties=item.properties,
                occurred_at=item.occurred_at,
                event_id=item.event_id,
            )
            for item in accepted
        ],
        changed,
        now,
        keep_order=arrival_order,
    )
    result.enrolled, result.woken = effects.enrolled, effects.woken
    return result


def _resolve(fast: FastSQL, workspace_id: int, items: list[Item], result: IngestResult):
    """Attach a :class:`_Rec` to every item. Returns the contacts to create and the merges to apply."""
    external_ids = sorted({i.user_id for i in items if i.user_id})
    anonymous_ids = sorted({i.anonymous_id for i in items if i.anonymous_id})
    read_json = fast.read_json
    found = []
    for ids, column in ((external_ids, "external_id"), (anonymous_ids, "anonymous_id")):
        if ids:
            in_list, params = _in_list(fast, ids)
            found += fast.all(
                f"SELECT id, {', '.join(_STATE_COLUMNS)} FROM contacts WHERE workspace_id = ? AND {column} {in_list}",
                (workspace_id, *params),
            )
    emails = sorted({i.match_email for i in items if i.match_email})
    for start in range(0, len(emails), SQLITE_ROWS):
        in_list, params = _in_list(fast, emails[start : start + SQLITE_ROWS])
        found += fast.all(
            f"SELECT id, {', '.join(_STATE_COLUMNS)} FROM contacts WHERE workspace_id = ? AND email {in_list}",
            (workspace_id, *params),
        )
    found.sort(key=lambda row: row[0])
    seen: set[int] = set()
    by_email: dict[str, _Rec] = {}
    by_external: dict[str, _Rec] = {}
    by_anonymous_only: dict[str, _Rec] = {}
    by_anonymous_known: dict[str, _Rec] = {}
    for row in found:
        if row[0] in seen:
            continue
        seen.add(row[0])
        state = dict(zip(_STATE_COLUMNS, row[1:], strict=True))
        for name in _JSON_COLUMNS:
            state[name] = read_json(state[name]) or ([] if name in ("push_tokens", "tags") else {})
        original = {**state, "attributes": dict(state["attributes"]), "consent": dict(state["consent"])}
        original["tags"], original["push_tokens"] = list(state["tags"]), list(state["push_tokens"])
        rec = _Rec(row[0], state, original)
        if state["email"] is not None:
            by_email.setdefault(state["email"], rec)  # ordered by id: the oldest wins
        if state["external_id"] is not None:
            by_external[state["external_id"]] = rec
            if state["anonymous_id"] is not None:
                by_anonymous_known[state["anonymous_id"]] = rec  # ordered by id: the newest wins
        elif state["anonymous_id"] is not None:
            by_anonymous_only[state["anonymous_id"]] = rec

    created: list[_Rec] = []
    merges: list[tuple[_Rec, _Rec]] = []
    for item in items:
        user_id, anonymous_id = item.user_id, item.anonymous_id
        if user_id is None and anonymous_id is None and item.match_email:
            rec = by_email.get(item.match_email)
            if rec is None:
                rec = _Rec(None, _new_state(None, None), None)
                rec.state["email"] = item.match_email
                by_email[item.match_email] = rec
                created.append(rec)
            item.contact = rec.canonical()
            continue
        if user_id is None:
            rec = by_anonymous_only.get(anonymous_id) or by_anonymous_known.get(anonymous_id)
            if rec is None:
                rec = _Rec(None, _new_state(None, anonymous_id), None)
                by_anonymous_only[anonymous_id] = rec
                created.append(rec)
            item.contact = rec
            continue
        known = by_external.get(user_id)
        anonymous = by_anonymous_only.get(anonymous_id) if anonymous_id else None
        if known is None:
            adopt = by_email.get(item.match_email) if item.match_email else None
            if adopt is not None and adopt.state["external_id"] is not None:
                adopt = None
            if anonymous is not None:  # the anonymous visitor identifies: the same contact gets the userId
                del by_anonymous_only[anonymous_id]
                anonymous.state["external_id"] = user_id
                known = anonymous
            elif adopt is not None:  # an import names the contact that so far only had this email
                adopt.state["external_id"] = user_id
                known = adopt
            else:
                known = _Rec(None, _new_state(user_id, anonymous_id), None)
                created.append(known)
            by_external[user_id] = known
        elif anonymous is not None and anonymous is not known:
            del by_anonymous_only[anonymous_id]
            anonymous.into = known
            merges.append((anonymous, known))
        if anonymous_id:
            known.state["anonymous_id"] = anonymous_id
            by_anonymous_known[anonymous_id] = known
        item.contact = known

    # Contacts created earlier in this request and merged later are simply never inserted.
    merges = [(source, target) for source, target in merges if source.id is not None]
    result.merged = len(merges)
    return [rec for rec in created if rec.into is None], merges


def _apply_traits(state: dict[str, Any], traits: ContactTraits, attributes: dict[str, Any]) -> None:
    for name in SCALAR_TRAITS:
        value = getattr(traits, name)
        if value is UNSET:
            continue
        if name == "email":
            value = normalise_email(value)
        elif isinstance(value, str):
            value = value.strip() or None
        state[name] = value
    if traits.tags is not UNSET:
        state["tags"] = list(dict.fromkeys(traits.tags or ()))
    if traits.push_tokens is not UNSET:
        state["push_tokens"] = list(traits.push_tokens or ())
    if traits.consent is not UNSET:
        state["consent"] = {**state["consent"], **traits.consent} if traits.consent else {}
    if attributes:
        state["attributes"] = {**state["attributes"], **attributes}


def _merge_state(target: dict[str, Any], source: dict[str, Any]) -> None:
    """The identified contact's own values win; the anonymous one fills the gaps."""
    for name in ("email", "phone", "wechat_openid", "timezone", "locale"):
        if target[name] is None:
            target[name] = source[name]
    target["attributes"] = {**source["attributes"], **target["attributes"]}
    target["consent"] = {**source["consent"], **target["consent"]}
    target["tags"] = list(dict.fromkeys([*target["tags"], *source["tags"]]))
    tokens = list(target["push_tokens"])
    tokens += [t for t in source["push_tokens"] if t not in tokens]
    target["push_tokens"] = tokens


def _write_merges(conn: sa.Connection, workspace_id: int, merges: list[tuple[_Rec, _Rec]]) -> None:
    """Move an anonymous contact's history onto the identified contact and delete it. Its journey
    enrollments move too, except into journeys the identified contact is already in."""
    if not merges:
        return
    pairs = [{"_from": source.id, "_to": target.canonical().id, "_ws": workspace_id} for source, target in merges]
    for table in (_events, Subscription.__table__, OutboxMessage.__table__, StepLog.__table__):
        conn.execute(
            sa.update(table)
            .where(table.c.workspace_id == sa.bindparam("_ws"), table.c.contact_id == sa.bindparam("_from"))
            .values(contact_id=sa.bindparam("_to")),
            pairs,
        )
    already = sa.select(_enrollments.c.journey_id).where(_enrollments.c.contact_id == sa.bindparam("_to"))
    conn.execute(
        sa.update(_enrollments)
        .where(
            _enrollments.c.workspace_id == sa.bindparam("_ws"),
            _enrollments.c.contact_id == sa.bindparam("_from"),
            _enrollments.c.journey_id.not_in(already.scalar_subquery()),
        )
        .values(contact_id=sa.bindparam("_to")),
        pairs,
    )
    conn.execute(
        sa.delete(_contacts).where(_contacts.c.id == sa.bindparam("_from")), [{"_from": p["_from"]} for p in pairs]
    )


def _write_contacts(fast: FastSQL, items: list[Item], now: datetime) -> None:
    changed: dict[int, _Rec] = {}
    for item in items:
        rec = item.contact.canonical()
        if rec.id not in changed and rec.state != rec.original:
            changed[rec.id] = rec
    if not changed:
        return
    json = fast.json
    rows = [
        [rec.id, *(json(rec.state[c]) if c in _JSON_COLUMNS else rec.state[c] for c in _STATE_COLUMNS)]
        for rec in changed.values()
    ]
    if fast.postgres:
        columns = list(zip(*rows, strict=True))
        types = ["bigint", *("text" for _ in _STATE_COLUMNS)]
        sets = ", ".join(f"{c} = v.{c}{'::jsonb' if c in _JSON_COLUMNS else ''}" for c in _STATE_COLUMNS)
        _run(
            fast,
            f"UPDATE contacts SET {sets}, updated_at = ? FROM unnest("
            + ", ".join(f"?::{t}[]" for t in types)
            + f") AS v(id, {', '.join(_STATE_COLUMNS)}) WHERE contacts.id = v.id",
            (now, *(list(c) for c in columns)),
        )
        return
    sets = ", ".join(f"{c} = ?" for c in _STATE_COLUMNS)
    stamp = fast.dt(now)
    fast.many(f"UPDATE contacts SET {sets}, updated_at = ? WHERE id = ?", [(*r[1:], stamp, r[0]) for r in rows])


def _run(fast: FastSQL, statement: str, params: tuple) -> None:
    fast.conn.exec_driver_sql(fast.sql(statement), params)


def _in_list(fast: FastSQL, values: list) -> tuple[str, tuple]:
    if fast.postgres:
        return "= ANY(?)", (values,)
    return f"IN ({', '.join('?' * len(values))})", tuple(values)


class _Raced(Exception):
    """A concurrent request stored one of our messageIds first: roll back and go again."""


def _stored_message_ids(fast: FastSQL, workspace_id: int, message_ids: list[str]) -> set[str]:
    out: set[str] = set()
    for start in range(0, len(message_ids), SQLITE_ROWS):
        in_list, params = _in_list(fast, message_ids[start : start + SQLITE_ROWS])
        rows = fast.all(
            f"SELECT message_id FROM events WHERE workspace_id = ? AND message_id {in_list}", (workspace_id, *params)
        )
        out.update(m for (m,) in rows)
    return out


def _create_contacts(fast: FastSQL, workspace_id: int, created: list[_Rec], now: datetime) -> None:
    if not created:
        return
    json = fast.json
    rows = [[json(r.state[c]) if c in _JSON_COLUMNS else r.state[c] for c in _STATE_COLUMNS] for r in created]
    names = ", ".join(_STATE_COLUMNS)
    tail = " RETURNING id, external_id, anonymous_id, email"
    if fast.postgres:
        values = ", ".join(f"v.{c}::jsonb" if c in _JSON_COLUMNS else f"v.{c}" for c in _STATE_COLUMNS)
        inserted = fast.all(
            f"INSERT INTO contacts (workspace_id, {names}, created_at, updated_at) SELECT ?, {values}, ?, ?"
            f" FROM unnest({', '.join('?::text[]' for _ in _STATE_COLUMNS)}) AS v({names})" + tail,
            (workspace_id, now, now, *(list(column) for column in zip(*rows, strict=True))),
        )
    else:
        stamp = fast.dt(now)
        marks = "(" + ", ".join("?" * (len(_STATE_COLUMNS) + 3)) + ")"
        inserted = []
        for start in range(0, len(rows), SQLITE_ROWS):
            part = rows[start : start + SQLITE_ROWS]
            params: list[Any] = []
            for row in part:
                params += (workspace_id, *row, stamp, stamp)
            inserted += fast.all(
                f"INSERT INTO contacts (workspace_id, {names}, created_at, updated_at) VALUES "
                + ", ".join([marks] * len(part))
                + tail,
                params,
            )

    # (external_id, anonymous_id) is unique among new contacts, and the email among those with neither
    # (imports): match the returned ids by it.
    def key(ext: str | None, anon: str | None, email: str | None) -> tuple:
        return (ext, anon, email if ext is None and anon is None else None)

    ids = {key(ext, anon, email): contact_id for contact_id, ext, anon, email in inserted}
    for rec in created:
        rec.id = ids[key(rec.state["external_id"], rec.state["anonymous_id"], rec.state["email"])]
        rec.original = {**rec.state}


def _write_subscriptions(conn: sa.Connection, workspace_id: int, items: list[Item], now: datetime) -> None:
    """Upsert by id. ``auto_renew_before`` keeps the value auto-renew had before its latest change."""
    ops = []
    seen: set[int] = set()
    for item in items:
        rec = item.contact.canonical()
        if id(rec) in seen:
            continue
        seen.add(id(rec))
        ops.extend((rec.id, sub, extras) for sub, extras in rec.subscriptions)
    if not ops:
        return
    external_ids = sorted({str(sub.id) for _, sub, _ in ops})
    columns = ("contact_id", "name", "status", "start_at", "end_at", "duration", "auto_renew", "auto_renew_before")
    existing: dict[str, dict[str, Any]] = {}
    for row in conn.execute(
        sa.select(
            _subscriptions.c.id,
            _subscriptions.c.external_id,
            _subscriptions.c.attributes,
            *(_subscriptions.c[c] for c in columns),
        ).where(_subscriptions.c.workspace_id == workspace_id, _subscriptions.c.external_id.in_(external_ids))
    ):
        state = {c: getattr(row, c) for c in columns}
        state["attributes"] = dict(row.attributes or {})
        existing[row.external_id] = {"id": row.id, "state": state, "original": dict(state)}
    for contact_id, sub, extras in ops:
        key = str(sub.id)
        entry = existing.get(key)
        if entry is None:
            state = {
                "contact_id": contact_id,
                "name": key,
                "status": "active",
                "start_at": None,
                "end_at": None,
                "duration": None,
                "auto_renew": False,
                "auto_renew_before": False,
                "attributes": {},
            }
            entry = existing[key] = {"id": None, "state": state, "original": None}
        state = entry["state"]
        state["contact_id"] = contact_id
        for name in ("name", "status", "duration"):
            value = getattr(sub, name)
            if value is not UNSET:
                state[name] = value
        for name in ("start_at", "end_at"):
            value = getattr(sub, name)
            if value is not UNSET:
                state[name] = aware(value) if value is not None else None
        if sub.auto_renew is not UNSET and sub.auto_renew != state["auto_renew"]:
            state["auto_renew_before"] = state["auto_renew"]
            state["auto_renew"] = sub.auto_renew
        if extras:
            state["attributes"] = {**state["attributes"], **extras}
    inserts = [
        {"workspace_id": workspace_id, "external_id": key, "updated_at": now, **entry["state"]}
        for key, entry in existing.items()
        if entry["id"] is None
    ]
    updates = [
        {"_id": entry["id"], **{f"_{k}": v for k, v in entry["state"].items()}}
        for entry in existing.values()
        if entry["id"] is not None and entry["state"] != entry["original"]
    ]
    if inserts:
        conn.execute(sa.insert(_subscriptions), inserts)
    if updates:
        names = (*columns, "attributes")
        conn.execute(
            sa.update(_subscriptions)
            .where(_subscriptions.c.id == sa.bindparam("_id"))
            .values({name: sa.bindparam(f"_{name}", type_=_subscriptions.c[name].type) for name in names})
            .values(updated_at=now),
            updates,
        )


def ingest(
    services: Services,
    workspace_id: int,
    items: list[Item],
    received_at: datetime | None = None,
    *,
    slots: threading.Semaphore | None = None,
    source: str = "api",
) -> IngestResult:
    """Store messages in one transaction (blocking; run it in a worker thread), retrying when a
    concurrent request won a race. Raises :class:`Busy` when the database or ``slots`` stay busy."""
    if slots is not None and not slots.acquire(timeout=DB_BUSY_SECONDS):
        raise Busy(1, "the server is busy writing other requests")
    try:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            now = received_at or services.clock.now()
            try:
                with write_transaction(services.engine, DB_BUSY_SECONDS) as conn:
                    result = store(conn, services, workspace_id, items, now, source)
                    if result.enrolled or result.woken:
                        services.waker.notify(conn)  # NOTIFY is delivered on commit (PostgreSQL)
            except (sa.exc.IntegrityError, _Raced):
                # A concurrent request stored the same messageId, contact or subscription first; the next
                # attempt sees it.
                if attempt == MAX_ATTEMPTS:
                    raise
                continue
            except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
                if not is_busy(exc):
                    raise
                if attempt < MAX_ATTEMPTS and _sqlstate(exc) in _RETRY_SQLSTATES:
                    continue  # deadlock or serialization failure: go again at once
                raise Busy(1, "the database is busy") from None
            if result.enrolled or result.woken:
                services.waker.notify()
            return result
    finally:
        if slots is not None:
            slots.release()
    raise AssertionError("unreachable")


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(getattr(exc, "orig", None), "sqlstate", "") or "")
