"""Broadcasts: a template sent once to a segment, now, later, or at a local time per contact, through the
same delivery rules as journeys (consent, quiet hours, frequency caps), delivered to a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import ok
from tests.audience.test_segments import identify, work
from tests.delivery.conftest import make_template


def vip_segment(admin, services) -> None:
    ok(admin.post("/api/segments", json={"name": "VIP", "rule": {"kind": "tag", "tag": "vip"}}), 201)
    work(services)


def test_a_broadcast_now_reaches_every_member_once(admin, writer, services, workspace, smtp_server):
    make_template(services, workspace.id, "promo", subject="Hello {{ contact.first_name }}")
    for name in ("ana", "ben", "cy"):
        identify(writer, name, email=f"{name}@example.com", first_name=name.title(), tags=["vip"])
    identify(writer, "dan", email="dan@example.com", tags=["vip"], consent={"email": False})
    identify(writer, "eve", email="eve@example.com")
    vip_segment(admin, services)
    created = ok(
        admin.post("/api/broadcasts", json={"name": "Spring sale", "segment": "vip", "template": "promo"}), 201
    )
    assert (created["status"], created["audience"]) == ("scheduled", 4)
    work(services)
    sent = sorted(m.rcpt_tos[0] for m in smtp_server.messages)
    assert sent == ["ana@example.com", "ben@example.com", "cy@example.com"]  # dan unsubscribed, eve not in it
    done = ok(admin.get(f"/api/broadcasts/{created['id']}"))
    assert done["status"] == "sending" and done["audience"] == 4
    assert done["messages"] == {"sent": 3, "skipped": 1}
    work(services)
    assert len(smtp_server.messages) == 3  # never twice
    journeys = ok(admin.get("/api/journeys"))["items"]
    assert journeys == []  # its journey does not clutter the journeys list


def test_a_scheduled_broadcast_waits_for_its_time_and_can_be_cancelled(admin, writer, services, workspace, smtp_server):
    make_template(services, workspace.id, "promo")
    identify(writer, "ana", email="ana@example.com", tags=["vip"])
    vip_segment(admin, services)
    later = (services.clock.now() + timedelta(hours=2)).isoformat()
    first = ok(
        admin.post("/api/broadcasts", json={"name": "A", "segment": "vip", "template": "promo", "send_at": later}), 201
    )
    second = ok(
        admin.post("/api/broadcasts", json={"name": "B", "segment": "vip", "template": "promo", "send_at": later}), 201
    )
    work(services)
    assert smtp_server.messages == []
    ok(admin.post(f"/api/broadcasts/{second['id']}/cancel"))
    identify(writer, "ben", email="ben@example.com", tags=["vip"])  # joins before the send: included
    services.clock.advance(timedelta(hours=2))
    work(services)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["ana@example.com", "ben@example.com"]
    assert ok(admin.get(f"/api/broadcasts/{first['id']}"))["audience"] == 2
    assert ok(admin.get(f"/api/broadcasts/{second['id']}"))["status"] == "cancelled"


def test_a_local_time_broadcast_reaches_each_contact_at_their_own_ten_o_clock(
    admin, writer, services, workspace, smtp_server
):
    make_template(services, workspace.id, "promo")
    identify(writer, "tokyo", email="t@example.com", tags=["vip"], timezone="Asia/Tokyo")
    identify(writer, "warsaw", email="w@example.com", tags=["vip"], timezone="Europe/Warsaw")
    vip_segment(admin, services)
    # The clock stands at Monday 5 January 2026, 09:00 UTC; send on Tuesday at 10:00 local time.
    ok(
        admin.post(
            "/api/broadcasts",
            json={
                "name": "Local",
                "segment": "vip",
                "template": "promo",
                "send_at": "2026-01-06T10:00:00",
                "local_time": True,
            },
        ),
        201,
    )
    moments = {}
    for _hour in range(1, 30):
        services.clock.advance(timedelta(hours=1))
        work(services)
        for m in smtp_server.messages:
            moments.setdefault(m.rcpt_tos[0], services.clock.now())
    assert moments["t@example.com"] == datetime(2026, 1, 6, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
    assert moments["w@example.com"] == datetime(2026, 1, 6, 9, 0, tzinfo=UTC)  # 10:00 in Warsaw


def test_a_workspace_wide_frequency_cap_skips_a_broadcast_to_someone_just_messaged(
    admin, writer, services, workspace, smtp_server
):
    make_template(services, workspace.id, "promo")
    identify(writer, "ana", email="ana@example.com", tags=["vip"])
    vip_segment(admin, services)
    cap = {"messages": 1, "per": "P1D", "across": "workspace"}
    ok(admin.post("/api/broadcasts", json={"name": "One", "segment": "vip", "template": "promo"}), 201)
    work(services)
    second = ok(
        admin.post(
            "/api/broadcasts", json={"name": "Two", "segment": "vip", "template": "promo", "frequency_cap": cap}
        ),
        201,
    )
    work(services)
    assert len(smtp_server.messages) == 1
    assert ok(admin.get(f"/api/broadcasts/{second['id']}"))["messages"] == {"skipped": 1}


def test_bad_broadcasts_are_refused_with_the_field(admin, services, workspace):
    vip_segment(admin, services)
    missing_template = admin.post("/api/broadcasts", json={"name": "x", "segment": "vip", "template": "nope"})
    assert missing_template.status_code == 400
    assert missing_template.json()["problems"][0]["pointer"] == "/template"
    missing_segment = admin.post("/api/broadcasts", json={"name": "x", "segment": "nope", "template": "nope"})
    assert missing_segment.json()["problems"][0]["pointer"] == "/segment"
    past = (services.clock.now() - timedelta(days=1)).isoformat()
    make_template(services, workspace.id, "promo")
    late = admin.post("/api/broadcasts", json={"name": "x", "segment": "vip", "template": "promo", "send_at": past})
    assert late.status_code == 400 and late.json()["problems"][0]["pointer"] == "/send_at"
