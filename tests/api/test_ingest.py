"""Segment-compatible ingestion over HTTP: identity resolution, traits, de-duplication, limits, back-pressure,
and what events do to journeys."""

from __future__ import annotations

import gzip
import threading
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
import sqlalchemy as sa

from backend.api import ingest as ingest_module
from backend.contacts import upsert as upsert_module
from backend.contacts.upsert import ingest
from backend.db.models import Contact, Enrollment, Event, Subscription
from tests.api.conftest import Api, ok, write_api
from tests.factories import linear_graph


def contacts(engine, workspace_id: int) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(Contact.__table__).where(Contact.workspace_id == workspace_id).order_by(Contact.id)
        )
        return [dict(r._mapping) for r in rows]


def events(engine, workspace_id: int) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Event.__table__).where(Event.workspace_id == workspace_id).order_by(Event.id))
        return [dict(r._mapping) for r in rows]


def subscriptions(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r.external_id: dict(r._mapping) for r in conn.execute(sa.select(Subscription.__table__))}


def enrollments(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(Enrollment.__table__).order_by(Enrollment.id))]


# -- identify ----------------------------------------------------------------------------------------


def test_identify_maps_waymark_traits_to_contact_fields_and_the_rest_to_attributes(writer, services, workspace):
    ok(
        writer.post(
            "/v1/identify",
            json={
                "userId": "user-1",
                "traits": {
                    "email": "  Ana@Example.COM ",
                    "phone": "+48600100200",
                    "wechat_openid": "oX1",
                    "timezone": "Europe/Warsaw",
                    "locale": "pl-PL",
                    "tags": ["vip", "beta", "vip"],
                    "consent": {"email": True, "sms": False},
                    "push_tokens": ["tok1"],
                    "firstName": "Ana",
                    "plan": {"name": "pro", "seats": 3},
                },
            },
        )
    )
    (contact,) = contacts(services.engine, workspace.id)
    assert contact["external_id"] == "user-1"
    assert contact["email"] == "ana@example.com"
    assert (contact["phone"], contact["wechat_openid"]) == ("+48600100200", "oX1")
    assert (contact["timezone"], contact["locale"]) == ("Europe/Warsaw", "pl-PL")
    assert contact["tags"] == ["vip", "beta"]
    assert contact["consent"] == {"email": True, "sms": False}
    assert contact["push_tokens"] == ["tok1"]
    assert contact["attributes"] == {"firstName": "Ana", "plan": {"name": "pro", "seats": 3}}

    # A later identify changes only what it names: tags replace, consent and attributes merge.
    ok(
        writer.post(
            "/v1/identify",
            json={"userId": "user-1", "traits": {"tags": ["churned"], "consent": {"sms": True}, "lastName": "Nowak"}},
        )
    )
    (contact,) = contacts(services.engine, workspace.id)
    assert contact["email"] == "ana@example.com"
    assert contact["tags"] == ["churned"]
    assert contact["consent"] == {"email": True, "sms": True}
    assert contact["attributes"] == {"firstName": "Ana", "plan": {"name": "pro", "seats": 3}, "lastName": "Nowak"}


def test_an_anonymous_visitor_who_identifies_keeps_the_same_contact(writer, services, workspace):
    ok(writer.post("/v1/track", json={"anonymousId": "anon-1", "event": "registration_started"}))
    (anonymous,) = contacts(services.engine, workspace.id)
    assert (anonymous["external_id"], anonymous["anonymous_id"]) == (None, "anon-1")

    ok(writer.post("/v1/identify", json={"userId": "u-9", "anonymousId": "anon-1", "traits": {"email": "a@b.co"}}))
    (contact,) = contacts(services.engine, workspace.id)
    assert contact["id"] == anonymous["id"]
    assert (contact["external_id"], contact["anonymous_id"], contact["email"]) == ("u-9", "anon-1", "a@b.co")

    # Later anonymous-only calls with that anonymousId still land on the identified contact.
    ok(writer.post("/v1/page", json={"anonymousId": "anon-1", "name": "Pricing"}))
    assert {e["contact_id"] for e in events(services.engine, workspace.id)} == {contact["id"]}
    assert len(contacts(services.engine, workspace.id)) == 1


