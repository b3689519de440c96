"""The sign-in throttle: slows password guessing without letting a stranger lock out an account's owner.

Failures are counted in the database (``sign_in_attempts``), so every API process sees the same
numbers, over a sliding window of :data:`WINDOW`. A *client* is an IP address; an *account* is the
e-mail as typed (unknown addresses count too, so the answer does not reveal which exist). Three limits:

* **client and account** — :data:`PAIR_LIMIT` failures for one account from one client stop that client
  trying that account. Someone else's failures never lock the owner's own browser out.
* **client** — :data:`CLIENT_LIMIT` failures from one client across accounts stop it trying any account
  it has not signed in to before: one client cannot try many accounts (credential stuffing).
* **account** — :data:`ACCOUNT_LIMIT` failures for one account from all clients together (a guessing
  attack spread over many addresses) stop clients that have never signed in to that account; a client
  that has (within :data:`KNOWN_FOR`) still may, so the owner keeps signing in from their usual place.

A refusal is a 429 with ``Retry-After``: the seconds until enough failures have left the window. Refused
attempts are not counted (waiting always helps); a success forgets that pair's failures only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from backend.db.models import SignInAttempt

WINDOW = timedelta(minutes=15)
PAIR_LIMIT = 10
CLIENT_LIMIT = 30
ACCOUNT_LIMIT = 50
KNOWN_FOR = timedelta(days=90)
MAX_CLIENT_LENGTH = 64

_t = SignInAttempt.__table__


@dataclass(frozen=True)
class Refusal:
    retry_after: int
    """Seconds until the limit that refused lets this client try again."""
    reason: str


def _retry_after(conn: sa.Connection, where: sa.ColumnElement[bool], count: int, limit: int, now: datetime) -> int:
    """When ``count - limit + 1`` of the counted failures have aged out, the count is below the limit."""
    oldest_to_expire = conn.execute(
        sa.select(_t.c.at).where(where).order_by(_t.c.at).offset(count - limit).limit(1)
    ).scalar()
    if oldest_to_expire is None:
        return 1
    return max(1, math.ceil((oldest_to_expire + WINDOW - now).total_seconds()))


def check(conn: sa.Connection, account: str, client: str, now: datetime) -> Refusal | None:
    """Whether ``client`` may try a password for ``account`` now (``None``), or why not."""
    client = client[:MAX_CLIENT_LENGTH]
    since = now - WINDOW
    failed = sa.and_(_t.c.succeeded.is_(False), _t.c.at > since)
    pair = sa.and_(failed, _t.c.account == account, _t.c.client == client)
    by_client = sa.and_(failed, _t.c.client == client)
    by_account = sa.and_(failed, _t.c.account == account)
    pair_count, client_count, account_count = conn.execute(
        sa.select(
            sa.select(sa.func.count()).where(pair).scalar_subquery(),
            sa.select(sa.func.count()).where(by_client).scalar_subquery(),
            sa.select(sa.func.count()).where(by_account).scalar_subquery(),
        )
    ).one()
    if pair_count >= PAIR_LIMIT:
        return Refusal(_retry_after(conn, pair, pair_count, PAIR_LIMIT, now), "too many failures for this account")
    if client_count < CLIENT_LIMIT and account_count < ACCOUNT_LIMIT:
        return None
    known = conn.execute(
        sa.select(sa.literal(1)).where(
            _t.c.succeeded.is_(True), _t.c.account == account, _t.c.client == client, _t.c.at > now - KNOWN_FOR
        )
    ).first()
    if known is not None:
        return None
    if client_count >= CLIENT_LIMIT:
        return Refusal(_retry_after(conn, by_client, client_count, CLIENT_LIMIT, now), "too many failures from here")
    return Refusal(
        _retry_after(conn, by_account, account_count, ACCOUNT_LIMIT, now), "too many failures for this account"
    )


def record_failure(conn: sa.Connection, account: str, client: str, now: datetime) -> None:
    """Count a failure; failures that have left the window go at the same time (the table stays small)."""
    conn.execute(sa.delete(_t).where(_t.c.succeeded.is_(False), _t.c.at <= now - WINDOW))
    conn.execute(sa.insert(_t).values(account=account, client=client[:MAX_CLIENT_LENGTH], at=now, succeeded=False))


def record_success(conn: sa.Connection, account: str, client: str, now: datetime) -> None:
    """Remember that this client signed in to this account (it is *known* from now on) and forget the
    pair's failures; other clients' failures for the account, and this client's for others, stay."""
    client = client[:MAX_CLIENT_LENGTH]
    conn.execute(sa.delete(_t).where(_t.c.account == account, _t.c.client == client))
    conn.execute(sa.delete(_t).where(_t.c.succeeded.is_(True), _t.c.at <= now - KNOWN_FOR))
    conn.execute(sa.insert(_t).values(account=account, client=client, at=now, succeeded=True))
