"""Provider access tokens shared by every process (WeChat's ``access_token``).

WeChat allows a limited number of token fetches per day, and every fetch replaces the previous token
(the old one keeps working for about five minutes). N workers each fetching their own token would
stampede the endpoint and invalidate each other's tokens, so the token lives in the database
(``provider_tokens``, one row per credential) and one worker at a time refreshes it:

1. **Hot path**: a process-local copy is used while it has more than ``margin`` (5 minutes) left.
   No database access.
2. Otherwise the row is read (no lock). A token another worker fetched is adopted.
3. Otherwise the worker **claims the refresh** in a short transaction: ``SELECT … FOR UPDATE`` of the
   row on PostgreSQL (SQLite: the ``BEGIN IMMEDIATE`` write lock), re-check it, and set
   ``refreshing_until`` (a 30-second lease) unless another worker holds one. The lock is released
   before any HTTP call; the lease is what keeps the others from fetching too.
4. The claimant fetches the token and stores it with its expiry. Meanwhile the other workers keep
   using the current token — refreshing starts ``margin`` early, so it is still valid — or, when there
   is none (first use, or it was rejected), poll the row until the new one appears (at most the lease).
5. A token the provider rejects (WeChat 40001/42001/40014) is **invalidated** with a compare-and-set
   on its value (a newer token another worker already stored is not thrown away) and the send is
   retried once with a fresh token.

If the claimant dies mid-fetch, its lease lapses and the next worker takes over.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from backend.db.models import ProviderToken

_tokens = ProviderToken.__table__

Fetch = Callable[[], Awaitable[tuple[str, float]]]
"""Fetches a new token: ``(token, seconds it is valid)``; raises :class:`TokenError`."""


class TokenError(Exception):
    """The token could not be had. ``permanent`` is never set for credentials problems: fixing the
    settings makes queued messages go out."""


_local: dict[tuple[str, str], tuple[str, datetime]] = {}
"""Process-wide cache: ``(database url, key) → (token, expires_at)``."""


class TokenStore:
    def __init__(
        self,
        engine: sa.Engine,
        clock,
        *,
        margin: timedelta = timedelta(minutes=5),
        lease: timedelta = timedelta(seconds=30),
        poll: float = 0.1,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.margin = margin
        self.lease = lease
        self.poll = poll
        self.is_postgres = engine.dialect.name == "postgresql"
        self._scope = engine.url.render_as_string(hide_password=True)
        self.fetches = 0
        """How many times this store fetched a token (tests count stampedes with it)."""

    def _fresh(self, token: str | None, expires_at: datetime | None, now: datetime) -> bool:
        return bool(token) and expires_at is not None and expires_at - self.margin > now

    def cached(self, key: str) -> str | None:
        hit = _local.get((self._scope, key))
        if hit and self._fresh(hit[0], hit[1], self.clock.now()):
            return hit[0]
        return None

    async def get(self, key: str, fetch: Fetch, *, force: bool = False) -> str:
        """A valid token for ``key``. ``force`` fetches a new one even when the stored one is fresh
        (a provider's connection test)."""
        if not force:
            hit = self.cached(key)
            if hit:
                return hit
        deadline = time.monotonic() + self.lease.total_seconds() + 5
        while True:
            decision, token, expires_at = await asyncio.to_thread(self._claim, key, force)
            if decision == "use":
                assert token is not None and expires_at is not None
                _local[(self._scope, key)] = (token, expires_at)
                return token
            if decision == "fetch":
                return await self._fetch(key, fetch)
            # Another worker is fetching. Use the current token while it is still valid at all…
            now = self.clock.now()
            if token and expires_at is not None and expires_at > now and not force:
                return token
            # …else wait for the new one.
            if time.monotonic() > deadline:
                raise TokenError("timed out waiting for another worker to fetch the access token")
            await asyncio.sleep(self.poll)
            force = False

    def _claim(self, key: str, force: bool) -> tuple[str, str | None, datetime | None]:
        """``("use", token, expires)`` | ``("fetch", …)`` (this worker holds the refresh lease) |
        ``("wait", current token, expires)``."""
        now = self.clock.now()
        with self.engine.connect() as conn:
            conn.info["read_only"] = True
            row = conn.execute(sa.select(_tokens).where(_tokens.c.key == key)).first()
            conn.rollback()
            conn.info.pop("read_only", None)
        if row is not None and not force and self._fresh(row.token, row.expires_at, now):
            return "use", row.token, row.expires_at
        with self.engine.begin() as conn:
            insert = (postgresql.insert if self.is_postgres else sqlite.insert)(_tokens)
            conn.execute(insert.values(key=key, updated_at=now).on_conflict_do_nothing(index_elements=["key"]))
            query = sa.select(_tokens).where(_tokens.c.key == key)
            if self.is_postgres:
                query = query.with_for_update()
            row = conn.execute(query).one()
            if not force and self._fresh(row.token, row.expires_at, now):
                return "use", row.token, row.expires_at
            if row.refreshing_until is not None and row.refreshing_until > now:
                return "wait", row.token, row.expires_at
            conn.execute(
                sa.update(_tokens).where(_tokens.c.key == key).values(refreshing_until=now + self.lease, updated_at=now)
            )
            return "fetch", row.token, row.expires_at

    async def _fetch(self, key: str, fetch: Fetch) -> str:
        self.fetches += 1
        try:
            token, seconds = await fetch()
        except BaseException:
            await asyncio.to_thread(self._release, key)
            raise
        now = self.clock.now()
        expires_at = now + timedelta(seconds=max(0.0, seconds))
        await asyncio.to_thread(self._store, key, token, expires_at, now)
        _local[(self._scope, key)] = (token, expires_at)
        return token

    def _store(self, key: str, token: str, expires_at: datetime, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(_tokens)
                .where(_tokens.c.key == key)
                .values(token=token, expires_at=expires_at, refreshing_until=None, updated_at=now)
            )

    def _release(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(_tokens).where(_tokens.c.key == key).values(refreshing_until=None))

    def invalidate(self, key: str, token: str) -> None:
        """The provider rejected ``token``: forget it here and in the database, unless the database
        already holds a newer one."""
        hit = _local.get((self._scope, key))
        if hit and hit[0] == token:
            _local.pop((self._scope, key), None)
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(_tokens)
                .where(_tokens.c.key == key, _tokens.c.token == token)
                .values(expires_at=self.clock.now())
            )

    async def invalidate_async(self, key: str, token: str) -> None:
        await asyncio.to_thread(self.invalidate, key, token)


def forget_local() -> None:
    """Drop the process-wide cache (tests simulate separate processes with it)."""
    _local.clear()
