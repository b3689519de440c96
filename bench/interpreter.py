"""Interpreter benchmark: how many contact-steps per second the tick sustains, next to the raw ceiling.

Enrolls N contacts in a published journey ``trigger.manual → condition → tag → wait.duration → send``
and runs the real :class:`~backend.runtime.tick.Ticker` over them twice:

* tick 1 walks every contact trigger → condition → tag → wait (four steps each);
* the clock then moves past the wait, and tick 2 walks wait → send (two steps each; the send only
  inserts an outbox row, nothing is delivered: a null provider).

Per block it reports contact-steps/s, counting the block's own compute time plus a share of the rest
of the tick (claim, contact load, persist, commit) proportional to the block's steps. Next to it, the
ceiling measured in the same run on the same rows: a batched UPDATE of every enrollment row writing the
columns a transition writes, with the same batch size, driver and one transaction per batch, and no
other work. The ratio compares enrollments advanced per second with rows updated per second; a tick
also claims and reads every row, logs four (or two) steps and updates the contact or queues a message,
so it cannot come near 1.

Peak RSS is this process's (``ru_maxrss``, plus a sampled peak per phase); each backend runs in its own
process so the figures do not mix. On PostgreSQL the server's CPU time is read from ``/proc`` when the
server is local, since most of the work happens there.

Not a test; it prints figures. ``--verify`` additionally checks the run's end state and exits non-zero
when anything is off. PostgreSQL: the database named in ``--pg-url`` is DROPPED and recreated.

    python bench/interpreter.py --contacts 1000000 --backend both --verify
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import msgspec
import sqlalchemy as sa

from backend.clock import MovableClock
from backend.db.fastsql import FastSQL, int_array
from backend.db.migrate import upgrade
from backend.db.session import make_engine
from backend.engine.registry import default_registry
from backend.engine.validation import compile_graph
from backend.runtime.enroll import enroll
from backend.runtime.graphs import GraphCache
from backend.runtime.tick import BatchReport, Ticker

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/wmbench"
SEED_CHUNK = 50_000
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

JOURNEY = {
    "schema_version": 1,
    "nodes": [
        {"id": "t", "type": "trigger.manual", "version": 1, "config": {}},
        {
            "id": "c",
            "type": "condition",
            "version": 1,
            "config": {"rule": {"kind": "attribute", "key": "plan", "op": "eq", "value": "pro"}},
        },
        {"id": "tag", "type": "tag", "version": 1, "config": {"add": ["seen"]}},
        {"id": "w", "type": "wait.duration", "version": 1, "config": {"duration": "PT1H"}},
        {"id": "s", "type": "send", "version": 1, "config": {"channel": "email", "template": "welcome"}},
    ],
    "edges": [
        {"id": "e1", "source": "t", "port": "next", "target": "c"},
        {"id": "e2", "source": "c", "port": "yes", "target": "tag"},
        {"id": "e3", "source": "c", "port": "no", "target": "tag"},
        {"id": "e4", "source": "tag", "port": "next", "target": "w"},
        {"id": "e5", "source": "w", "port": "next", "target": "s"},
    ],
    "settings": {"reentry": "never"},
}


def is_pro(i: int) -> bool:
    return i % 2 == 1


def has_newsletter(i: int) -> bool:
    """A third of the contacts already carry a tag, so the tag merge is not always onto an empty list."""
    return i % 3 == 0


# ------------------------------------------------------------------------------------------------
# Memory watching
# ------------------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident set of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssWatcher:
    """Samples the current RSS in the background so each phase gets its own peak (ru_maxrss only
    knows the whole process's)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.phase = "setup"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current_mb(self) -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self._page_mb

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        rss = self.current_mb()
        if rss > self.peaks.get(self.phase, 0.0):
            self.peaks[self.phase] = rss

    def start(self) -> RssWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @contextmanager
    def in_phase(self, name: str) -> Iterator[None]:
        self.sample()
        self.phase = name
        self.sample()
        try:
            yield
        finally:
            self.sample()


# ------------------------------------------------------------------------------------------------
# Setting up a database
# ------------------------------------------------------------------------------------------------


def fresh_database(backend: str, args: argparse.Namespace) -> tuple[str, str | None]:
    """A new, empty database; returns its URL and a directory to delete afterwards."""
    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix="waymark-bench-", dir=args.sqlite_dir)
        return f"sqlite:///{directory}/bench.db", directory
    url = sa.make_url(args.pg_url)
    name = url.database
    admin = make_engine(str(url.set(database="postgres")), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return url.render_as_string(hide_password=False), None


def publish_journey(engine: sa.Engine, now: datetime):
    """Workspace, journey and its published version 1, as publishing stores them."""
    compiled = compile_graph(JOURNEY, default_registry())
    graph = msgspec.to_builtins(compiled.graph)
    with engine.begin() as conn:
        fast = FastSQL(conn)
        ts = fast.dt(now)
        fast.many(
            "INSERT INTO workspaces (id, slug, name, timezone, locale, settings, created_at)"
            " VALUES (1, 'bench', 'Bench', 'UTC', 'en', ?::jsonb, ?)",
            [(fast.json({}), ts)],
        )
        fast.many(
            "INSERT INTO journeys (id, workspace_id, name, description, status, draft, draft_revision,"
            " published_version_id, created_at, updated_at)"
            " VALUES (1, 1, 'Bench', '', 'published', ?::jsonb, 0, 1, ?, ?)",
            [(fast.json(graph), ts, ts)],
        )
        fast.many(
            "INSERT INTO journey_versions (id, workspace_id, journey_id, number, graph, status, published_at, note)"
            " VALUES (1, 1, 1, 1, ?::jsonb, 'published', ?, '')",
            [(fast.json(graph), ts)],
        )
    return compiled


def contact_rows(fast: FastSQL, start: int, stop: int, now: datetime) -> Iterator[tuple]:
    ts = fast.dt(now)
    empty_list, empty_dict = fast.json([]), fast.json({})
    pro = fast.json({"plan": "pro", "country": "PL", "signup_source": "landing"})
    free = fast.json({"plan": "free", "country": "ES", "signup_source": "landing"})
    newsletter = fast.json(["newsletter"])
    for i in range(start, stop):
        yield (
            i,
            1,
            f"user-{i}",
            f"user-{i}@example.com",
            empty_list,
            empty_dict,
            pro if is_pro(i) else free,
            newsletter if has_newsletter(i) else empty_list,
            "en",
            ts,
            ts,
        )


CONTACT_COLUMNS = (
    "id",
    "workspace_id",
    "external_id",
    "email",
    "push_tokens",
    "consent",
    "attributes",
    "tags",
    "locale",
    "created_at",
    "updated_at",
)


def seed_contacts(engine: sa.Engine, n: int, now: datetime) -> None:
    """Raw bulk insert (COPY on PostgreSQL), streamed in chunks so memory stays flat."""
    for start in range(1, n + 1, SEED_CHUNK):
        stop = min(start + SEED_CHUNK, n + 1)
        with engine.begin() as conn:
            fast = FastSQL(conn)
            if fast.postgres:
                fast.copy_rows("contacts", CONTACT_COLUMNS, contact_rows(fast, start, stop, now))
            else:
                marks = ", ".join("?" * len(CONTACT_COLUMNS))
                conn.connection.driver_connection.executemany(
                    f"INSERT INTO contacts ({', '.join(CONTACT_COLUMNS)}) VALUES ({marks})",
                    contact_rows(fast, start, stop, now),
                )
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql(f"SELECT setval('contacts_id_seq', {n})")


def enroll_all(engine: sa.Engine, compiled, n: int, now: datetime) -> None:
    for start in range(1, n + 1, SEED_CHUNK):
        with engine.begin() as conn:
            enroll(
                conn,
                workspace_id=1,
                journey_id=1,
                version_id=1,
                graph=compiled,
                trigger_node="t",
                contact_ids=range(start, min(start + SEED_CHUNK, n + 1)),
                now=now,
            )


def analyze(engine: sa.Engine) -> None:
    """Fresh planner statistics after the bulk load, as autovacuum would eventually provide."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


# ------------------------------------------------------------------------------------------------
# Measuring
# ------------------------------------------------------------------------------------------------


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu_seconds(database: str) -> float | None:
    """CPU used so far by a local PostgreSQL server on this benchmark's behalf: the backends connected
    to ``database`` plus the WAL writer, checkpointer and background writer (other databases' backends
    are left out; short-lived autovacuum workers are missed). None when the server is not local."""
    shared = ("checkpointer", "background writer", "walwriter")
    total = 0
    found = False
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                title = fh.read().replace(b"\0", b" ").decode(errors="replace")
            if not title.startswith("postgres: "):
                continue
            found = True
            if f" {database} " not in title and not any(name in title for name in shared):
                continue
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK") if found else None


def run_tick(ticker: Ticker) -> tuple[BatchReport, float, dict]:
    """The tick's totals, wall seconds, and CPU seconds of this process and of a local PostgreSQL server."""
    cpu = cpu_seconds()
    database = ticker.engine.url.database
    server = server_cpu_seconds(database) if ticker.is_postgres else None
    started = time.perf_counter()
    report = ticker.run_until_idle()
    wall = time.perf_counter() - started
    used = {"cpu_s": cpu_seconds() - cpu, "load_average": os.getloadavg()[0]}
    if server is not None:
        used["server_cpu_s"] = server_cpu_seconds(database) - server
    return report, wall, used


def _per_cpu_second(steps: int, used: dict) -> dict:
    """Steps per CPU-second of everything that worked on them (this process, plus the database server
    when it is local): a figure that other load on a shared machine moves far less than wall time."""
    cpu = used["cpu_s"] + (used.get("server_cpu_s") or 0.0)
    return {"steps_per_cpu_s": steps / cpu if cpu else 0.0}


def tick_figures(report: BatchReport, wall: float) -> dict:
    """Per block: its own compute time plus a share, in proportion to its steps, of the rest of the
    batches' time (claim, load, persist, commit). With concurrent batches the batch times add up to
    more than the wall time, so every block's share is scaled back to the wall clock."""
    compute = sum(report.seconds_per_block.values())
    busy = max(report.seconds, compute) or 1.0
    shared = busy - compute
    steps = report.steps or 1
    blocks = {}
    for block, count in report.steps_per_block.items():
        own = report.seconds_per_block.get(block, 0.0)
        share = shared * count / steps
        seconds = (own + share) * wall / busy
        blocks[block] = {
            "steps": count,
            "compute_s": own,
            "shared_s": share,
            "seconds": seconds,
            "steps_per_s": count / seconds if seconds else 0.0,
        }
    return {
        "seconds": wall,
        "batch_seconds": report.seconds,
        "enrollments": report.claimed,
        "steps": report.steps,
        "messages": report.messages,
        "steps_per_s": report.steps / wall if wall else 0.0,
        "enrollments_per_s": report.claimed / wall if wall else 0.0,
        "phases_s": dict(report.phase_seconds),
        "blocks": blocks,
    }


def measure_ceiling(engine: sa.Engine, n: int, batch_size: int, now: datetime) -> dict:
    """The raw write speed of the database on the same rows: every enrollment updated once, writing the
    columns a transition writes (the indexed ``node_id``, ``due_at`` and ``status`` among them), in
    batches of the same size on the same driver, one transaction per batch, with the least client work
    possible (one statement per batch, the ids as one array). Nothing is read, decided or logged."""
    due = now + timedelta(hours=1)
    with engine.connect() as conn:
        low, high = conn.exec_driver_sql("SELECT min(id), max(id) FROM enrollments").one()
    rows = 0
    started = time.perf_counter()
    for first in range(low, high + 1, batch_size):
        ids = range(first, min(first + batch_size, high + 1))
        with engine.begin() as conn:
            fast = FastSQL(conn)
            where = "= ANY(?::bigint[])" if fast.postgres else "IN (SELECT value FROM json_each(?))"
            id_array = int_array(ids) if fast.postgres else "[" + ",".join(map(str, ids)) + "]"
            fast.execute(
                "UPDATE enrollments SET node_id = ?, node_entered_at = ?, due_at = ?, wait_event = NULL,"
                " wake_event = NULL, state = NULL, status = 'active', finished_at = NULL, exit_reason = NULL"
                f" WHERE id {where}",
                ("w", fast.dt(now), fast.dt(due), id_array),
            )
        rows += len(ids)
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds if seconds else 0.0}


