"""Messages in the admin API: the delivery log (failed, unknown, skipped … messages with their reasons),
operator retries, a template's test send, and the SMS segment counter."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from backend.api.app import API_HANDLERS
from backend.api.auth import Principal
from backend.api.deps import PrincipalDep, ServicesDep
from backend.api.errors import ApiError, ProblemItem, bad_request, not_found
from backend.api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from backend.api.sms import SegmentsOut, segments_out
from backend.channels.push import subscriptions
from backend.db.models import Contact, Event, OutboxMessage
from backend.db.session import read_connection
from backend.runtime.outbox import Dispatcher, retry_messages
from backend.templates import service as template_service
from backend.templates.limits import RenderLimits

_outbox = OutboxMessage.__table__
_contacts = Contact.__table__
_events = Event.__table__

STATUSES = ("pending", "sending", "sent", "failed", "skipped", "unknown")
STATUS_LIST_PATTERN = rf"^({'|'.join(STATUSES)})(,({'|'.join(STATUSES)}))*$"
RETRYABLE = ("failed", "unknown", "skipped")
Channel = Literal["email", "sms", "wechat", "push"]


class ContactRef(msgspec.Struct, kw_only=True):
    email: str | None
    phone: str | None
    external_id: str | None


class MessageOut(msgspec.Struct, kw_only=True):
    id: int
    status: str
    channel: str
    contact_id: int | None
    contact: ContactRef | None
    template: str | None
    template_version_id: int | None
    journey_id: int | None
    node_id: str | None
    attempts: int
    reason: str | None
    """Why it failed, was skipped, or is waiting to be retried (``last_error``)."""
    provider_message_id: str | None
    test: bool
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    opened_at: datetime | None = None
    clicked_at: datetime | None = None


class EventRef(msgspec.Struct, kw_only=True):
    id: int
    name: str
    properties: dict[str, Any]
    occurred_at: datetime
    source: str


class MessageDetail(MessageOut, kw_only=True):
    idempotency_key: str
    payload: dict[str, Any]
    events: list[EventRef]


class RetryRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    ids: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]], msgspec.Meta(min_length=1, max_length=1000)]


class NotRetried(msgspec.Struct):
    id: int
    reason: str


class RetryOut(msgspec.Struct):
    retried: list[int]
    not_retried: list[NotRetried]


class TestSendRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    channel: Channel = "email"
    contact_id: int | None = None
    to: str | dict[str, Any] | None = None
    """An address overriding the contact's: email, phone, openid, or a Web Push subscription object."""
    context: dict[str, Any] | None = None


class TestSendOut(msgspec.Struct, kw_only=True):
    status: str
    error: str | None
    provider_message_id: str | None
    message: MessageOut
    fields: dict[str, str]
    missing: list[str]
    sms: SegmentsOut | None = None


class SegmentsRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(max_length=20_000)]


_COLUMNS = (
    _outbox.c.id,
    _outbox.c.status,
    _outbox.c.channel,
    _outbox.c.contact_id,
    _outbox.c.template_key,
    _outbox.c.template_version_id,
    _outbox.c.journey_id,
    _outbox.c.node_id,
    _outbox.c.attempts,
    _outbox.c.last_error,
    _outbox.c.provider_message_id,
    _outbox.c.test,
    _outbox.c.created_at,
    _outbox.c.next_attempt_at,
    _outbox.c.sent_at,
    _outbox.c.opened_at,
    _outbox.c.clicked_at,
    _contacts.c.email.label("contact_email"),
    _contacts.c.phone.label("contact_phone"),
    _contacts.c.external_id.label("contact_external_id"),
)


def _query() -> sa.Select:
    return sa.select(*_COLUMNS).select_from(_outbox.outerjoin(_contacts, _contacts.c.id == _outbox.c.contact_id))


def _message(row: Any) -> dict[str, Any]:
    contact = None
    if row.contact_id is not None:
        contact = ContactRef(email=row.contact_email, phone=row.contact_phone, external_id=row.contact_external_id)
    return {
        "id": row.id,
        "status": row.status,
        "channel": row.channel,
        "contact_id": row.contact_id,
        "contact": contact,
        "template": row.template_key,
        "template_version_id": row.template_version_id,
        "journey_id": row.journey_id,
        "node_id": row.node_id,
        "attempts": row.attempts,
        "reason": row.last_error,
        "provider_message_id": row.provider_message_id,
        "test": bool(row.test),
        "created_at": row.created_at,
        "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
        "sent_at": row.sent_at,
        "opened_at": row.opened_at,
        "clicked_at": row.clicked_at,
    }


def _statuses(value: str | None) -> list[str]:
    if not value:
        return []
    wanted = [s.strip() for s in value.split(",") if s.strip()]
    for status in wanted:
        if status not in STATUSES:
            raise bad_request("/query/status", f"unknown status {status!r}; one of: {', '.join(STATUSES)}")
    return wanted


