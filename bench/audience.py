"""Audience benchmark (prints figures; not a test): segments and computed properties over a large
contact base, on SQLite (default, a temp dir) or PostgreSQL (``--database-url``; that database is
DROPPED and recreated).

    python bench/audience.py --contacts 20000
    python bench/audience.py --database-url postgresql://postgres@127.0.0.1:5432/bench_audience

The data (``--contacts`` contacts, five times as many events over the last 90 days, about half of the
contacts with a package) is loaded with bulk SQL, not the API. Then, each next to a baseline measured
in the same run:

  (a) backfill — 5 computed properties and 20 segments (attributes, tags, event counts in a window,
      package criteria, computed properties, one segment of segments) are saved one after another and
      built by the worker's backfill step; each time is shown next to a plain SQL COUNT of the same
      predicate (written by hand, from the raw tables), and the sizes must agree;
  (b) ingestion — batches of events through the one event path (``backend/contacts/events.py``) before
      any definition exists and again with all of them active (target: at least half the rate);
  (c) latency — a rental event makes a contact's ``rentals_30d`` reach 3, which puts them in a segment
      whose journey sends an email: from the event's commit to the message arriving at a local SMTP
      server, through a real worker thread (p50 / p95; target p95 < 2 s);
  (d) re-check — the clock moves a day on: the time-based job re-checks only the contacts whose
      windows slid (``audience_checks``), compared with re-evaluating everyone (the backfill times);
  (e) peak RSS of the process (target < 500 MB).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec
import sqlalchemy as sa

from backend.audience import live, properties, segments
from backend.audience.computed import ComputedSpec
from backend.audience.definitions import parse_rule
from backend.clock import Clock
from backend.config import load_settings
from backend.contacts import events as event_path
from backend.db.fastsql import FastSQL, copy_field
from backend.db.migrate import upgrade
from backend.db.models import Event, Journey
from backend.db.session import make_engine
from backend.runtime import publishing
from backend.runtime.worker import Worker
from backend.services import Services
from backend.templates import service as template_service
from backend.workspaces import create_workspace
from tests.smtp_sink import SmtpSink

DAY = timedelta(days=1)
_json = msgspec.json.encode

PLANS = ["free"] * 6 + ["pro"] * 3 + ["business"]
COUNTRIES = ["PL", "DE", "ES", "FR", "IT", "CN", "US", "GB"]
EVENT_MIX = ["page_view"] * 40 + ["login"] * 25 + ["rental"] * 15 + ["purchase"] * 12 + ["support_ticket"] * 8
PACKAGES = ["streaming_basic", "streaming_plus", "sport_pack", "cinema_30"]


REWARD_MJML = (
    "<mjml><mj-body><mj-section><mj-column><mj-text>Thanks for your third rental this month,"
    " {{ contact.first_name }}!</mj-text></mj-column></mj-section></mj-body></mjml>"
)


class ShiftedClock(Clock):
    """Real time plus an offset the benchmark can move (a day on, for the re-check)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.frozen: datetime | None = None
        """Set while backfills run, so that they and the SQL counts next to them share one "now"."""

    def now(self) -> datetime:
        return self.frozen or datetime.now(UTC) + self.offset


# -------------------------------------------------------------------------------------------------
# Data
# -------------------------------------------------------------------------------------------------


def _contact_rows(n: int, now: datetime, rng: random.Random) -> Iterator[tuple]:
    for i in range(n):
        tags = [t for t, p in (("vip", 0.05), ("beta", 0.10), ("churn_risk", 0.08)) if rng.random() < p]
        attributes = {
            "first_name": f"Name{i}",
            "plan": rng.choice(PLANS),
            "country": rng.choice(COUNTRIES),
            "age": rng.randint(18, 70),
            "signup_at": (now - rng.randint(0, 400) * DAY).date().isoformat(),
            "newsletter": rng.random() < 0.5,
        }
        yield f"u{i}", f"c{i}@example.com", _json(attributes).decode(), _json(tags).decode()


