"""Engagement score benchmark (prints figures; not a test), on SQLite (default, a temp dir) or PostgreSQL
(``--database-url``; that database is DROPPED and recreated).

    python bench/scores.py --contacts 20000
    python bench/scores.py --database-url postgresql://postgres@127.0.0.1:5432/bench_scores

The data — ``--contacts`` contacts and ten times as many events over the last 90 days (email opens and
clicks, page views, logins, purchases, a few unsubscribes; busy contacts do more) — is bulk-loaded with
bench/audience.py's loader. Three scores, each next to a baseline measured in the same run:

  (a) full recompute — each score is saved and built by the worker's backfill step (the percentile
      score also gets its bands and the re-check that moves contacts into them); next to it, one plain
      SQL aggregate of the same weighted (and decayed) sum over the raw events, and the run checks that
      every contact's points and level agree with it;
  (b) ingestion — batches of events through the one event path (``backend/contacts/events.py``) before
      any score exists and again with the three active (target: at least 0.7 times the rate), per second of
      wall time and per CPU-second of this process;
  (c) re-check — the clock moves a day on: the time-based job re-checks the contacts whose window slid
      or whose decay crosses a level, compared with recomputing everyone (the (a) times);
  (d) peak RSS of the process.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec

from backend.audience import scores, scoring
from backend.audience.scoring import ScoreSpec
from backend.config import load_settings
from backend.contacts import events as event_path
from backend.db.fastsql import FastSQL
from backend.db.migrate import upgrade
from backend.db.session import make_engine
from backend.services import Services
from backend.workspaces import create_workspace
from bench.audience import ShiftedClock, _fresh_pg, build_all, ingest, load, peak_rss_mb, recheck

EVENTS_PER_CONTACT = 10
MIX = (
    ["email_opened"] * 30
    + ["email_clicked"] * 10
    + ["page_view"] * 30
    + ["login"] * 18
    + ["purchase"] * 10
    + ["unsubscribed"] * 2
)

SCORES = [
    (
        "email_engagement",
        "Email engagement",
        {
            "events": [{"event": "email_opened", "weight": 3}, {"event": "email_clicked", "weight": 5}],
            "fading": {"mode": "window", "window": "P30D"},
            "bands": {"mode": "thresholds", "thresholds": [1, 3, 6, 10, 15, 21, 28, 36, 45]},
        },
    ),
    (
        "recent_activity",
        "Recent activity",
        {
            "events": [
                {"event": "email_opened", "weight": 1},
                {"event": "email_clicked", "weight": 3},
                {"event": "login", "weight": 2},
                {"event": "purchase", "weight": 8},
            ],
            "fading": {"mode": "decay", "half_life": "P14D"},
            "bands": {"mode": "thresholds", "thresholds": [1, 2, 4, 7, 11, 16, 22, 30, 40]},
        },
    ),
    (
        "loyalty",
        "Loyalty",
        {
            "events": [
                {"event": "purchase", "weight": 5},
                {"event": "email_clicked", "weight": 2},
                {"event": "unsubscribed", "weight": -10},
            ],
            "fading": {"mode": "window", "window": "P90D"},
            "bands": {"mode": "percentile"},
        },
    ),
]


def sql_points(fast: FastSQL, ws: int, spec: ScoreSpec, now) -> tuple[dict[int, float], float]:
    """The same weighted sum per contact, written by hand from the raw events; and its time."""
    weights: dict[str, float] = {}
    for line in spec.events:  # the benchmark's scores have no filters or channels: a CASE is enough
        weights[line.event] = weights.get(line.event, 0) + line.weight
    case = "CASE e.name " + " ".join(f"WHEN '{name}' THEN {w!r}" for name, w in weights.items()) + " END"
    if spec.fading.mode == "decay":
        half_life = spec.fading.half_life.total_seconds()
        if fast.postgres:
            age = "extract(epoch FROM (CAST(? AS timestamptz) - e.occurred_at))"
        else:
            age = "((julianday(?) - julianday(e.occurred_at)) * 86400.0)"
        value, extra = f"{case} * power(0.5, {age} / {half_life!r})", [fast.dt(now)]
    else:
        value, extra = case, []
    names = sorted(weights)
    sql = (
        f"SELECT e.contact_id, sum({value}) FROM events e WHERE e.workspace_id = ?"
        f" AND e.name IN ({', '.join('?' * len(names))}) AND e.occurred_at >= ? AND e.occurred_at <= ?"
        " GROUP BY e.contact_id"
    )
    started = time.perf_counter()
    rows = fast.all(sql, (*extra, ws, *names, fast.dt(now - spec.reach()), fast.dt(now)))
    return {cid: float(points) for cid, points in rows}, time.perf_counter() - started


def agree(fast: FastSQL, score_id: int, spec: ScoreSpec, expected: dict[int, float]) -> str:
    """'' when every contact's stored points and level match the SQL sum, else what differs."""
    stored = {
        cid: (points, level)
        for cid, points, level in fast.all(
            "SELECT contact_id, points, level FROM contact_scores WHERE score_id = ?", (score_id,)
        )
    }
    if stored.keys() != expected.keys():
        return f"{len(stored.keys() ^ expected.keys()):,} contacts scored on one side only"
    cutoffs = scoring.deciles(list(expected.values())) if spec.bands.mode == "percentile" else None
    points_off = sum(1 for cid, (p, _l) in stored.items() if abs(p - expected[cid]) > 1e-6 * max(1.0, abs(p)))
    levels_off = sum(1 for cid, (_p, lv) in stored.items() if scoring.level(spec, expected[cid], cutoffs) != lv)
    if points_off or levels_off:
        return f"{points_off:,} contacts' points and {levels_off:,} levels differ"
    return ""


