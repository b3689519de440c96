"""Segment-compatible ingestion: ``/v1/identify``, ``track``, ``page``, ``screen``, ``group``, ``alias`` and
``batch`` (``import`` is an alias of ``batch``, as at Segment).

A request is read with Segment's size limits enforced *while* reading (32 KB per call, 500 KB per batch,
32 KB per batched message), decoded straight into typed structs, validated completely, and only then
written — in one transaction with set-based statements:

1. claim the ``messageId``\\ s: ``INSERT … ON CONFLICT DO NOTHING RETURNING`` into ``events`` (the unique
   constraint, not a pre-check, decides, so a retry racing the original is ignored too);
2. resolve ``userId`` / ``anonymousId`` to contacts with one SELECT, create the missing ones with one
   INSERT, merge anonymous contacts into the identified one (identify, and any call carrying both ids);
3. apply traits, upsert subscriptions, point the events at their contacts (executemany);
4. :func:`backend.runtime.events.handle_events` once for the whole request, then wake the workers.

Duplicates are accepted and ignored; overload (per-workspace token bucket, a busy database) answers
``429`` with ``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import anyio
import msgspec
import sqlalchemy as sa
from litestar import Controller, Request, post
from litestar.openapi.spec import Operation
from msgspec import UNSET, Meta, UnsetType

from backend.api.app import INGEST_HANDLERS
from backend.api.auth import Principal
from backend.api.deps import PrincipalDep, ServicesDep
from backend.api.errors import ApiError, ProblemItem
from backend.db.fastsql import FastSQL
from backend.db.models import Contact, Enrollment, Event, OutboxMessage, StepLog, Subscription
from backend.engine.validation import msgspec_path_to_pointer
from backend.runtime.events import IncomingEvent, handle_events
from backend.services import Services

MAX_CALL_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
DB_BUSY_SECONDS = 5.0
"""How long a request waits for the database (SQLite write lock, PostgreSQL row/table locks, a free
ingestion slot) before answering 429."""
MAX_CONCURRENT_WRITES = 8
"""Ingestion transactions running at once per process; more wait (up to ``DB_BUSY_SECONDS``), then 429."""
MAX_ATTEMPTS = 4
"""Attempts when a concurrent request created the same contact or subscription first."""

_events = Event.__table__
_contacts = Contact.__table__
_subscriptions = Subscription.__table__
_enrollments = Enrollment.__table__

# -------------------------------------------------------------------------------------------------
# Wire format (Segment's spec; unknown fields such as ``integrations`` or ``writeKey`` are ignored)
# -------------------------------------------------------------------------------------------------

Id = Annotated[str, Meta(max_length=255)] | int
"""Segment ids are strings; a few libraries send numbers, which are stored as their decimal text."""
MessageId = Annotated[str, Meta(min_length=1, max_length=255)]
EventName = Annotated[str, Meta(min_length=1, max_length=200)]


class _Message(msgspec.Struct, kw_only=True, rename="camel", tag_field="type"):
    user_id: Id | None = None
    anonymous_id: Id | None = None
    context: dict[str, Any] | None = None
    timestamp: datetime | None = None
    """When it happened. With ``sentAt`` the client clock's skew is corrected, as Segment does."""
    original_timestamp: datetime | None = None
    sent_at: datetime | None = None
    message_id: MessageId | None = None


class IdentifyMessage(_Message, tag="identify"):
    traits: dict[str, Any] | None = None


class TrackMessage(_Message, tag="track"):
    event: EventName
    properties: dict[str, Any] | None = None


class PageMessage(_Message, tag="page"):
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] | None = None


class ScreenMessage(_Message, tag="screen"):
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] | None = None


class GroupMessage(_Message, tag="group"):
    group_id: Id
    traits: dict[str, Any] | None = None


class AliasMessage(_Message, tag="alias"):
    previous_id: Id
    user_id: Id