def _event_rows(
    n: int, now: datetime, rng: random.Random, per_contact: int = 5, mix: list[str] = EVENT_MIX
) -> Iterator[tuple]:
    """``per_contact`` events per contact on average, names drawn from ``mix``; activity is skewed (low
    ids do more), as in real bases."""
    for _ in range(per_contact * n):
        cid = int(n * rng.random() ** 2)
        name = rng.choice(mix)
        if name == "purchase":
            props = {"amount": rng.randint(5, 500)}
        elif name == "rental":
            props = {"car": rng.choice(("mini", "tesla", "van"))}
        elif name == "page_view":
            props = {"path": rng.choice(("/", "/pricing", "/cars", "/help"))}
        else:
            props = {}
        at = now - timedelta(seconds=rng.randint(60, 90 * 86400), microseconds=rng.randint(1, 999_999))
        yield cid, name, _json(props).decode(), at


def _subscription_rows(n: int, now: datetime, rng: random.Random) -> Iterator[tuple]:
    for cid in range(n):
        if rng.random() >= 0.5:
            continue
        name = rng.choice(PACKAGES)
        days = 30 if name == "cinema_30" or rng.random() < 0.3 else 365
        start = now - rng.randint(0, days * 2) * DAY - timedelta(hours=rng.randint(0, 23))
        before = rng.random() < 0.5
        renew = before if rng.random() < 0.7 else not before
        status = "active" if rng.random() < 0.8 else "cancelled"
        yield cid, name, status, start, start + days * DAY, f"P{days}D", renew, before


def load(
    services: Services,
    workspace_id: int,
    n: int,
    now: datetime,
    *,
    per_contact: int = 5,
    mix: list[str] = EVENT_MIX,
    packages: bool = True,
) -> dict[str, float]:
    """Bulk inserts: COPY on PostgreSQL, executemany on SQLite, in chunks (memory stays flat). Other
    benchmarks (bench/scores.py) choose how many events per contact, their names, and no packages."""
    rng = random.Random(8)
    timings: dict[str, float] = {}
    engine = services.engine
    with engine.begin() as conn:
        fast = FastSQL(conn)
        started = time.perf_counter()
        first_id = _insert_contacts(fast, workspace_id, n, now, rng)
        timings["contacts"] = time.perf_counter() - started
    indexes = [i for i in Event.__table__.indexes if not i.unique]
    with engine.begin() as conn:
        # As a bulk loader does: the secondary indexes are built once, after the rows are in.
        fast = FastSQL(conn)
        started = time.perf_counter()
        for index in indexes:
            index.drop(conn)
        _insert_events(fast, workspace_id, first_id, _event_rows(n, now, rng, per_contact, mix))
        timings["events"] = time.perf_counter() - started
        started = time.perf_counter()
        for index in indexes:
            index.create(conn)
        timings["event indexes"] = time.perf_counter() - started
    if packages:
        with engine.begin() as conn:
            fast = FastSQL(conn)
            started = time.perf_counter()
            _insert_subscriptions(fast, workspace_id, n, first_id, now, rng)
            timings["subscriptions"] = time.perf_counter() - started
    with engine.connect() as conn:
        if fast.postgres:
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return timings


def _chunked(rows: Iterator[tuple], size: int = 50_000) -> Iterator[list[tuple]]:
    part: list[tuple] = []
    for row in rows:
        part.append(row)
        if len(part) >= size:
            yield part
            part = []
    if part:
        yield part


def _ts(value: datetime) -> str:
    return value.isoformat()


def _insert_contacts(fast: FastSQL, ws: int, n: int, now: datetime, rng: random.Random) -> int:
    columns = (
        "workspace_id, external_id, email, attributes, tags, consent, push_tokens, computed, scores,"
        " created_at, updated_at"
    )
    if fast.postgres:
        stamp = _ts(now)

        def lines() -> Iterator[str]:
            for part in _chunked(_contact_rows(n, now, rng), 10_000):
                yield "".join(
                    f"{ws}\t{ext}\t{email}\t{copy_field(attrs)}\t{copy_field(tags)}\t{{}}\t[]\t{{}}\t{{}}\t{stamp}\t{stamp}\n"
                    for ext, email, attrs, tags in part
                )

        fast.copy_text("contacts", columns.split(", "), lines())
    else:
        stamp = fast.dt(now)
        for part in _chunked(_contact_rows(n, now, rng)):
            fast.many(
                f"INSERT INTO contacts ({columns}) VALUES (?, ?, ?, ?, ?, '{{}}', '[]', '{{}}', '{{}}', ?, ?)",
                [(ws, ext, email, attrs, tags, stamp, stamp) for ext, email, attrs, tags in part],
            )
    return fast.all("SELECT min(id) FROM contacts WHERE workspace_id = ?", (ws,))[0][0]


