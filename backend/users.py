"""Users who sign in to the web app, and their sessions.

Passwords are hashed with Argon2id (argon2-cffi defaults). A session is a row keyed by the SHA-256 of a
random cookie token, so signing out, resetting a password or leaving a workspace ends it at once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from backend.db.models import Membership, User, UserSession

SESSION_LIFETIME = timedelta(days=14)

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def create_user(
    session: Session, email: str, password: str, name: str = "", workspace_id: int | None = None, role: str = "owner"
) -> User:
    user = User(email=email.strip().lower(), name=name or email.split("@")[0], password_hash=hash_password(password))
    session.add(user)
    session.flush()
    if workspace_id is not None:
        session.add(Membership(user_id=user.id, workspace_id=workspace_id, role=role))
        session.flush()
    return user


def user_by_email(session: Session, email: str) -> User | None:
    return session.execute(sa.select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def set_password(session: Session, user: User, password: str) -> int:
    """New password; every session of the user ends (returns how many)."""
    user.password_hash = hash_password(password)
    return end_sessions(session, user.id)


# -- sessions ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActiveSession:
    user_id: int
    workspace_id: int
    csrf: str
    role: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session, user_id: int, workspace_id: int, now: datetime, user_agent: str = ""
) -> tuple[str, str]:
    """A new session row; returns (cookie token, CSRF token). The user's expired rows go at the same time."""
    session.execute(sa.delete(UserSession).where(UserSession.user_id == user_id, UserSession.expires_at <= now))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    session.add(
        UserSession(
            token_hash=token_hash(token),
            user_id=user_id,
            workspace_id=workspace_id,
            csrf=csrf,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
            user_agent=user_agent[:300],
        )
    )
    session.flush()
    return token, csrf


def find_session(conn: sa.Connection, token: str, now: datetime) -> ActiveSession | None:
    """The live session of a cookie token: not expired, and its user still a member of its workspace."""
    row = conn.execute(
        sa.select(UserSession.user_id, UserSession.workspace_id, UserSession.csrf, Membership.role)
        .join(
            Membership,
            sa.and_(Membership.user_id == UserSession.user_id, Membership.workspace_id == UserSession.workspace_id),
        )
        .where(UserSession.token_hash == token_hash(token), UserSession.expires_at > now)
    ).first()
    return ActiveSession(row.user_id, row.workspace_id, row.csrf, row.role) if row else None


def end_session(session: Session, token: str) -> None:
    session.execute(sa.delete(UserSession).where(UserSession.token_hash == token_hash(token)))


def end_sessions(session: Session, user_id: int) -> int:
    return session.execute(sa.delete(UserSession).where(UserSession.user_id == user_id)).rowcount