def test_identify_merges_an_anonymous_contact_into_the_known_one(writer, services, workspace, clock):
    ok(
        writer.post(
            "/v1/identify",
            json={"userId": "u-1", "traits": {"email": "known@example.com", "firstName": "Known"}},
        )
    )
    ok(writer.post("/v1/identify", json={"anonymousId": "device-2", "traits": {"phone": "+100", "firstName": "Anon"}}))
    ok(writer.post("/v1/track", json={"anonymousId": "device-2", "event": "viewed_pricing"}))
    known, anonymous = contacts(services.engine, workspace.id)
    assert anonymous["anonymous_id"] == "device-2"

    ok(writer.post("/v1/identify", json={"userId": "u-1", "anonymousId": "device-2", "traits": {"plan": "pro"}}))
    (merged,) = contacts(services.engine, workspace.id)
    assert merged["id"] == known["id"]
    assert merged["anonymous_id"] == "device-2"
    assert merged["email"] == "known@example.com"
    assert merged["phone"] == "+100"  # filled in from the anonymous contact
    assert merged["attributes"] == {"firstName": "Known", "plan": "pro"}  # the known contact's values win
    assert {e["contact_id"] for e in events(services.engine, workspace.id)} == {known["id"]}
    assert [e["name"] for e in events(services.engine, workspace.id)] == [
        "identify",
        "identify",
        "viewed_pricing",
        "identify",
    ]


def test_alias_joins_previous_id_to_the_user(writer, services, workspace):
    ok(writer.post("/v1/track", json={"anonymousId": "old-anon", "event": "opened_app"}))
    ok(writer.post("/v1/identify", json={"userId": "u-7", "traits": {"email": "u7@example.com"}}))
    ok(writer.post("/v1/alias", json={"previousId": "old-anon", "userId": "u-7"}))
    (contact,) = contacts(services.engine, workspace.id)
    assert contact["external_id"] == "u-7"
    names = [(e["name"], e["properties"]) for e in events(services.engine, workspace.id)]
    assert names[-1] == ("alias", {"previous_id": "old-anon"})


def test_subscriptions_are_upserted_by_id_and_remember_auto_renew_before(writer, services):
    def identify(**sub):
        ok(writer.post("/v1/identify", json={"userId": "u-1", "traits": {"subscriptions": [sub]}}))

    identify(id="vip-1", name="VIP", end_at="2026-03-01T00:00:00Z", duration="P1Y", auto_renew=True, sku="V1")
    sub = subscriptions(services.engine)["vip-1"]
    assert (sub["name"], sub["status"], sub["duration"]) == ("VIP", "active", "P1Y")
    assert sub["end_at"] == datetime(2026, 3, 1, tzinfo=UTC)
    assert (sub["auto_renew"], sub["auto_renew_before"]) == (True, False)
    assert sub["attributes"] == {"sku": "V1"}

    identify(id="vip-1", auto_renew=False)
    sub = subscriptions(services.engine)["vip-1"]
    assert (sub["auto_renew"], sub["auto_renew_before"]) == (False, True)
    assert sub["name"] == "VIP" and sub["end_at"] == datetime(2026, 3, 1, tzinfo=UTC)  # untouched

    identify(id="vip-1", auto_renew=False, status="expired")  # no change of auto-renew: "before" stays
    sub = subscriptions(services.engine)["vip-1"]
    assert (sub["auto_renew"], sub["auto_renew_before"], sub["status"]) == (False, True, "expired")
    assert len(subscriptions(services.engine)) == 1


# -- track and friends ---------------------------------------------------------------------------------


