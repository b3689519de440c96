"""Signing in to the web app: a signed, HttpOnly session cookie plus a CSRF token.

The session cookie is stateless (user id, workspace id, issue time, CSRF token, HMAC-SHA256 with the
installation's secret key). Unsafe requests must echo the CSRF token in ``X-CSRF-Token``; it is also
handed to the SPA in a readable ``waymark_csrf`` cookie and in the login/me responses. Changing a user's
password bumps nothing server-side, so sessions are kept short (7 days) rather than revocable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from typing import Annotated

import msgspec
import sqlalchemy as sa
from litestar import Controller, Request, Response, get, patch, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import JSONBody

from backend.api.auth import Principal, SessionInfo
from backend.api.deps import ServicesDep
from backend.api.errors import ApiError
from backend.db.models import Membership, User, Workspace
from backend.services import Services
from backend.users import hash_password, needs_rehash, user_by_email, verify_password

SESSION_COOKIE = "waymark_session"
CSRF_COOKIE = "waymark_csrf"
SESSION_SECONDS = 7 * 24 * 3600
MAX_FAILURES = 10
FAILURE_WINDOW = 15 * 60


class LoginRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class ProfilePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    locale: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")] | None = None
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class UserOut(msgspec.Struct):
    id: int
    email: str
    name: str
    locale: str | None


class WorkspaceOut(msgspec.Struct):
    id: int
    slug: str
    name: str
    timezone: str
    locale: str
    role: str


class SessionOut(msgspec.Struct):
    user: UserOut
    workspace: WorkspaceOut
    csrf_token: str


class _Payload(msgspec.Struct, array_like=True):
    user_id: int
    workspace_id: int
    issued_at: int
    csrf: str


def _sign(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def encode_session(secret: str, payload: _Payload) -> str:
    body = base64.urlsafe_b64encode(msgspec.msgpack.encode(payload)).decode().rstrip("=")
    return f"{body}.{_sign(secret, body.encode())}"


def decode_session(secret: str, token: str, now: float) -> _Payload | None:
    body, _, signature = token.partition(".")
    if not body or not hmac.compare_digest(signature, _sign(secret, body.encode())):
        return None
    try:
        payload = msgspec.msgpack.decode(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)), type=_Payload)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        return None
    if now - payload.issued_at > SESSION_SECONDS:
        return None
    return payload


class _Throttle:
    """Slows password guessing: after MAX_FAILURES failures for an address, refuse for a while."""

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, key: str, now: float) -> bool:
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t < FAILURE_WINDOW]
            self._failures[key] = recent
            return len(recent) >= MAX_FAILURES

    def fail(self, key: str, now: float) -> None:
        with self._lock:
            self._failures.setdefault(key, []).append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


_throttle = _Throttle()
# A real hash to verify against when the e-mail is unknown, so timing does not reveal which addresses exist.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def read_session(connection: ASGIConnection) -> SessionInfo | None:
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    services: Services = connection.app.state.services
    payload = decode_session(services.settings.secret_key, token, time.time())
    if payload is None:
        return None
    principal = Principal(workspace_id=payload.workspace_id, kind="user", user_id=payload.user_id)
    return SessionInfo(principal=principal, csrf=payload.csrf)


def _session_out(session, user: User, workspace_id: int, csrf: str) -> SessionOut:
    row = session.execute(
        sa.select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Workspace.id == workspace_id, Membership.user_id == user.id)
    ).first()
    if row is None:
        raise NotAuthorizedException("You are no longer a member of this workspace")
    ws, role = row
    return SessionOut(
        user=UserOut(user.id, user.email, user.name, user.locale),
        workspace=WorkspaceOut(ws.id, ws.slug, ws.name, ws.timezone, ws.locale, role),
        csrf_token=csrf,
    )


def _cookies(services: Services, token: str | None, csrf: str | None) -> list[Cookie]:
    secure = services.settings.base_url.startswith("https://")
    max_age = SESSION_SECONDS if token else 0
    return [
        Cookie(
            key=SESSION_COOKIE,
            value=token or "",
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
            max_age=max_age,
        ),
        Cookie(
            key=CSRF_COOKIE,
            value=csrf or "",
            httponly=False,
            samesite="strict",
            secure=secure,
            path="/",
            max_age=max_age,
        ),
    ]


class SessionController(Controller):
    path = "/api/auth"
    tags = ["session"]

    @post("/login", sync_to_thread=True, status_code=200, summary="Sign in with e-mail and password")
    def login(self, services: ServicesDep, data: JSONBody[LoginRequest]) -> Response[SessionOut]:
        now = time.time()
        key = data.email.strip().lower()
        if _throttle.blocked(key, now):
            raise ApiError(429, "Too many failed sign-ins; try again in a few minutes", headers={"Retry-After": "900"})
        with services.sessions.begin() as session:
            user = user_by_email(session, data.email)
            ok = verify_password(user.password_hash if user else _DUMMY_HASH, data.password) and user is not None
            if not ok:
                _throttle.fail(key, now)
                raise ApiError(401, "Wrong e-mail or password")
            _throttle.clear(key)
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(data.password)
            workspace_id = session.execute(
                sa.select(Membership.workspace_id)
                .where(Membership.user_id == user.id)
                .order_by(Membership.workspace_id)
            ).scalar()
            if workspace_id is None:
                raise ApiError(403, "This account is not a member of any workspace")
            user.last_login_at = services.clock.now()
            csrf = secrets.token_urlsafe(24)
            out = _session_out(session, user, workspace_id, csrf)
        token = encode_session(services.settings.secret_key, _Payload(user.id, workspace_id, int(now), csrf))
        return Response(out, cookies=_cookies(services, token, csrf))

    @post("/logout", status_code=204, sync_to_thread=False, summary="Sign out")
    def logout(self, services: ServicesDep) -> Response[None]:
        return Response(None, status_code=204, cookies=_cookies(services, None, None))

    @get("/me", sync_to_thread=True, summary="The signed-in user and workspace")
    def me(self, services: ServicesDep, request: Request) -> SessionOut:
        info = read_session(request)
        if info is None:
            raise NotAuthorizedException("Not signed in")
        with services.reading() as session:
            return _session_out(session, _signed_in_user(session, info), info.principal.workspace_id, info.csrf)

    @patch("/me", sync_to_thread=True, summary="Change the signed-in user's language or name")
    def update_me(self, services: ServicesDep, request: Request, data: JSONBody[ProfilePatch]) -> SessionOut:
        info = read_session(request)
        if info is None:
            raise NotAuthorizedException("Not signed in")
        sent = request.headers.get("x-csrf-token", "")
        if not sent or not hmac.compare_digest(sent, info.csrf):
            raise PermissionDeniedException("Missing or wrong X-CSRF-Token header")
        with services.sessions.begin() as session:
            user = _signed_in_user(session, info)
            if data.locale is not None:
                user.locale = data.locale
            if data.name is not None:
                user.name = data.name
            return _session_out(session, user, info.principal.workspace_id, info.csrf)


def _signed_in_user(session, info: SessionInfo) -> User:
    user = session.get(User, info.principal.user_id)
    if user is None:
        raise NotAuthorizedException("Not signed in")
    return user
