"""Crash safety, for real: a worker process is SIGKILLed at the worst moments and we count what the
SMTP / HTTP servers received afterwards. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.db.models import Enrollment, OutboxMessage, StepLog
from backend.runtime.outbox import Dispatcher, retry_messages
from tests.delivery.conftest import email_journey, make_template, track
from tests.delivery.test_dispatch import webhook_journey
from tests.factories import add_contact
from tests.http_sink import HttpSink

WORKER = Path(__file__).with_name("crash_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def kill_at(mode: str, tmp_path: Path, db_url: str, clock, extra_env: dict[str, str]) -> dict:
    """Start the crash worker, wait until it reached ``mode``'s point of no return, SIGKILL it."""
    marker = tmp_path / f"{mode}.marker"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "WAYMARK_DATABASE_URL": db_url,
        "WAYMARK_VAR_DIR": str(tmp_path / "worker-var"),
        "WAYMARK_SECRET_KEY": "s" * 32,
        "WAYMARK_DEV_INBOX": "0",
        **extra_env,
    }
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), mode, "--marker", str(marker), "--now", clock.now().isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(
                    f"the worker exited ({proc.returncode}) before the crash point:\n{proc.stdout.read().decode()}"
                )
            if time.monotonic() > deadline:
                pytest.fail("the worker never reached the crash point")
            time.sleep(0.02)
        time.sleep(0.05)  # let it finish writing the marker
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    import json

    return json.loads(marker.read_text())


def outbox(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(OutboxMessage.__table__).order_by(OutboxMessage.id))]


def test_a_worker_killed_between_claiming_and_committing_loses_nobody_and_sends_once(
    services, ticker, dispatcher, workspace, smtp_server, clock, db_url, tmp_path
):
    make_template(services, workspace.id)
    journey_id, _ = email_journey(services, workspace.id)
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com", attributes={"first_name": "Ana"})
    track(services, workspace.id, contact, "signup")

    info = kill_at("tick", tmp_path, db_url, clock, {"WAYMARK_SMTP_URL": smtp_server.url})
    assert info["at"] == "tick claimed" and len(info["detail"]) == 1

    # The killed transaction left no trace: the contact still waits at the trigger, nothing queued.
    with services.engine.connect() as conn:
        (enr,) = conn.execute(sa.select(Enrollment.node_id, Enrollment.status)).all()
        assert tuple(enr) == ("start", "active")
        assert conn.execute(sa.select(sa.func.count()).select_from(StepLog)).scalar() == 0
    assert outbox(services.engine) == []

    ticker.run_until_idle()
    assert dispatcher.run_once() == 1
    ticker.run_until_idle()
    dispatcher.run_once()
    (mail,) = smtp_server.wait_for(1, timeout=2)
    assert mail.rcpt_tos == ["ana@example.com"] and mail.subject == "Welcome, Ana!"
    with services.engine.connect() as conn:
        (enr,) = conn.execute(sa.select(Enrollment.node_id, Enrollment.status)).all()
        assert tuple(enr) == ("mail", "completed")
        steps = conn.execute(sa.select(StepLog.node_id).where(StepLog.journey_id == journey_id)).scalars().all()
        assert sorted(steps) == ["mail", "start"]  # each step exactly once
    assert [r["status"] for r in outbox(services.engine)] == ["sent"]


def test_a_dispatcher_killed_after_the_smtp_server_accepted_never_sends_twice(
    services, ticker, dispatcher, workspace, smtp_server, clock, db_url, tmp_path
):
    make_template(services, workspace.id)
    email_journey(services, workspace.id)
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com")
    track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()

    info = kill_at("dispatch-after-send", tmp_path, db_url, clock, {"WAYMARK_SMTP_URL": smtp_server.url})
    assert info["detail"][1] == "sent"
    assert len(smtp_server.wait_for(1)) == 1  # the server has it; the database does not know
    (row,) = outbox(services.engine)
    assert row["status"] == "sending"

    assert dispatcher.run_once() == 0  # within the lease: untouched
    clock.advance(minutes=5, seconds=1)
    assert dispatcher.run_once() == 0
    assert dispatcher.last_report.became_unknown == 1
    (row,) = outbox(services.engine)
    assert row["status"] == "unknown" and "may have accepted" in row["last_error"]

    clock.advance(days=3)
    ticker.run_until_idle()
    assert dispatcher.run_once() == 0
    time.sleep(0.2)
    assert len(smtp_server.messages) == 1  # never a second email on its own

    # Only an operator can send it again, and then it carries the same Message-ID.
    assert retry_messages(services.engine, workspace.id, now=clock.now(), statuses=("unknown",)) == 1
    assert dispatcher.run_once() == 1
    first, second = smtp_server.wait_for(2)
    assert first.message["Message-ID"] == second.message["Message-ID"]


