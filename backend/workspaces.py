"""Workspaces and their API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.db.models import ApiKey, Workspace

KEY_PREFIX = {"write": "wm_write_", "admin": "wm_admin_"}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(session: Session, workspace_id: int, kind: str, name: str = "") -> tuple[ApiKey, str]:
    """Create a key; the plain key is returned once and only its hash is stored."""
    if kind not in KEY_PREFIX:
        raise ValueError(f"unknown key kind {kind!r}")
    plain = KEY_PREFIX[kind] + secrets.token_urlsafe(32)
    row = ApiKey(
        workspace_id=workspace_id,
        kind=kind,
        name=name,
        prefix=plain[: len(KEY_PREFIX[kind]) + 6],
        key_hash=hash_key(plain),
    )
    session.add(row)
    session.flush()
    return row, plain


@dataclass
class NewWorkspace:
    id: int
    slug: str
    write_key: str
    admin_key: str


def create_workspace(session: Session, slug: str, name: str, timezone: str = "UTC", locale: str = "en") -> NewWorkspace:
    ws = Workspace(slug=slug, name=name, timezone=timezone, locale=locale, settings={})
    session.add(ws)
    session.flush()
    _, write = new_key(session, ws.id, "write", "default write key")
    _, admin = new_key(session, ws.id, "admin", "default admin key")
    return NewWorkspace(ws.id, slug, write, admin)


def workspace_by_slug(session: Session, slug: str) -> Workspace | None:
    return session.execute(sa.select(Workspace).where(Workspace.slug == slug)).scalar_one_or_none()