def test_track_stores_the_event_with_segment_timestamps(writer, services, workspace, clock):
    now = clock.now()
    ok(writer.post("/v1/track", json={"userId": "u-1", "event": "signup", "properties": {"plan": "pro"}}))
    # An import with an explicit timestamp and no sentAt keeps the timestamp as is.
    ok(writer.post("/v1/track", json={"userId": "u-1", "event": "old", "timestamp": "2025-06-01T10:00:00+02:00"}))
    # A device whose clock runs 1 hour fast: Segment corrects by (sentAt - timestamp).
    fast = now + timedelta(hours=1)
    ok(
        writer.post(
            "/v1/track",
            json={
                "userId": "u-1",
                "event": "skewed",
                "timestamp": (fast - timedelta(minutes=5)).isoformat(),
                "sentAt": fast.isoformat(),
            },
        )
    )
    stored = {e["name"]: e for e in events(services.engine, workspace.id)}
    assert stored["signup"]["properties"] == {"plan": "pro"}
    assert stored["signup"]["occurred_at"] == now
    assert stored["signup"]["received_at"] == now
    assert stored["old"]["occurred_at"] == datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    assert stored["skewed"]["occurred_at"] == now - timedelta(minutes=5)
    assert stored["signup"]["source"] == "api"


def test_page_screen_and_group_are_stored_as_events(writer, services, workspace):
    ok(writer.post("/v1/page", json={"userId": "u", "name": "Pricing", "properties": {"path": "/pricing"}}))
    ok(writer.post("/v1/screen", json={"userId": "u", "name": "Home", "category": "app"}))
    ok(writer.post("/v1/group", json={"userId": "u", "groupId": 42, "traits": {"name": "Acme"}}))
    stored = [(e["name"], e["properties"]) for e in events(services.engine, workspace.id)]
    assert stored == [
        ("page", {"path": "/pricing", "name": "Pricing"}),
        ("screen", {"name": "Home", "category": "app"}),
        ("group", {"group_id": "42", "traits": {"name": "Acme"}}),
    ]


def test_any_content_type_and_gzip_bodies_are_accepted(writer, services, workspace):
    body = msgspec.json.encode({"userId": "u", "event": "plain"})
    ok(writer.post("/v1/track", content=body, headers={"Content-Type": "text/plain"}))
    zipped = gzip.compress(msgspec.json.encode({"batch": [{"type": "track", "userId": "u", "event": "zipped"}]}))
    ok(writer.post("/v1/batch", content=zipped, headers={"Content-Encoding": "gzip"}))
    assert [e["name"] for e in events(services.engine, workspace.id)] == ["plain", "zipped"]


def test_numeric_user_ids_are_stored_as_text(writer, services, workspace):
    ok(writer.post("/v1/track", json={"userId": 12345, "event": "x"}))
    assert contacts(services.engine, workspace.id)[0]["external_id"] == "12345"


# -- batch ---------------------------------------------------------------------------------------------


