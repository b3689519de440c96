"""APScheduler wiring. Exactly one scheduler runs per installation: in `waymark run` it is in-process;
in scale-out, `waymark scheduler` takes a PostgreSQL advisory lock, so a second copy waits as a hot
standby instead of firing every job twice."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from backend.runtime import date_triggers
from backend.services import Services

log = logging.getLogger("waymark.scheduler")

ADVISORY_LOCK_ID = 0x5741594D  # "WAYM"
DATE_TRIGGER_MINUTES = 5


def fire_tick(services: Services) -> None:
    """Wake workers: in-process directly, other processes through NOTIFY."""
    if services.engine.dialect.name == "postgresql":
        with services.engine.begin() as conn:
            services.waker.notify(conn)
    else:
        services.waker.notify()


def scan_date_triggers(services: Services) -> None:
    report = date_triggers.scan(services.engine, services.graphs, services.clock.now())
    if report.enrolled:
        log.info("date triggers: %d contacts entered journeys", report.enrolled)
        services.waker.notify()


def configure(scheduler, services: Services) -> None:
    common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
    scheduler.add_job(
        fire_tick, "interval", seconds=services.settings.tick_seconds, args=[services], id="tick", **common
    )
    scheduler.add_job(
        scan_date_triggers,
        "interval",
        minutes=DATE_TRIGGER_MINUTES,
        args=[services],
        id="date_triggers",
        next_run_time=services.clock.now(),
        **common,
    )


def background(services: Services) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    configure(scheduler, services)
    return scheduler


def run_blocking(services: Services) -> None:
    """`waymark scheduler`: hold the advisory lock (PostgreSQL) for as long as this process lives."""
    lock_conn = None
    if services.engine.dialect.name == "postgresql":
        lock_conn = services.engine.connect()
        log.info("waiting for the scheduler lock (another scheduler may be active)")
        lock_conn.exec_driver_sql("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_ID,))
        log.info("scheduler lock acquired")
    scheduler = BlockingScheduler(timezone="UTC")
    configure(scheduler, services)
    try:
        scheduler.start()
    finally:
        if lock_conn is not None:
            lock_conn.close()