AnyMessage = IdentifyMessage | TrackMessage | PageMessage | ScreenMessage | GroupMessage | AliasMessage
MESSAGE_TYPES: dict[str, type[_Message]] = {
    "identify": IdentifyMessage,
    "track": TrackMessage,
    "page": PageMessage,
    "screen": ScreenMessage,
    "group": GroupMessage,
    "alias": AliasMessage,
}


class BatchEnvelope(msgspec.Struct, kw_only=True, rename="camel"):
    batch: list[msgspec.Raw]
    context: dict[str, Any] | None = None
    """Merged into every message's context (the message's own keys win)."""
    sent_at: datetime | None = None
    """Used for messages without their own ``sentAt``."""


class BatchDoc(msgspec.Struct, kw_only=True, rename="camel"):
    """The documented shape of a batch (decoding uses :class:`BatchEnvelope`)."""

    batch: Annotated[list[AnyMessage], Meta(max_length=MAX_BATCH_MESSAGES)]
    context: dict[str, Any] | None = None
    sent_at: datetime | None = None


class Success(msgspec.Struct):
    success: bool = True


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


# -------------------------------------------------------------------------------------------------
# Reading and validating a request
# -------------------------------------------------------------------------------------------------


def _too_large(limit: int, what: str) -> ApiError:
    kb = limit // 1024
    hint = "; send several events with /v1/batch" if what == "call" else "; split it into smaller batches"
    message = f"the body is larger than {kb} KB, Segment's limit per {what}{hint}"
    return ApiError(400, "The request body is too large", message, [ProblemItem("", message)])


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The raw body, refused as soon as it is known to exceed ``limit`` (Content-Length, or while
    streaming); gzip bodies (analytics-python's ``gzip=True``) are inflated with the same bound."""
    declared = request.headers.get("content-length", "")
    gzipped = request.headers.get("content-encoding", "").strip().lower() == "gzip"
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, what)
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, what)
        parts.append(chunk)
    body = b"".join(parts)
    if gzipped:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise ApiError(400, "The request has problems", f"the gzip body is corrupt: {exc}") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise _too_large(limit, what)
    return body


def _decode_problem(exc: msgspec.MsgspecError, base: str) -> ApiError:
    if isinstance(exc, msgspec.ValidationError):
        suffix, message = msgspec_path_to_pointer(str(exc))
        pointer = base + suffix
        return ApiError(
            400, "The request has problems", f"{pointer or '/'}: {message}", [ProblemItem(pointer, message)]
        )
    message = f"the body is not valid JSON: {exc}"
    return ApiError(400, "The request has problems", message, [ProblemItem(base, message)])


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


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id(value: str | int | None) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text or None


def _occurred_at(msg: _Message, batch_sent_at: datetime | None, received_at: datetime, base: str) -> datetime:
    """Segment's rule: ``timestamp`` (or ``originalTimestamp``) corrected by the device's clock skew,
    ``receivedAt - (sentAt - originalTimestamp)``, when ``sentAt`` is known; else as sent; else now."""
    original = msg.timestamp or msg.original_timestamp
    if original is None:
        return received_at
    original = _aware(original)
    sent = msg.sent_at or batch_sent_at
    if sent is None:
        return original
    try:
        return received_at - (_aware(sent) - original)
    except OverflowError:
        raise ApiError(
            400,
            "The request has problems",
            "sentAt and timestamp are too far apart",
            [ProblemItem(base + "/sentAt", "sentAt and timestamp are too far apart")],
        ) from None