def _insert_events(fast: FastSQL, ws: int, first_id: int, rows: Iterator[tuple]) -> None:
    columns = ["workspace_id", "contact_id", "name", "properties", "occurred_at", "received_at", "source"]
    if fast.postgres:

        def lines() -> Iterator[str]:
            for part in _chunked(rows, 20_000):
                yield "".join(
                    f"{ws}\t{first_id + cid}\t{name}\t{copy_field(props)}\t{_ts(at)}\t{_ts(at)}\tapi\n"
                    for cid, name, props, at in part
                )

        fast.copy_text("events", columns, lines())
        return
    dt = fast.dt
    for part in _chunked(rows):
        fast.many(
            "INSERT INTO events (workspace_id, contact_id, name, properties, occurred_at, received_at, source)"
            " VALUES (?, ?, ?, ?, ?, ?, 'api')",
            [(ws, first_id + cid, name, props, dt(at), dt(at)) for cid, name, props, at in part],
        )


def _insert_subscriptions(fast: FastSQL, ws: int, n: int, first_id: int, now: datetime, rng: random.Random) -> None:
    columns = [
        "workspace_id",
        "contact_id",
        "name",
        "status",
        "start_at",
        "end_at",
        "duration",
        "auto_renew",
        "auto_renew_before",
        "attributes",
        "updated_at",
    ]
    if fast.postgres:
        stamp = _ts(now)

        def lines() -> Iterator[str]:
            for part in _chunked(_subscription_rows(n, now, rng), 20_000):
                yield "".join(
                    f"{ws}\t{first_id + cid}\t{name}\t{status}\t{_ts(start)}\t{_ts(end)}\t{duration}\t"
                    f"{'t' if renew else 'f'}\t{'t' if before else 'f'}\t{{}}\t{stamp}\n"
                    for cid, name, status, start, end, duration, renew, before in part
                )

        fast.copy_text("subscriptions", columns, lines())
        return
    dt = fast.dt
    stamp = dt(now)
    for part in _chunked(_subscription_rows(n, now, rng)):
        fast.many(
            f"INSERT INTO subscriptions ({', '.join(columns)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '{{}}', ?)",
            [
                (ws, first_id + cid, name, status, dt(start), dt(end), duration, renew, before, stamp)
                for cid, name, status, start, end, duration, renew, before in part
            ],
        )


# -------------------------------------------------------------------------------------------------
# Definitions, each with the plain SQL of the same predicate
# -------------------------------------------------------------------------------------------------


class Sql:
    """Hand-written SQL predicates over ``contacts c`` for one dialect; ``?`` placeholders."""

    def __init__(self, fast: FastSQL, ws: int, now: datetime) -> None:
        self.pg = fast.postgres
        self.fast = fast
        self.ws = ws
        self.now = now

    def since(self, span: timedelta):
        return self.fast.dt(self.now - span)

    def attr_text(self, key: str) -> str:
        return f"(c.attributes->>'{key}')" if self.pg else f"json_extract(c.attributes, '$.{key}')"

    def attr_num(self, key: str) -> str:
        return f"(c.attributes->>'{key}')::numeric" if self.pg else f"json_extract(c.attributes, '$.{key}')"

    def tag(self, tag: str) -> tuple[str, list]:
        if self.pg:
            return "c.tags @> ?::jsonb", [_json([tag]).decode()]
        return "EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = ?)", [tag]

    def prop_num(self, key: str) -> str:
        return f"(e.properties->>'{key}')::numeric" if self.pg else f"json_extract(e.properties, '$.{key}')"

    def events(self, name: str, span: timedelta | None, extra: str = "", aggregate: str = "count(*)") -> tuple:
        sql = f"(SELECT {aggregate} FROM events e WHERE e.workspace_id = ? AND e.contact_id = c.id AND e.name = ?"
        params: list = [self.ws, name]
        if span is not None:
            sql += " AND e.occurred_at >= ?"
            params.append(self.since(span))
        return sql + extra + ")", params

    def days_until_end(self) -> str:
        if self.pg:
            return "((s.end_at AT TIME ZONE 'UTC')::date - CAST(? AS date))"
        return "CAST(julianday(date(s.end_at)) - julianday(date(?)) AS INTEGER)"

    def subscription(self, where: str, params: list) -> tuple[str, list]:
        return (
            f"EXISTS (SELECT 1 FROM subscriptions s WHERE s.workspace_id = ? AND s.contact_id = c.id AND {where})",
            [self.ws, *params],
        )

    def today(self) -> str:
        return self.now.date().isoformat()


