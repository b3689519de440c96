"""Single calls (/v1/track, /v1/identify …) sent at the same time are stored in one transaction (group
commit). What a sender relies on does not change: a 200 means the event is stored and committed, a
repeated messageId is stored once, one bad message fails only its own call, and the calls of a group
have exactly the effect they would have had one at a time, in the order they arrived."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend.db.models import Contact, Enrollment, Event
from tests.api.conftest import admin_api, ok, write_api
from tests.api.test_ingest import SIGNUP_JOURNEY, publish


class Held:
    """Calls sent while the writer waits for the database: each is queued (in the order sent) before
    the next one leaves."""

    def __init__(self, pool: ThreadPoolExecutor, group_writer) -> None:
        self.pool = pool
        self.writer = group_writer
        self.sent: list[Future] = []

    def post(self, api, path: str, body: dict) -> Future:
        queued = self.writer.submitted
        future = self.pool.submit(api.post, path, json=body)
        _until(lambda: self.writer.submitted > queued or future.done())
        self.sent.append(future)
        return future


def _until(condition, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


@contextmanager
def writer_held(client, services, plug_api):
    """Hold the database's write lock (SQLite) or the events table (PostgreSQL) so the writer's next
    transaction waits; calls sent meanwhile queue up and are stored as one group once it is released."""
    pool = ThreadPoolExecutor(64)
    conn = services.engine.connect()
    tx = conn.begin()  # SQLite: BEGIN IMMEDIATE, the write lock
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE events IN EXCLUSIVE MODE")
    try:
        existing = getattr(client.app.state, "ingest_writer", None)
        before = existing.submitted if existing else 0
        plug = pool.submit(plug_api.post, "/v1/track", json={"userId": "plug", "event": "plug"})
        _until(lambda: getattr(client.app.state, "ingest_writer", None) is not None)
        group_writer = client.app.state.ingest_writer
        # the writer took the plug and waits for the lock
        _until(lambda: group_writer.submitted > before and not group_writer._queue)
        held = Held(pool, group_writer)
        yield held
        time.sleep(0.3)
        assert not any(f.done() for f in [plug, *held.sent]), "answered before the commit"
    finally:
        tx.rollback()
        conn.close()
    ok(plug.result(10))
    pool.shutdown()


def _events(engine, workspace_id: int) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(Event.name, Event.message_id, Contact.external_id)
                .join(Contact, Contact.id == Event.contact_id)
                .where(Event.workspace_id == workspace_id, Event.source == "api")
                .order_by(Event.id)
            )
        ]


def test_concurrent_calls_are_one_transaction_answered_after_its_commit_and_stored_exactly_once(
    client, writer, services, workspace
):
    with writer_held(client, services, writer) as held:
        for i in range(40):
            held.post(writer, "/v1/track", {"userId": f"u-{i % 7}", "event": "viewed", "messageId": f"m-{i}"})
        held.post(writer, "/v1/track", {"userId": "u-1", "event": "viewed", "messageId": "m-3"})  # a retry
        held.post(writer, "/v1/identify", {"userId": "u-1", "traits": {"email": "U1@Example.com", "plan": "pro"}})
        group_writer = held.writer
        before = group_writer.groups
    for future in held.sent:
        assert future.result(10).json() == {"success": True}
    assert group_writer.groups == before + 2  # the plug's transaction, then one for all 42 calls

    stored = _events(services.engine, workspace.id)
    assert [m for _, m, _ in stored if m.startswith("m-")] == [f"m-{i}" for i in range(40)]
    assert {(name, user) for name, m, user in stored if m == "m-10"} == {("viewed", "u-3")}
    with services.engine.connect() as conn:
        contacts = conn.execute(
            sa.select(Contact.external_id, Contact.email).where(Contact.workspace_id == workspace.id)
        )
        assert sorted(contacts, key=lambda r: r[0]) == [
            ("plug", None),
            ("u-0", None),
            ("u-1", "u1@example.com"),
            *((f"u-{i}", None) for i in range(2, 7)),
        ]


@pytest.fixture
def refusing_database(engine):
    """A database that refuses one particular event (as it would a value it cannot store)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_explode() RETURNS trigger AS $$ BEGIN IF NEW.name = 'explode' THEN"
                " RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_explode BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_explode()"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_explode BEFORE INSERT ON events WHEN NEW.name = 'explode'"
                " BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
    yield
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER refuse_explode" + (" ON events" if conn.dialect.name == "postgresql" else "")
        )
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP FUNCTION refuse_explode()")