def _contact_traits(raw: dict[str, Any], base: str) -> tuple[ContactTraits, dict[str, Any], list[dict[str, Any]]]:
    known = {k: v for k, v in raw.items() if k in CONTACT_TRAITS}
    try:
        traits = msgspec.convert(known, ContactTraits)
    except msgspec.ValidationError as exc:
        raise _decode_problem(exc, base + "/traits") from None
    if isinstance(traits.timezone, str) and not valid_timezone(traits.timezone):
        message = f"unknown time zone {traits.timezone!r}; use an IANA name such as Europe/Warsaw"
        raise ApiError(400, "The request has problems", message, [ProblemItem(base + "/traits/timezone", message)])
    extras = []
    if traits.subscriptions:
        for raw_sub in raw["subscriptions"]:
            extras.append({k: v for k, v in raw_sub.items() if k not in SUBSCRIPTION_FIELDS})
    attributes = {k: v for k, v in raw.items() if k not in CONTACT_TRAITS}
    return traits, attributes, extras


def to_item(msg: _Message, received_at: datetime, base: str = "", batch_sent_at: datetime | None = None) -> Item:
    kind = msg.__struct_config__.tag
    user_id = _id(msg.user_id)
    anonymous_id = _id(msg.anonymous_id)
    if kind != "alias" and user_id is None and anonymous_id is None:
        message = "userId or anonymousId is required"
        raise ApiError(400, "The request has problems", message, [ProblemItem(base + "/userId", message)])
    item = Item(
        kind=kind,
        user_id=user_id,
        anonymous_id=anonymous_id,
        name=kind,
        properties={},
        occurred_at=_occurred_at(msg, batch_sent_at, received_at, base),
        message_id=msg.message_id or f"waymark-{uuid.uuid4()}",
    )
    context = msg.context or {}
    tz = context.get("timezone")
    if isinstance(tz, str) and len(tz) <= 64 and valid_timezone(tz):
        item.context_timezone = tz
    locale = context.get("locale")
    if isinstance(locale, str) and 0 < len(locale) <= 16:
        item.context_locale = locale
    if isinstance(msg, TrackMessage):
        item.name = msg.event
        item.properties = msg.properties or {}
    elif isinstance(msg, IdentifyMessage):
        raw = msg.traits or {}
        item.traits, item.attributes, item.subscription_extras = _contact_traits(raw, base)
        item.properties = raw
    elif isinstance(msg, PageMessage | ScreenMessage):
        item.properties = dict(msg.properties or {})
        if msg.name is not None:
            item.properties.setdefault("name", msg.name)
        if msg.category is not None:
            item.properties.setdefault("category", msg.category)
    elif isinstance(msg, GroupMessage):
        item.properties = {"group_id": _id(msg.group_id), "traits": msg.traits or {}}
    elif isinstance(msg, AliasMessage):
        # alias(previousId → userId): the anonymous contact known by previousId joins userId's contact.
        item.anonymous_id = _id(msg.previous_id)
        item.user_id = _id(msg.user_id)
        if item.user_id is None or item.anonymous_id is None:
            message = "alias needs a non-empty userId and previousId"
            raise ApiError(400, "The request has problems", message, [ProblemItem(base + "/userId", message)])
        item.properties = {"previous_id": item.anonymous_id}
    return item


def parse_call(body: bytes, kind: str, received_at: datetime) -> list[Item]:
    try:
        msg = msgspec.json.decode(body, type=MESSAGE_TYPES[kind])
    except msgspec.MsgspecError as exc:
        raise _decode_problem(exc, "") from None
    return [to_item(msg, received_at)]


def parse_batch(body: bytes, received_at: datetime) -> list[Item]:
    try:
        envelope = msgspec.json.decode(body, type=BatchEnvelope)
    except msgspec.MsgspecError as exc:
        raise _decode_problem(exc, "") from None
    if len(envelope.batch) > MAX_BATCH_MESSAGES:
        message = f"at most {MAX_BATCH_MESSAGES} messages per batch (got {len(envelope.batch)})"
        raise ApiError(400, "The request has problems", message, [ProblemItem("/batch", message)])
    items = []
    shared_context = envelope.context or {}
    for index, raw in enumerate(envelope.batch):
        base = f"/batch/{index}"
        if len(raw) > MAX_CALL_BYTES:
            message = f"a batched message may be at most {MAX_CALL_BYTES // 1024} KB (this one is {len(raw)} bytes)"
            raise ApiError(400, "The request body is too large", message, [ProblemItem(base, message)])
        try:
            msg = msgspec.json.decode(raw, type=AnyMessage)
        except msgspec.MsgspecError as exc:
            raise _decode_problem(exc, base) from None
        if shared_context:
            msg.context = {**shared_context, **(msg.context or {})}
        items.append(to_item(msg, received_at, base, envelope.sent_at))
    return items