# ------------------------------------------------------------------------------------------------
# Verifying
# ------------------------------------------------------------------------------------------------


def verify(engine: sa.Engine, n: int, tick1: dict, tick2: dict) -> list[str]:
    """The invariants of a correct run; returns what failed."""
    problems: list[str] = []

    def expect(what: str, got, want) -> None:
        if got != want:
            problems.append(f"{what}: got {got!r}, expected {want!r}")

    pro = sum(1 for i in range(1, n + 1) if is_pro(i))
    expected_counts = {
        ("t", "next"): n,
        ("c", "yes"): pro,
        ("c", "no"): n - pro,
        ("tag", "next"): n,
        ("w", "wait"): n,
        ("w", "next"): n,
        ("s", "next"): n,
    }
    expect("tick 1 enrollments", tick1["enrollments"], n)
    expect("tick 1 steps", tick1["steps"], 4 * n)
    expect("tick 2 enrollments", tick2["enrollments"], n)
    expect("tick 2 steps", tick2["steps"], 2 * n)
    expect("tick 2 messages", tick2["messages"], n)
    with engine.connect() as conn:
        fast = FastSQL(conn)
        q = conn.exec_driver_sql
        expect("enrollments", q("SELECT count(*) FROM enrollments").scalar(), n)
        expect(
            "enrollments completed at s (finished, not due, no wait)",
            q(
                "SELECT count(*) FROM enrollments WHERE status = 'completed' AND node_id = 's'"
                " AND due_at IS NULL AND finished_at IS NOT NULL AND wait_event IS NULL"
            ).scalar(),
            n,
        )
        expect("outbox rows", q("SELECT count(*) FROM outbox").scalar(), n)
        expect(
            "outbox rows from s, pending, keyed per enrollment",
            q(
                "SELECT count(*) FROM outbox o JOIN enrollments e ON e.id = o.enrollment_id"
                " WHERE o.node_id = 's' AND o.status = 'pending' AND o.contact_id = e.contact_id"
                " AND o.idempotency_key = 'enr:' || e.id || ':s'"
            ).scalar(),
            n,
        )
        counters = {
            (node, outcome): count
            for node, outcome, count in q("SELECT node_id, outcome, count FROM node_counters WHERE journey_id = 1")
        }
        expect("node_counters", counters, expected_counts)
        # Per expected (node, outcome) through the journey/node index, and a total: no big GROUP BY
        # sort (SQLite sorts in memory here, which would dominate the process's peak RSS).
        logged = {
            key: q(
                fast.sql("SELECT count(*) FROM step_log WHERE journey_id = 1 AND node_id = ? AND outcome = ?"), key
            ).scalar()
            for key in expected_counts
        }
        expect("step_log per node and outcome", logged, expected_counts)
        expect("step_log rows", q("SELECT count(*) FROM step_log").scalar(), sum(expected_counts.values()))
        # One outbox row per contact, checked with a bitmap rather than count(DISTINCT) for the same reason.
        seen = bytearray(n + 1)
        duplicates = 0
        last = 0
        while True:
            rows = q(
                fast.sql("SELECT id, contact_id FROM outbox WHERE id > ? ORDER BY id LIMIT ?"), (last, SEED_CHUNK)
            ).all()
            if not rows:
                break
            for _id, contact_id in rows:
                duplicates += seen[contact_id]
                seen[contact_id] = 1
            last = rows[-1][0]
        expect("contacts with more than one outbox row", duplicates, 0)
        expect("contacts with an outbox row", sum(seen), n)
        # Every contact tagged exactly once, earlier tags kept, the list sorted as the tick stores it.
        bad = 0
        first_bad = None
        last = 0
        while True:
            rows = q(
                fast.sql("SELECT id, tags FROM contacts WHERE id > ? ORDER BY id LIMIT ?"), (last, SEED_CHUNK)
            ).all()
            if not rows:
                break
            for cid, tags in rows:
                tags = fast.read_json(tags)
                want = ["newsletter", "seen"] if has_newsletter(cid) else ["seen"]
                if tags != want:
                    bad += 1
                    first_bad = first_bad or (cid, tags)
            last = rows[-1][0]
        if bad:
            problems.append(f"{bad} contacts with wrong tags, e.g. contact {first_bad[0]}: {first_bad[1]!r}")
    return problems


