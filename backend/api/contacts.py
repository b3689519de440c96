"""Contacts and events in the admin API: search, view (with subscriptions and journeys), create, edit,
delete, and the event timelines."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import UNSET, Meta, UnsetType

from backend.api.app import API_HANDLERS
from backend.api.auth import Principal
from backend.api.deps import PrincipalDep, ServicesDep
from backend.api.journeys import BlockError
from backend.api.pagination import (
    Cursor,
    Limit,
    Page,
    TimeCursor,
    decode_cursor,
    decode_time_cursor,
    encode_cursor,
    encode_time_cursor,
)
from backend.audience import segments
from backend.contacts import people
from backend.db.models import Contact, Enrollment, Event, Journey, JourneyVersion, Subscription
from backend.db.session import read_connection
from backend.services import Services

_contacts = Contact.__table__
_events = Event.__table__
_subscriptions = Subscription.__table__


ExternalId = Annotated[str, Meta(min_length=1, max_length=255)]
Email = Annotated[str, Meta(max_length=320)]
Phone = Annotated[str, Meta(max_length=32)]
OpenId = Annotated[str, Meta(max_length=128)]
TimeZone = Annotated[str, Meta(max_length=64, description="IANA name, e.g. Europe/Warsaw")]
Locale = Annotated[str, Meta(max_length=16)]
Tag = Annotated[str, Meta(min_length=1, max_length=100)]


class ContactCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    external_id: ExternalId | None = None
    anonymous_id: ExternalId | None = None
    email: Email | None = None
    phone: Phone | None = None
    wechat_openid: OpenId | None = None
    push_tokens: list[Any] = []
    consent: dict[str, bool] = {}
    attributes: dict[str, Any] = {}
    tags: list[Tag] = []
    timezone: TimeZone | None = None
    locale: Locale | None = None


class ContactPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields sent change. ``attributes`` and ``consent`` are merged (a ``null`` value removes
    the key); ``tags`` and ``push_tokens`` are replaced; ``null`` clears a scalar field."""

    external_id: ExternalId | UnsetType | None = UNSET
    email: Email | UnsetType | None = UNSET
    phone: Phone | UnsetType | None = UNSET
    wechat_openid: OpenId | UnsetType | None = UNSET
    push_tokens: list[Any] | UnsetType = UNSET
    consent: dict[str, bool | None] | UnsetType = UNSET
    attributes: dict[str, Any] | UnsetType = UNSET
    tags: list[Tag] | UnsetType = UNSET
    timezone: TimeZone | UnsetType | None = UNSET
    locale: Locale | UnsetType | None = UNSET


class ContactSummary(msgspec.Struct, kw_only=True):
    id: int
    external_id: str | None
    email: str | None
    phone: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class SubscriptionOut(msgspec.Struct, kw_only=True):
    id: int
    external_id: str | None
    """The ``id`` the subscription was sent with (identify traits)."""
    name: str
    status: str
    start_at: datetime | None
    end_at: datetime | None
    duration: str | None
    auto_renew: bool
    auto_renew_before: bool
    attributes: dict[str, Any]
    updated_at: datetime


class ContactJourney(msgspec.Struct, kw_only=True):
    journey_id: int
    name: str
    node_id: str
    node_label: str
    status: str
    entered_at: datetime
    finished_at: datetime | None
    error: BlockError | None = None
    """With status ``failed``: what the block ``node_id`` raised; the contact waits there for a retry."""


class ContactSegment(msgspec.Struct, kw_only=True):
    id: int
    key: str
    name: str
    entered_at: datetime


class ContactPage(Page[ContactSummary], kw_only=True):
    total: int
    """How many contacts match (the whole workspace, or the segment's size, or the search's matches)."""


class SubscriptionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    external_id: ExternalId | None = None
    status: Annotated[str, Meta(min_length=1, max_length=32)] = "active"
    start_at: datetime | None = None
    end_at: datetime | None = None
    duration: Annotated[str, Meta(max_length=32, description="ISO 8601, e.g. P30D")] | None = None
    auto_renew: bool = False
    attributes: dict[str, Any] = {}


class SubscriptionPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)] | UnsetType = UNSET
    status: Annotated[str, Meta(min_length=1, max_length=32)] | UnsetType = UNSET
    start_at: datetime | UnsetType | None = UNSET
    end_at: datetime | UnsetType | None = UNSET
    duration: Annotated[str, Meta(max_length=32)] | UnsetType | None = UNSET
    auto_renew: bool | UnsetType = UNSET
    attributes: dict[str, Any] | UnsetType = UNSET
    """Merged; a ``null`` value removes the key."""


