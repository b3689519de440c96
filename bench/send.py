"""Sending benchmark: personalised emails rendered and delivered to a local SMTP server per second, next
to the raw SMTP ceiling measured in the same run.

* An aiosmtpd server (``aiosmtpd.handlers.Sink``: accepts and drops) runs in a **separate process**.
* N contacts, one published template (MJML with personalised text, a button link and the subject), and
  N due outbox rows, as a journey's send block queues them. The real :class:`Dispatcher` then runs until
  the queue is empty: claim, load contacts, render (Jinja only: the MJML was compiled once, at publish;
  the run asserts it is not compiled again), tracking links, build MIME, deliver over pooled SMTP
  connections (``--connections``, reused across messages), record outcomes and ``email_sent`` events.
* Ceiling: the same number of **pre-rendered** messages (the very bytes the dispatcher built for the
  first contacts, rotated) over the same number of aiosmtplib connections to the same server, with no
  database, rendering or bookkeeping.
* **Interleaved** (``--rounds``): dispatcher and ceiling runs alternate in the same process (dispatcher
  first in odd rounds, ceiling first in even ones), each round on a freshly queued batch, so noise from
  a shared machine hits both alike; the figure is the **median** of the per-round ratios.

Not a test; it prints figures (``--json`` for a machine-readable line). PostgreSQL: the database named
in ``--pg-url`` is DROPPED and recreated.

    python bench/send.py --messages 5000 --backend sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosmtplib
import sqlalchemy as sa

from backend.channels import email as email_channel
from backend.config import load_settings
from backend.db.migrate import upgrade
from backend.db.models import Contact, OutboxMessage
from backend.db.session import make_engine
from backend.runtime.outbox import Dispatcher
from backend.services import Services
from backend.templates import mjml as mjml_module
from backend.templates import service as template_service
from backend.workspaces import create_workspace

MJML = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text font-size="20px">Hello {{ contact.first_name | default("friend") }},</mj-text>
        <mj-text>Your {{ event.properties.plan | default("free") }} plan is waiting for you.
          You signed up on {{ contact.signup_day }} — finish in two minutes.</mj-text>
        <mj-button href="https://acme.test/finish?c={{ contact.id }}">Finish registration</mj-button>
        <mj-divider />
        <mj-text font-size="12px">Acme Inc., 1 Main Street. <a href="https://acme.test/help">Help</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the SMTP sink did not start")


def prepare(url: str, n: int, var_dir: str, smtp_url: str, backend: str) -> tuple[Services, int, list[int]]:
    engine = make_engine(url)
    if backend == "postgresql":
        admin = make_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        name = sa.make_url(url).database
        engine.dispose()
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
    settings = load_settings(var_dir=var_dir, secret_key="b" * 32, database_url=url, smtp_url=smtp_url, dev_inbox=False)
    services = Services.create(settings, engine=engine)
    now = datetime.now(UTC)
    with services.sessions.begin() as session:
        ws = create_workspace(session, "bench", "Bench")
        template, _ = template_service.create_template(
            session,
            ws.id,
            key="welcome",
            name="Welcome",
            draft={"email": {"subject": "Welcome, {{ contact.first_name }}!", "preheader": "2 min", "mjml": MJML}},
            now=now,
        )
        template_service.publish(session, template, now=now)
    contacts = Contact.__table__
    with engine.begin() as conn:
        for start in range(0, n, 5000):
            conn.execute(
                sa.insert(contacts),
                [
                    {
                        "workspace_id": ws.id,
                        "external_id": f"u{i}",
                        "email": f"c{i}@example.com",
                        "attributes": {"first_name": f"Name{i}", "signup_day": f"2026-01-{1 + i % 28:02d}"},
                        "tags": [],
                        "consent": {},
                        "push_tokens": [],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(n, start + 5000))
                ],
            )
        ids = list(conn.execute(sa.select(contacts.c.id).order_by(contacts.c.id)).scalars())
    return services, ws.id, ids


def enqueue(engine: sa.Engine, workspace_id: int, ids: list[int], round_no: int) -> None:
    """One due email per contact, as a journey's send block queues them."""
    outbox = OutboxMessage.__table__
    now = datetime.now(UTC)
    n = len(ids)
    with engine.begin() as conn:
        for start in range(0, n, 5000):
            conn.execute(
                sa.insert(outbox),
                [
                    {
                        "workspace_id": workspace_id,
                        "idempotency_key": f"enr:{round_no}:{i}:mail",
                        "contact_id": cid,
                        "channel": "email",
                        "template_key": "welcome",
                        "payload": {
                            "fallback": [],
                            "marketing": True,
                            "context": {"event": {"name": "signup", "properties": {"plan": "Pro"}}},
                        },
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "test": False,
                    }
                    for i, cid in list(enumerate(ids))[start : start + 5000]
                ],
            )