# ------------------------------------------------------------------------------------------------
# One backend
# ------------------------------------------------------------------------------------------------


def run_backend(backend: str, args: argparse.Namespace) -> dict:
    n = args.contacts
    watcher = RssWatcher().start()
    url, cleanup = fresh_database(backend, args)
    engine = make_engine(url)
    result: dict = {"backend": backend, "contacts": n, "batch_size": args.batch_size}
    try:
        with engine.connect() as conn:
            result["server"] = (
                "PostgreSQL " + conn.exec_driver_sql("SHOW server_version").scalar().split()[0]
                if backend == "postgresql"
                else "SQLite " + sqlite3.sqlite_version
            )
        upgrade(engine)
        clock = MovableClock(START)
        now = clock.now()
        compiled = publish_journey(engine, now)

        log(f"[{backend}] seeding {n:,} contacts")
        with watcher.in_phase("seed"):
            started = time.perf_counter()
            seed_contacts(engine, n, now)
            result["seed_s"] = time.perf_counter() - started
        log(f"[{backend}] enrolling")
        with watcher.in_phase("enroll"):
            started = time.perf_counter()
            enroll_all(engine, compiled, n, now)
            result["enroll_s"] = time.perf_counter() - started
            analyze(engine)

        concurrency = args.pg_concurrency if backend == "postgresql" else 1
        result["concurrent_batches"] = concurrency
        ticker = Ticker(
            engine, GraphCache(default_registry()), clock, batch_size=args.batch_size, concurrent_batches=concurrency
        )
        ticker.profile = True
        log(f"[{backend}] tick 1: trigger → condition → tag → wait")
        with watcher.in_phase("tick1"):
            report, wall, used = run_tick(ticker)
        result["tick1"] = tick_figures(report, wall) | used | _per_cpu_second(report.steps, used)
        clock.advance(hours=2)
        log(f"[{backend}] tick 2: wait → send")
        with watcher.in_phase("tick2"):
            report, wall, used = run_tick(ticker)
        result["tick2"] = tick_figures(report, wall) | used | _per_cpu_second(report.steps, used)

        if args.verify:
            log(f"[{backend}] verifying")
            with watcher.in_phase("verify"):
                result["problems"] = verify(engine, n, result["tick1"], result["tick2"])

        log(f"[{backend}] ceiling: batched UPDATE of the same rows")
        with watcher.in_phase("ceiling"):
            result["ceiling"] = measure_ceiling(engine, n, args.batch_size, now)
        ceiling = result["ceiling"]["rows_per_s"]
        for tick in ("tick1", "tick2"):
            result[tick]["ratio_to_ceiling"] = result[tick]["enrollments_per_s"] / ceiling if ceiling else 0.0
        steps = result["tick1"]["steps"] + result["tick2"]["steps"]
        seconds = result["tick1"]["seconds"] + result["tick2"]["seconds"]
        result["overall_steps_per_s"] = steps / seconds if seconds else 0.0
    finally:
        engine.dispose()
        watcher.stop()
        if cleanup and not args.keep:
            shutil.rmtree(cleanup, ignore_errors=True)
    result["rss_mb"] = {"peak": peak_rss_mb(), **{k: round(v, 1) for k, v in watcher.peaks.items()}}
    return result


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# Printing
# ------------------------------------------------------------------------------------------------

