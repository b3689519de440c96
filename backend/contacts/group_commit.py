"""Group commit for single ingestion calls: many concurrent requests, one transaction.

A single ``/v1/track`` costs one transaction — on SQLite one write lock, one WAL append and one pass
through audiences and journeys — for one row. Here requests hand their parsed messages to one writer
thread per process instead; it takes everything queued, stores it through the same domain path as a
batch (:func:`backend.contacts.upsert.store`), commits once and then answers every waiting request. A
request is answered only after that commit, so a 200 still means "stored".

Semantics are those of one call at a time, in arrival order:

* each workspace's messages are one ``store`` call in arrival order: traits apply in that order, and
  journeys see the events in that order (not sorted by timestamp as a /v1/batch is), with the
  same-batch rules that let a later event wake the wait an earlier trigger leads to — as if the
  worker had kept up between the calls;
* a repeated messageId in the group is a duplicate of the first, as it would be one at a time;
* on SQLite, the writers of several API processes (``waymark api --workers N``) take turns through a
  file lock next to the database before they ask for SQLite's write lock: SQLite's own busy handler
  polls with sleeps of up to 100 ms, a file lock hands over as soon as it is released;
* when the group's transaction fails for anything but a busy database, it is rolled back and every
  request is stored on its own (:func:`backend.contacts.upsert.ingest`), so one bad message fails
  only its own request.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from backend.contacts.upsert import (
    _RETRY_SQLSTATES,
    DB_BUSY_SECONDS,
    MAX_ATTEMPTS,
    Busy,
    IngestResult,
    Item,
    _Raced,
    _sqlstate,
    ingest,
    is_busy,
    store,
    write_transaction,
)

if TYPE_CHECKING:
    from backend.services import Services

log = logging.getLogger(__name__)

MAX_GROUP_MESSAGES = 2000
"""Messages stored in one transaction at most; what is left waits for the next one."""
MAX_PENDING_MESSAGES = 20_000
"""Messages queued in one process at most; past that a request is refused at once (429)."""

Done = Callable[[IngestResult | None, BaseException | None], None]


@dataclass(slots=True)
class Pending:
    workspace_id: int
    items: list[Item]
    received_at: datetime
    done: Done
    """Called once, from the writer thread, with the result or the exception."""


def _sqlite_lock_file(engine: sa.Engine):
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return open(f"{url.database}-ingest.lock", "a+b")


class GroupWriter:
    """One writer thread per process; :meth:`submit` from any thread (the event loop)."""

    def __init__(
        self,
        services: Services,
        *,
        max_group: int = MAX_GROUP_MESSAGES,
        max_pending: int = MAX_PENDING_MESSAGES,
        source: str = "api",
    ) -> None:
        self.services = services
        self.max_group = max_group
        self.max_pending = max_pending
        self.source = source
        self._queue: deque[Pending] = deque()
        self._pending = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._lock_file = _sqlite_lock_file(services.engine)
        self._thread = threading.Thread(target=self._run, name="ingest-group-commit", daemon=True)
        self._thread.start()
        self.groups = 0
        """Transactions committed (for tests and figures)."""
        self.submitted = 0
        """Requests queued so far."""

    def submit(self, pending: Pending) -> bool:
        """Queue a request's messages; False when the queue is full (the caller answers 429)."""
        with self._cond:
            if self._stopped or (self._pending and self._pending + len(pending.items) > self.max_pending):
                return False
            self._queue.append(pending)
            self._pending += len(pending.items)
            self.submitted += 1
            self._cond.notify()
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Store what is queued, then stop the thread."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout)

    def _take(self) -> list[Pending] | None:
        with self._cond:
            while not self._queue:
                if self._stopped:
                    return None
                self._cond.wait(1.0)
            group = [self._queue.popleft()]
            size = len(group[0].items)
            while self._queue and size + len(self._queue[0].items) <= self.max_group:
                pending = self._queue.popleft()
                size += len(pending.items)
                group.append(pending)
            self._pending -= size
            return group

    def _run(self) -> None:
        while (group := self._take()) is not None:
            try:
                self._write(group)
            except BaseException:  # never leave a request waiting, never let the thread die
                log.exception("group commit failed")

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """This process's turn to write (SQLite files only; PostgreSQL writers run at once)."""
        if self._lock_file is None:
            yield
            return
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def _write(self, group: list[Pending]) -> None:
        with self._turn():
            self._write_group(group)

    def _write_group(self, group: list[Pending]) -> None:
        if len(group) == 1:
            self._one(group[0])
            return
        try:
            results = self._store_group(group)
        except Busy as exc:
            for pending in group:
                pending.done(None, exc)
            return
        except Exception:
            log.warning("a group of %d requests failed; storing them one by one", len(group), exc_info=True)
            for pending in group:
                self._one(pending)
            return
        self.groups += 1
        for pending, result in zip(group, results, strict=True):
            pending.done(result, None)

    def _one(self, pending: Pending) -> None:
        try:
            result = ingest(self.services, pending.workspace_id, pending.items, pending.received_at, source=self.source)
        except BaseException as exc:
            pending.done(None, exc)
            return
        self.groups += 1
        pending.done(result, None)

    def _store_group(self, group: list[Pending]) -> list[IngestResult]:
        """All of the group in one transaction, retried like :func:`ingest` when a concurrent writer
        (another process) stored one of its messageIds or contacts first."""
        services = self.services
        now = max(p.received_at for p in group)
        by_workspace: dict[int, list[Item]] = {}
        for pending in group:
            by_workspace.setdefault(pending.workspace_id, []).extend(pending.items)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                queued = False
                with write_transaction(services.engine, DB_BUSY_SECONDS) as conn:
                    for workspace_id, items in by_workspace.items():
                        result = store(conn, services, workspace_id, items, now, self.source, arrival_order=True)
                        queued = queued or bool(result.enrolled or result.woken)
                    if queued:
                        services.waker.notify(conn)  # NOTIFY is delivered on commit (PostgreSQL)
            except (sa.exc.IntegrityError, _Raced):
                if attempt == MAX_ATTEMPTS:
                    raise
                continue
            except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
                if not is_busy(exc):
                    raise
                if attempt < MAX_ATTEMPTS and _sqlstate(exc) in _RETRY_SQLSTATES:
                    continue  # deadlock or serialization failure: go again at once
                raise Busy(1, "the database is busy") from None
            if queued:
                services.waker.notify()
            return [IngestResult(received=len(p.items), accepted=len(p.items)) for p in group]
        raise AssertionError("unreachable")