class Counting:
    """Counts MJML compilations, SMTP connections opened and keeps the first built messages."""

    def __init__(self, keep: int) -> None:
        self.mjml = 0
        self.connections = 0
        self.kept: list[bytes] = []
        self.keep = keep
        original_compile = mjml_module.compile_mjml
        original_connect = email_channel.SmtpProvider._connect
        original_build = email_channel.build_email
        counter = self

        def compile_mjml(*args, **kwargs):
            counter.mjml += 1
            return original_compile(*args, **kwargs)

        async def connect(provider):
            counter.connections += 1
            return await original_connect(provider)

        def build(*args, **kwargs):
            out = original_build(*args, **kwargs)
            if len(counter.kept) < counter.keep:
                counter.kept.append(out[0])
            return out

        template_service.compile_mjml = compile_mjml
        email_channel.SmtpProvider._connect = connect
        email_channel.build_email = build


async def raw_ceiling(port: int, messages: list[bytes], n: int, connections: int) -> float:
    async def worker(indexes: range) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for i in indexes:
            await client.mail("news@acme.test")
            await client.rcpt(f"c{i}@example.com")
            await client.data(messages[i % len(messages)])
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(worker(range(k, n, connections)) for k in range(connections)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/waymark_bench_send")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections (both measurements)")
    parser.add_argument("--limit", type=int, default=1000, help="messages claimed per dispatcher run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved dispatcher / ceiling rounds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    port = free_port()
    sink = start_sink(port)
    tmp = tempfile.mkdtemp(prefix="wm-send-bench-")
    url = f"sqlite:///{tmp}/bench.db" if args.backend == "sqlite" else args.pg_url
    smtp_url = f"smtp://127.0.0.1:{port}?tls=none&concurrency={args.connections}&from=Acme%20%3Cnews%40acme.test%3E"
    try:
        services, workspace_id, ids = prepare(url, args.messages, tmp, smtp_url, args.backend)
        counting = Counting(keep=200)
        dispatcher = Dispatcher(services)
        rounds = []

        def dispatch(round_no: int) -> dict:
            enqueue(services.engine, workspace_id, ids, round_no)
            cpu0, t0 = time.process_time(), time.perf_counter()
            sent = runs = 0
            while True:
                claimed = dispatcher.run_once(limit=args.limit)
                runs += 1
                sent += dispatcher.last_report.sent
                if claimed == 0:
                    break
            elapsed = time.perf_counter() - t0
            return {"sent": sent, "seconds": elapsed, "cpu": time.process_time() - cpu0, "runs": runs - 1}

        def ceiling() -> float:
            return args.messages / asyncio.run(raw_ceiling(port, counting.kept, args.messages, args.connections))

        for round_no in range(args.rounds):
            if round_no % 2 == 0:
                run = dispatch(round_no)
                top = ceiling()
            else:
                top = ceiling()
                run = dispatch(round_no)
            rate = run["sent"] / run["seconds"]
            rounds.append({**run, "per_second": rate, "ceiling": top, "ratio": rate / top})
            if not args.json:
                print(
                    f"round {round_no + 1}: dispatcher {rate:,.0f}/s, ceiling {top:,.0f}/s, ratio {rate / top:.2f} "
                    f"({run['cpu'] * 1000 / max(1, run['sent']):.3f} ms CPU per message)",
                    flush=True,
                )
        with services.engine.connect() as conn:
            statuses = dict(conn.execute(sa.text("SELECT status, count(*) FROM outbox GROUP BY status")).all())
        sent = sum(r["sent"] for r in rounds)
        result = {
            "backend": args.backend,
            "messages": args.messages,
            "rounds": args.rounds,
            "sent": sent,
            "statuses": statuses,
            "per_second_median": round(statistics.median(r["per_second"] for r in rounds)),
            "ceiling_per_second_median": round(statistics.median(r["ceiling"] for r in rounds)),
            "ratio_median": round(statistics.median(r["ratio"] for r in rounds), 2),
            "ratios": [round(r["ratio"], 2) for r in rounds],
            "cpu_ms_per_message": round(sum(r["cpu"] for r in rounds) * 1000 / max(1, sent), 3),
            "mjml_compilations_while_sending": counting.mjml,
            "smtp_connections": counting.connections,
            "dispatcher_runs": sum(r["runs"] for r in rounds),
            "message_bytes": round(sum(len(m) for m in counting.kept) / max(1, len(counting.kept))),
            "cpus": os.cpu_count(),
            "load_average": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        if args.json:
            print(json.dumps(result))
        else:
            print(
                f"{args.rounds} rounds of {args.messages:,} personalised emails ({args.backend}, "
                f"{args.connections} SMTP connections): dispatcher median {result['per_second_median']:,}/s, "
                f"interleaved raw SMTP ceiling median {result['ceiling_per_second_median']:,}/s; "
                f"median ratio {result['ratio_median']:.2f} "
                f"(rounds: {', '.join(f'{r:.2f}' for r in result['ratios'])}); "
                f"{result['cpu_ms_per_message']} ms CPU per message in the dispatcher"
            )
            print(
                f"MJML compilations while sending: {result['mjml_compilations_while_sending']}; "
                f"SMTP connections opened: {result['smtp_connections']} over {result['dispatcher_runs']} runs; "
                f"outbox: {statuses}; load average {result['load_average']} on {result['cpus']} CPUs"
            )
        if statuses != {"sent": args.messages * args.rounds} or counting.mjml:
            raise SystemExit("the run did not send every message exactly once, or compiled MJML while sending")
    finally:
        sink.terminate()
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()
