"""Segments and computed properties, tried as a marketer would through the API, on both engines:
membership changes in the same request as the event that causes it, by time as windows slide and
package end dates come closer, and journeys react to entries at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend.audience import live, segments
from backend.audience.definitions import parse_rule
from backend.db.models import AudienceCheck, Contact, Enrollment, Event
from backend.runtime.worker import Worker
from tests.api.conftest import ok
from tests.api.test_ingest import publish
from tests.factories import linear_graph

RENTALS = {"event": "rental", "aggregate": "count", "window": "P30D"}
FREQUENT = {"kind": "computed", "key": "rentals_30d", "op": "gte", "value": 3}


def work(services, passes: int = 20) -> None:
    """What the background worker does: backfills, due re-checks, ticks and deliveries, until idle."""
    worker = Worker(services)
    for _ in range(passes):
        if not worker.run_once():
            return


def members(admin, segment_id: int) -> list[str]:
    page = ok(admin.get(f"/api/segments/{segment_id}/contacts"))
    return sorted(c["external_id"] for c in page["items"])


def track(writer, user: str, event: str, **properties) -> None:
    ok(writer.post("/v1/track", json={"userId": user, "event": event, "properties": properties}))


def identify(writer, user: str, **traits) -> None:
    ok(writer.post("/v1/identify", json={"userId": user, "traits": traits}))


@pytest.fixture
def frequent(admin, services):
    ok(
        admin.post(
            "/api/computed-properties", json={"name": "Rentals in 30 days", "key": "rentals_30d", "definition": RENTALS}
        ),
        201,
    )
    segment = ok(admin.post("/api/segments", json={"name": "Frequent renters", "rule": FREQUENT}), 201)
    work(services)
    return segment


def test_a_computed_property_drives_a_segment_whose_journey_starts_with_the_third_event(
    admin, writer, services, frequent
):
    graph = linear_graph(
        {"id": "start", "type": "trigger.segment", "config": {"segment": frequent["key"]}},
        {"id": "reward", "type": "tag", "config": {"add": ["rewarded"]}},
    )
    publish(admin, graph)
    for _ in range(2):
        track(writer, "ana", "rental", car="mini")
    assert members(admin, frequent["id"]) == []
    track(writer, "ana", "rental", car="tesla")
    # The third rental's own request put Ana in the segment and started the journey.
    assert members(admin, frequent["id"]) == ["ana"]
    contact = ok(admin.get("/api/contacts", params={"q": "ana"}))["items"][0]
    detail = ok(admin.get(f"/api/contacts/{contact['id']}"))
    assert detail["computed"] == {"rentals_30d": 3}
    assert [s["key"] for s in detail["segments"]] == [frequent["key"]]
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Enrollment)).scalar_one() == 1
        names = conn.execute(sa.select(Event.name).order_by(Event.id)).scalars().all()
    assert names[-1] == "segment_entered"
    work(services)
    assert ok(admin.get(f"/api/contacts/{contact['id']}"))["tags"] == ["rewarded"]


def test_membership_follows_the_clock_as_a_window_slides(admin, writer, services, frequent):
    for _day in range(3):
        track(writer, "bo", "rental")
        services.clock.advance(timedelta(days=1))
    assert members(admin, frequent["id"]) == ["bo"]
    with services.engine.connect() as conn:
        (due,) = conn.execute(sa.select(AudienceCheck.due_at)).scalars().all()
    # The first rental leaves the 30-day window first: that is when the answer can change.
    assert due == services.clock.now() - timedelta(days=3) + timedelta(days=30)
    services.clock.advance(timedelta(days=26))
    work(services)
    assert members(admin, frequent["id"]) == ["bo"]  # not due yet: nothing was re-checked
    services.clock.advance(timedelta(days=2))
    work(services)
    assert members(admin, frequent["id"]) == []
    contact = ok(admin.get("/api/contacts", params={"q": "bo"}))["items"][0]
    assert ok(admin.get(f"/api/contacts/{contact['id']}"))["computed"] == {"rentals_30d": 2}
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(Event.name).order_by(Event.id.desc()).limit(1)).scalar() == "segment_left"


def test_saving_a_segment_backfills_membership_with_progress_and_a_trend(admin, writer, services):
    for i in range(12):
        identify(writer, f"u{i}", plan="pro" if i % 3 == 0 else "free")
    segment = ok(
        admin.post(
            "/api/segments",
            json={"name": "Pro plan", "rule": {"kind": "attribute", "key": "plan", "op": "eq", "value": "pro"}},
        ),
        201,
    )
    assert segment["status"] == "building"
    assert segment["progress"] == {"done": 0, "total": 12}
    work(services)
    segment = ok(admin.get(f"/api/segments/{segment['id']}"))
    assert (segment["status"], segment["size"], segment["progress"]["done"]) == ("ready", 4, 12)
    assert members(admin, segment["id"]) == ["u0", "u3", "u6", "u9"]
    assert segment["trend"][-1]["size"] == 4 and len(segment["trend"]) == 30
    # A trait change moves the contact in the request that changes it.
    identify(writer, "u1", plan="pro")
    identify(writer, "u0", plan="free")
    assert members(admin, segment["id"]) == ["u1", "u3", "u6", "u9"]
    listed = ok(admin.get("/api/contacts", params={"segment": segment["key"]}))
    assert listed["total"] == 4 and len(listed["items"]) == 4
    segment = ok(admin.get(f"/api/segments/{segment['id']}"))
    assert (segment["size"], segment["trend"][-1]["entered"], segment["trend"][-1]["left"]) == (4, 5, 1)


def test_changing_a_rule_rebuilds_membership(admin, writer, services):
    for i in range(5):
        identify(writer, f"u{i}", age=20 + i)
    segment = ok(
        admin.post(
            "/api/segments",
            json={"name": "Over 22", "rule": {"kind": "attribute", "key": "age", "op": "gt", "value": 22}},
        ),
        201,
    )
    work(services)
    assert members(admin, segment["id"]) == ["u3", "u4"]
    ok(
        admin.patch(
            f"/api/segments/{segment['id']}",
            json={"rule": {"kind": "attribute", "key": "age", "op": "lt", "value": 22}},
        )
    )
    work(services)
    assert members(admin, segment["id"]) == ["u0", "u1"]
    assert ok(admin.get(f"/api/segments/{segment['id']}"))["size"] == 2


def test_a_bad_rule_is_a_400_naming_the_field(admin):
    bad = admin.post(
        "/api/segments",
        json={
            "name": "x",
            "rule": {
                "kind": "all",
                "rules": [
                    {"kind": "attribute", "key": "signup", "op": "within_last", "value": "soon"},
                    {"kind": "segment", "segment": "nope"},
                ],
            },
        },
    )
    assert bad.status_code == 400
    pointers = {p["pointer"] for p in bad.json()["problems"]}
    assert pointers == {"/rule/rules/0/value", "/rule/rules/1/segment"}
    wrong_kind = admin.post("/api/segments", json={"name": "x", "rule": {"kind": "magic"}})
    assert wrong_kind.status_code == 400
    assert wrong_kind.json()["problems"][0]["pointer"].startswith("/rule")


def test_segments_may_not_name_each_other_in_a_circle(admin):
    a = ok(admin.post("/api/segments", json={"name": "A", "rule": {"kind": "tag", "tag": "x"}}), 201)
    ok(admin.post("/api/segments", json={"name": "B", "rule": {"kind": "segment", "segment": "a"}}), 201)
    looped = admin.patch(f"/api/segments/{a['id']}", json={"rule": {"kind": "segment", "segment": "b"}})
    assert looped.status_code == 400
    assert "circle" in looped.json()["problems"][0]["message"]


def test_a_segment_of_a_segment_follows_in_the_same_request(admin, writer, services):
    vip = ok(admin.post("/api/segments", json={"name": "VIP", "rule": {"kind": "tag", "tag": "vip"}}), 201)
    ok(
        admin.post(
            "/api/segments",
            json={
                "name": "VIP in Spain",
                "rule": {
                    "kind": "all",
                    "rules": [
                        {"kind": "segment", "segment": vip["key"]},
                        {"kind": "attribute", "key": "country", "op": "eq", "value": "ES"},
                    ],
                },
            },
        ),
        201,
    )
    work(services)
    identify(writer, "carmen", tags=["vip"], country="ES")
    contact = ok(admin.get("/api/contacts", params={"q": "carmen"}))["items"][0]
    keys = [s["key"] for s in ok(admin.get(f"/api/contacts/{contact['id']}/segments"))]
    assert keys == ["vip", "vip_in_spain"]


def test_a_journey_waits_for_a_segment_and_a_condition_reads_membership(admin, writer, services):
    vip = ok(admin.post("/api/segments", json={"name": "VIP", "rule": {"kind": "tag", "tag": "vip"}}), 201)
    work(services)
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "wait", "type": "wait.segment", "config": {"segment": "vip", "timeout": "P7D"}, "_port": "met"},
        {"id": "check", "type": "condition", "config": {"rule": {"kind": "segment", "segment": "vip"}}, "_port": "yes"},
        {"id": "done", "type": "tag", "config": {"add": ["vip-welcomed"]}},
    )
    publish(admin, graph)
    track(writer, "dee", "signup")
    work(services)
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(Enrollment.node_id, Enrollment.wait_event)).one() == ("wait", "segment_entered")
    identify(writer, "dee", tags=["vip"])
    work(services)
    contact = ok(admin.get("/api/contacts", params={"q": "dee"}))["items"][0]
    assert sorted(contact["tags"]) == ["vip", "vip-welcomed"]
    assert members(admin, vip["id"]) == ["dee"]


def test_publishing_can_start_everyone_already_in_the_segment_once(admin, writer, services):
    for user in ("a", "b"):
        identify(writer, user, tags=["vip"])
    ok(admin.post("/api/segments", json={"name": "VIP", "rule": {"kind": "tag", "tag": "vip"}}), 201)
    work(services)
    graph = linear_graph(
        {"id": "start", "type": "trigger.segment", "config": {"segment": "vip", "include_existing": True}},
        {"id": "hello", "type": "tag", "config": {"add": ["hello"]}},
    )
    journey_id = publish(admin, graph)
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Enrollment)).scalar_one() == 2
    ok(admin.post(f"/api/journeys/{journey_id}/publish", json={}), 201)  # a new version starts nobody again
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Enrollment)).scalar_one() == 2


def test_a_segment_a_published_journey_uses_cannot_be_deleted(admin, services):
    vip = ok(admin.post("/api/segments", json={"name": "VIP", "rule": {"kind": "tag", "tag": "vip"}}), 201)
    publish(
        admin,
        linear_graph(
            {"id": "start", "type": "trigger.segment", "config": {"segment": "vip"}},
            {"id": "t", "type": "tag", "config": {"add": ["x"]}},
        ),
    )
    assert [j["name"] for j in ok(admin.get(f"/api/segments/{vip['id']}"))["journeys"]] == ["Signup"]
    refused = admin.delete(f"/api/segments/{vip['id']}")
    assert refused.status_code == 409
    assert "Signup" in refused.json()["detail"]


def test_the_live_count_while_editing_a_rule(admin, writer, services):
    for i in range(6):
        identify(writer, f"u{i}", score=i)
    preview = ok(
        admin.post(
            "/api/segments/preview", json={"rule": {"kind": "attribute", "key": "score", "op": "gte", "value": 4}}
        )
    )
    assert (preview["count"], preview["estimated"], preview["total"]) == (2, False, 6)
    assert sorted(c["external_id"] for c in preview["sample"]) == ["u4", "u5"]


def test_a_tag_added_by_a_journey_moves_the_contact_into_a_segment(admin, writer, services):
    tagged = ok(
        admin.post("/api/segments", json={"name": "Onboarded", "rule": {"kind": "tag", "tag": "onboarded"}}), 201
    )
    work(services)
    publish(
        admin,
        linear_graph(
            {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
            {"id": "t", "type": "tag", "config": {"add": ["onboarded"]}},
        ),
    )
    track(writer, "eve", "signup")
    work(services)
    assert members(admin, tagged["id"]) == ["eve"]


def test_other_workspaces_segments_are_invisible(admin, client, other_workspace):
    from tests.api.conftest import admin_api

    vip = ok(admin.post("/api/segments", json={"name": "VIP", "rule": {"kind": "tag", "tag": "vip"}}), 201)
    other = admin_api(client, other_workspace)
    assert other.get(f"/api/segments/{vip['id']}").status_code == 404
    assert other.get(f"/api/segments/{vip['id']}/contacts").status_code == 404
    assert other.patch(f"/api/segments/{vip['id']}", json={"name": "mine"}).status_code == 404
    assert other.delete(f"/api/segments/{vip['id']}").status_code == 404
    assert other.get("/api/segments").json() == []


def test_a_computed_property_saved_after_the_events_gives_every_contact_its_value(admin, writer, services):
    """The backfill, chunk after chunk, computes each contact it reaches (also those beyond the first chunk)."""
    for i in range(7):
        identify(writer, f"r{i}", plan="free")
        for _ in range(i % 4):
            track(writer, f"r{i}", "rental")
    prop = ok(
        admin.post(
            "/api/computed-properties", json={"name": "Rentals in 30 days", "key": "rentals_30d", "definition": RENTALS}
        ),
        201,
    )
    while live.build_step(services.engine, services.clock.now(), chunk=2) is not None:
        pass
    assert ok(admin.get(f"/api/computed-properties/{prop['id']}"))["status"] == "ready"
    with services.engine.connect() as conn:
        rows = conn.execute(sa.select(Contact.external_id, Contact.computed)).all()
    assert {ext: computed for ext, computed in rows} == {f"r{i}": {"rentals_30d": i % 4} for i in range(7)}


PREFILTERED_RULES = {
    "tagged": {"kind": "tag", "tag": "vip"},
    "plan": {"kind": "attribute", "key": "plan", "op": "in", "value": ["pro", "business"]},
    "code": {"kind": "attribute", "key": "code", "op": "eq", "value": "42"},
    "renter": {"kind": "event", "event": "rental", "count": 2, "within": "P30D"},
    "streaming": {"kind": "subscription", "names": ["streaming"], "ends_in": {"op": "at_least", "days": 1}},
    "frequent": {"kind": "computed", "key": "rentals_30d", "op": "gte", "value": 2},
    "either": {"kind": "any", "rules": [{"kind": "tag", "tag": "vip"}, {"kind": "segment", "segment": "plan"}]},
    "both": {
        "kind": "all",
        "rules": [{"kind": "segment", "segment": "tagged"}, {"kind": "tag", "tag": "beta", "present": False}],
    },
}


def test_backfills_find_the_same_members_as_evaluating_every_contact(admin, writer, services):
    """Backfills only evaluate the contacts a SQL superset of the rule lets through: the members must be
    exactly those the live count finds by evaluating everyone, including numbers sent as strings."""
    ok(admin.post("/api/computed-properties", json={"name": "R", "key": "rentals_30d", "definition": RENTALS}), 201)
    work(services)
    end = (services.clock.now() + timedelta(days=9)).isoformat()
    for i in range(14):
        tags = [t for t, every in (("vip", 3), ("beta", 4)) if i % every == 0]
        subscriptions = [{"id": f"s{i}", "name": "streaming", "end_at": end}] if i % 5 == 0 else []
        code = [42, "42", 42.0, "x"][i % 4]
        identify(
            writer, f"u{i}", tags=tags, plan=["pro", "free", "business"][i % 3], code=code, subscriptions=subscriptions
        )
        for _ in range(i % 3):
            track(writer, f"u{i}", "rental")
    created = {
        key: ok(admin.post("/api/segments", json={"name": key, "key": key, "rule": rule}), 201)
        for key, rule in PREFILTERED_RULES.items()
    }
    work(services)
    with services.engine.connect() as conn:
        workspace_id, names = (
            conn.execute(sa.select(Contact.workspace_id, Contact.id)).first()[0],
            dict(conn.execute(sa.select(Contact.id, Contact.external_id)).all()),
        )
        for key, rule in PREFILTERED_RULES.items():
            found = segments.preview(conn, workspace_id, parse_rule(rule), services.clock.now(), sample=100)
            expected = sorted(names[cid] for cid in found.sample)
            assert expected, key
            assert members(admin, created[key]["id"]) == expected, key
    # A changed rule is backfilled again: members the new rule does not let through leave.
    ok(admin.patch(f"/api/segments/{created['tagged']['id']}", json={"rule": {"kind": "tag", "tag": "beta"}}))
    work(services)
    assert members(admin, created["tagged"]["id"]) == ["u0", "u12", "u4", "u8"]
