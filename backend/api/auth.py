"""Who is calling: a write key (ingestion), an admin key, or a signed-in user (session cookie).

Guards resolve the caller once per request and leave a :class:`Principal` on ``request.state``; the
handlers read it through the ``principal`` dependency. Signed-in users act with their workspace role:
a ``viewer`` reads everything and changes nothing; only an ``owner`` (or an admin key) changes what holds
credentials — API keys and providers. Keys are looked up by SHA-256 hash and cached
for a few seconds, so a busy ingestion endpoint does not hit the keys table per call.
"""

from __future__ import annotations

import base64
import hmac
import threading
import time
from dataclasses import dataclass

import anyio
import sqlalchemy as sa
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from backend.db.models import ApiKey, User
from backend.db.session import read_connection
from backend.services import Services
from backend.workspaces import hash_key

KEY_CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Principal:
    workspace_id: int
    kind: str  # write_key | admin_key | user
    key_id: int | None = None
    key_prefix: str | None = None
    user_id: int | None = None
    user_name: str | None = None
    role: str = "owner"
    """A user's role in the workspace (owner | editor | viewer); an admin key acts as an owner."""

    @property
    def label(self) -> str:
        """Who did something, as shown in version lists and audit trails."""
        if self.user_name:
            return self.user_name
        return f"key {self.key_prefix}…" if self.key_prefix else self.kind


class KeyCache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, plain: str) -> tuple[bool, Principal | None]:
        """(found, principal) from the cache alone: no database, safe on the event loop."""
        with self._lock:
            hit = self._items.get(hash_key(plain))
        if hit and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def lookup(self, services: Services, plain: str) -> Principal | None:
        digest = hash_key(plain)
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(digest)
            if hit and hit[0] > now:
                return hit[1]
        with read_connection(services.engine) as conn:
            row = conn.execute(
                sa.select(ApiKey.id, ApiKey.workspace_id, ApiKey.kind, ApiKey.prefix).where(
                    ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)
                )
            ).first()
        principal = (
            Principal(workspace_id=row.workspace_id, kind=f"{row.kind}_key", key_id=row.id, key_prefix=row.prefix)
            if row
            else None
        )
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[digest] = (now + KEY_CACHE_SECONDS, principal)
        return principal

    def forget(self) -> None:
        with self._lock:
            self._items.clear()


def services_of(connection: ASGIConnection) -> Services:
    return connection.app.state.services


def key_cache_of(connection: ASGIConnection) -> KeyCache:
    return connection.app.state.key_cache


def _basic_user(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0]


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def require_write_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Segment-style: the write key is the Basic-auth user name (a bearer token works as well).
    Async, so a cached key costs no thread hop; only a cache miss reads the database, in a thread."""
    header = connection.headers.get("authorization", "")
    key = _basic_user(header) or _bearer(header)
    if not key:
        raise NotAuthorizedException(
            "Send your workspace write key as the Basic-auth user name",
            headers={"WWW-Authenticate": 'Basic realm="waymark ingestion"'},
        )
    cache = key_cache_of(connection)
    found, principal = cache.cached(key)
    if not found:
        principal = await anyio.to_thread.run_sync(cache.lookup, services_of(connection), key)
    if principal is None:
        raise NotAuthorizedException(
            "Unknown or revoked write key", headers={"WWW-Authenticate": 'Basic realm="waymark ingestion"'}
        )
    if principal.kind not in ("write_key", "admin_key"):
        raise PermissionDeniedException("This key cannot ingest data")
    connection.state.principal = principal


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READS_ONLY = {"reads_only": True}
"""``opt`` of a POST handler that changes nothing (validate, preview): viewers may call it."""


def require_admin(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Admin key (bearer) or a signed-in user; cookie sessions must echo the CSRF token on writes."""
    header = connection.headers.get("authorization", "")
    token = _bearer(header)
    if token:
        principal = key_cache_of(connection).lookup(services_of(connection), token)
        if principal is None:
            raise NotAuthorizedException("Unknown or revoked API key")
        if principal.kind != "admin_key":
            raise PermissionDeniedException("Write keys can only send data to /v1; use an admin key for /api")
        connection.state.principal = principal
        return
    session = read_session(connection)
    if session is None:
        raise NotAuthorizedException("Sign in, or send an admin key as a bearer token")
    if connection.scope["method"] not in SAFE_METHODS:
        check_csrf(connection, session)
        if session.principal.role == "viewer" and not handler.opt.get("reads_only"):
            raise PermissionDeniedException("Viewers can look but not change anything; ask an owner for editor rights")
    connection.state.principal = session.principal


def require_owner_to_change(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Keys and provider credentials: anyone may list them (secrets are never shown), owners change them.
    Runs after :func:`require_admin`, which left the principal."""
    if connection.scope["method"] in SAFE_METHODS:
        return
    if connection.state.principal.role != "owner":
        raise PermissionDeniedException("Only the workspace's owners can change API keys and providers")


def check_csrf(connection: ASGIConnection, session: SessionInfo) -> None:
    """A cookie session's unsafe request must echo the session's CSRF token."""
    sent = connection.headers.get("x-csrf-token", "")
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise PermissionDeniedException("Missing or wrong X-CSRF-Token header")


@dataclass(frozen=True)
class SessionInfo:
    principal: Principal
    csrf: str


def read_session(connection: ASGIConnection) -> SessionInfo | None:
    """Resolve the session cookie, if the sessions module is installed on the app."""
    reader = getattr(connection.app.state, "session_reader", None)
    return reader(connection) if reader else None


def user_name(services: Services, user_id: int) -> str | None:
    with services.engine.connect() as conn:
        return conn.execute(sa.select(User.name).where(User.id == user_id)).scalar()


def principal_dependency(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:  # a handler outside the guarded routers asked for it
        raise NotAuthorizedException("Not signed in")
    return principal