def test_batch_resolves_identities_in_order_and_shares_context(writer, services, workspace):
    ok(
        writer.post(
            "/v1/batch",
            json={
                "context": {"timezone": "Asia/Shanghai", "locale": "zh-CN"},
                "batch": [
                    {"type": "page", "anonymousId": "a1", "name": "Landing"},
                    {"type": "track", "anonymousId": "a1", "event": "registration_started"},
                    {"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"email": "x@y.cn"}},
                    {"type": "track", "userId": "u1", "event": "registration_completed"},
                    {"type": "track", "userId": "u2", "event": "registration_started"},
                ],
            },
        )
    )
    first, second = contacts(services.engine, workspace.id)
    assert (first["external_id"], first["anonymous_id"], first["email"]) == ("u1", "a1", "x@y.cn")
    assert (first["timezone"], first["locale"]) == ("Asia/Shanghai", "zh-CN")
    assert second["external_id"] == "u2"
    stored = events(services.engine, workspace.id)
    assert [e["contact_id"] for e in stored] == [first["id"]] * 4 + [second["id"]]


def test_batch_is_all_or_nothing(writer, services, workspace):
    response = writer.post(
        "/v1/batch",
        json={"batch": [{"type": "track", "userId": "u", "event": "fine"}, {"type": "track", "userId": "u"}]},
    )
    assert response.status_code == 400
    assert response.json()["problems"] == [
        {"pointer": "/batch/1/event", "message": "Object missing required field `event`"}
    ]
    assert events(services.engine, workspace.id) == []
    assert contacts(services.engine, workspace.id) == []


def test_a_500_message_batch_runs_a_fixed_number_of_statements(writer, services, workspace):
    """Set-based: the statement count does not grow with the batch (executemany counts once)."""
    batch = [
        {"type": "identify", "userId": f"u{i}", "traits": {"email": f"u{i}@example.com", "n": i}} for i in range(250)
    ] + [{"type": "track", "userId": f"u{i}", "event": "viewed", "messageId": f"m{i}"} for i in range(250)]
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split())[:90])

    sa.event.listen(services.engine, "before_cursor_execute", count)
    try:
        ok(writer.post("/v1/batch", json={"batch": batch}))
    finally:
        sa.event.remove(services.engine, "before_cursor_execute", count)
    assert len(contacts(services.engine, workspace.id)) == 250
    assert len(events(services.engine, workspace.id)) == 500
    # key lookup, stored messageIds, resolve, insert contacts, insert events, handle_events (3 selects)…
    assert len(statements) <= 12, statements


# -- de-duplication ------------------------------------------------------------------------------------


def test_a_repeated_message_id_is_accepted_and_ignored(writer, services, workspace):
    call = {"userId": "u", "event": "purchase", "messageId": "msg-1", "properties": {"n": 1}}
    ok(writer.post("/v1/track", json=call))
    ok(writer.post("/v1/track", json={**call, "properties": {"n": 2}}))
    ok(writer.post("/v1/batch", json={"batch": [{"type": "track", **call}, {"type": "track", **call}]}))
    (event,) = events(services.engine, workspace.id)
    assert event["properties"] == {"n": 1}

    # A repeated identify does not apply its traits again.
    ok(writer.post("/v1/identify", json={"userId": "u", "messageId": "id-1", "traits": {"email": "first@x.io"}}))
    ok(writer.post("/v1/identify", json={"userId": "u", "messageId": "id-1", "traits": {"email": "second@x.io"}}))
    assert contacts(services.engine, workspace.id)[0]["email"] == "first@x.io"


def test_duplicates_within_one_batch_count_once(writer, services, workspace):
    batch = [
        {"type": "track", "userId": "u", "event": "e", "messageId": "same", "properties": {"i": i}} for i in range(3)
    ]
    ok(writer.post("/v1/batch", json={"batch": batch}))
    (event,) = events(services.engine, workspace.id)
    assert event["properties"] == {"i": 0}


def test_message_ids_are_per_workspace(client, workspace, other_workspace, services):
    call = {"userId": "u", "event": "e", "messageId": "shared-id"}
    ok(write_api(client, workspace).post("/v1/track", json=call))
    ok(write_api(client, other_workspace).post("/v1/track", json=call))
    assert len(events(services.engine, workspace.id)) == len(events(services.engine, other_workspace.id)) == 1


def test_concurrent_requests_with_the_same_message_id_store_one_event(services, workspace):
    gate = ingest_module.IngestGate(0)
    barrier = threading.Barrier(6)
    errors = []

    def send(i: int) -> None:
        items = ingest_module.parse_call(
            msgspec.json.encode(
                {"anonymousId": "new-visitor", "event": "e", "messageId": "dup", "properties": {"i": i}}
            ),
            "track",
            services.clock.now(),
        )
        barrier.wait()
        try:
            ingest(services, workspace.id, items, slots=gate.slots)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(events(services.engine, workspace.id)) == 1
    assert len(contacts(services.engine, workspace.id)) == 1