def test_a_dispatcher_killed_after_claiming_sends_once_when_the_claim_lapses(
    services, ticker, dispatcher, workspace, smtp_server, clock, db_url, tmp_path
):
    make_template(services, workspace.id)
    email_journey(services, workspace.id)
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com")
    track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()

    kill_at("dispatch-after-claim", tmp_path, db_url, clock, {"WAYMARK_SMTP_URL": smtp_server.url})
    (row,) = outbox(services.engine)
    assert row["status"] == "pending" and row["attempts"] == 0  # claimed, never handed to a provider
    assert dispatcher.run_once() == 0  # the claim still holds
    clock.advance(minutes=5, seconds=1)
    assert dispatcher.run_once() == 1
    assert len(smtp_server.wait_for(1)) == 1
    assert [r["status"] for r in outbox(services.engine)] == ["sent"]
    clock.advance(hours=1)
    assert dispatcher.run_once() == 0
    time.sleep(0.2)
    assert len(smtp_server.messages) == 1


def test_a_webhook_whose_fate_is_unknown_is_resent_with_the_same_idempotency_key(
    services, ticker, workspace, clock, db_url, tmp_path, settings
):
    sink = HttpSink()
    try:
        settings.allow_private_webhooks = True
        webhook_journey(services, workspace.id, sink.url())
        contact = add_contact(services.sessions, workspace.id, email="ana@example.com")
        track(services, workspace.id, contact, "signup")
        ticker.run_until_idle()

        kill_at("dispatch-after-send", tmp_path, db_url, clock, {"WAYMARK_ALLOW_PRIVATE_WEBHOOKS": "1"})
        assert len(sink.requests) == 1
        assert outbox(services.engine)[0]["status"] == "sending"

        dispatcher = Dispatcher(services)
        clock.advance(minutes=5, seconds=1)
        assert dispatcher.run_once() == 1  # requeued and resent in the same run
        assert dispatcher.last_report.requeued == 1
        first, second = sink.requests
        (row,) = outbox(services.engine)
        assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == row["idempotency_key"]
        assert row["status"] == "sent" and row["attempts"] == 2
        clock.advance(timedelta(hours=1))
        assert dispatcher.run_once() == 0
        assert len(sink.requests) == 2
    finally:
        sink.close()


def test_the_in_doubt_policy_is_a_provider_setting(
    services, ticker, workspace, smtp_server, clock, db_url, tmp_path, admin
):
    """An SMTP relay that folds repeats of a Message-ID may be set to ``resend``: its message left in
    doubt by a killed worker is sent again (same Message-ID) instead of waiting as ``unknown``."""
    created = admin.post(
        "/api/providers",
        json={
            "kind": "smtp",
            "config": {"host": smtp_server.host, "port": smtp_server.port, "tls": "none", "in_doubt": "resend"},
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["config"]["in_doubt"] == "resend"
    bad = admin.post("/api/providers", json={"kind": "smtp", "config": {"host": "x", "in_doubt": "maybe"}})
    assert bad.status_code == 400 and bad.json()["problems"][0]["pointer"] == "/config/in_doubt"

    make_template(services, workspace.id)
    email_journey(services, workspace.id)
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com")
    track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()
    kill_at("dispatch-after-send", tmp_path, db_url, clock, {"WAYMARK_SMTP_URL": smtp_server.url})
    assert len(smtp_server.wait_for(1)) == 1
    assert outbox(services.engine)[0]["status"] == "sending"

    dispatcher = Dispatcher(services)
    clock.advance(seconds=16)  # one lease (15 s) without a heartbeat
    assert dispatcher.run_once() == 1
    assert dispatcher.last_report.requeued == 1 and dispatcher.last_report.became_unknown == 0
    first, second = smtp_server.wait_for(2)
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert [r["status"] for r in outbox(services.engine)] == ["sent"]


def test_workers_killed_at_random_moments_leave_at_most_one_message_per_connection_in_doubt(
    services, workspace, smtp_server, db_url, tmp_path
):
    """1,000 emails, 4 SMTP connections, 10 workers SIGKILLed at random moments while delivering: the
    SMTP server never gets a message twice, every message is either sent (and arrived once) or
    ``unknown`` (arrived once or not at all), and at most one per connection per kill is ``unknown``."""
    from datetime import UTC, datetime

    from tests.delivery.kill_harness import kill_repeatedly, seed, verify

    make_template(services, workspace.id)
    seed(services.engine, workspace.id, 1000, datetime.now(UTC))
    run = kill_repeatedly(db_url, smtp_server, messages=1000, kills=10, connections=4, var_dir=tmp_path, seed_value=9)
    figures = verify(services.engine, smtp_server, workspace.id)
    print(f"{run.kills} kills, {run.workers} workers, {run.seconds:.1f} s: {figures}")
    assert run.kills == 10
    assert figures["duplicates"] == 0
    assert figures["sent"] + figures.get("unknown", 0) == figures["messages"] == 1000, figures
    assert figures["sent_received_once"] == figures["sent"], figures
    assert figures.get("unknown", 0) <= 4 * run.kills, figures
    assert figures.get("unknown_dup", 0) == 0
