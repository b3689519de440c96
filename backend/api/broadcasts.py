"""Broadcasts in the admin API: send a template once to a segment, now or later (see
backend/runtime/broadcasts.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
import sqlalchemy as sa
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from backend.api.app import API_HANDLERS
from backend.api.deps import PrincipalDep, ServicesDep
from backend.audience import segments
from backend.db.models import Broadcast, Segment
from backend.db.session import read_connection
from backend.engine.graph import FrequencyCap, QuietHours
from backend.errors import missing
from backend.runtime import broadcasts

Channel = Literal["email", "sms", "wechat", "push"]


class BroadcastIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    segment: Annotated[str, Meta(min_length=1, max_length=100, description="the segment's key")]
    template: Annotated[str, Meta(min_length=1, max_length=200, description="the template's key")]
    channel: Channel | Literal["best"] = "email"
    fallback: list[Channel] = []
    """For ``channel: best``: the channels to try, in order (the first the contact can receive wins)."""
    send_at: datetime | None = None
    """When to send; empty means now. With ``local_time``, its date and wall-clock time are used in
    each contact's time zone (contacts without one get UTC)."""
    local_time: bool = False
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None


class BroadcastOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    segment: str
    segment_name: str | None
    template: str
    journey_id: int
    send_at: datetime
    local_time: bool
    status: str
    """``scheduled``, ``sending`` (its audience is taken; messages go out), ``cancelled``."""
    audience: int | None
    """Contacts it was sent to; while scheduled, the segment's current size."""
    messages: dict[str, int]
    """Messages by delivery status (``pending``, ``sent``, ``failed``, ``skipped`` …)."""
    created_at: datetime
    started_at: datetime | None


def _out(conn: sa.Connection, workspace_id: int, rows: list) -> list[BroadcastOut]:
    names = dict(conn.execute(sa.select(Segment.key, Segment.name).where(Segment.workspace_id == workspace_id)).all())
    ids = dict(conn.execute(sa.select(Segment.key, Segment.id).where(Segment.workspace_id == workspace_id)).all())
    sizes = segments.sizes(conn, workspace_id)
    counts = broadcasts.message_counts(conn, [r.journey_id for r in rows])
    return [
        BroadcastOut(
            id=r.id,
            name=r.name,
            segment=r.segment_key,
            segment_name=names.get(r.segment_key),
            template=r.template_key,
            journey_id=r.journey_id,
            send_at=r.send_at,
            local_time=r.local_time,
            status=r.status,
            audience=r.audience if r.audience is not None else sizes.get(ids.get(r.segment_key, -1)),
            messages=counts.get(r.journey_id, {}),
            created_at=r.created_at,
            started_at=r.started_at,
        )
        for r in rows
    ]


class BroadcastController(Controller):
    path = "/broadcasts"
    tags = ["broadcasts"]

    @get("/", sync_to_thread=True, summary="Broadcasts, latest first, with their delivery counts")
    def list_broadcasts(self, services: ServicesDep, principal: PrincipalDep) -> list[BroadcastOut]:
        with read_connection(services.engine) as conn:
            rows = conn.execute(
                sa.select(Broadcast.__table__)
                .where(Broadcast.workspace_id == principal.workspace_id)
                .order_by(Broadcast.send_at.desc(), Broadcast.id.desc())
                .limit(500)
            ).all()
            return _out(conn, principal.workspace_id, rows)

    @post("/", sync_to_thread=True, summary="Send a template to a segment now or at a set time")
    def create_broadcast(
        self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[BroadcastIn]
    ) -> BroadcastOut:
        now = services.clock.now()
        settings = {
            "quiet_hours": msgspec.to_builtins(data.quiet_hours),
            "frequency_cap": msgspec.to_builtins(data.frequency_cap),
        }
        with services.sessions.begin() as session:
            created = broadcasts.create(
                session,
                workspace_id=principal.workspace_id,
                name=data.name,
                segment=data.segment,
                template=data.template,
                channel=data.channel,
                fallback=list(data.fallback),
                send_at=data.send_at,
                local_time=data.local_time,
                settings={k: v for k, v in settings.items() if v is not None},
                registry=services.registry,
                graphs=services.graphs,
                user_id=principal.user_id,
                now=now,
                app_settings=services.settings,
            )
            broadcast_id = created.id
        services.waker.notify()
        return self._one(services, principal.workspace_id, broadcast_id)

    @get("/{broadcast_id:int}", sync_to_thread=True, summary="A broadcast with its delivery counts")
    def get_broadcast(
        self, services: ServicesDep, principal: PrincipalDep, broadcast_id: FromPath[int]
    ) -> BroadcastOut:
        return self._one(services, principal.workspace_id, broadcast_id)

    @post("/{broadcast_id:int}/cancel", sync_to_thread=True, status_code=200, summary="Stop a broadcast")
    def cancel_broadcast(
        self, services: ServicesDep, principal: PrincipalDep, broadcast_id: FromPath[int]
    ) -> BroadcastOut:
        with services.sessions.begin() as session:
            broadcasts.cancel(session, principal.workspace_id, broadcast_id, services.clock.now())
        return self._one(services, principal.workspace_id, broadcast_id)

    def _one(self, services, workspace_id: int, broadcast_id: int) -> BroadcastOut:
        with read_connection(services.engine) as conn:
            rows = conn.execute(
                sa.select(Broadcast.__table__).where(
                    Broadcast.id == broadcast_id, Broadcast.workspace_id == workspace_id
                )
            ).all()
            if not rows:
                raise missing("broadcast")
            return _out(conn, workspace_id, rows)[0]


API_HANDLERS.append(BroadcastController)