# -------------------------------------------------------------------------------------------------
# Back-pressure
# -------------------------------------------------------------------------------------------------


class IngestGate:
    """A token bucket per workspace (``rate`` messages per second, bursts of one second's worth; a
    batch bigger than the bucket passes when the bucket is full and leaves it in debt) and a bound on
    concurrent ingestion transactions in this process."""

    def __init__(self, rate: float, slots: int = MAX_CONCURRENT_WRITES, monotonic=time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.monotonic = monotonic
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(slots)

    def take(self, workspace_id: int, count: int) -> float | None:
        """Spend ``count`` tokens; returns None, or the seconds until the call would be accepted."""
        if self.rate <= 0:
            return None
        now = self.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(workspace_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            need = min(float(count), self.capacity)
            if tokens < need:
                self._buckets[workspace_id] = (tokens, now)
                return (need - tokens) / self.rate
            self._buckets[workspace_id] = (tokens - count, now)
            return None


_gate_lock = threading.Lock()


def gate_of(request: Request, services: Services) -> IngestGate:
    state = request.app.state
    gate = getattr(state, "ingest_gate", None)
    if gate is None:
        with _gate_lock:
            gate = getattr(state, "ingest_gate", None)
            if gate is None:
                gate = state.ingest_gate = IngestGate(services.settings.max_ingest_per_second)
    return gate


def overloaded(seconds: float, detail: str) -> ApiError:
    retry = max(1, math.ceil(seconds))
    return ApiError(429, "Too many requests; retry later", detail, headers={"Retry-After": str(retry)})


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


def store(conn: sa.Connection, services: Services, workspace_id: int, items: list[Item], now: datetime) -> IngestResult:
    """Write one request's messages in the caller's transaction (see the module docstring)."""
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
    claimed = _insert_events(fast, workspace_id, accepted, now)
    if len(claimed) != len(accepted):
        raise _Raced
    for item in accepted:
        item.event_id = claimed[item.message_id]

    # 5. Merges, changed contacts, subscriptions.
    _write_merges(conn, workspace_id, merges)
    _write_contacts(fast, accepted, now)
    _write_subscriptions(conn, workspace_id, accepted, now)

    # 6. Journeys.
    effects = handle_events(
        conn,
        services.graphs,
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
        now,
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
    found.sort(key=lambda row: row[0])
    seen: set[int] = set()
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
            if anonymous is not None:  # the anonymous visitor identifies: the same contact gets the userId
                del by_anonymous_only[anonymous_id]
                anonymous.state["external_id"] = user_id
                known = anonymous
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
    for start in range(0, len(message_ids), _SQLITE_ROWS):
        in_list, params = _in_list(fast, message_ids[start : start + _SQLITE_ROWS])
        rows = fast.all(
            f"SELECT message_id FROM events WHERE workspace_id = ? AND message_id {in_list}", (workspace_id, *params)
        )
        out.update(m for (m,) in rows)
    return out


def _insert_events(fast: FastSQL, workspace_id: int, items: list[Item], now: datetime) -> dict[str, int]:
    """Insert in the order sent (event ids follow it); rows whose messageId is taken are skipped.
    Returns {messageId: event id} of the rows inserted."""
    json, dt = fast.json, fast.dt
    tail = " ON CONFLICT (workspace_id, message_id) DO NOTHING RETURNING id, message_id"
    columns = "workspace_id, contact_id, name, properties, occurred_at, received_at, message_id, source"
    if fast.postgres:
        rows = fast.all(
            f"INSERT INTO events ({columns})"
            " SELECT ?, v.contact_id, v.name, v.properties::jsonb, v.occurred_at, ?, v.message_id, 'api'"
            " FROM unnest(?::bigint[], ?::text[], ?::text[], ?::timestamptz[], ?::text[]) WITH ORDINALITY"
            " AS v(contact_id, name, properties, occurred_at, message_id, n) ORDER BY v.n" + tail,
            (
                workspace_id,
                now,
                [i.contact.canonical().id for i in items],
                [i.name for i in items],
                [json(i.properties) for i in items],
                [i.occurred_at for i in items],
                [i.message_id for i in items],
            ),
        )
        return {message_id: event_id for event_id, message_id in rows}
    out: dict[str, int] = {}
    received = dt(now)
    for start in range(0, len(items), _SQLITE_ROWS):
        part = items[start : start + _SQLITE_ROWS]
        params: list[Any] = []
        for i in part:
            params += (
                workspace_id,
                i.contact.canonical().id,
                i.name,
                json(i.properties),
                dt(i.occurred_at),
                received,
                i.message_id,
            )
        rows = fast.all(
            f"INSERT INTO events ({columns}) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, 'api')"] * len(part)) + tail,
            params,
        )
        out.update((message_id, event_id) for event_id, message_id in rows)
    return out


_SQLITE_ROWS = 2000
"""Rows per multi-row statement on SQLite (at most 14 parameters each; SQLite allows 32,766 per statement)."""


def _create_contacts(fast: FastSQL, workspace_id: int, created: list[_Rec], now: datetime) -> None:
    if not created:
        return
    json = fast.json
    rows = [[json(r.state[c]) if c in _JSON_COLUMNS else r.state[c] for c in _STATE_COLUMNS] for r in created]
    names = ", ".join(_STATE_COLUMNS)
    tail = " RETURNING id, external_id, anonymous_id"
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
        for start in range(0, len(rows), _SQLITE_ROWS):
            part = rows[start : start + _SQLITE_ROWS]
            params: list[Any] = []
            for row in part:
                params += (workspace_id, *row, stamp, stamp)
            inserted += fast.all(
                f"INSERT INTO contacts (workspace_id, {names}, created_at, updated_at) VALUES "
                + ", ".join([marks] * len(part))
                + tail,
                params,
            )
    # (external_id, anonymous_id) is unique among new contacts: match the returned ids by it.
    ids = {(ext, anon): contact_id for contact_id, ext, anon in inserted}
    for rec in created:
        rec.id = ids[(rec.state["external_id"], rec.state["anonymous_id"])]
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
                state[name] = _aware(value) if value is not None else None
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
    services: Services, gate: IngestGate, workspace_id: int, items: list[Item], received_at: datetime | None = None
) -> IngestResult:
    """Store a request's messages (blocking; run it in a worker thread). Raises 429 when overloaded."""
    if not gate.slots.acquire(timeout=DB_BUSY_SECONDS):
        raise overloaded(1, "the server is busy writing other requests")
    try:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            now = received_at or services.clock.now()
            try:
                with write_transaction(services.engine, DB_BUSY_SECONDS) as conn:
                    result = store(conn, services, workspace_id, items, now)
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
                raise overloaded(1, "the database is busy") from None
            if result.enrolled or result.woken:
                services.waker.notify()
            return result
    finally:
        gate.slots.release()
    raise AssertionError("unreachable")


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(getattr(exc, "orig", None), "sqlstate", "") or "")