def test_concurrent_first_events_of_one_visitor_create_one_contact(services, workspace):
    gate = ingest_module.IngestGate(0)
    barrier = threading.Barrier(6)

    def send(i: int) -> None:
        body = {
            "batch": [
                {"type": "track", "anonymousId": "v", "event": "e", "messageId": f"m{i}"},
                {"type": "identify", "userId": f"user-{i % 2}", "anonymousId": f"d{i}"},
            ]
        }
        items = ingest_module.parse_batch(msgspec.json.encode(body), services.clock.now())
        barrier.wait()
        ingest(services, workspace.id, items, slots=gate.slots)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = contacts(services.engine, workspace.id)
    assert sorted((r["external_id"] or "") for r in rows) == ["", "user-0", "user-1"]
    assert len(events(services.engine, workspace.id)) == 12


# -- limits and back-pressure --------------------------------------------------------------------------


def test_segment_size_limits_are_400s(writer, services, workspace):
    big = "x" * (33 * 1024)
    response = writer.post("/v1/track", json={"userId": "u", "event": "e", "properties": {"blob": big}})
    assert response.status_code == 400
    assert "32 KB" in response.json()["detail"]

    per_message = writer.post(
        "/v1/batch",
        json={
            "batch": [
                {"type": "track", "userId": "u", "event": "ok"},
                {"type": "track", "userId": "u", "event": "e", "properties": {"blob": big}},
            ]
        },
    )
    assert per_message.status_code == 400
    assert per_message.json()["problems"][0]["pointer"] == "/batch/1"

    chunk = "y" * (20 * 1024)
    huge = {"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"c": chunk}} for _ in range(26)]}
    too_big = writer.post("/v1/batch", json=huge)
    assert too_big.status_code == 400
    assert "500 KB" in too_big.json()["detail"]

    too_many = writer.post("/v1/batch", json={"batch": [{"type": "track", "userId": "u", "event": "e"}] * 2501})
    assert too_many.status_code == 400
    assert too_many.json()["problems"][0]["pointer"] == "/batch"
    assert events(services.engine, workspace.id) == []


def test_a_body_without_content_length_is_still_bounded(writer):
    def stream():
        for _ in range(40):
            yield b" " * 1024

    response = writer.post("/v1/track", content=stream())
    assert response.status_code == 400
    assert "32 KB" in response.json()["detail"]


def test_gzip_bombs_are_refused(writer):
    bomb = gzip.compress(b'{"userId": "u", "event": "e", "properties": {"x": "' + b"a" * 10_000_000 + b'"}}')
    assert len(bomb) < 32 * 1024
    response = writer.post("/v1/track", content=bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "32 KB" in response.json()["detail"]


@pytest.fixture
def slow_settings(settings):
    settings.max_ingest_per_second = 5
    return settings


def test_too_many_messages_per_second_get_429_with_retry_after(slow_settings, client, workspace, services):
    writer = write_api(client, workspace)
    ok(writer.post("/v1/track", json={"userId": "u", "event": "e", "messageId": "m0"}))
    gate = client.app.state.ingest_gate
    assert gate.rate == 5  # from settings.max_ingest_per_second
    now = {"t": 100.0}
    gate.monotonic = lambda: now["t"]
    gate._buckets.clear()
    for i in range(1, 6):
        ok(writer.post("/v1/track", json={"userId": "u", "event": "e", "messageId": f"m{i}"}))
    refused = writer.post("/v1/track", json={"userId": "u", "event": "e", "messageId": "m6"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["title"].startswith("Too many requests")
    now["t"] += 0.2
    ok(writer.post("/v1/track", json={"userId": "u", "event": "e", "messageId": "m6"}))
    assert len(events(services.engine, workspace.id)) == 7


def test_the_token_bucket_lets_a_big_batch_through_when_full_and_then_waits():
    now = {"t": 0.0}
    gate = ingest_module.IngestGate(10, monotonic=lambda: now["t"])
    assert gate.take(1, 500) is None  # full bucket: passes, leaves a debt of 490
    wait = gate.take(1, 1)
    assert wait == pytest.approx(49.1)
    assert gate.take(2, 10) is None  # other workspaces have their own bucket
    now["t"] += 49.1
    assert gate.take(1, 1) is None


def test_a_busy_database_answers_429(writer, services, workspace, monkeypatch, engine):
    monkeypatch.setattr(upsert_module, "DB_BUSY_SECONDS", 0.2)
    blocker = engine.connect()
    try:
        if engine.dialect.name == "sqlite":
            blocker.begin()  # BEGIN IMMEDIATE: holds SQLite's write lock
        else:
            blocker.begin()
            blocker.exec_driver_sql("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        response = writer.post("/v1/track", json={"userId": "u", "event": "e"})
        assert response.status_code == 429, response.text
        assert response.headers["Retry-After"] == "1"
    finally:
        blocker.rollback()
        blocker.close()
    ok(writer.post("/v1/track", json={"userId": "u", "event": "e"}))


# -- credentials -----------------------------------------------------------------------------------------


def test_ingestion_needs_a_valid_write_key(client, workspace):
    body = {"userId": "u", "event": "e"}
    missing = client.post("/v1/track", json=body)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    assert client.post("/v1/track", json=body, auth=("wm_write_nope", "")).status_code == 401
    assert client.post("/v1/track", json=body, headers={"Authorization": "Basic !!!"}).status_code == 401
    assert (
        Api(client, headers={"Authorization": f"Bearer {workspace.write_key}"}).post("/v1/track", json=body).status_code
        == 200
    )


# -- journeys --------------------------------------------------------------------------------------------

SIGNUP_JOURNEY = linear_graph(
    {"id": "start", "type": "trigger.event", "config": {"event": "signup", "where": []}},
    {"id": "wait", "type": "wait.event", "config": {"event": "purchase", "timeout": "P3D"}, "_port": "event"},
    {"id": "buyer", "type": "tag", "config": {"add": ["buyer"]}},
)


def publish(admin, graph: dict) -> int:
    journey = ok(admin.post("/api/journeys", json={"name": "Signup", "graph": graph}), 201)
    ok(admin.post(f"/api/journeys/{journey['id']}/publish", json={}), 201)
    return journey["id"]


def test_a_tracked_event_starts_a_journey_and_another_wakes_the_wait(admin, writer, services, ticker, workspace):
    publish(admin, SIGNUP_JOURNEY)
    ok(writer.post("/v1/track", json={"userId": "u-1", "event": "signup", "properties": {"plan": "pro"}}))
    (enrollment,) = enrollments(services.engine)
    assert (enrollment["node_id"], enrollment["due_at"]) == ("start", services.clock.now())
    assert services.waker.wait(0)  # the worker was woken, not left for the next poll

    ticker.run_until_idle()
    (enrollment,) = enrollments(services.engine)
    assert (enrollment["node_id"], enrollment["wait_event"]) == ("wait", "purchase")

    ok(writer.post("/v1/track", json={"userId": "u-1", "event": "purchase", "properties": {"sku": "A"}}))
    (enrollment,) = enrollments(services.engine)
    assert enrollment["due_at"] == services.clock.now()
    assert enrollment["wake_event"]["properties"] == {"sku": "A"}
    ticker.run_until_idle()
    (enrollment,) = enrollments(services.engine)
    assert (enrollment["node_id"], enrollment["status"]) == ("buyer", "completed")
    assert contacts(services.engine, workspace.id)[0]["tags"] == ["buyer"]


def test_a_batch_starts_journeys_for_every_matching_event(admin, writer, services, ticker):
    publish(admin, SIGNUP_JOURNEY)
    batch = [{"type": "track", "userId": f"u{i}", "event": "signup"} for i in range(20)]
    batch.append({"type": "track", "userId": "u0", "event": "purchase"})
    ok(writer.post("/v1/batch", json={"batch": batch}))
    ticker.run_until_idle()
    rows = enrollments(services.engine)
    assert len(rows) == 20
    # u0's purchase came after its signup in the same batch: it wakes u0's wait, as one call at a time would.
    assert sorted((r["node_id"], r["status"]) for r in rows) == [("buyer", "completed")] + [("wait", "active")] * 19
