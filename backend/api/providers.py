"""Delivery providers of the workspace: kinds (with settings schemas), list, create, update, delete,
test the connection. Secrets are never returned: a set secret reads as a placeholder, and an update
that leaves it out (or sends the placeholder back) keeps it."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import UNSET, UnsetType

from backend.api.app import API_HANDLERS
from backend.api.auth import Principal, require_owner_to_change
from backend.api.deps import PrincipalDep, ServicesDep
from backend.api.errors import bad_request, not_found
from backend.channels import kinds
from backend.channels.kinds import SECRET_PLACEHOLDER, ConfigProblem
from backend.db.models import Provider
from backend.db.session import read_connection

_providers = Provider.__table__

Channel = Literal["email", "sms", "wechat", "push", "webhook"]
Rate = Annotated[float, msgspec.Meta(ge=0, le=100_000)]
Name = Annotated[str, msgspec.Meta(max_length=200)]
KindName = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class ProviderKindOut(msgspec.Struct, kw_only=True):
    kind: str
    channel: str | None
    label: str
    description: str
    config_schema: dict[str, Any]
    secrets: list[str]
    default_rate_per_second: float | None


class ProviderCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: KindName
    config: dict[str, Any] = {}
    name: Name = ""
    enabled: bool = True
    rate_per_second: Rate | None = None
    """``null`` = the kind's default, ``0`` = no limit."""
    channel: Channel | None = None
    """Only needed for the ``null`` kind; others deliver one channel."""


class ProviderPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    config: dict[str, Any] | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    rate_per_second: Rate | UnsetType | None = UNSET


class ProviderOut(msgspec.Struct, kw_only=True):
    id: int
    channel: str
    kind: str
    name: str
    enabled: bool
    rate_per_second: float | None
    effective_rate_per_second: float | None
    config: dict[str, Any]
    secrets_set: list[str]
    created_at: datetime
    updated_at: datetime


class TestResult(msgspec.Struct, kw_only=True):
    ok: bool
    message: str
    details: dict[str, Any] = {}


def public_config(kind: str, config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    info = kinds.KINDS.get(kind)
    secrets = set(info.secrets if info else ()) | {"password", "auth_token", "secret", "token", "vapid_private_key"}
    out: dict[str, Any] = {}
    present: list[str] = []
    for key, value in (config or {}).items():
        if key in secrets:
            if value:
                out[key] = SECRET_PLACEHOLDER
                present.append(key)
        elif key == "url" and isinstance(value, str) and "@" in value and kind == "smtp":
            out[key] = _strip_url_password(value)
        else:
            out[key] = value
    if kind == "webpush":
        try:
            from backend.channels.push import load_vapid, public_key

            out["public_key"] = public_key(load_vapid(config.get("vapid_private_key") or ""))
        except ValueError:
            pass
    return out, sorted(present)


def _strip_url_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}:{SECRET_PLACEHOLDER}@{host}", parts.path, parts.query, ""))


def _out(row: Any) -> ProviderOut:
    config, present = public_config(row.kind, row.config or {})
    return ProviderOut(
        id=row.id,
        channel=row.channel,
        kind=row.kind,
        name=row.name or "",
        enabled=bool(row.enabled),
        rate_per_second=row.rate_per_second,
        effective_rate_per_second=kinds.effective_rate(row.kind, row.rate_per_second),
        config=config,
        secrets_set=present,
        created_at=row.created_at,
        updated_at=row.updated_at or row.created_at,
    )