def recompute(services: Services, ws: int) -> list[tuple[str, float, float, int, str]]:
    """Save each score, build it for everyone, and check it against the plain SQL sum."""
    out = []
    for key, name, raw in SCORES:
        now = services.clock.frozen = services.clock.now()
        spec = msgspec.convert(raw, ScoreSpec, strict=False)
        started = time.perf_counter()
        with services.engine.begin() as conn:
            score_id = scores.create(conn, ws, name=name, key=key, spec=spec, now=now)
        build_all(services)
        if spec.bands.mode == "percentile":
            # Bands are cut once everyone has points (the worker's upkeep); the contacts they move are
            # made due now and moved by the re-check, as the worker would.
            scores.upkeep(services.engine, now)
            while event_path.run_rechecks(services):
                pass
        built = time.perf_counter() - started
        with services.engine.connect() as conn:
            fast = FastSQL(conn)
            expected, baseline = sql_points(fast, ws, spec, now)
            problem = agree(fast, score_id, spec, expected)
        flag = "points and levels agree with SQL" if not problem else "MISMATCH: " + problem
        print(
            f"  score {key:18s} built in {built:7.2f} s   plain SQL aggregate {baseline:6.2f} s"
            f"   {len(expected):,} contacts scored; {flag}"
        )
        out.append((key, built, baseline, len(expected), problem))
    services.clock.frozen = None
    return out


def score_changes(services: Services) -> int:
    with services.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM events WHERE name = 'score_changed'").scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL (the database is dropped and recreated)")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=20, help="ingestion batches per measurement")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    n = args.contacts

    tmp = tempfile.mkdtemp(prefix="waymark-scores-bench-")
    if args.database_url:
        _fresh_pg(args.database_url)
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    settings = load_settings(secret_key="b" * 32, var_dir=tmp, database_url=url, max_ingest_per_second=0)
    services = Services.create(settings, engine=engine, clock=ShiftedClock())
    try:
        with services.sessions.begin() as session:
            ws = create_workspace(session, "bench", "Bench").id
        print(
            f"database: {engine.dialect.name}; {n:,} contacts, {EVENTS_PER_CONTACT * n:,} events;"
            f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        timings = load(services, ws, n, services.clock.now(), per_contact=EVENTS_PER_CONTACT, mix=MIX, packages=False)
        print("load: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        with engine.connect() as conn:
            first_id = conn.exec_driver_sql(f"SELECT min(id) FROM contacts WHERE workspace_id = {ws}").scalar_one()

        events_total = args.batches * args.batch_size
        off_rate, off_cpu = ingest(services, ws, n, first_id, args.batches, args.batch_size, MIX)
        print(
            f"(b) ingestion with no score: {off_rate:,.0f} events/s"
            f" ({off_cpu:,.0f} per CPU-second of this process; {events_total:,} events)"
        )

        print("(a) full recompute, each next to a plain SQL aggregate of the same weighted sum in this run:")
        rows = recompute(services, ws)
        built_total = sum(r[1] for r in rows)
        print(
            f"    all three built in {built_total:.1f} s (plain SQL {sum(r[2] for r in rows):.1f} s);"
            f" {'all agree' if not any(r[4] for r in rows) else 'MISMATCHES'}"
        )

        on_rate, on_cpu = ingest(services, ws, n, first_id, args.batches, args.batch_size, MIX)
        print(
            f"(b) ingestion with the three scores: {on_rate:,.0f} events/s, {on_rate / off_rate:.2f}× the rate"
            f" with none (target ≥ 0.7); per CPU-second {on_cpu:,.0f}, {on_cpu / off_cpu:.2f}×"
        )

        changes_before = score_changes(services)
        visited, _segment_changes, elapsed, pending = recheck(services)
        print(
            f"(c) a day later, the re-check visited {visited:,} of {n:,} contacts ({pending:,} had a re-check"
            f" time) in {elapsed:.2f} s ({visited / max(elapsed, 1e-9):,.0f} contacts/s),"
            f" {score_changes(services) - changes_before:,} level changes;"
            f" recomputing everyone is (a)'s {built_total:.1f} s"
        )
        print(f"(d) peak RSS {peak_rss_mb():.0f} MB")
    finally:
        engine.dispose()


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
