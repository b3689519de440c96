"""Signing in to the web app: an HttpOnly session cookie plus a CSRF token.

The cookie holds a random token naming a ``user_sessions`` row (backend/users.py), looked up on every
request — so signing out, "sign out everywhere", a password reset or losing the workspace membership
ends a session at once, in every process. Unsafe requests must echo the session's CSRF token in
``X-CSRF-Token``; it is also handed to the SPA in a readable ``waymark_csrf`` cookie and in the login/me
responses.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

import msgspec
import sqlalchemy as sa
from litestar import Controller, Request, Response, get, patch, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException
from litestar.params import JSONBody

from backend import throttle
from backend.api.auth import Principal, SessionInfo, check_csrf
from backend.api.deps import ServicesDep
from backend.api.errors import ApiError
from backend.db.models import Membership, User, Workspace
from backend.db.session import read_connection
from backend.services import Services
from backend.users import (
    SESSION_LIFETIME,
    end_session,
    end_sessions,
    find_session,
    hash_password,
    needs_rehash,
    start_session,
    user_by_email,
    verify_password,
)

SESSION_COOKIE = "waymark_session"
CSRF_COOKIE = "waymark_csrf"
MAX_TOKEN_LENGTH = 100


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


# A real hash to verify against when the e-mail is unknown, so timing does not reveal which addresses exist.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def _cookie_token(connection: ASGIConnection) -> str | None:
    token = connection.cookies.get(SESSION_COOKIE)
    return token if token and len(token) <= MAX_TOKEN_LENGTH else None


def read_session(connection: ASGIConnection) -> SessionInfo | None:
    token = _cookie_token(connection)
    if token is None:
        return None
    services: Services = connection.app.state.services
    with read_connection(services.engine) as conn:
        found = find_session(conn, token, services.clock.now())
    if found is None:
        return None
    principal = Principal(workspace_id=found.workspace_id, kind="user", user_id=found.user_id, role=found.role)
    return SessionInfo(principal=principal, csrf=found.csrf)


def _require_session(request: Request) -> SessionInfo:
    """The signed-in session of a request that changes something: the CSRF token must be echoed."""
    info = read_session(request)
    if info is None:
        raise NotAuthorizedException("Not signed in")
    check_csrf(request, info)
    return info


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
    max_age = int(SESSION_LIFETIME.total_seconds()) if token else 0
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


class _WrongPassword(Exception):
    pass


class SessionController(Controller):
    path = "/api/auth"
    tags = ["session"]

    @post("/login", sync_to_thread=True, status_code=200, summary="Sign in with e-mail and password")
    def login(self, services: ServicesDep, request: Request, data: JSONBody[LoginRequest]) -> Response[SessionOut]:
        now = services.clock.now()
        account = data.email.strip().lower()
        client = request.client.host if request.client else "unknown"
        with services.engine.connect() as conn:
            refusal = throttle.check(conn, account, client, now)
        if refusal is not None:
            minutes = max(1, round(refusal.retry_after / 60))
            raise ApiError(
                429,
                "Too many failed sign-ins",
                f"{refusal.reason}; try again in {minutes} minute(s)",
                headers={"Retry-After": str(refusal.retry_after)},
            )
        try:
            return self._sign_in(services, request, data, account, client, now)
        except _WrongPassword:
            with services.engine.begin() as conn:  # after the sign-in's transaction is over
                throttle.record_failure(conn, account, client, now)
            raise ApiError(401, "Wrong e-mail or password") from None

    def _sign_in(
        self, services: Services, request: Request, data: LoginRequest, account: str, client: str, now: datetime
    ) -> Response[SessionOut]:
        with services.sessions.begin() as session:
            user = user_by_email(session, data.email)
            ok = verify_password(user.password_hash if user else _DUMMY_HASH, data.password) and user is not None
            if not ok:
                raise _WrongPassword
            throttle.record_success(session.connection(), account, client, now)
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
            token, csrf = start_session(
                session, user.id, workspace_id, user.last_login_at, request.headers.get("user-agent", "")
            )
            out = _session_out(session, user, workspace_id, csrf)
        return Response(out, cookies=_cookies(services, token, csrf))

    @post(
        "/logout",
        status_code=204,
        sync_to_thread=True,
        summary="Sign out (this browser)",
        description="Needs the `X-CSRF-Token` header while the session is live, so another site cannot sign "
        "the user out; a cookie whose session has already ended is simply cleared.",
    )
    def logout(self, services: ServicesDep, request: Request) -> Response[None]:
        info = read_session(request)
        if info is not None:
            check_csrf(request, info)
            token = _cookie_token(request)
            assert token is not None
            with services.sessions.begin() as session:
                end_session(session, token)
        return Response(None, status_code=204, cookies=_cookies(services, None, None))

    @post(
        "/logout-everywhere",
        status_code=204,
        sync_to_thread=True,
        summary="Sign out on every device",
        description="Ends every session of the signed-in user, this one included (a lost laptop, a shared "
        "computer). Needs the `X-CSRF-Token` header.",
    )
    def logout_everywhere(self, services: ServicesDep, request: Request) -> Response[None]:
        info = _require_session(request)
        assert info.principal.user_id is not None
        with services.sessions.begin() as session:
            end_sessions(session, info.principal.user_id)
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
        info = _require_session(request)
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
