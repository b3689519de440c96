"""Scale-out on PostgreSQL: three `waymark worker` processes share 10,000 enrollments. Every contact
advances through every block exactly once and receives exactly one email, and all three workers take
part (claims use FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.config import load_settings
from backend.db.session import make_engine
from backend.runtime.enroll import enroll
from backend.services import Services
from backend.templates import service as templates
from backend.workspaces import create_workspace
from tests.conftest import PG_URL, _truncate_all
from tests.factories import linear_graph, publish_graph
from tests.smtp_sink import SmtpSink

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason="needs WAYMARK_TEST_DATABASE_URL (PostgreSQL)"),
]

ROOT = Path(__file__).resolve().parents[2]
CONTACTS = 10_000
WORKERS = 3

JOURNEY = linear_graph(
    {"id": "start", "type": "trigger.manual"},
    {
        "id": "vip",
        "type": "condition",
        "config": {"rule": {"kind": "attribute", "key": "tier", "op": "eq", "value": "gold"}},
        "_port": "no",
    },
    {"id": "mark", "type": "tag", "config": {"add": ["walked"]}},
    {"id": "mail", "type": "send", "config": {"template": "hello"}},
)
TEMPLATE = {
    "email": {
        "subject": "Hello {{ contact.name }}",
        "mjml": "<mjml><mj-body><mj-section><mj-column>"
        "<mj-text>Hi {{ contact.name }}</mj-text></mj-column></mj-section></mj-body></mjml>",
    }
}


@pytest.fixture
def pg(pg_url, tmp_path):
    _truncate_all(pg_url)
    engine = make_engine(pg_url)
    services = Services.create(load_settings(secret_key="k", var_dir=str(tmp_path)), engine=engine)
    yield services
    engine.dispose()


def _seed(services: Services) -> int:
    now = services.clock.now()
    with services.sessions.begin() as session:
        ws = create_workspace(session, "scale", "Scale test")
        template, _ = templates.create_template(session, ws.id, key="hello", name="Hello", draft=TEMPLATE, now=now)
        templates.publish(session, template, now=now)
    with services.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO contacts (workspace_id, external_id, email, attributes, tags, consent, push_tokens,"
                " created_at, updated_at) SELECT :ws, 'u' || i, 'u' || i || '@example.com',"
                " jsonb_build_object('name', 'Person ' || i), '[]', '{}', '[]', now(), now()"
                " FROM generate_series(1, :n) AS i"
            ),
            {"ws": ws.id, "n": CONTACTS},
        )
    journey_id, version_id = publish_graph(services, ws.id, JOURNEY)
    with services.engine.begin() as conn:
        ids = conn.execute(sa.text("SELECT id FROM contacts WHERE workspace_id = :ws"), {"ws": ws.id}).scalars().all()
        enroll(
            conn,
            workspace_id=ws.id,
            journey_id=journey_id,
            version_id=version_id,
            graph=services.graphs.get(conn, version_id),
            trigger_node="start",
            contact_ids=ids,
            now=services.clock.now(),
        )
    return journey_id


def test_three_workers_advance_every_contact_exactly_once(pg, pg_url, tmp_path):
    journey_id = _seed(pg)
    mailbox = SmtpSink().start()
    try:
        env = dict(
            os.environ,
            WAYMARK_DATABASE_URL=pg_url,
            WAYMARK_VAR_DIR=str(tmp_path / "var"),
            WAYMARK_SMTP_URL=mailbox.url,
            WAYMARK_BATCH_SIZE="500",
            WAYMARK_SECRET_KEY="k",
        )
        logs = [tmp_path / f"worker-{i}.log" for i in range(WORKERS)]
        procs = []
        for log in logs:
            with log.open("w") as out:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "backend.cli", "worker"],
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        try:
            mailbox.wait_for(CONTACTS, timeout=240)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with pg.engine.connect() as conn:
                    pending = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE status <> 'sent'")).scalar()
                if pending == 0:
                    break
                time.sleep(0.5)
            time.sleep(2)  # a duplicate would have had time to arrive
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
    finally:
        mailbox.stop()

    recipients = Counter(m.to for m in mailbox.messages)
    assert len(recipients) == CONTACTS
    assert max(recipients.values()) == 1, "somebody got two emails"
    assert mailbox.messages[0].subject.startswith("Hello Person ")

    with pg.engine.connect() as conn:
        per_step = conn.execute(
            sa.text("SELECT node_id, count(*), count(DISTINCT enrollment_id) FROM step_log GROUP BY node_id")
        ).all()
        statuses = conn.execute(
            sa.text("SELECT status, node_id, count(*) FROM enrollments WHERE journey_id = :j GROUP BY 1, 2"),
            {"j": journey_id},
        ).all()
        tagged = conn.execute(sa.text("SELECT count(*) FROM contacts WHERE tags = '[\"walked\"]'::jsonb")).scalar()
        counters = dict(conn.execute(sa.text("SELECT node_id, sum(count) FROM node_counters GROUP BY 1")).all())
    assert {node: (rows, distinct) for node, rows, distinct in per_step} == {
        node: (CONTACTS, CONTACTS) for node in ("start", "vip", "mark", "mail")
    }
    assert statuses == [("completed", "mail", CONTACTS)]
    assert tagged == CONTACTS
    assert counters == {node: CONTACTS for node in ("start", "vip", "mark", "mail")}

    advanced = [sum(int(n) for n in re.findall(r"advanced (\d+) enrollments", log.read_text())) for log in logs]
    assert sum(advanced) == CONTACTS
    assert all(share > 0 for share in advanced), f"work per worker: {advanced}"