COMPUTED = [
    ("rentals_30d", "Rentals in 30 days", {"event": "rental", "aggregate": "count", "window": "P30D"}),
    ("logins_7d", "Logins in 7 days", {"event": "login", "aggregate": "count", "window": "P7D"}),
    ("purchases_total", "Spent in total", {"event": "purchase", "aggregate": "sum", "property": "amount"}),
    (
        "max_purchase_90d",
        "Largest purchase, 90 days",
        {"event": "purchase", "aggregate": "max", "property": "amount", "window": "P90D"},
    ),
    ("last_login", "Last login", {"event": "login", "aggregate": "last"}),
]


def computed_sql(q: Sql, key: str) -> tuple[str, list]:
    """The same aggregate from raw events, per contact, as SQL (the backfill's baseline)."""
    amount = q.prop_num("amount")
    return {
        "rentals_30d": q.events("rental", 30 * DAY),
        "logins_7d": q.events("login", 7 * DAY),
        "purchases_total": q.events("purchase", None, aggregate=f"sum({amount})"),
        "max_purchase_90d": q.events("purchase", 90 * DAY, aggregate=f"max({amount})"),
        "last_login": q.events("login", None, aggregate="max(e.occurred_at)"),
    }[key]


def segment_definitions(q: Sql) -> list[tuple[str, dict, tuple[str, list]]]:
    """(name, rule, SQL predicate with parameters) for the 20 segments."""

    def both(*parts: tuple[str, list]) -> tuple[str, list]:
        return " AND ".join(f"({p})" for p, _ in parts), [x for _, params in parts for x in params]

    def either(*parts: tuple[str, list]) -> tuple[str, list]:
        return " OR ".join(f"({p})" for p, _ in parts), [x for _, params in parts for x in params]

    def count(name, span, op_value, extra="", extra_params=()):
        sql, params = q.events(name, span, extra)
        if extra_params:
            params = params + list(extra_params)
        return f"{sql} {op_value}", params

    rentals3 = count("rental", 30 * DAY, ">= 3")
    vip = q.tag("vip")
    active_streaming = q.subscription(
        f"s.name IN ('streaming_basic', 'streaming_plus') AND {q.days_until_end()} >= 1", [q.today()]
    )
    amount = q.prop_num("amount")
    purchases_total, p_params = computed_sql(q, "purchases_total")
    max_purchase, m_params = computed_sql(q, "max_purchase_90d")
    last_login, l_params = computed_sql(q, "last_login")
    logins_7d, g_params = computed_sql(q, "logins_7d")
    renewal = (
        "s.auto_renew = false AND s.auto_renew_before = true"
        if q.pg
        else "s.auto_renew = 0 AND s.auto_renew_before = 1"
    )
    attr = {"kind": "attribute"}
    return [
        ("Pro plan", {**attr, "key": "plan", "op": "eq", "value": "pro"}, (f"{q.attr_text('plan')} = 'pro'", [])),
        (
            "Southern and central Europe",
            {**attr, "key": "country", "op": "in", "value": ["PL", "DE", "ES"]},
            (f"{q.attr_text('country')} IN ('PL', 'DE', 'ES')", []),
        ),
        (
            "Thirties",
            {
                "kind": "all",
                "rules": [
                    {**attr, "key": "age", "op": "gte", "value": 30},
                    {**attr, "key": "age", "op": "lt", "value": 40},
                ],
            },
            (f"{q.attr_num('age')} >= 30 AND {q.attr_num('age')} < 40", []),
        ),
        (
            "Signed up this month",
            {**attr, "key": "signup_at", "op": "within_last", "value": "P30D"},
            (f"{q.attr_text('signup_at')} >= ?", [(q.now - 30 * DAY).isoformat()]),
        ),
        ("VIP", {"kind": "tag", "tag": "vip"}, vip),
        (
            "Beta, not at risk",
            {
                "kind": "all",
                "rules": [{"kind": "tag", "tag": "beta"}, {"kind": "tag", "tag": "churn_risk", "present": False}],
            },
            both(q.tag("beta"), (f"NOT ({q.tag('churn_risk')[0]})", q.tag("churn_risk")[1])),
        ),
        (
            "Three rentals in 30 days (events)",
            {"kind": "event", "event": "rental", "count": 3, "within": "P30D"},
            rentals3,
        ),
        ("Logged in this week", {"kind": "event", "event": "login", "within": "P7D"}, count("login", 7 * DAY, ">= 1")),
        (
            "Big purchase in 90 days",
            {
                "kind": "event",
                "event": "purchase",
                "within": "P90D",
                "where": [{"key": "amount", "op": "gte", "value": 100}],
            },
            count("purchase", 90 * DAY, ">= 1", f" AND {amount} >= 100"),
        ),
        (
            "No support ticket in 30 days",
            {"kind": "event", "event": "support_ticket", "op": "at_most", "count": 0, "within": "P30D"},
            count("support_ticket", 30 * DAY, "= 0"),
        ),
        (
            "Active streaming package",
            {
                "kind": "subscription",
                "names": ["streaming_basic", "streaming_plus"],
                "ends_in": {"op": "at_least", "days": 1},
            },
            active_streaming,
        ),
        (
            "30-day package ending in 7 days",
            {
                "kind": "subscription",
                "duration_days": {"op": "exactly", "days": 30},
                "ends_in": {"op": "exactly", "days": 7},
            },
            q.subscription(f"s.duration = 'P30D' AND {q.days_until_end()} = 7", [q.today()]),
        ),
        (
            "Auto-renew switched off",
            {"kind": "subscription", "auto_renew": False, "auto_renew_before": True},
            q.subscription(renewal, []),
        ),
        (
            "Frequent renters",
            {"kind": "computed", "key": "rentals_30d", "op": "gte", "value": 3},
            rentals3,
        ),
        (
            "Big spenders",
            {"kind": "computed", "key": "purchases_total", "op": "gte", "value": 500},
            (f"{purchases_total} >= 500", p_params),
        ),
        (
            "Pro, no login this week",
            {
                "kind": "all",
                "rules": [
                    {**attr, "key": "plan", "op": "eq", "value": "pro"},
                    {"kind": "computed", "key": "logins_7d", "op": "eq", "value": 0},
                ],
            },
            (f"{q.attr_text('plan')} = 'pro' AND {logins_7d} = 0", g_params),
        ),
        (
            "Dormant (no login for 30 days)",
            {"kind": "computed", "key": "last_login", "op": "more_than_ago", "value": "P30D"},
            (f"{last_login} < ?", [*l_params, q.since(30 * DAY)]),
        ),
        (
            "VIP or a 200+ purchase",
            {
                "kind": "any",
                "rules": [
                    {"kind": "tag", "tag": "vip"},
                    {"kind": "computed", "key": "max_purchase_90d", "op": "gte", "value": 200},
                ],
            },
            either(vip, (f"{max_purchase} >= 200", m_params)),
        ),
        (
            "Polish streaming renters",
            {
                "kind": "all",
                "rules": [
                    {**attr, "key": "country", "op": "eq", "value": "PL"},
                    {"kind": "event", "event": "rental", "within": "P30D"},
                    {
                        "kind": "subscription",
                        "names": ["streaming_basic", "streaming_plus"],
                        "ends_in": {"op": "at_least", "days": 1},
                    },
                ],
            },
            both((f"{q.attr_text('country')} = 'PL'", []), count("rental", 30 * DAY, ">= 1"), active_streaming),
        ),
        (
            "VIP frequent renters",
            {
                "kind": "all",
                "rules": [{"kind": "segment", "segment": "vip"}, {"kind": "segment", "segment": "frequent_renters"}],
            },
            both(vip, rentals3),
        ),
    ]


