"""Ingestion benchmark (prints figures; not a test): POST /v1/batch with 500 messages, then single calls.

    python bench/ingestion.py                       # SQLite in a temp dir
    python bench/ingestion.py --database-url postgresql://postgres@127.0.0.1:5432/bench_ingest
    python bench/ingestion.py --single-only --workers 2 --rounds 3 --seconds 8

Single calls (``/v1/track``, one event each) are measured against a real server — the app of
``waymark api --workers N`` under uvicorn, in its own processes — driven by a bounded closed-loop
load generator (``wrk`` when installed, else raw keep-alive HTTP/1.1 sockets in separate processes).
The same server also answers a trivial endpoint (``POST /bench/trivial``: decode the same body with
msgspec, answer ``{"success": true}``); rounds of the two alternate, so a busy machine weighs on both
alike, and the ratio track/trivial is the figure to compare across machines. After the run every
answered 200 is checked against the events table.

Scenarios (each a fresh batch of ``--size`` messages, timed over the HTTP API in-process):
  new      — track events from users never seen before (contacts are created)
  known    — track events from existing users
  identify — identify calls with traits and a subscription
  journey  — track events that start an event-triggered journey (one enrollment each)
  dupes    — the "known" batch sent again (every message is a duplicate)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import sqlalchemy as sa
from litestar.testing import TestClient

from backend.api.app import create_app
from backend.config import load_settings
from backend.db.migrate import upgrade
from backend.db.models import Journey
from backend.db.session import make_engine
from backend.runtime import publishing
from backend.services import Services
from backend.workspaces import create_workspace


def _fresh_pg(url: str) -> str:
    base = sa.make_url(url)
    admin = make_engine(str(base.set(database="postgres")), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{base.database}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{base.database}"')
    admin.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL (the database is dropped and recreated)")
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--single-only", action="store_true", help="skip the /v1/batch scenarios")
    parser.add_argument("--workers", type=int, default=2, help="server processes for single calls")
    parser.add_argument("--connections", type=int, default=64, help="concurrent keep-alive connections")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one single-call round")
    parser.add_argument("--client", choices=["auto", "wrk", "sockets"], default="auto")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if args.single_only:
        from bench.single import run_single

        run_single(args)
        return

    tmp = tempfile.mkdtemp(prefix="waymark-bench-")
    url = _fresh_pg(args.database_url) if args.database_url else f"sqlite:///{tmp}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    settings = load_settings(secret_key="b" * 32, var_dir=tmp, database_url=url, max_ingest_per_second=0)
    services = Services.create(settings, engine=engine)
    with services.sessions.begin() as session:
        ws = create_workspace(session, "bench", "Bench")
        journey = Journey(
            workspace_id=ws.id,
            name="bench",
            draft={
                "nodes": [
                    {"id": "t", "type": "trigger.event", "config": {"event": "bench_signup"}},
                    {"id": "w", "type": "wait.duration", "config": {"duration": "P1D"}},
                ],
                "edges": [{"id": "e", "source": "t", "port": "next", "target": "w"}],
                "settings": {"reentry": "always"},
            },
            created_at=services.clock.now(),
            updated_at=services.clock.now(),
        )
        session.add(journey)
        session.flush()
        publishing.publish(
            session, journey, registry=services.registry, graphs=services.graphs, now=services.clock.now()
        )

    n = args.size
    counter = iter(range(10**9))

    def batch(kind: str, users: range) -> bytes:
        messages = []
        for i in users:
            mid = f"m{next(counter)}"
            if kind == "identify":
                messages.append(
                    {
                        "type": "identify",
                        "userId": f"user-{i}",
                        "messageId": mid,
                        "traits": {
                            "email": f"user{i}@example.com",
                            "firstName": "Ana",
                            "plan": "pro",
                            "subscriptions": [{"id": f"sub-{i}", "name": "VIP", "auto_renew": i % 2 == 0}],
                        },
                    }
                )
            else:
                event = "bench_signup" if kind == "journey" else "viewed_page"
                messages.append(
                    {
                        "type": "track",
                        "userId": f"user-{i}",
                        "messageId": mid,
                        "event": event,
                        "properties": {"path": "/pricing", "i": i},
                        "context": {"timezone": "Europe/Warsaw"},
                    }
                )
        return msgspec.json.encode({"batch": messages})

    print(f"database: {engine.dialect.name}; {n} messages per batch; {args.rounds} rounds; median (min) in ms")
    with TestClient(create_app(services)) as client:
        auth = (ws.write_key, "")
        next_user = 0
        results: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            bodies = {
                "new": batch("track", range(next_user, next_user + n)),
                "known": batch("track", range(next_user, next_user + n)),
                "identify": batch("identify", range(next_user, next_user + n)),
                "journey": batch("journey", range(next_user, next_user + n)),
            }
            bodies["dupes"] = bodies["known"]
            next_user += n
            for name, body in bodies.items():
                started = time.perf_counter()
                response = client.post("/v1/batch", content=body, auth=auth)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, response.text
                results.setdefault(name, []).append(elapsed)
        for name, times in results.items():
            print(f"  {name:9s} {statistics.median(times):7.1f} ms  ({min(times):.1f})  {len(bodies[name]) // 1024} KB")
    engine.dispose()
    from bench.single import run_single

    run_single(args)


if __name__ == "__main__":
    main()