class ContactOut(ContactSummary, kw_only=True):
    anonymous_id: str | None
    wechat_openid: str | None
    push_tokens: list[Any]
    consent: dict[str, bool]
    attributes: dict[str, Any]
    timezone: str | None
    locale: str | None
    subscriptions: list[SubscriptionOut]
    journeys: list[ContactJourney]
    segments: list[ContactSegment]
    """Segments the contact is in, and since when."""
    computed: dict[str, Any]
    """Computed property values by key."""
    scores: dict[str, int]
    """Engagement score levels (1-10) by key; scores the contact has none of are left out."""


class EventOut(msgspec.Struct, kw_only=True):
    id: int
    contact_id: int | None
    name: str
    properties: dict[str, Any]
    occurred_at: datetime
    received_at: datetime
    source: str
    message_id: str | None


# ---------------------------------------------------------------------------------------------------


def _summary_fields(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "external_id": row.external_id,
        "email": row.email,
        "phone": row.phone,
        "tags": list(row.tags or []),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _contact_row(conn: sa.Connection, principal: Principal, contact_id: int):
    return people.row(conn, principal.workspace_id, contact_id)


def summaries(conn: sa.Connection, workspace_id: int, ids: list[int]) -> list[ContactSummary]:
    """Summaries of these contacts, in the order given (ids of other workspaces are left out)."""
    if not ids:
        return []
    rows = conn.execute(
        sa.select(
            _contacts.c.id,
            _contacts.c.external_id,
            _contacts.c.email,
            _contacts.c.phone,
            _contacts.c.tags,
            _contacts.c.created_at,
            _contacts.c.updated_at,
        ).where(_contacts.c.workspace_id == workspace_id, _contacts.c.id.in_(ids))
    ).all()
    by_id = {r.id: r for r in rows}
    return [ContactSummary(**_summary_fields(by_id[i])) for i in ids if i in by_id]


def _node_labels(conn: sa.Connection, services: Services, version_ids: set[int]) -> dict[tuple[int, str], str]:
    """(version, node) → the label the marketer gave the block, else its block type's label."""
    out: dict[tuple[int, str], str] = {}
    if not version_ids:
        return out
    rows = conn.execute(
        sa.select(JourneyVersion.id, JourneyVersion.graph).where(JourneyVersion.id.in_(sorted(version_ids)))
    )
    for version_id, graph in rows:
        for node in (graph or {}).get("nodes", []):
            if not isinstance(node, dict) or "id" not in node:
                continue
            label = node.get("label")
            if not label:
                block = services.registry.get(node.get("type", ""), node.get("version", 1))
                label = block.label if block is not None else str(node.get("type", ""))
            out[(version_id, str(node["id"]))] = label
    return out


def subscription_out(s: Any) -> SubscriptionOut:
    return SubscriptionOut(
        id=s.id,
        external_id=s.external_id,
        name=s.name,
        status=s.status,
        start_at=s.start_at,
        end_at=s.end_at,
        duration=s.duration,
        auto_renew=s.auto_renew,
        auto_renew_before=s.auto_renew_before,
        attributes=s.attributes or {},
        updated_at=s.updated_at,
    )


def contact_out(conn: sa.Connection, services: Services, row: Any) -> ContactOut:
    subscriptions = [
        subscription_out(s)
        for s in conn.execute(
            sa.select(_subscriptions)
            .where(_subscriptions.c.workspace_id == row.workspace_id, _subscriptions.c.contact_id == row.id)
            .order_by(_subscriptions.c.end_at.desc().nulls_last(), _subscriptions.c.id)
        )
    ]
    enrollments = conn.execute(
        sa.select(
            Enrollment.journey_id,
            Journey.name,
            Enrollment.version_id,
            Enrollment.node_id,
            Enrollment.status,
            Enrollment.entered_at,
            Enrollment.finished_at,
            Enrollment.error_type,
            Enrollment.error_message,
            Enrollment.failed_at,
        )
        .join(Journey, Journey.id == Enrollment.journey_id)
        .where(Enrollment.workspace_id == row.workspace_id, Enrollment.contact_id == row.id)
        .order_by(Enrollment.entered_at.desc(), Enrollment.id.desc())
        .limit(200)
    ).all()
    labels = _node_labels(conn, services, {e.version_id for e in enrollments})
    journeys = [
        ContactJourney(
            journey_id=e.journey_id,
            name=e.name,
            node_id=e.node_id,
            node_label=labels.get((e.version_id, e.node_id), e.node_id),
            status=e.status,
            entered_at=e.entered_at,
            finished_at=e.finished_at,
            error=BlockError(e.error_type, e.error_message or "", e.failed_at)
            if e.status == "failed" and e.error_type and e.failed_at
            else None,
        )
        for e in enrollments
    ]
    return ContactOut(
        **_summary_fields(row),
        anonymous_id=row.anonymous_id,
        wechat_openid=row.wechat_openid,
        push_tokens=list(row.push_tokens or []),
        consent=dict(row.consent or {}),
        attributes=dict(row.attributes or {}),
        timezone=row.timezone,
        locale=row.locale,
        subscriptions=subscriptions,
        journeys=journeys,
        segments=[ContactSegment(**s) for s in segments.contact_segments(conn, row.workspace_id, row.id)],
        computed=dict(row.computed or {}),
        scores=dict(row.scores or {}),
    )


def _event_out(row: Any) -> EventOut:
    return EventOut(
        id=row.id,
        contact_id=row.contact_id,
        name=row.name,
        properties=row.properties or {},
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        source=row.source,
        message_id=row.message_id,
    )


class ContactController(Controller):
    path = "/contacts"
    tags = ["contacts"]

    @get("/", sync_to_thread=True, summary="List or search contacts (newest first), optionally in one segment")
    def list_contacts(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        q: Annotated[
            str | None, QueryParameter(max_length=320, description="prefix of external id, email or phone")
        ] = None,
        segment: Annotated[
            str | None, QueryParameter(max_length=100, description="only members of the segment with this key")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ContactPage:
        after = decode_cursor(cursor)
        with read_connection(services.engine) as conn:
            conditions, found = people.list_conditions(conn, principal.workspace_id, q, segment)
            text = (q or "").strip()
            query = sa.select(
                _contacts.c.id,
                _contacts.c.external_id,
                _contacts.c.email,
                _contacts.c.phone,
                _contacts.c.tags,
                _contacts.c.created_at,
                _contacts.c.updated_at,
            ).where(*conditions)
            if after is not None:
                query = query.where(_contacts.c.id < after)
            rows = conn.execute(query.order_by(_contacts.c.id.desc()).limit(limit + 1)).all()
            if segment and not text:
                total = segments.sizes(conn, principal.workspace_id).get(found, 0)
            else:
                total = conn.execute(sa.select(sa.func.count()).select_from(_contacts).where(*conditions)).scalar_one()
        items = [ContactSummary(**_summary_fields(r)) for r in rows[:limit]]
        return ContactPage(
            items=items, next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None, total=total
        )

    @post("/", sync_to_thread=True, summary="Create a contact")
    def create_contact(
        self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[ContactCreate]
    ) -> ContactOut:
        with services.engine.begin() as conn:
            contact_id = people.create(
                conn, services, principal.workspace_id, msgspec.structs.asdict(data), services.clock.now()
            )
            out = contact_out(conn, services, _contact_row(conn, principal, contact_id))
        services.waker.notify()
        return out

    @get("/{contact_id:int}", sync_to_thread=True, summary="A contact with subscriptions and journeys")
    def get_contact(self, services: ServicesDep, principal: PrincipalDep, contact_id: FromPath[int]) -> ContactOut:
        with read_connection(services.engine) as conn:
            return contact_out(conn, services, _contact_row(conn, principal, contact_id))

    @patch("/{contact_id:int}", sync_to_thread=True, summary="Change some of a contact's fields")
    def patch_contact(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        contact_id: FromPath[int],
        data: JSONBody[ContactPatch],
    ) -> ContactOut:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}
        with services.engine.begin() as conn:
            people.update(conn, services, principal.workspace_id, contact_id, changes, services.clock.now())
            out = contact_out(conn, services, _contact_row(conn, principal, contact_id))
        services.waker.notify()
        return out

    @delete(
        "/{contact_id:int}", sync_to_thread=True, summary="Erase a contact with its events, enrollments and memberships"
    )
    def delete_contact(self, services: ServicesDep, principal: PrincipalDep, contact_id: FromPath[int]) -> None:
        with services.engine.begin() as conn:
            people.delete(conn, principal.workspace_id, contact_id)

    @get("/{contact_id:int}/segments", sync_to_thread=True, summary="The segments a contact is in, and since when")
    def contact_segments(
        self, services: ServicesDep, principal: PrincipalDep, contact_id: FromPath[int]
    ) -> list[ContactSegment]:
        with read_connection(services.engine) as conn:
            _contact_row(conn, principal, contact_id)
            return [ContactSegment(**s) for s in segments.contact_segments(conn, principal.workspace_id, contact_id)]

    @get("/{contact_id:int}/subscriptions", sync_to_thread=True, summary="A contact's products and subscriptions")
    def list_subscriptions(
        self, services: ServicesDep, principal: PrincipalDep, contact_id: FromPath[int]
    ) -> list[SubscriptionOut]:
        with read_connection(services.engine) as conn:
            return contact_out(conn, services, _contact_row(conn, principal, contact_id)).subscriptions

    @post("/{contact_id:int}/subscriptions", sync_to_thread=True, summary="Add a product or subscription")
    def add_subscription(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        contact_id: FromPath[int],
        data: JSONBody[SubscriptionIn],
    ) -> SubscriptionOut:
        with services.engine.begin() as conn:
            sub_id = people.add_subscription(
                conn, services, principal.workspace_id, contact_id, msgspec.structs.asdict(data), services.clock.now()
            )
            out = subscription_out(people.subscription_row(conn, principal.workspace_id, contact_id, sub_id))
        services.waker.notify()
        return out

    @patch(
        "/{contact_id:int}/subscriptions/{subscription_id:int}",
        sync_to_thread=True,
        summary="Change a product or subscription (auto-renew remembers its previous value)",
    )
    def change_subscription(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        contact_id: FromPath[int],
        subscription_id: FromPath[int],
        data: JSONBody[SubscriptionPatch],
    ) -> SubscriptionOut:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}
        with services.engine.begin() as conn:
            people.change_subscription(
                conn, services, principal.workspace_id, contact_id, subscription_id, changes, services.clock.now()
            )
            out = subscription_out(people.subscription_row(conn, principal.workspace_id, contact_id, subscription_id))
        services.waker.notify()
        return out

    @delete(
        "/{contact_id:int}/subscriptions/{subscription_id:int}",
        sync_to_thread=True,
        summary="Remove a product or subscription",
    )
    def remove_subscription(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        contact_id: FromPath[int],
        subscription_id: FromPath[int],
    ) -> None:
        with services.engine.begin() as conn:
            people.remove_subscription(
                conn, services, principal.workspace_id, contact_id, subscription_id, services.clock.now()
            )

    @get("/{contact_id:int}/events", sync_to_thread=True, summary="A contact's events, latest occurrence first")
    def contact_events(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        contact_id: FromPath[int],
        limit: Limit = 50,
        cursor: TimeCursor = None,
    ) -> Page[EventOut]:
        after = decode_time_cursor(cursor)
        with read_connection(services.engine) as conn:
            _contact_row(conn, principal, contact_id)
            query = sa.select(_events).where(
                _events.c.workspace_id == principal.workspace_id, _events.c.contact_id == contact_id
            )
            if after is not None:
                at, event_id = after
                query = query.where(
                    sa.or_(_events.c.occurred_at < at, sa.and_(_events.c.occurred_at == at, _events.c.id < event_id))
                )
            rows = conn.execute(
                query.order_by(_events.c.occurred_at.desc(), _events.c.id.desc()).limit(limit + 1)
            ).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            items=[_event_out(r) for r in rows],
            next_cursor=encode_time_cursor(rows[-1].occurred_at, rows[-1].id) if more else None,
        )


class EventController(Controller):
    path = "/events"
    tags = ["contacts"]

    @get("/", sync_to_thread=True, summary="Events as they arrived, newest first")
    def list_events(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        name: Annotated[str | None, QueryParameter(max_length=200, description="only events with this name")] = None,
        contact_id: Annotated[int | None, QueryParameter(description="only this contact's events")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[EventOut]:
        if contact_id is not None and not -(2**63) < contact_id < 2**63:
            return Page(items=[])  # no contact has an id beyond 64 bits, so none of its events exist
        after = decode_cursor(cursor)
        query = sa.select(_events).where(_events.c.workspace_id == principal.workspace_id)
        if name:
            query = query.where(_events.c.name == name)
        if contact_id is not None:
            query = query.where(_events.c.contact_id == contact_id)
        if after is not None:
            query = query.where(_events.c.id < after)
        with read_connection(services.engine) as conn:
            rows = conn.execute(query.order_by(_events.c.id.desc()).limit(limit + 1)).all()
        items = [_event_out(r) for r in rows[:limit]]
        return Page(items=items, next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None)


API_HANDLERS.extend([ContactController, EventController])