# -------------------------------------------------------------------------------------------------
# Measurements
# -------------------------------------------------------------------------------------------------


def build_all(services: Services) -> int:
    """Run the worker's backfill step until nothing is being built; returns contacts evaluated."""
    evaluated = 0
    while (report := live.build_step(services.engine, services.clock.now())) is not None:
        evaluated += report.evaluated
    return evaluated


def sql_count(services: Services, ws: int, predicate: tuple[str, list]) -> tuple[int, float]:
    sql, params = predicate
    with services.engine.connect() as conn:
        fast = FastSQL(conn)
        started = time.perf_counter()
        (count,) = fast.all(f"SELECT count(*) FROM contacts c WHERE c.workspace_id = ? AND ({sql})", (ws, *params))[0]
        return count, time.perf_counter() - started


def backfills(services: Services, ws: int) -> list[tuple]:
    now = services.clock.frozen = services.clock.now()
    with services.engine.connect() as conn:
        q = Sql(FastSQL(conn), ws, now)
    for key, name, definition in COMPUTED:
        with services.engine.begin() as conn:
            properties.create(conn, ws, name=name, key=key, spec=msgspec.convert(definition, ComputedSpec), now=now)
        started = time.perf_counter()
        build_all(services)
        built = time.perf_counter() - started
        sql, params = computed_sql(q, key)
        with services.engine.connect() as conn:
            fast = FastSQL(conn)
            started = time.perf_counter()
            fast.all(f"SELECT c.id, {sql} FROM contacts c WHERE c.workspace_id = ?", (*params, ws))
            baseline = time.perf_counter() - started
            # Every contact has a value when the aggregate has one for nobody-did-anything (count, sum).
            path = f"(computed->'{key}')" if fast.postgres else f"json_type(computed, '$.{key}')"
            valued = fast.all(f"SELECT count(*) FROM contacts WHERE workspace_id = ? AND {path} IS NOT NULL", (ws,))
            valued = valued[0][0]
        print(
            f"  computed {key:18s} built in {built:7.2f} s   plain SQL aggregate {baseline:6.2f} s"
            f"   {valued:,} contacts with a value"
        )
    segment_rows = []
    for name, raw_rule, predicate in segment_definitions(q):
        with services.engine.begin() as conn:
            segment_id = segments.create(conn, ws, name=name, rule=parse_rule(raw_rule), user_id=None, now=now)
        started = time.perf_counter()
        build_all(services)
        built = time.perf_counter() - started
        expected, baseline = sql_count(services, ws, predicate)
        with services.engine.connect() as conn:
            size = conn.exec_driver_sql(
                f"SELECT count(*) FROM segment_members WHERE segment_id = {segment_id}"
            ).scalar_one()
        segment_rows.append((name, built, baseline, size, expected))
        flag = "" if size == expected else f"   MISMATCH: SQL counts {expected:,}"
        print(f"  segment {name:36s} {built:7.2f} s   plain SQL COUNT {baseline:6.2f} s   {size:9,} members{flag}")
    services.clock.frozen = None
    return segment_rows


