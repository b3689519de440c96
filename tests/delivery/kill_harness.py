"""Repeated SIGKILLs of delivering workers, and what the SMTP server received afterwards (not part of
Waymark). Used by tests/delivery/test_crash.py at a CI scale and by bench/crash.py at 20,000 messages.

A worker process (crash_worker.py ``deliver``) delivers the queue over several SMTP connections to a
real SMTP server; it is killed at a random moment — after a random number of further messages reached
the server, plus a random fraction of a message's time — then another starts, and so on; a last one
finishes the queue. Every message goes to its own address, so the server's mailbox tells exactly which
message arrived how many times.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from backend.db.models import Contact, OutboxMessage

WORKER = Path(__file__).with_name("crash_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def seed(engine: sa.Engine, workspace_id: int, n: int, now: datetime, template: str = "welcome") -> None:
    """``n`` contacts (``k<i>@example.com``) with one due email each, as a send block queues them."""
    contacts, outbox = Contact.__table__, OutboxMessage.__table__
    with engine.begin() as conn:
        for start in range(0, n, 5000):
            conn.execute(
                sa.insert(contacts),
                [
                    {
                        "workspace_id": workspace_id,
                        "external_id": f"k{i}",
                        "email": f"k{i}@example.com",
                        "attributes": {"first_name": f"Name{i}"},
                        "tags": [],
                        "consent": {},
                        "push_tokens": [],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(n, start + 5000))
                ],
            )
        ids = list(
            conn.execute(
                sa.select(contacts.c.id)
                .where(contacts.c.workspace_id == workspace_id, contacts.c.external_id.like("k%"))
                .order_by(contacts.c.id)
            ).scalars()
        )
        for start in range(0, n, 5000):
            conn.execute(
                sa.insert(outbox),
                [
                    {
                        "workspace_id": workspace_id,
                        "idempotency_key": f"kill:{i}",
                        "contact_id": cid,
                        "channel": "email",
                        "template_key": template,
                        "payload": {"fallback": [], "marketing": False, "context": {}},
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now - timedelta(minutes=1),
                        "created_at": now,
                        "test": False,
                    }
                    for i, cid in list(enumerate(ids))[start : start + 5000]
                ],
            )


@dataclass
class KillRun:
    kills: int = 0
    workers: int = 0
    seconds: float = 0.0
    outcome: dict[str, int] = field(default_factory=dict)
    """Figures after the run (see :func:`verify`)."""


def _start(db_url: str, smtp_url: str, marker: Path, env: dict[str, str]) -> subprocess.Popen:
    marker.unlink(missing_ok=True)
    return subprocess.Popen(
        [sys.executable, str(WORKER), "deliver", "--marker", str(marker), "--now", "-"],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "WAYMARK_DATABASE_URL": db_url,
            "WAYMARK_SMTP_URL": smtp_url,
            "WAYMARK_DEV_INBOX": "0",
            "WAYMARK_SECRET_KEY": "s" * 32,
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_repeatedly(
    db_url: str,
    sink,
    *,
    messages: int,
    kills: int,
    connections: int,
    var_dir: Path,
    lease_seconds: float = 1.0,
    seed_value: int = 0,
    timeout: float = 600.0,
) -> KillRun:
    """Run workers against the queue, killing ``kills`` of them at random moments while they deliver,
    then let one finish. ``sink`` is a tests/smtp_sink.py ``SmtpSink``."""
    rng = random.Random(seed_value)
    smtp_url = f"{sink.url}&concurrency={connections}"
    env = {"WAYMARK_VAR_DIR": str(var_dir), "WAYMARK_OUTBOX_LEASE_SECONDS": str(lease_seconds)}
    marker = var_dir / "worker.marker"
    run = KillRun()
    started = time.monotonic()
    deadline = started + timeout
    per_worker = max(2, messages // (kills + 1))
    while run.kills < kills:
        before = len(sink.messages)
        proc = _start(db_url, smtp_url, marker, env)
        run.workers += 1
        # Kill it once the server got between 1 and its share of further messages, at a random point
        # of the next message's conversation (so all the kills happen before the queue runs dry).
        target = before + rng.randint(1, per_worker)
        while len(sink.messages) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        if proc.poll() is not None:  # it finished the queue before its kill
            _check_exit(proc)
            break
        time.sleep(rng.uniform(0, 0.004))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        run.kills += 1
        if time.monotonic() > deadline:
            raise AssertionError("the repeated-kill run took too long")
    proc = _start(db_url, smtp_url, marker, env)
    run.workers += 1
    try:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the last worker did not finish the queue") from None
    _check_exit(proc)
    run.seconds = time.monotonic() - started
    return run


def _check_exit(proc: subprocess.Popen) -> None:
    if proc.returncode != 0:
        raise AssertionError(f"the worker failed ({proc.returncode}):\n{proc.stderr.read().decode()[-4000:]}")


def verify(engine: sa.Engine, sink, workspace_id: int) -> dict[str, int]:
    """What the SMTP server holds against what the outbox says, per message."""
    received = Counter(m.rcpt_tos[0] for m in sink.messages)
    outbox, contacts = OutboxMessage.__table__, Contact.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.status, contacts.c.email)
            .join(contacts, contacts.c.id == outbox.c.contact_id)
            .where(outbox.c.workspace_id == workspace_id, outbox.c.idempotency_key.like("kill:%"))
        ).all()
    figures = Counter({"messages": len(rows)})
    figures["received"] = sum(received.values())
    figures["duplicates"] = sum(count - 1 for count in received.values() if count > 1)
    for status, address in rows:
        got = received.get(address, 0)
        figures[status] += 1
        if status == "sent":
            figures["sent_received_once" if got == 1 else f"sent_but_received_{got}"] += 1
        elif status == "unknown":
            figures["unknown_delivered" if got == 1 else "unknown_not_delivered" if got == 0 else "unknown_dup"] += 1
        else:
            figures[f"{status}_received_{got}"] += 1
    return dict(figures)
