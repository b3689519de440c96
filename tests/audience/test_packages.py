"""Product / subscription criteria, with iPresso's three cases as a marketer would build them. Days are
calendar days in the contact's time zone: "ends in 7 days" means the end date is 7 days after today."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import ok
from tests.audience.test_segments import identify, members, work

# The test clock starts on Monday 5 January 2026, 09:00 UTC.
TODAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def package(sub_id: str, name: str, *, start_days: int, end_days: int, auto_renew: bool = False) -> dict:
    return {
        "id": sub_id,
        "name": name,
        "start_at": (TODAY + timedelta(days=start_days)).isoformat(),
        "end_at": (TODAY + timedelta(days=end_days)).isoformat(),
        "auto_renew": auto_renew,
    }


def segment(admin, services, name: str, rule: dict) -> dict:
    created = ok(admin.post("/api/segments", json={"name": name, "rule": rule}), 201)
    work(services)
    return created


def test_active_streaming_package_for_a_cross_sell(admin, writer, services):
    identify(writer, "active", subscriptions=[package("s1", "streaming", start_days=-10, end_days=20)])
    identify(writer, "ends-today", subscriptions=[package("s2", "streaming", start_days=-30, end_days=0)])
    identify(writer, "other", subscriptions=[package("s3", "sports", start_days=-10, end_days=20)])
    active = segment(
        admin,
        services,
        "Active streaming",
        {"kind": "subscription", "names": ["streaming"], "ends_in": {"op": "at_least", "days": 1}},
    )
    assert members(admin, active["id"]) == ["active"]


def test_a_30_day_package_ending_in_7_days_for_a_reminder(admin, writer, services):
    identify(writer, "due", subscriptions=[package("a", "monthly", start_days=-23, end_days=7)])
    identify(writer, "later", subscriptions=[package("b", "monthly", start_days=-22, end_days=8)])
    identify(writer, "yearly", subscriptions=[package("c", "yearly", start_days=-358, end_days=7)])
    reminder = segment(
        admin,
        services,
        "Monthly ends in 7 days",
        {
            "kind": "subscription",
            "duration_days": {"op": "exactly", "days": 30},
            "ends_in": {"op": "exactly", "days": 7},
        },
    )
    assert members(admin, reminder["id"]) == ["due"]
    # A day later "later" ends in 7 days and "due" in 6: the re-check moves both at local midnight.
    services.clock.advance(timedelta(days=1))
    work(services)
    assert members(admin, reminder["id"]) == ["later"]


def test_the_end_day_is_counted_in_the_contact_s_time_zone(admin, writer, services):
    # 23:30 UTC on 11 January is already 12 January in Shanghai: 7 days from 5 January there.
    end = datetime(2026, 1, 11, 23, 30, tzinfo=UTC).isoformat()
    identify(writer, "shanghai", timezone="Asia/Shanghai", subscriptions=[{"id": "x", "name": "vip", "end_at": end}])
    identify(writer, "london", timezone="Europe/London", subscriptions=[{"id": "y", "name": "vip", "end_at": end}])
    soon = segment(admin, services, "VIP ends in 7 days", {"kind": "subscription", "ends_in": {"days": 7}})
    assert members(admin, soon["id"]) == ["shanghai"]


def test_auto_renew_switched_off_after_being_on_for_a_win_back(admin, writer, services):
    identify(writer, "leaving", subscriptions=[package("p1", "premium", start_days=-40, end_days=20, auto_renew=True)])
    identify(writer, "never-on", subscriptions=[package("p2", "premium", start_days=-40, end_days=20)])
    win_back = segment(
        admin,
        services,
        "Turned auto-renew off",
        {"kind": "subscription", "auto_renew": False, "auto_renew_before": True},
    )
    assert members(admin, win_back["id"]) == []
    contact = ok(admin.get("/api/contacts", params={"q": "leaving"}))["items"][0]
    (sub,) = ok(admin.get(f"/api/contacts/{contact['id']}/subscriptions"))
    changed = ok(admin.patch(f"/api/contacts/{contact['id']}/subscriptions/{sub['id']}", json={"auto_renew": False}))
    assert (changed["auto_renew"], changed["auto_renew_before"]) == (False, True)
    assert members(admin, win_back["id"]) == ["leaving"]


def test_subscriptions_api_and_record_attributes(admin, writer, services):
    identify(writer, "kim")
    contact = ok(admin.get("/api/contacts", params={"q": "kim"}))["items"][0]
    hd = segment(
        admin,
        services,
        "HD streaming",
        {"kind": "subscription", "where": [{"key": "quality", "op": "eq", "value": "hd"}]},
    )
    url = f"/api/contacts/{contact['id']}/subscriptions"
    sub = ok(
        admin.post(
            url,
            json={
                "name": "streaming",
                "attributes": {"quality": "hd"},
                "end_at": (TODAY + timedelta(days=30)).isoformat(),
            },
        ),
        201,
    )
    assert members(admin, hd["id"]) == ["kim"]
    ok(admin.patch(f"{url}/{sub['id']}", json={"attributes": {"quality": "sd"}}))
    assert members(admin, hd["id"]) == []
    bad = admin.patch(f"{url}/{sub['id']}", json={"start_at": (TODAY + timedelta(days=60)).isoformat()})
    assert bad.status_code == 400 and bad.json()["problems"][0]["pointer"] == "/end_at"
    assert admin.delete(f"{url}/{sub['id']}").status_code == 204
    assert ok(admin.get(url)) == []