def event_batches(
    n: int, first_id: int, batches: int, size: int, now: datetime, mix: list[str] = EVENT_MIX
) -> list[list[event_path.NewEvent]]:
    rng = random.Random(11)
    out = []
    for _ in range(batches):
        batch = []
        for _ in range(size):
            name = rng.choice(mix)
            props = {"amount": rng.randint(5, 500)} if name == "purchase" else {}
            batch.append(event_path.NewEvent(first_id + int(n * rng.random() ** 2), name, props, occurred_at=now))
        out.append(batch)
    return out


def ingest(
    services: Services, ws: int, n: int, first_id: int, batches: int, size: int, mix: list[str] = EVENT_MIX
) -> tuple[float, float]:
    """Events per second through the one event path, a transaction per batch, as the API commits them:
    per second of wall time, and per CPU-second of this process (on SQLite that is all the work, and it
    does not depend on what else the machine is doing)."""
    work = event_batches(n, first_id, batches + 1, size, services.clock.now(), mix)
    with services.engine.begin() as conn:  # warm-up (caches, compiled definitions), not timed
        event_path.record(conn, services, ws, work.pop(), services.clock.now(), "api")
    if services.engine.dialect.name == "sqlite":
        with sqlite3.connect(services.engine.url.database) as raw:  # both runs start with an empty log
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    started, cpu = time.perf_counter(), time.process_time()
    for batch in work:
        with services.engine.begin() as conn:
            event_path.record(conn, services, ws, batch, services.clock.now(), "api")
    return batches * size / (time.perf_counter() - started), batches * size / (time.process_time() - cpu)


