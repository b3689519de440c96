"""Users who sign in to the web app. Passwords are hashed with Argon2id (argon2-cffi defaults)."""

from __future__ import annotations

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from backend.db.models import Membership, User

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
