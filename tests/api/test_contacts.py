"""Contacts and events in the admin API, and isolation between workspaces."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import admin_api, ok, write_api
from tests.factories import linear_graph


def identify(writer, user_id: str, **traits) -> None:
    ok(writer.post("/v1/identify", json={"userId": user_id, "traits": traits}))


def test_search_by_prefix_of_external_id_email_or_phone(admin, writer):
    identify(writer, "cust-001", email="Ana@Example.com", phone="+48600100200")
    identify(writer, "cust-002", email="bob@example.org")
    identify(writer, "other-9", email="carla@acme.io", phone="+34911222333")

    def ids(q: str) -> list[str]:
        return [c["external_id"] for c in ok(admin.get("/api/contacts", params={"q": q}))["items"]]

    assert ids("cust-") == ["cust-002", "cust-001"]  # newest first
    assert ids("ana@") == ["cust-001"]
    assert ids("ANA@EXAMPLE") == ["cust-001"]  # emails are stored and searched in lower case
    assert ids("+3491") == ["other-9"]
    assert ids("48600") == ["cust-001"]  # a number without its "+" still finds the phone
    assert ids("nobody") == []
    assert ids("%") == []  # LIKE wildcards are literal
    assert ids("cust_00") == []
    everyone = ok(admin.get("/api/contacts"))
    assert len(everyone["items"]) == 3 and everyone["next_cursor"] is None
    assert set(everyone["items"][0]) == {"id", "external_id", "email", "phone", "tags", "created_at", "updated_at"}


def test_pages_follow_next_cursor(admin, writer):
    for i in range(7):
        identify(writer, f"u{i}")
    seen, cursor = [], None
    while True:
        page = ok(admin.get("/api/contacts", params={"limit": 3, **({"cursor": cursor} if cursor else {})}))
        seen += [c["external_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"u{i}" for i in reversed(range(7))]


def test_contact_detail_shows_subscriptions_and_journeys_with_block_labels(admin, writer, ticker):
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "pause", "type": "wait.duration", "label": "Give them a day", "config": {"duration": "P1D"}},
    )
    journey = ok(admin.post("/api/journeys", json={"name": "Welcome", "graph": graph}), 201)
    ok(admin.post(f"/api/journeys/{journey['id']}/publish", json={}), 201)
    identify(
        writer,
        "u-1",
        email="u1@example.com",
        subscriptions=[{"id": "vip", "name": "VIP", "auto_renew": True, "end_at": "2026-06-01T00:00:00Z"}],
    )
    ok(writer.post("/v1/track", json={"userId": "u-1", "event": "signup"}))
    ticker.run_until_idle()

    contact_id = ok(admin.get("/api/contacts", params={"q": "u-1"}))["items"][0]["id"]
    contact = ok(admin.get(f"/api/contacts/{contact_id}"))
    assert contact["email"] == "u1@example.com"
    (sub,) = contact["subscriptions"]
    assert (sub["external_id"], sub["name"], sub["auto_renew"], sub["end_at"]) == (
        "vip",
        "VIP",
        True,
        "2026-06-01T00:00:00Z",
    )
    (entry,) = contact["journeys"]
    assert entry["journey_id"] == journey["id"] and entry["name"] == "Welcome"
    assert (entry["node_id"], entry["node_label"], entry["status"]) == ("pause", "Give them a day", "active")


def test_create_and_patch_a_contact(admin):
    created = ok(
        admin.post(
            "/api/contacts",
            json={
                "external_id": "crm-1",
                "email": "Zoe@Example.com",
                "tags": ["lead", "lead"],
                "attributes": {"city": "Kraków", "score": 3},
                "consent": {"sms": False},
                "timezone": "Europe/Warsaw",
            },
        ),
        201,
    )
    assert (created["email"], created["tags"], created["timezone"]) == ("zoe@example.com", ["lead"], "Europe/Warsaw")
    assert created["subscriptions"] == [] and created["journeys"] == []

    patched = ok(
        admin.patch(
            f"/api/contacts/{created['id']}",
            json={
                "attributes": {"score": None, "plan": "pro"},
                "consent": {"email": True},
                "phone": "+1555",
                "locale": None,
            },
        )
    )
    assert patched["attributes"] == {"city": "Kraków", "plan": "pro"}
    assert patched["consent"] == {"sms": False, "email": True}
    assert (patched["phone"], patched["email"], patched["tags"]) == ("+1555", "zoe@example.com", ["lead"])

    duplicate = admin.post("/api/contacts", json={"external_id": "crm-1"})
    assert duplicate.status_code == 409
    assert duplicate.json()["problems"][0]["pointer"] == "/external_id"
    ok(admin.post("/api/contacts", json={"anonymous_id": "device-1"}), 201)
    twin = admin.post("/api/contacts", json={"anonymous_id": "device-1"})
    assert twin.status_code == 409
    assert twin.json()["problems"][0]["pointer"] == "/anonymous_id"
    other = ok(admin.post("/api/contacts", json={"external_id": "crm-2"}), 201)
    clash = admin.patch(f"/api/contacts/{other['id']}", json={"external_id": "crm-1"})
    assert clash.status_code == 409


def test_contact_field_checks_name_the_field(admin):
    bad_email = admin.post("/api/contacts", json={"email": "not an email"})
    assert bad_email.status_code == 400
    assert bad_email.json()["problems"][0]["pointer"] == "/email"
    bad_tz = admin.post("/api/contacts", json={"timezone": "Mars/Olympus"})
    assert bad_tz.status_code == 400
    assert bad_tz.json()["problems"][0]["pointer"] == "/timezone"
    bad_tags = admin.post("/api/contacts", json={"tags": "vip"})
    assert bad_tags.status_code == 400
    assert bad_tags.json()["problems"][0]["pointer"] == "/tags"
    unknown = admin.post("/api/contacts", json={"emial": "a@b.c"})
    assert unknown.status_code == 400
    assert "emial" in unknown.json()["detail"]


def test_deleting_a_contact_removes_its_events(admin, writer, services):
    identify(writer, "gone")
    contact_id = ok(admin.get("/api/contacts"))["items"][0]["id"]
    assert ok(admin.get("/api/events"))["items"]
    assert admin.delete(f"/api/contacts/{contact_id}").status_code == 204
    assert admin.get(f"/api/contacts/{contact_id}").status_code == 404
    assert ok(admin.get("/api/events"))["items"] == []


def test_contact_timeline_is_in_occurrence_order_and_pages(admin, writer, clock):
    now = clock.now()
    for i, hours_ago in enumerate([5, 1, 3, 2, 4]):
        ok(
            writer.post(
                "/v1/track",
                json={"userId": "t", "event": f"e{i}", "timestamp": (now - timedelta(hours=hours_ago)).isoformat()},
            )
        )
    contact_id = ok(admin.get("/api/contacts"))["items"][0]["id"]
    names, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(admin.get(f"/api/contacts/{contact_id}/events", params=params))
        names += [e["name"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert names == ["e1", "e3", "e2", "e4", "e0"]
    event = ok(admin.get(f"/api/contacts/{contact_id}/events"))["items"][0]
    assert set(event) == {
        "id",
        "contact_id",
        "name",
        "properties",
        "occurred_at",
        "received_at",
        "source",
        "message_id",
    }


def test_events_filter_by_name_and_contact(admin, writer):
    ok(
        writer.post(
            "/v1/batch",
            json={
                "batch": [
                    {"type": "track", "userId": "a", "event": "open"},
                    {"type": "track", "userId": "b", "event": "open"},
                    {"type": "track", "userId": "a", "event": "click"},
                ]
            },
        )
    )
    everything = ok(admin.get("/api/events"))["items"]
    assert [e["name"] for e in everything] == ["click", "open", "open"]  # newest first
    assert [e["name"] for e in ok(admin.get("/api/events", params={"name": "open"}))["items"]] == ["open", "open"]
    a = everything[0]["contact_id"]
    mine = ok(admin.get("/api/events", params={"contact_id": a}))["items"]
    assert {e["contact_id"] for e in mine} == {a} and len(mine) == 2


def test_workspaces_cannot_see_each_other(client, workspace, other_workspace):
    admin_a, admin_b = admin_api(client, workspace), admin_api(client, other_workspace)
    ok(write_api(client, workspace).post("/v1/identify", json={"userId": "secret", "traits": {"email": "s@a.io"}}))
    contact_id = ok(admin_a.get("/api/contacts"))["items"][0]["id"]
    journey_id = ok(admin_a.post("/api/journeys", json={"name": "A's journey"}), 201)["id"]
    key_id = ok(admin_a.get("/api/keys"))[0]["id"]

    assert ok(admin_b.get("/api/contacts"))["items"] == []
    assert ok(admin_b.get("/api/contacts", params={"q": "secret"}))["items"] == []
    assert ok(admin_b.get("/api/events"))["items"] == []
    assert ok(admin_b.get("/api/events", params={"contact_id": contact_id}))["items"] == []
    assert ok(admin_b.get("/api/journeys"))["items"] == []
    for method, path, body in [
        ("GET", f"/api/contacts/{contact_id}", None),
        ("PATCH", f"/api/contacts/{contact_id}", {"email": "x@b.io"}),
        ("DELETE", f"/api/contacts/{contact_id}", None),
        ("GET", f"/api/contacts/{contact_id}/events", None),
        ("GET", f"/api/journeys/{journey_id}", None),
        ("PATCH", f"/api/journeys/{journey_id}", {"name": "mine now"}),
        ("POST", f"/api/journeys/{journey_id}/publish", {}),
        ("GET", f"/api/journeys/{journey_id}/stats", None),
        ("DELETE", f"/api/keys/{key_id}", None),
    ]:
        response = admin_b.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    # …and A's data is untouched.
    assert ok(admin_a.get(f"/api/contacts/{contact_id}"))["email"] == "s@a.io"
    assert ok(admin_a.get(f"/api/journeys/{journey_id}"))["name"] == "A's journey"
    # A write key ingests into its own workspace only.
    ok(
        write_api(client, other_workspace).post(
            "/v1/identify", json={"userId": "secret", "traits": {"email": "b@b.io"}}
        )
    )
    assert ok(admin_a.get(f"/api/contacts/{contact_id}"))["email"] == "s@a.io"