def _load_message(conn: sa.Connection, principal: Principal, message_id: int) -> Any:
    row = conn.execute(
        _query().where(_outbox.c.id == message_id, _outbox.c.workspace_id == principal.workspace_id)
    ).first()
    if row is None:
        raise not_found("message")
    return row


class MessageController(Controller):
    path = "/messages"
    tags = ["messages"]

    @get("/", sync_to_thread=True, summary="Messages, newest first (the failed-messages view filters on status)")
    def list_messages(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        status: Annotated[
            str | None, QueryParameter(description="comma-separated statuses", pattern=STATUS_LIST_PATTERN)
        ] = None,
        channel: FromQuery[str | None] = None,
        contact_id: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
        journey_id: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
        template: FromQuery[str | None] = None,
        test: FromQuery[bool] = False,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[MessageOut]:
        query = _query().where(_outbox.c.workspace_id == principal.workspace_id, _outbox.c.test.is_(test))
        statuses = _statuses(status)
        if statuses:
            query = query.where(_outbox.c.status.in_(statuses))
        if channel:
            query = query.where(_outbox.c.channel == channel)
        if contact_id is not None:
            query = query.where(_outbox.c.contact_id == contact_id)
        if journey_id is not None:
            query = query.where(_outbox.c.journey_id == journey_id)
        if template:
            query = query.where(_outbox.c.template_key == template)
        after = decode_cursor(cursor)
        if after is not None:
            query = query.where(_outbox.c.id < after)
        with read_connection(services.engine) as conn:
            rows = conn.execute(query.order_by(_outbox.c.id.desc()).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            items=[MessageOut(**_message(r)) for r in rows],
            next_cursor=encode_cursor(rows[-1].id) if more else None,
        )

    @get("/counts", sync_to_thread=True, summary="How many messages are in each status")
    def counts(self, services: ServicesDep, principal: PrincipalDep, test: FromQuery[bool] = False) -> dict[str, int]:
        with read_connection(services.engine) as conn:
            found = dict(
                conn.execute(
                    sa.select(_outbox.c.status, sa.func.count())
                    .where(_outbox.c.workspace_id == principal.workspace_id, _outbox.c.test.is_(test))
                    .group_by(_outbox.c.status)
                ).all()
            )
        return {s: int(found.get(s, 0)) for s in STATUSES}

    @get("/{message_id:int}", sync_to_thread=True, summary="One message with its payload and events")
    def get_message(self, services: ServicesDep, principal: PrincipalDep, message_id: FromPath[int]) -> MessageDetail:
        with read_connection(services.engine) as conn:
            row = _load_message(conn, principal, message_id)
            extra = conn.execute(
                sa.select(_outbox.c.idempotency_key, _outbox.c.payload).where(_outbox.c.id == message_id)
            ).one()
            events: list[EventRef] = []
            if row.contact_id is not None:
                candidates = conn.execute(
                    sa.select(_events)
                    .where(
                        _events.c.workspace_id == principal.workspace_id,
                        _events.c.contact_id == row.contact_id,
                        _events.c.source.in_(("system", "tracking")),
                        _events.c.occurred_at >= row.created_at,
                    )
                    .order_by(_events.c.id)
                    .limit(1000)
                ).all()
                events = [
                    EventRef(
                        id=e.id, name=e.name, properties=e.properties or {}, occurred_at=e.occurred_at, source=e.source
                    )
                    for e in candidates
                    if (e.properties or {}).get("outbox_id") == message_id
                ]
        return MessageDetail(
            **_message(row), idempotency_key=extra.idempotency_key, payload=extra.payload or {}, events=events
        )

    @post("/retry", sync_to_thread=True, status_code=200, summary="Queue failed, unknown or skipped messages again")
    def retry(self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[RetryRequest]) -> RetryOut:
        ids = list(dict.fromkeys(data.ids))
        with read_connection(services.engine) as conn:
            found = dict(
                conn.execute(
                    sa.select(_outbox.c.id, _outbox.c.status).where(
                        _outbox.c.workspace_id == principal.workspace_id, _outbox.c.id.in_(ids)
                    )
                ).all()
            )
        not_retried: list[NotRetried] = []
        wanted: list[int] = []
        for mid in ids:
            status = found.get(mid)
            if status is None:
                not_retried.append(NotRetried(mid, "not found"))
            elif status == "sent":
                not_retried.append(NotRetried(mid, "already sent"))
            elif status not in RETRYABLE:
                not_retried.append(NotRetried(mid, f"it is {status}"))
            else:
                wanted.append(mid)
        retried: list[int] = []
        if wanted:
            now = services.clock.now()
            retry_messages(services.engine, principal.workspace_id, wanted, now=now, statuses=RETRYABLE)
            with read_connection(services.engine) as conn:
                retried = sorted(
                    conn.execute(
                        sa.select(_outbox.c.id).where(_outbox.c.id.in_(wanted), _outbox.c.status == "pending")
                    ).scalars()
                )
            not_retried += [NotRetried(mid, "its status changed meanwhile") for mid in wanted if mid not in retried]
        if retried:
            with services.engine.begin() as conn:
                services.waker.notify(conn)
        return RetryOut(retried=retried, not_retried=not_retried)


def _address_problem(channel: str, to: Any) -> str | None:
    if channel == "push":
        return None if subscriptions(to) else "a Web Push subscription {endpoint, keys: {p256dh, auth}}"
    if not isinstance(to, str) or not to.strip():
        return f"a {channel} address as a string"
    if channel == "email" and "@" not in to:
        return "an email address"
    return None


class TestSendController(Controller):
    path = "/templates"
    tags = ["templates"]

    @post(
        "/{template_id:int}/test-send",
        sync_to_thread=True,
        status_code=200,
        summary="Render the draft and send it now (a test: not retried, not reported)",
    )
    def test_send(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        template_id: FromPath[int],
        data: JSONBody[TestSendRequest],
    ) -> TestSendOut:
        now = services.clock.now()
        with services.reading() as session:
            template = template_service.get_template(session, principal.workspace_id, template_id)
            if template is None:
                raise not_found("template")
            contact = None
            if data.contact_id is not None:
                contact = session.execute(
                    sa.select(_contacts).where(
                        _contacts.c.id == data.contact_id, _contacts.c.workspace_id == principal.workspace_id
                    )
                ).first()
                if contact is None:
                    raise bad_request("/contact_id", "no such contact in this workspace")
            if data.to is not None:
                why = _address_problem(data.channel, data.to)
                if why:
                    raise bad_request("/to", f"expected {why}")
            try:
                preview = template_service.preview(
                    session,
                    template,
                    channel=data.channel,
                    contact_id=data.contact_id,
                    journey_context=data.context,
                    now=now,
                    limits=RenderLimits.from_settings(services.settings),
                )
            except template_service.DraftShapeError as exc:
                raise bad_request("/draft" + exc.pointer, exc.message, "The template has problems") from None
            key = template.key
        blocking = [p for p in preview.problems if p.pointer == "" or p.pointer.startswith(f"/{data.channel}")]
        if blocking or not preview.fields:
            problems = blocking or []
            raise ApiError(
                422,
                "The template has problems",
                "; ".join(f"{p.pointer}: {p.message}" for p in problems) or f"nothing to send on {data.channel}",
                [ProblemItem("/draft" + p.pointer, p.describe(), "template") for p in problems] or None,
            )
        to = data.to
        if to is None:
            address = None
            if contact is not None:
                address = {
                    "email": contact.email,
                    "sms": contact.phone,
                    "wechat": contact.wechat_openid,
                    "push": contact.push_tokens or None,
                }[data.channel]
            if not address:
                raise bad_request(
                    "/to",
                    f"the contact has no {data.channel} address; give one in `to`"
                    if contact is not None
                    else "give a contact_id or an address in `to`",
                )
        dispatcher = Dispatcher(services)
        claim_until = now + dispatcher.lease
        payload = {"draft": True, "marketing": False, "context": data.context or {}}
        if to is not None:
            payload["to"] = to
        with services.engine.begin() as conn:
            message_id = conn.execute(
                sa.insert(_outbox)
                .values(
                    workspace_id=principal.workspace_id,
                    idempotency_key=f"test:{secrets.token_hex(12)}",
                    contact_id=data.contact_id,
                    channel=data.channel,
                    template_key=key,
                    payload=payload,
                    status="pending",
                    attempts=0,
                    next_attempt_at=claim_until,
                    created_at=now,
                    test=True,
                )
                .returning(_outbox.c.id)
            ).scalar_one()
        asyncio.run(dispatcher.send_claimed([message_id], claim_until))
        with read_connection(services.engine) as conn:
            row = _load_message(conn, principal, message_id)
        status = row.status if row.status in ("sent", "failed", "skipped") else "failed"
        return TestSendOut(
            status=status,
            error=None if status == "sent" else (row.last_error or f"the message is {row.status}"),
            provider_message_id=row.provider_message_id,
            message=MessageOut(**_message(row)),
            fields=preview.fields,
            missing=preview.missing,
            sms=segments_out(preview.fields.get("text", "")) if data.channel == "sms" else None,
        )


class SmsController(Controller):
    path = "/sms"
    tags = ["templates"]

    @post("/segments", sync_to_thread=False, status_code=200, summary="Count SMS segments (GSM-7 / UCS-2)")
    def segments(self, data: JSONBody[SegmentsRequest]) -> SegmentsOut:
        return segments_out(data.text)


API_HANDLERS.extend([MessageController, TestSendController, SmsController])
