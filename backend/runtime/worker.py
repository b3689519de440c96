"""The worker loop: advance due enrollments and deliver the outbox, then sleep until woken.

Any number of workers can run against one PostgreSQL (claims use SKIP LOCKED). A worker sleeps on the
process-local waker, which is set by ingestion in the same process, by the scheduler's tick, or — across
processes on PostgreSQL — by a ``LISTEN`` thread relaying ``NOTIFY waymark_work``.
"""

from __future__ import annotations

import logging
import threading
import time

from backend.audience import live as audience
from backend.audience import scores
from backend.contacts import events as event_path
from backend.contacts import imports
from backend.runtime import broadcasts
from backend.runtime.outbox import Dispatcher
from backend.runtime.signals import CHANNEL
from backend.runtime.tick import Ticker
from backend.services import Services

log = logging.getLogger("waymark.worker")

IDLE_POLL_SECONDS = 5.0
"""Safety net: even with no wake-up signal, look for due work this often."""


class Worker:
    def __init__(self, services: Services, *, name: str = "worker") -> None:
        self.services = services
        self.name = name
        self.ticker = Ticker(
            services.engine,
            services.graphs,
            services.clock,
            services.settings.batch_size,
            concurrent_batches=services.settings.tick_concurrency,
        )
        self.ticker.on_contacts_changed = lambda conn, workspace_id, ids, now: event_path.contacts_changed(
            conn, services, workspace_id, ids, now
        )
        self.dispatcher = Dispatcher(services)
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    def run_once(self) -> int:
        """One pass: audiences' due re-checks and a backfill chunk, a chunk of a CSV import, all due
        enrollments, then all due messages. Returns how much work was done."""
        audience_work = self._audiences()
        imported = imports.step(self.services)
        report = self.ticker.run_until_idle()
        delivered = self.dispatcher.run_once()
        if report.claimed or delivered:
            log.info(
                "%s: advanced %d enrollments (%d steps), handled %d messages",
                self.name,
                report.claimed,
                report.steps,
                delivered,
            )
        return report.claimed + delivered + audience_work + imported

    def _audiences(self) -> int:
        started = broadcasts.start_due(self.services.engine, self.services.graphs, self.services.clock.now())
        rechecked = event_path.run_rechecks(self.services)
        built = audience.build_step(self.services.engine, self.services.clock.now())
        kept = scores.upkeep(self.services.engine, self.services.clock.now())
        return started + rechecked + kept + (0 if built is None else built.evaluated + 1)

    def run_forever(self) -> None:
        if self.services.engine.dialect.name == "postgresql":
            self._start_listener()
        log.info("%s started", self.name)
        while not self.stop_event.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("%s: pass failed; retrying shortly", self.name)
                worked = 0
                self.stop_event.wait(1.0)
            if not worked:
                self.services.waker.wait(IDLE_POLL_SECONDS)
        log.info("%s stopped", self.name)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name=self.name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.services.waker.notify()
        for thread in self._threads:
            thread.join(timeout)

    def _start_listener(self) -> None:
        thread = threading.Thread(target=self._listen, name=f"{self.name}-listen", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _listen(self) -> None:
        """Relay PostgreSQL notifications to the in-process waker; reconnect if the connection drops."""
        import psycopg

        url = self.services.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self.stop_event.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self.stop_event.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.services.waker.notify()
            except Exception:
                log.exception("%s: LISTEN connection failed; reconnecting", self.name)
                time.sleep(1.0)
