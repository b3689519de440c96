"""Engagement scores: weighted events that fade, turned into levels 1-10, kept live by the event path and
by the re-check as events age out or decay; used by segments, split.rules and the score trigger."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from backend.db.models import AudienceCheck, Event
from tests.api.conftest import ok
from tests.api.test_ingest import publish
from tests.audience.test_segments import identify, members, track, work
from tests.factories import linear_graph

EMAIL = {
    "events": [{"event": "email_opened", "weight": 3}, {"event": "email_clicked", "weight": 5}],
    "fading": {"mode": "window", "window": "P30D"},
    "bands": {"mode": "thresholds", "thresholds": [1, 3, 6, 10, 15, 21, 28, 36, 45]},
}


def score(admin, services, definition=EMAIL, name="Email engagement", key="engagement") -> dict:
    created = ok(admin.post("/api/scores", json={"name": name, "key": key, "definition": definition}), 201)
    work(services)
    return ok(admin.get(f"/api/scores/{created['id']}"))


def contact(admin, external_id: str) -> dict:
    found = ok(admin.get("/api/contacts", params={"q": external_id}))["items"][0]
    return ok(admin.get(f"/api/contacts/{found['id']}"))


def test_weighted_events_give_a_level_in_the_same_request_and_no_events_give_no_score(admin, writer, services):
    identify(writer, "quiet")
    created = score(admin, services)
    track(writer, "ana", "email_opened")  # 3 points: level 3 (3 reaches the threshold for level 3)
    rows = ok(admin.get(f"/api/contacts/{contact(admin, 'ana')['id']}/scores"))
    assert [(r["key"], r["level"], r["points"]) for r in rows] == [("engagement", 3, 3.0)]
    track(writer, "ana", "email_clicked")  # 8 points: level 4
    (row,) = ok(admin.get(f"/api/contacts/{contact(admin, 'ana')['id']}/scores"))
    assert (row["level"], row["points"]) == (4, 8.0)
    assert row["events"] == [
        {"event": "email_clicked", "count": 1, "points": 5.0},
        {"event": "email_opened", "count": 1, "points": 3.0},
    ]
    (quiet,) = ok(admin.get(f"/api/contacts/{contact(admin, 'quiet')['id']}/scores"))
    assert quiet["level"] is None  # no scored events: no score, not 1
    detail = ok(admin.get(f"/api/scores/{created['id']}"))
    assert detail["histogram"] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0] and detail["scored"] == 1
    with services.engine.connect() as conn:
        changes = conn.execute(sa.select(Event.properties).where(Event.name == "score_changed")).scalars().all()
    assert [(c["previous"], c["level"]) for c in changes] == [(None, 3), (3, 4)]


def test_a_window_score_ages_out_and_the_contact_loses_it(admin, writer, services):
    score(admin, services)
    track(writer, "bo", "email_clicked")
    services.clock.advance(timedelta(days=10))
    track(writer, "bo", "email_opened")
    services.clock.advance(timedelta(days=21))  # the click is 31 days old
    work(services)
    (row,) = ok(admin.get(f"/api/contacts/{contact(admin, 'bo')['id']}/scores"))
    assert (row["level"], row["points"]) == (3, 3.0)
    services.clock.advance(timedelta(days=10))
    work(services)
    (row,) = ok(admin.get(f"/api/contacts/{contact(admin, 'bo')['id']}/scores"))
    assert row["level"] is None
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(AudienceCheck)).scalar_one() == 0


def test_a_decaying_score_drops_a_level_when_its_points_cross_the_bound(admin, writer, services):
    definition = {**EMAIL, "fading": {"mode": "decay", "half_life": "P1D"}}
    score(admin, services, definition)
    track(writer, "cy", "email_clicked")
    track(writer, "cy", "email_clicked")
    track(writer, "cy", "email_opened")  # 13 points: level 5 (10 to 15)
    (row,) = ok(admin.get(f"/api/contacts/{contact(admin, 'cy')['id']}/scores"))
    assert row["level"] == 5
    # Each event may only bring the re-check forward (10 points, a moment ago, were about to fall below
    # 10); the re-check then stores the exact moment: 13 points halving daily fall below 10 after
    # log2(13 / 10) days, 9.08 hours.
    start = services.clock.now()
    services.clock.advance(timedelta(seconds=2))
    work(services)
    with services.engine.connect() as conn:
        due = conn.execute(sa.select(AudienceCheck.due_at)).scalar_one()
    assert abs((due - start).total_seconds() - 86400 * 0.37851162325372983) < 2
    services.clock.advance(timedelta(hours=9))
    work(services)
    assert ok(admin.get(f"/api/contacts/{contact(admin, 'cy')['id']}/scores"))[0]["level"] == 5
    services.clock.advance(timedelta(minutes=10))
    work(services)
    assert ok(admin.get(f"/api/contacts/{contact(admin, 'cy')['id']}/scores"))[0]["level"] == 4


def test_percentile_bands_spread_contacts_over_ten_levels(admin, writer, services):
    definition = {**EMAIL, "bands": {"mode": "percentile"}}
    for i in range(10):
        identify(writer, f"p{i}")
        for _ in range(i + 1):
            track(writer, f"p{i}", "email_opened")
    created = score(admin, services, definition)
    assert created["histogram"] == [1] * 10
    assert created["trend"][-1]["levels"] == [1] * 10
    assert ok(admin.get(f"/api/contacts/{contact(admin, 'p9')['id']}/scores"))[0]["level"] == 10


def test_segments_and_split_rules_use_scores(admin, writer, services):
    score(admin, services)
    engaged = ok(
        admin.post(
            "/api/segments",
            json={"name": "Engaged", "rule": {"kind": "score", "key": "engagement", "min": 5, "max": 10}},
        ),
        201,
    )
    work(services)
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "checkout"}},
        {
            "id": "split",
            "type": "split.rules",
            "config": {
                "branches": [
                    {"name": "reward", "rule": {"kind": "score", "key": "engagement", "min": 5}},
                    {"name": "nudge", "rule": {"kind": "score", "key": "engagement", "min": 3, "max": 4}},
                ]
            },
            "_port": "reward",
        },
        {"id": "rewarded", "type": "tag", "config": {"add": ["rewarded"]}},
    )
    graph["nodes"].append({"id": "nudged", "type": "tag", "config": {"add": ["nudged"]}})
    graph["nodes"].append({"id": "taught", "type": "tag", "config": {"add": ["tutorial"]}})
    graph["edges"] += [
        {"id": "n", "source": "split", "port": "nudge", "target": "nudged"},
        {"id": "t", "source": "split", "port": "else", "target": "taught"},
    ]
    publish(admin, graph)
    for _ in range(2):
        track(writer, "hi", "email_clicked")  # 10 points: level 5
    track(writer, "mid", "email_clicked")  # 5 points: level 3
    identify(writer, "low")
    for user in ("hi", "mid", "low"):
        track(writer, user, "checkout")
    work(services)
    assert {u: contact(admin, u)["tags"] for u in ("hi", "mid", "low")} == {
        "hi": ["rewarded"],
        "mid": ["nudged"],
        "low": ["tutorial"],
    }
    assert members(admin, engaged["id"]) == ["hi"]
    # The score's page lists what uses it: the segment and the journey whose split has rules on it.
    (listed,) = ok(admin.get("/api/scores"))
    assert listed["segments"] == ["Engaged"] and [j["status"] for j in listed["journeys"]] == ["published"]


def test_a_journey_starts_when_a_score_enters_a_band(admin, writer, services):
    score(admin, services)
    publish(
        admin,
        linear_graph(
            {"id": "start", "type": "trigger.score", "config": {"score": "engagement", "min": 4, "max": 10}},
            {"id": "vip", "type": "tag", "config": {"add": ["engaged"]}},
        ),
    )
    track(writer, "dee", "email_opened")  # level 3: not in the band
    work(services)
    assert contact(admin, "dee")["tags"] == []
    track(writer, "dee", "email_clicked")  # level 4: enters the band
    track(writer, "dee", "email_clicked")  # level 5: moves within it, no second start
    work(services)
    assert contact(admin, "dee")["tags"] == ["engaged"]
    assert contact(admin, "dee")["scores"] == {"engagement": 5}


def test_a_bad_score_is_a_400_naming_the_field(admin):
    heavy = admin.post("/api/scores", json={"name": "x", "definition": {"events": [{"event": "e", "weight": 11}]}})
    assert heavy.status_code == 400
    assert heavy.json()["problems"][0]["pointer"] == "/definition/events/0/weight"
    shuffled = admin.post(
        "/api/scores",
        json={
            "name": "x",
            "definition": {
                "events": [{"event": "e", "weight": 1}],
                "bands": {"mode": "thresholds", "thresholds": [1, 2, 3, 4, 5, 6, 7, 9, 8]},
            },
        },
    )
    assert shuffled.status_code == 400
    assert shuffled.json()["problems"][0]["pointer"] == "/definition/bands/thresholds"