def _merge_secrets(kind: str, new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """Secrets left out or sent back as the placeholder keep their stored value; ``null``/``""`` clear."""
    info = kinds.KINDS.get(kind)
    merged = dict(new)
    for name in info.secrets if info else ():
        if name not in new or new.get(name) == SECRET_PLACEHOLDER:
            if old.get(name):
                merged[name] = old[name]
            else:
                merged.pop(name, None)
        elif new.get(name) is None:
            merged.pop(name)
    if kind == "smtp" and isinstance(merged.get("url"), str) and SECRET_PLACEHOLDER in merged["url"]:
        merged["url"] = old.get("url") or ""
    if kind == "webpush":
        merged.pop("public_key", None)  # derived, shown for convenience
    return merged


def _check(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """Validated config as stored (defaults left out); 400 with a pointer otherwise."""
    try:
        cfg = kinds.validate(kind, config)
    except ConfigProblem as exc:
        raise bad_request(exc.pointer, exc.message, "The provider settings have problems") from None
    return msgspec.to_builtins(cfg)


def _load(conn: sa.Connection, principal: Principal, provider_id: int, *, lock: bool = False) -> Any:
    query = sa.select(_providers).where(
        _providers.c.id == provider_id, _providers.c.workspace_id == principal.workspace_id
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise not_found("provider")
    return row


class ProviderKindController(Controller):
    path = "/provider-kinds"
    tags = ["providers"]

    @get("/", sync_to_thread=False, summary="Provider kinds with the JSON Schema of their settings")
    def list_kinds(self) -> list[ProviderKindOut]:
        return [
            ProviderKindOut(
                kind=info.kind,
                channel=info.channel,
                label=info.label,
                description=info.description,
                config_schema=info.schema(),
                secrets=list(info.secrets),
                default_rate_per_second=info.default_rate_per_second,
            )
            for info in kinds.KINDS.values()
        ]


class ProviderController(Controller):
    path = "/providers"
    tags = ["providers"]
    guards = [require_owner_to_change]

    @get("/", sync_to_thread=True, summary="The workspace's providers (the first enabled one per channel is used)")
    def list_providers(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        channel: FromQuery[Channel | None] = None,
    ) -> list[ProviderOut]:
        with read_connection(services.engine) as conn:
            query = sa.select(_providers).where(_providers.c.workspace_id == principal.workspace_id)
            if channel:
                query = query.where(_providers.c.channel == channel)
            rows = conn.execute(query.order_by(_providers.c.id)).all()
        return [_out(r) for r in rows]

    @post("/", sync_to_thread=True, summary="Add a provider")
    def create_provider(
        self, services: ServicesDep, principal: PrincipalDep, data: JSONBody[ProviderCreate]
    ) -> ProviderOut:
        info = kinds.KINDS.get(data.kind)
        if info is None:
            raise bad_request("/kind", f"unknown provider kind {data.kind!r}; one of: {', '.join(sorted(kinds.KINDS))}")
        channel = info.channel or data.channel
        if channel is None:
            raise bad_request("/channel", f"a {data.kind} provider needs a channel")
        if info.channel and data.channel and data.channel != info.channel:
            raise bad_request("/channel", f"a {data.kind} provider delivers {info.channel}, not {data.channel}")
        config = _check(data.kind, _merge_secrets(data.kind, data.config, {}))
        now = services.clock.now()
        with services.engine.begin() as conn:
            pid = conn.execute(
                sa.insert(_providers)
                .values(
                    workspace_id=principal.workspace_id,
                    channel=channel,
                    kind=data.kind,
                    name=data.name.strip(),
                    config=config,
                    enabled=data.enabled,
                    rate_per_second=data.rate_per_second,
                    created_at=now,
                    updated_at=now,
                )
                .returning(_providers.c.id)
            ).scalar_one()
            return _out(_load(conn, principal, pid))

    @get("/{provider_id:int}", sync_to_thread=True, summary="A provider (secrets hidden)")
    def get_provider(self, services: ServicesDep, principal: PrincipalDep, provider_id: FromPath[int]) -> ProviderOut:
        with read_connection(services.engine) as conn:
            return _out(_load(conn, principal, provider_id))

    @patch("/{provider_id:int}", sync_to_thread=True, summary="Change a provider (left-out secrets are kept)")
    def update_provider(
        self,
        services: ServicesDep,
        principal: PrincipalDep,
        provider_id: FromPath[int],
        data: JSONBody[ProviderPatch],
    ) -> ProviderOut:
        with services.engine.begin() as conn:
            row = _load(conn, principal, provider_id, lock=True)
            values: dict[str, Any] = {"updated_at": services.clock.now()}
            if data.name is not UNSET:
                values["name"] = data.name.strip()
            if data.enabled is not UNSET:
                values["enabled"] = data.enabled
            if data.rate_per_second is not UNSET:
                values["rate_per_second"] = data.rate_per_second
            if data.config is not UNSET:
                values["config"] = _check(row.kind, _merge_secrets(row.kind, data.config, row.config or {}))
            conn.execute(sa.update(_providers).where(_providers.c.id == row.id).values(**values))
            return _out(_load(conn, principal, provider_id))

    @delete("/{provider_id:int}", sync_to_thread=True, summary="Remove a provider")
    def delete_provider(self, services: ServicesDep, principal: PrincipalDep, provider_id: FromPath[int]) -> None:
        with services.engine.begin() as conn:
            row = _load(conn, principal, provider_id)
            conn.execute(sa.delete(_providers).where(_providers.c.id == row.id))

    @post("/{provider_id:int}/test", sync_to_thread=True, status_code=200, summary="Test the connection")
    def test_provider(self, services: ServicesDep, principal: PrincipalDep, provider_id: FromPath[int]) -> TestResult:
        with read_connection(services.engine) as conn:
            row = _load(conn, principal, provider_id)
        try:
            provider = kinds.build(row.kind, row.channel, row.config or {}, services.settings)
        except ValueError as exc:
            return TestResult(ok=False, message=f"misconfigured: {exc}")
        provider.attach(services.engine, services.clock)
        ok, message = asyncio.run(_check_connection(provider))
        details: dict[str, Any] = {"kind": row.kind, "channel": row.channel}
        return TestResult(ok=ok, message=message, details=details)


async def _check_connection(provider: Any) -> tuple[bool, str]:
    try:
        check = getattr(provider, "check", None)
        if check is not None:
            return await check()
        if provider.kind == "smtp":
            return await _smtp_check(provider)
        return True, "nothing to check for this kind"
    finally:
        await provider.close()


async def _smtp_check(provider: Any) -> tuple[bool, str]:
    from backend.channels.email import classify

    try:
        client = await provider._connect()
        await client.noop()
    except Exception as exc:
        return False, classify(exc).error or str(exc)
    return True, f"connected to {provider.config.host}:{provider.config.port}" + (
        " and authenticated" if provider.config.username else ""
    )


API_HANDLERS.extend([ProviderKindController, ProviderController])