# -------------------------------------------------------------------------------------------------
# HTTP
# -------------------------------------------------------------------------------------------------


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """Resolve msgspec's ``$defs`` references so the schema can sit inside the OpenAPI document."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.rsplit("/", 1)[-1]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


def _documented(body_type: Any, *, single: bool) -> type[Operation]:
    schema = _inline(msgspec.json.schema(body_type))
    if single and "type" in schema.get("required", []):
        schema["required"] = [name for name in schema["required"] if name != "type"]

    class DocumentedOperation(Operation):
        def to_schema(self) -> dict[str, Any]:
            out = super().to_schema()
            out["requestBody"] = {
                "required": True,
                "description": "JSON (any Content-Type is accepted, as Segment's libraries sometimes send text/plain)",
                "content": {"application/json": {"schema": schema}},
            }
            return out

    return DocumentedOperation


async def _handle(request: Request, services: Services, principal: Principal, kind: str | None) -> Success:
    limit, what = (MAX_BATCH_BYTES, "batch") if kind is None else (MAX_CALL_BYTES, "call")
    body = await read_body(request, limit, what)
    gate = gate_of(request, services)
    await anyio.to_thread.run_sync(_process, services, gate, principal.workspace_id, body, kind)
    return Success()


def _process(services: Services, gate: IngestGate, workspace_id: int, body: bytes, kind: str | None) -> None:
    received_at = services.clock.now()
    items = parse_batch(body, received_at) if kind is None else parse_call(body, kind, received_at)
    if not items:
        return
    wait = gate.take(workspace_id, len(items))
    if wait is not None:
        raise overloaded(wait, f"this workspace may send {gate.rate:g} messages per second")
    ingest(services, gate, workspace_id, items, received_at)


_RESPONSES = 'Always `{"success": true}`; a repeated messageId is accepted and ignored.'


class IngestController(Controller):
    path = "/"
    tags = ["ingestion"]

    @post(
        "/identify",
        status_code=200,
        summary="Identify a contact and set traits",
        description=_RESPONSES,
        operation_class=_documented(IdentifyMessage, single=True),
    )
    async def identify(self, request: Request, services: ServicesDep, principal: PrincipalDep) -> Success:
        return await _handle(request, services, principal, "identify")

    @post(
        "/track",
        status_code=200,
        summary="Record an event",
        description=_RESPONSES,
        operation_class=_documented(TrackMessage, single=True),
    )
    async def track(self, request: Request, services: ServicesDep, principal: PrincipalDep) -> Success:
        return await _handle(request, services, principal, "track")

    @post(
        "/page",
        status_code=200,
        summary="Record a page view (stored as event `page`)",
        description=_RESPONSES,
        operation_class=_documented(PageMessage, single=True),
    )
    async def page(self, request: Request, services: ServicesDep, principal: PrincipalDep) -> Success:
        return await _handle(request, services, principal, "page")

    @post(
        "/screen",
        status_code=200,
        summary="Record a screen view (stored as event `screen`)",
        description=_RESPONSES,
        operation_class=_documented(ScreenMessage, single=True),
    )
    async def screen(self, request: Request, services: ServicesDep, principal: PrincipalDep) -> Success:
        return await _handle(request, services, principal, "screen")

    @post(
        "/group",
        status_code=200,
        summary="Associate a contact with a group (stored as event `group`)",
        description=_RESPONSES,
        operation_class=_documented(GroupMessage, single=True),
    )
    async def group(self, request: Request, services: ServicesDep, principal: PrincipalDep) -> Success:
        return await _handle(request, services, principal, "group")

    @post(
        "/alias",
        status_code=200,
        summary="Join an anonymous id (previousId) to a userId",
        description=_RESPONSES,
        operation_class=_documented(AliasMessage, single=True),
    )
    async def alias(self, request: Request, services: ServicesDep, principal: PrincipalDep) -> Success:
        return await _handle(request, services, principal, "alias")

    @post(
        ["/batch", "/import"],
        status_code=200,
        summary="Send up to 2,500 messages (500 KB) in one call",
        description=_RESPONSES + " The whole batch is validated first and stored in one transaction.",
        operation_class=_documented(BatchDoc, single=False),
    )
    async def batch(self, request: Request, services: ServicesDep, principal: PrincipalDep) -> Success:
        return await _handle(request, services, principal, None)


INGEST_HANDLERS.append(IngestController)