def publish_journey(services: Services, ws: int, segment_key: str) -> None:
    now = services.clock.now()
    with services.sessions.begin() as session:
        template, _ = template_service.create_template(
            session,
            ws,
            key="reward",
            name="Reward",
            draft={"email": {"subject": "Your third rental, {{ contact.first_name }}!", "mjml": REWARD_MJML}},
            now=now,
        )
        template_service.publish(session, template, now=now)
        journey = Journey(
            workspace_id=ws,
            name="Frequent renters",
            draft={
                "nodes": [
                    {"id": "t", "type": "trigger.segment", "config": {"segment": segment_key}},
                    {"id": "m", "type": "send", "config": {"template": "reward"}},
                ],
                "edges": [{"id": "e", "source": "t", "port": "next", "target": "m"}],
                "settings": {"reentry": "always"},
            },
            created_at=now,
            updated_at=now,
        )
        session.add(journey)
        session.flush()
        publishing.publish(session, journey, registry=services.registry, graphs=services.graphs, now=now)


def latency(services: Services, sink: SmtpSink, ws: int, samples: int) -> list[float]:
    """Seconds from a rental event's commit to the journey's email at the SMTP server, per sample."""
    with services.engine.connect() as conn:
        fast = FastSQL(conn)
        value = "(computed->>'rentals_30d')::int" if fast.postgres else "json_extract(computed, '$.rentals_30d')"
        rows = fast.all(
            f"SELECT id, email FROM contacts WHERE workspace_id = ? AND {value} = 2 ORDER BY id LIMIT ?",
            (ws, samples),
        )
    worker = Worker(services, name="bench-worker")
    worker.start_thread()
    out = []
    try:
        time.sleep(0.5)
        for contact_id, email in rows:
            before = len(sink.messages)
            started = time.perf_counter()
            with services.engine.begin() as conn:
                event_path.record(
                    conn,
                    services,
                    ws,
                    [event_path.NewEvent(contact_id, "rental", {"car": "mini"})],
                    services.clock.now(),
                    "api",
                )
            services.waker.notify()
            deadline = started + 30
            while time.perf_counter() < deadline:
                with sink.lock:
                    arrived = any(m.rcpt_tos == [email] for m in sink.messages[before:])
                if arrived:
                    break
                time.sleep(0.002)
            else:
                print(f"  no email for contact {contact_id} within 30 s")
                continue
            out.append(time.perf_counter() - started)
            time.sleep(0.05)
    finally:
        worker.stop()
    return out


def recheck(services: Services) -> tuple[int, int, float, int]:
    """Move the clock a day on and run the time-based re-check until nothing is due."""
    with services.engine.connect() as conn:
        changes_before = conn.exec_driver_sql("SELECT count(*) FROM segment_changes").scalar_one()
        pending = conn.exec_driver_sql("SELECT count(*) FROM audience_checks").scalar_one()
    services.clock.offset += DAY
    started = time.perf_counter()
    visited = 0
    while checked := event_path.run_rechecks(services):
        visited += checked
    elapsed = time.perf_counter() - started
    with services.engine.connect() as conn:
        changes = conn.exec_driver_sql("SELECT count(*) FROM segment_changes").scalar_one() - changes_before
    return visited, changes, elapsed, pending


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -------------------------------------------------------------------------------------------------


