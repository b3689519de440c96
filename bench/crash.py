"""Repeated-kill benchmark: N emails queued, K dispatcher workers SIGKILLed at random moments while they
deliver over C SMTP connections to a real SMTP server (tests/smtp_sink.py), then a last worker finishes
the queue. Prints what the server received against what the outbox says: duplicates (must be 0),
messages in doubt (``unknown``; at most C per kill) and, for those, how many had in fact arrived.

Not a test (tests/delivery/test_crash.py runs the same harness at 1,000 messages / 10 kills).
PostgreSQL: the database named in ``--pg-url`` is DROPPED and recreated.

    python bench/crash.py --messages 20000 --kills 50 --backend postgresql
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from backend.config import load_settings
from backend.db.migrate import upgrade
from backend.db.session import make_engine
from backend.services import Services
from backend.templates import service as template_service
from backend.workspaces import create_workspace
from tests.delivery.kill_harness import kill_repeatedly, seed, verify
from tests.smtp_sink import SmtpSink

MJML = (
    "<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{ contact.first_name }}</mj-text>"
    "</mj-column></mj-section></mj-body></mjml>"
)


def database(url: str, backend: str) -> sa.Engine:
    if backend == "postgresql":
        admin = make_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        name = sa.make_url(url).database
        with admin.connect() as conn:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
    engine = make_engine(url)
    upgrade(engine)
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/waymark_bench_crash")
    parser.add_argument("--lease", type=float, default=1.0, help="WAYMARK_OUTBOX_LEASE_SECONDS of the workers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="wm-crash-bench-"))
    url = f"sqlite:///{tmp}/bench.db" if args.backend == "sqlite" else args.pg_url
    engine = database(url, args.backend)
    settings = load_settings(var_dir=str(tmp), secret_key="b" * 32, database_url=url, dev_inbox=False)
    services = Services.create(settings, engine=engine)
    now = datetime.now(UTC)
    with services.sessions.begin() as session:
        ws = create_workspace(session, "bench", "Bench")
        template, _ = template_service.create_template(
            session,
            ws.id,
            key="welcome",
            name="Welcome",
            draft={"email": {"subject": "Welcome, {{ contact.first_name }}!", "mjml": MJML}},
            now=now,
        )
        template_service.publish(session, template, now=now)
    seed(engine, ws.id, args.messages, now)
    sink = SmtpSink().start()
    try:
        run = kill_repeatedly(
            url,
            sink,
            messages=args.messages,
            kills=args.kills,
            connections=args.connections,
            var_dir=tmp,
            lease_seconds=args.lease,
            seed_value=args.seed,
            timeout=3600,
        )
        figures = verify(engine, sink, ws.id)
    finally:
        sink.stop()
    result = {
        "backend": args.backend,
        "connections": args.connections,
        "kills": run.kills,
        "workers": run.workers,
        "seconds": round(run.seconds, 1),
        **figures,
    }
    if args.json:
        print(json.dumps(result))
    else:
        unknown = figures.get("unknown", 0)
        print(
            f"{args.messages:,} emails, {run.kills} workers SIGKILLed while delivering over {args.connections} SMTP "
            f"connections ({args.backend}, {run.workers} workers in all, {run.seconds:.0f} s)"
        )
        print(
            f"SMTP server received {figures['received']:,} messages, duplicates: {figures['duplicates']}; "
            f"outbox: {figures.get('sent', 0):,} sent (each received once: {figures.get('sent_received_once', 0):,}), "
            f"{unknown} unknown (bound: {args.connections * run.kills}) of which "
            f"{figures.get('unknown_delivered', 0)} had arrived and {figures.get('unknown_not_delivered', 0)} had not"
        )
        print(json.dumps(result))
    ok = (
        figures["duplicates"] == 0
        and figures.get("sent", 0) + figures.get("unknown", 0) == args.messages
        and figures.get("sent_received_once", 0) == figures.get("sent", 0)
        and figures.get("unknown", 0) <= args.connections * run.kills
    )
    if not ok:
        raise SystemExit("the run broke a guarantee")


if __name__ == "__main__":
    main()
