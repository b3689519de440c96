"""Segment-compatible ingestion: ``/v1/identify``, ``track``, ``page``, ``screen``, ``group``, ``alias`` and
``batch`` (``import`` is an alias of ``batch``, as at Segment).

A request is read with Segment's size limits enforced *while* reading (32 KB per call, 500 KB per batch,
32 KB per batched message), decoded straight into typed structs and validated completely; only then is
it stored by :func:`backend.contacts.upsert.store` (contacts, subscriptions and events, handed once to
audiences and journeys). A batch is one transaction of its own; single calls are parsed on the event
loop and handed to the process's group-commit writer (:mod:`backend.contacts.group_commit`), which
stores all calls waiting at that moment in one transaction and answers each only after the commit.

Duplicates are accepted and ignored; overload (per-workspace token bucket, a busy database) answers
``429`` with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
import zlib
from datetime import datetime
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, post
from litestar.openapi.spec import Operation
from msgspec import Meta

from backend.api.app import INGEST_HANDLERS, SHUTDOWN_HOOKS
from backend.api.auth import Principal
from backend.api.errors import ApiError, ProblemItem, refuse_nul
from backend.api.openapi import mark_date_times, require_one_of
from backend.contacts.group_commit import GroupWriter, Pending
from backend.contacts.upsert import (
    CONTACT_TRAITS,
    SUBSCRIPTION_FIELDS,
    Busy,
    ContactTraits,
    Item,
    aware,
    ingest,
    valid_timezone,
)
from backend.engine.validation import msgspec_path_to_pointer
from backend.services import Services

MAX_CALL_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
MAX_CONCURRENT_WRITES = 8
"""Ingestion transactions running at once per process; more wait (up to ``DB_BUSY_SECONDS``), then 429."""

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
    original = aware(original)
    sent = msg.sent_at or batch_sent_at
    if sent is None:
        return original
    try:
        return received_at - (aware(sent) - original)
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
    refuse_nul(body)
    try:
        msg = msgspec.json.decode(body, type=MESSAGE_TYPES[kind])
    except msgspec.MsgspecError as exc:
        raise _decode_problem(exc, "") from None
    return [to_item(msg, received_at)]


def parse_batch(body: bytes, received_at: datetime) -> list[Item]:
    refuse_nul(body)
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
            # A discriminator's mapping names $defs that no longer exist; each branch's ``type`` enum
            # already tells the branches apart.
            return {k: walk(v) for k, v in node.items() if k != "discriminator"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


def _documented(body_type: Any, *, single: bool) -> type[Operation]:
    raw = msgspec.json.schema(body_type)
    mark_date_times(raw["$defs"], {t.__name__: t for t in (*MESSAGE_TYPES.values(), BatchDoc)})
    schema = _inline(raw)
    for message in schema["properties"]["batch"]["items"]["anyOf"] if not single else [schema]:
        require_one_of(message, ("userId", "anonymousId"))
        if message["properties"]["type"].get("enum") == ["alias"]:  # both ids, and neither empty
            for name in ("userId", "previousId"):
                message["properties"][name] = {"allOf": [message["properties"][name], {"not": {"const": ""}}]}
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


def writer_of(request: Request, services: Services) -> GroupWriter:
    state = request.app.state
    writer = getattr(state, "ingest_writer", None)
    if writer is None:
        with _gate_lock:
            writer = getattr(state, "ingest_writer", None)
            if writer is None:
                writer = state.ingest_writer = GroupWriter(services)
    return writer


async def _close_writer(app: Any) -> None:
    """Store what is still queued before the process stops."""
    writer = getattr(app.state, "ingest_writer", None)
    if writer is not None:
        await anyio.to_thread.run_sync(writer.close)


SHUTDOWN_HOOKS.append(_close_writer)


def _settle(future: asyncio.Future, exc: BaseException | None) -> None:
    if not future.done():  # the client may have gone away; its messages are stored all the same
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)


class _Answers:
    """Answers the writer hands back to one event loop: one wake-up of the loop per group, not one per
    request (each ``call_soon_threadsafe`` is a write to the loop's self-pipe)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._items: list[tuple[asyncio.Future, BaseException | None]] = []
        self._lock = threading.Lock()
        self._scheduled = False

    def put(self, future: asyncio.Future, exc: BaseException | None) -> None:
        with self._lock:
            self._items.append((future, exc))
            if self._scheduled:
                return
            self._scheduled = True
        self.loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            items, self._items, self._scheduled = self._items, [], False
        for future, exc in items:
            _settle(future, exc)


_answers: dict[asyncio.AbstractEventLoop, _Answers] = {}


def _answers_of(loop: asyncio.AbstractEventLoop) -> _Answers:
    answers = _answers.get(loop)
    if answers is None:
        for stale in [other for other in _answers if other.is_closed()]:
            del _answers[stale]
        answers = _answers[loop] = _Answers(loop)
    return answers


async def _handle_call(request: Request, services: Services, principal: Principal, kind: str) -> Success:
    """One call: parsed and validated here (msgspec, microseconds), stored by the group-commit writer;
    the answer waits for its commit. Nothing here blocks the event loop or opens a database session."""
    body = await read_body(request, MAX_CALL_BYTES, "call")
    received_at = services.clock.now()
    items = parse_call(body, kind, received_at)
    gate = gate_of(request, services)
    wait = gate.take(principal.workspace_id, len(items))
    if wait is not None:
        raise overloaded(wait, f"this workspace may send {gate.rate:g} messages per second")
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()
    answers = _answers_of(loop)

    def done(_result: object, exc: BaseException | None) -> None:
        answers.put(future, exc)

    if not writer_of(request, services).submit(Pending(principal.workspace_id, items, received_at, done)):
        raise overloaded(1, "the server is busy writing other requests")
    try:
        await future
    except Busy as exc:
        raise overloaded(exc.seconds, exc.detail) from None
    return Success()


async def _handle(request: Request, kind: str | None) -> Success:
    """No dependency injection here: resolving two dependencies costs a task group per request."""
    services: Services = request.app.state.services
    principal: Principal = request.state.principal
    if kind is not None:
        return await _handle_call(request, services, principal, kind)
    body = await read_body(request, MAX_BATCH_BYTES, "batch")
    gate = gate_of(request, services)
    await anyio.to_thread.run_sync(_process, services, gate, principal.workspace_id, body)
    return Success()


def _process(services: Services, gate: IngestGate, workspace_id: int, body: bytes) -> None:
    received_at = services.clock.now()
    items = parse_batch(body, received_at)
    if not items:
        return
    wait = gate.take(workspace_id, len(items))
    if wait is not None:
        raise overloaded(wait, f"this workspace may send {gate.rate:g} messages per second")
    try:
        ingest(services, workspace_id, items, received_at, slots=gate.slots)
    except Busy as exc:
        raise overloaded(exc.seconds, exc.detail) from None


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
    async def identify(self, request: Request) -> Success:
        return await _handle(request, "identify")

    @post(
        "/track",
        status_code=200,
        summary="Record an event",
        description=_RESPONSES,
        operation_class=_documented(TrackMessage, single=True),
    )
    async def track(self, request: Request) -> Success:
        return await _handle(request, "track")

    @post(
        "/page",
        status_code=200,
        summary="Record a page view (stored as event `page`)",
        description=_RESPONSES,
        operation_class=_documented(PageMessage, single=True),
    )
    async def page(self, request: Request) -> Success:
        return await _handle(request, "page")

    @post(
        "/screen",
        status_code=200,
        summary="Record a screen view (stored as event `screen`)",
        description=_RESPONSES,
        operation_class=_documented(ScreenMessage, single=True),
    )
    async def screen(self, request: Request) -> Success:
        return await _handle(request, "screen")

    @post(
        "/group",
        status_code=200,
        summary="Associate a contact with a group (stored as event `group`)",
        description=_RESPONSES,
        operation_class=_documented(GroupMessage, single=True),
    )
    async def group(self, request: Request) -> Success:
        return await _handle(request, "group")

    @post(
        "/alias",
        status_code=200,
        summary="Join an anonymous id (previousId) to a userId",
        description=_RESPONSES,
        operation_class=_documented(AliasMessage, single=True),
    )
    async def alias(self, request: Request) -> Success:
        return await _handle(request, "alias")

    @post(
        ["/batch", "/import"],
        status_code=200,
        summary="Send up to 2,500 messages (500 KB) in one call",
        description=_RESPONSES + " The whole batch is validated first and stored in one transaction.",
        operation_class=_documented(BatchDoc, single=False),
    )
    async def batch(self, request: Request) -> Success:
        return await _handle(request, None)


INGEST_HANDLERS.append(IngestController)