def _fresh_pg(url: str) -> None:
    base = sa.make_url(url)
    admin = make_engine(str(base.set(database="postgres")), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (base.database,),
        )
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{base.database}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{base.database}"')
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL (the database is dropped and recreated)")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=20, help="ingestion batches per measurement")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--samples", type=int, default=40, help="latency samples")
    args = parser.parse_args()
    n = args.contacts

    tmp = tempfile.mkdtemp(prefix="waymark-audience-bench-")
    if args.database_url:
        _fresh_pg(args.database_url)
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    sink = SmtpSink().start()
    settings = load_settings(
        secret_key="b" * 32, var_dir=tmp, database_url=url, max_ingest_per_second=0, smtp_url=sink.url, dev_inbox=False
    )
    services = Services.create(settings, engine=engine, clock=ShiftedClock())
    try:
        with services.sessions.begin() as session:
            ws = create_workspace(session, "bench", "Bench").id
        now = services.clock.now()
        print(
            f"database: {engine.dialect.name}; {n:,} contacts, {5 * n:,} events; {os.cpu_count()} CPUs,"
            f" load average {os.getloadavg()[0]:.1f}"
        )
        timings = load(services, ws, n, now)
        print("load: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        with engine.connect() as conn:
            first_id = conn.exec_driver_sql(f"SELECT min(id) FROM contacts WHERE workspace_id = {ws}").scalar_one()

        events_total = args.batches * args.batch_size
        baseline_rate, baseline_cpu = ingest(services, ws, n, first_id, args.batches, args.batch_size)
        print(
            f"(b) ingestion with no segment or computed property: {baseline_rate:,.0f} events/s"
            f" ({baseline_cpu:,.0f} per CPU-second of this process; {events_total:,} events)"
        )

        print("(a) backfills, each next to a plain SQL query of the same predicate in this run:")
        segment_rows = backfills(services, ws)
        built_total = sum(r[1] for r in segment_rows)
        mismatches = [r[0] for r in segment_rows if r[3] != r[4]]
        print(
            f"    all 20 segments built in {built_total:.1f} s"
            f" (plain SQL counts {sum(r[2] for r in segment_rows):.1f} s);"
            f" {'all sizes agree with SQL' if not mismatches else 'MISMATCHES: ' + ', '.join(mismatches)}"
        )

        active_rate, active_cpu = ingest(services, ws, n, first_id, args.batches, args.batch_size)
        print(
            f"(b) ingestion with 20 segments and 5 computed properties: {active_rate:,.0f} events/s,"
            f" {active_rate / baseline_rate:.2f}× the rate with none (target ≥ 0.5);"
            f" per CPU-second {active_cpu:,.0f}, {active_cpu / baseline_cpu:.2f}×"
        )

        publish_journey(services, ws, "frequent_renters")
        times = latency(services, sink, ws, args.samples)
        if len(times) >= 2:
            p50 = statistics.median(times)
            p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
            print(
                f"(c) event → segment entry → first email at the SMTP server: p50 {p50 * 1000:.0f} ms,"
                f" p95 {p95 * 1000:.0f} ms over {len(times)} contacts (target p95 < 2 s)"
            )
        else:
            print("(c) not enough contacts with two rentals in 30 days to sample")

        visited, changes, elapsed, pending = recheck(services)
        print(
            f"(d) a day later, the re-check visited {visited:,} of {n:,} contacts ({pending:,} had a re-check time)"
            f" in {elapsed:.2f} s ({visited / max(elapsed, 1e-9):,.0f} contacts/s), {changes:,} segment changes;"
            f" re-evaluating everyone is the backfills' {built_total:.1f} s"
        )
        rss = peak_rss_mb()
        print(f"(e) peak RSS {rss:.0f} MB (target < 500 MB)")
    finally:
        sink.stop()
        engine.dispose()


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
