"""API keys of the workspace: list, create (the key is shown once), revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
import sqlalchemy as sa
from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody

from backend.api.app import API_HANDLERS
from backend.api.auth import key_cache_of, require_owner_to_change
from backend.api.deps import PrincipalDep, ServicesDep
from backend.api.errors import ApiError, not_found
from backend.db.models import ApiKey
from backend.db.session import read_connection
from backend.workspaces import new_key

_keys = ApiKey.__table__


class KeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["write", "admin"]
    """``write`` keys can only send data to /v1; ``admin`` keys can do everything in the workspace."""
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class KeyOut(msgspec.Struct, kw_only=True):
    id: int
    kind: str
    name: str
    prefix: str
    """The first characters of the key, to tell keys apart; the rest is never shown again."""
    created_at: datetime
    revoked_at: datetime | None


class NewKeyOut(KeyOut, kw_only=True):
    key: str
    """The key itself. Store it now: only a hash is kept."""


def _out(row) -> KeyOut:
    return KeyOut(
        id=row.id,
        kind=row.kind,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class KeyController(Controller):
    path = "/keys"
    tags = ["keys"]
    guards = [require_owner_to_change]

    @get("/", sync_to_thread=True, summary="The workspace's keys, newest first (revoked ones included)")
    def list_keys(self, services: ServicesDep, principal: PrincipalDep) -> list[KeyOut]:
        with read_connection(services.engine) as conn:
            rows = conn.execute(
                sa.select(_keys).where(_keys.c.workspace_id == principal.workspace_id).order_by(_keys.c.id.desc())
            ).all()
        return [_out(r) for r in rows]

    @post("/", sync_to_thread=True, summary="Create a key; the response is the only time it is shown")
    def create_key(self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[KeyCreate]) -> NewKeyOut:
        with services.sessions.begin() as session:
            row, plain = new_key(session, principal.workspace_id, data.kind, data.name.strip())
            row.created_at = services.clock.now()
            session.flush()
            return NewKeyOut(**msgspec.structs.asdict(_out(row)), key=plain)

    @delete("/{key_id:int}", sync_to_thread=True, summary="Revoke a key (takes effect at once)")
    def revoke_key(
        self,
        request: Request,
        services: ServicesDep,
        principal: PrincipalDep,
        key_id: FromPath[int],
    ) -> None:
        with services.engine.begin() as conn:
            row = conn.execute(
                sa.select(_keys).where(_keys.c.id == key_id, _keys.c.workspace_id == principal.workspace_id)
            ).first()
            if row is None:
                raise not_found("key")
            if row.revoked_at is not None:
                return
            if row.kind == "admin":
                others = conn.execute(
                    sa.select(sa.func.count()).where(
                        _keys.c.workspace_id == principal.workspace_id,
                        _keys.c.kind == "admin",
                        _keys.c.revoked_at.is_(None),
                        _keys.c.id != key_id,
                    )
                ).scalar_one()
                if others == 0 and principal.user_id is None:
                    raise ApiError(
                        409,
                        "This is the workspace's last admin key",
                        "create another admin key first, or sign in as a user to revoke it",
                    )
            conn.execute(sa.update(_keys).where(_keys.c.id == key_id).values(revoked_at=services.clock.now()))
        # This process forgets at once; other processes within auth.KEY_CACHE_SECONDS.
        key_cache_of(request).forget()


API_HANDLERS.append(KeyController)