def test_a_message_the_database_refuses_fails_only_its_own_call(client, writer, services, workspace, refusing_database):
    with writer_held(client, services, writer) as held:
        before = [
            held.post(writer, "/v1/track", {"userId": f"u-{i}", "event": "fine", "messageId": f"a-{i}"})
            for i in range(5)
        ]
        bad = held.post(writer, "/v1/track", {"userId": "u-bad", "event": "explode", "messageId": "bad"})
        after = [
            held.post(writer, "/v1/track", {"userId": f"u-{i}", "event": "fine", "messageId": f"b-{i}"})
            for i in range(5)
        ]
    assert bad.result(10).status_code == 500
    for future in before + after:
        ok(future.result(10))
    stored = [m for name, m, _ in _events(services.engine, workspace.id) if name != "plug"]
    assert stored == [*(f"a-{i}" for i in range(5)), *(f"b-{i}" for i in range(5))]
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(Contact.external_id == "u-bad")).scalar() == 0


def _state(engine, workspace_id: int) -> list[tuple]:
    with engine.connect() as conn:
        enrollments = [
            tuple(r)
            for r in conn.execute(
                sa.select(Contact.external_id, Enrollment.node_id, Enrollment.status, Enrollment.wait_event)
                .join(Contact, Contact.id == Enrollment.contact_id)
                .where(Enrollment.workspace_id == workspace_id)
                .order_by(Contact.external_id, Enrollment.id)
            )
        ]
        contacts = [
            (r.external_id, r.anonymous_id, r.email, sorted(r.tags or []), r.attributes)
            for r in conn.execute(
                sa.select(Contact.__table__).where(Contact.workspace_id == workspace_id).order_by(Contact.external_id)
            )
        ]
    return [enrollments, [c for c in contacts if c[0] != "plug"]]


def test_a_group_has_the_effect_of_its_calls_one_at_a_time_in_arrival_order(
    client, services, ticker, workspace, other_workspace
):
    """The same calls, sent one at a time to one workspace and as one group to another, leave both
    workspaces in the same state — including calls whose timestamps are not in arrival order."""
    start = services.clock.now() - timedelta(seconds=10)

    def at(seconds: float) -> str:
        return (start + timedelta(seconds=seconds)).isoformat()

    calls = [
        ("/v1/track", {"userId": "u-1", "event": "signup", "timestamp": at(0)}),
        ("/v1/track", {"userId": "u-1", "event": "purchase", "timestamp": at(0.3)}),
        ("/v1/track", {"userId": "u-2", "event": "signup", "timestamp": at(0.5)}),
        ("/v1/track", {"userId": "u-2", "event": "purchase", "timestamp": at(0.3)}),  # happened before the signup
        ("/v1/track", {"anonymousId": "a-3", "event": "signup", "timestamp": at(1)}),
        ("/v1/identify", {"userId": "u-3", "anonymousId": "a-3", "traits": {"email": "three@example.com", "v": 1}}),
        ("/v1/identify", {"userId": "u-3", "traits": {"v": 2, "tags": ["vip"]}}),
        ("/v1/track", {"userId": "u-3", "event": "purchase"}),
        ("/v1/track", {"userId": "u-4", "event": "purchase", "timestamp": at(2)}),
        ("/v1/track", {"userId": "u-4", "event": "signup", "timestamp": at(1)}),
        ("/v1/track", {"userId": "u-4", "event": "purchase", "timestamp": at(3)}),
    ]
    one_at_a_time, grouped = write_api(client, workspace), write_api(client, other_workspace)
    publish(admin_api(client, workspace), SIGNUP_JOURNEY)
    publish(admin_api(client, other_workspace), SIGNUP_JOURNEY)
    for i, (path, body) in enumerate(calls):
        ok(one_at_a_time.post(path, json={**body, "messageId": f"m-{i}"}))
        ticker.run_until_idle()  # as if the worker kept up between calls
    with writer_held(client, services, grouped) as held:
        for i, (path, body) in enumerate(calls):
            held.post(grouped, path, {**body, "messageId": f"m-{i}"})
    for future in held.sent:
        ok(future.result(10))
    ticker.run_until_idle()

    expected = _state(services.engine, workspace.id)
    assert expected[0], "the journey started"
    assert _state(services.engine, other_workspace.id) == expected