TARGETS = {"sqlite": 100_000, "postgresql": 50_000}
TARGET_BLOCKS = ("condition", "tag", "wait.duration")


def print_table(results: list[dict]) -> None:
    first = results[0]
    print()
    print(
        f"Waymark interpreter benchmark: {first['contacts']:,} contacts, batch {first['batch_size']:,},"
        f" {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    names = [r["backend"] for r in results]
    width = 22
    print(f"{'':34}" + "".join(f"{name:>{width}}" for name in names))

    def line(label: str, values: list[str]) -> None:
        print(f"{label:34}" + "".join(f"{v:>{width}}" for v in values))

    line("server", [r["server"] for r in results])
    line("batches in flight", [str(r["concurrent_batches"]) for r in results])
    line("seed contacts (raw bulk insert)", [f"{r['seed_s']:.1f} s" for r in results])
    line("enroll", [f"{r['enroll_s']:.1f} s" for r in results])
    for tick, title, blocks in (
        ("tick1", "tick 1: trigger→condition→tag→wait", ("trigger.manual", "condition", "tag", "wait.duration")),
        ("tick2", "tick 2: wait→send (outbox)", ("wait.duration", "send")),
    ):
        print(title)
        for block in blocks:
            line(
                f"  {block} steps/s",
                [f"{r[tick]['blocks'].get(block, {}).get('steps_per_s', 0):,.0f}" for r in results],
            )
        line("  all steps/s", [f"{r[tick]['steps_per_s']:,.0f}" for r in results])
        line("  enrollments/s", [f"{r[tick]['enrollments_per_s']:,.0f}" for r in results])
        line("  ratio to ceiling (enrollments)", [f"{r[tick]['ratio_to_ceiling']:.2f}" for r in results])
        line("  wall time", [f"{r[tick]['seconds']:.1f} s" for r in results])
        line("  bench process CPU time", [f"{r[tick]['cpu_s']:.1f} s" for r in results])
        line("  database server CPU time", [_maybe(r[tick].get("server_cpu_s"), "{:.1f} s") for r in results])
        line("  machine load average at the end", [f"{r[tick]['load_average']:.1f}" for r in results])
        line("  contact-steps per CPU-second", [f"{r[tick]['steps_per_cpu_s']:,.0f}" for r in results])
        phases = sorted({p for r in results for p in r[tick]["phases_s"]})
        for phase in phases:
            line(f"    {phase}", [f"{r[tick]['phases_s'].get(phase, 0):.1f} s" for r in results])
    line("overall steps/s (both ticks)", [f"{r['overall_steps_per_s']:,.0f}" for r in results])
    line("ceiling: batched UPDATE rows/s", [f"{r['ceiling']['rows_per_s']:,.0f}" for r in results])
    line("peak RSS (ru_maxrss)", [f"{r['rss_mb']['peak']:.0f} MB" for r in results])
    for phase in ("seed", "enroll", "tick1", "tick2", "verify"):
        line(f"  sampled peak in {phase}", [f"{r['rss_mb'].get(phase, 0):.0f} MB" for r in results])
    print()
    for r in results:
        target = TARGETS[r["backend"]]
        slow = [
            f"{b} {r['tick1']['blocks'][b]['steps_per_s']:,.0f}"
            for b in TARGET_BLOCKS
            if r["tick1"]["blocks"].get(b, {}).get("steps_per_s", 0) < target
        ]
        verdict = "met" if not slow else "MISSED (" + ", ".join(slow) + ")"
        rss = "met" if r["rss_mb"]["peak"] < 500 else "MISSED"
        print(f"{r['backend']}: ≥{target:,} steps/s for condition/tag/wait: {verdict}; RSS < 500 MB: {rss}")
        if "problems" in r:
            if r["problems"]:
                print(f"{r['backend']}: VERIFY FAILED")
                for problem in r["problems"]:
                    print(f"  - {problem}")
            else:
                print(f"{r['backend']}: verify ok (tags, completions, outbox, node_counters, step_log)")


# ------------------------------------------------------------------------------------------------


def print_markdown(results: list[dict]) -> None:
    """The README's table: one column per run."""

    def title(r: dict) -> str:
        name = "SQLite" if r["backend"] == "sqlite" else "PostgreSQL"
        if r["backend"] == "postgresql":
            name += f", {r['concurrent_batches']} batch{'es' if r['concurrent_batches'] > 1 else ''} in flight"
        return name

    def row(label: str, values: list[str]) -> None:
        print(f"| {label} | " + " | ".join(values) + " |")

    def rate(value: float) -> str:
        return f"{value:,.0f}"

    row("", [title(r) for r in results])
    print("|---|" + "---:|" * len(results))
    row("tick 1 trigger→condition→tag→wait, contact-steps/s", [rate(r["tick1"]["steps_per_s"]) for r in results])
    for block in TARGET_BLOCKS:
        row(f"  {block}, contact-steps/s", [rate(r["tick1"]["blocks"][block]["steps_per_s"]) for r in results])
    row("tick 2 wait→send (outbox), contact-steps/s", [rate(r["tick2"]["steps_per_s"]) for r in results])
    row("overall, contact-steps/s", [rate(r["overall_steps_per_s"]) for r in results])
    row("ceiling: batched UPDATE, rows/s", [rate(r["ceiling"]["rows_per_s"]) for r in results])
    row(
        "Waymark ÷ ceiling (enrollments/s, tick 1 / tick 2)",
        [f"{r['tick1']['ratio_to_ceiling']:.2f} / {r['tick2']['ratio_to_ceiling']:.2f}" for r in results],
    )
    row("peak RSS of the bench process", [f"{r['rss_mb']['peak']:.0f} MB" for r in results])
    row(
        "tick 1 wall / bench CPU / server CPU, s",
        [
            f"{t['seconds']:.0f} / {t['cpu_s']:.0f} / {_maybe(t.get('server_cpu_s'), '{:.0f}')}"
            for t in (r["tick1"] for r in results)
        ],
    )
    row(
        "tick 1 contact-steps per CPU-second (bench + server)",
        [rate(r["tick1"]["steps_per_cpu_s"]) for r in results],
    )
    row("machine load average (after tick 1)", [f"{r['tick1']['load_average']:.1f}" for r in results])


def _maybe(value, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000, help="contacts to enroll (default 1,000,000)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--pg-url", default=os.environ.get("WAYMARK_BENCH_PG_URL", DEFAULT_PG_URL), help="dropped and recreated!"
    )
    parser.add_argument("--sqlite-dir", default=None, help="where the SQLite file goes (default: system temp)")
    parser.add_argument("--batch-size", type=int, default=Ticker.DEFAULT_BATCH_SIZE)
    parser.add_argument(
        "--pg-concurrency",
        type=int,
        default=1,
        help="batches in flight at once on PostgreSQL (Ticker.concurrent_batches; default 1)",
    )
    parser.add_argument("--verify", action="store_true", help="check the end state; exit 1 if wrong")
    parser.add_argument("--json", action="store_true", help="print machine-readable results instead")
    parser.add_argument("--save", metavar="PATH", help="also write the machine-readable results to PATH")
    parser.add_argument("--load", nargs="+", metavar="PATH", help="print results saved with --save instead of running")
    parser.add_argument("--markdown", action="store_true", help="print the summary as a Markdown table (README)")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.load:
        results = []
        for path in args.load:
            with open(path) as fh:
                results.extend(json.load(fh))
    elif args.backend == "both":
        # One process per backend, so each one's peak RSS is its own.
        results = []
        for backend in ("sqlite", "postgresql"):
            command = [sys.executable, os.path.abspath(__file__), *_passthrough(args), "--backend", backend, "--child"]
            output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
            results.append(json.loads(output))
    else:
        results = [run_backend(args.backend, args)]
    if args.save and not args.child:
        with open(args.save, "w") as fh:
            json.dump(results, fh, indent=2)
    if args.child or args.json:
        print(json.dumps(results[0] if args.child else results, indent=None if args.child else 2))
    elif args.markdown:
        print_markdown(results)
    else:
        print_table(results)
    failed = any(r.get("problems") for r in results)
    return 1 if failed else 0


def _passthrough(args: argparse.Namespace) -> list[str]:
    out = ["--contacts", str(args.contacts), "--pg-url", args.pg_url, "--batch-size", str(args.batch_size)]
    out += ["--pg-concurrency", str(args.pg_concurrency)]
    if args.sqlite_dir:
        out += ["--sqlite-dir", args.sqlite_dir]
    if args.verify:
        out.append("--verify")
    if args.keep:
        out.append("--keep")
    return out


if __name__ == "__main__":
    sys.exit(main())
