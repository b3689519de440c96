"""Provider rate limits shared by every worker process: a send budget per time window, in the database.

A provider row's ``rate_per_second`` (else its kind's default, backend/channels/kinds.py) caps how many
messages *all* workers together hand to it. A per-process token bucket divided by a worker count would
need every process to know how many others run, and would waste the budget of idle ones; instead:

* Time is cut into windows of ``max(1 s, 1 / rate)``, numbered from the epoch (wall clock: workers'
  clocks are assumed NTP-synchronised). Each window holds ``rate * length`` sends.
* Before a chunk is marked ``sending``, the dispatcher **leases** budget for it, one upsert per
  provider per window (``rate_windows``: key, window_no, used): ``used`` grows by what it asks for and the
  answer says how much of it fitted. That is one tiny write per chunk, not per message, and nothing at
  all for providers without a limit (SMTP by default).
* Leased sends are **paced** evenly across the rest of the window, so a worker does not fire its whole
  lease at once.
* What did not fit is **deferred** without an attempt: back to ``pending``, due at the slot the
  budget will free up for it (``window end + i / rate``), so the next runs claim about as many rows as
  can go. A run never leases a later window (it would send that budget late, on top of the next
  window's): what it cannot send in the current one waits for a later run.

Guarantee: within each window the provider gets at most its budget, whatever the number of workers.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from backend.db.models import RateWindow

_windows = RateWindow.__table__

_UPSERT = {
    "postgresql": sa.text(
        "INSERT INTO rate_windows (key, window_no, used) VALUES (:key, :window, :want) "
        "ON CONFLICT (key) DO UPDATE SET "
        "used = CASE WHEN rate_windows.window_no >= excluded.window_no THEN rate_windows.used + excluded.used "
        "ELSE excluded.used END, "
        "window_no = CASE WHEN rate_windows.window_no >= excluded.window_no THEN rate_windows.window_no "
        "ELSE excluded.window_no END "
        "RETURNING used, window_no"
    ),
}
_UPSERT["sqlite"] = _UPSERT["postgresql"]


SAFETY = 0.1
"""Seconds before its window ends after which a leased send no longer starts (it would arrive in the next)."""


def window_length(rate: float) -> float:
    return max(1.0, 1.0 / rate)


def capacity(rate: float) -> int:
    return max(1, math.floor(rate * window_length(rate) + 1e-9))


class SendBudget:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.leases = 0
        """Upserts made (the hot-path cost)."""

    def _take(self, key: str, window: int, cap: int, want: int) -> int:
        """Lease up to ``want`` sends in ``window``; returns how many fitted."""
        with self.engine.begin() as conn:
            used, current = conn.execute(
                _UPSERT[self.engine.dialect.name], {"key": key, "window": window, "want": want}
            ).one()
        self.leases += 1
        if current != window:  # our clock is behind the others': that window is over
            return 0
        before = used - want
        return max(0, min(want, cap - before))

    async def lease(self, key: str, rate: float, count: int) -> tuple[list[float], float]:
        """Wall-clock send times for up to ``count`` messages in the current window (spread over its
        first 80 %, so a slow send does not slip into the next window), and when the next window starts.
        It never waits for later windows: their budget is only taken by the run that sends in them."""
        length = window_length(rate)
        now = time.time()
        window = int(now // length)
        end = (window + 1) * length
        got = await asyncio.to_thread(self._take, key, window, capacity(rate), count)
        if not got:
            return [], end
        step = 0.8 * (end - now) / got
        return [now + i * step for i in range(got)], end

    async def plan(self, jobs: Iterable[Any], now: datetime) -> None:
        """Give each job of a rate-limited provider a send time (``job.not_before``, loop time) or
        defer it (``job.outcome = "deferred"``, ``job.defer_until``)."""
        groups: dict[tuple[str, float], list[Any]] = defaultdict(list)
        for job in jobs:
            provider = job.provider
            if provider is not None and provider.rate_key and provider.rate_per_second:
                groups[(provider.rate_key, float(provider.rate_per_second))].append(job)
        if not groups:
            return
        loop = asyncio.get_running_loop()
        for (key, rate), group in groups.items():
            times, next_free = await self.lease(key, rate, len(group))
            offset = loop.time() - time.time()
            for job, at in zip(group, times, strict=False):
                job.not_before = at + offset
                job.window_end = next_free + offset
            rest = group[len(times) :]
            for i, job in enumerate(rest):
                wait = max(0.0, next_free - time.time()) + i / rate
                job.outcome = "deferred"
                job.reason = f"waiting for the provider's rate limit ({rate:g}/s)"
                job.defer_until = now + timedelta(seconds=wait)

    async def wait(self, job: Any) -> None:
        """Sleep until the job's paced send time. A job that wakes too late for the window its budget
        was leased in (a loaded worker) takes a new lease instead of sending on a spent window: the
        limit holds even when the process falls behind. Costs nothing when it is on time."""
        loop = asyncio.get_running_loop()
        provider = job.provider
        while True:
            await asyncio.sleep(max(0.0, job.not_before - loop.time()))
            if job.window_end is None or loop.time() < job.window_end - SAFETY:
                return
            times, end = await self.lease(provider.rate_key, float(provider.rate_per_second), 1)
            offset = loop.time() - time.time()
            if times:
                job.not_before, job.window_end = times[0] + offset, end + offset
            else:  # none left in this window: lease again when the next one starts
                job.not_before, job.window_end = end + offset, float("-inf")
