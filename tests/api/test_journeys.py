"""The journeys API as the editor and scripts use it: drafts, validation, publishing, lifecycle, numbers."""

from __future__ import annotations

from tests.factories import linear_graph

MANUAL = linear_graph(
    {"id": "start", "type": "trigger.manual"},
    {"id": "hold", "type": "wait.duration", "config": {"duration": "P1D"}},
    {"id": "done", "type": "tag", "config": {"add": ["held"]}},
)


def create(admin, name="Onboarding", graph=None):
    response = admin.post("/api/journeys", json={"name": name, "graph": graph} if graph else {"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def test_draft_saves_are_revision_checked_and_report_problems(admin):
    journey = create(admin)
    assert journey["status"] == "draft" and journey["revision"] == 1
    broken = {**MANUAL, "nodes": [*MANUAL["nodes"][:1], {"id": "hold", "type": "wait.duration", "config": {}}]}
    saved = admin.put(f"/api/journeys/{journey['id']}/draft", json={"graph": broken, "revision": 1})
    assert saved.status_code == 200
    assert saved.json()["revision"] == 2
    assert next(p["pointer"] for p in saved.json()["problems"]) == "/nodes/1/config/duration"
    stale = admin.put(f"/api/journeys/{journey['id']}/draft", json={"graph": MANUAL, "revision": 1})
    assert stale.status_code == 409
    assert admin.post(f"/api/journeys/{journey['id']}/publish").status_code == 422
    assert admin.post(f"/api/journeys/{journey['id']}/validate", json={"graph": MANUAL}).json() == {
        "valid": True,
        "problems": [],
    }


def test_publish_versions_and_who_published(admin):
    journey = create(admin, graph=MANUAL)
    first = admin.post(f"/api/journeys/{journey['id']}/publish", json={"note": "first cut"})
    assert first.status_code == 201, first.text
    assert (first.json()["number"], first.json()["note"]) == (1, "first cut")
    assert first.json()["published_by"].startswith("key wm_admin_")
    admin.post(f"/api/journeys/{journey['id']}/publish")
    versions = admin.get(f"/api/journeys/{journey['id']}/versions").json()
    assert [(v["number"], v["status"]) for v in versions] == [(2, "published"), (1, "superseded")]
    one = admin.get(f"/api/journeys/{journey['id']}/versions/1").json()
    assert [n["id"] for n in one["graph"]["nodes"]] == ["start", "hold", "done"]
    listed = admin.get("/api/journeys").json()["items"]
    assert [(j["name"], j["status"], j["version"]) for j in listed] == [("Onboarding", "published", 2)]


def test_manual_enrollment_and_live_numbers(admin, ticker):
    journey = create(admin, graph=MANUAL)
    stats = admin.get(f"/api/journeys/{journey['id']}/stats").json()
    assert stats["entered"] == 0  # a draft answers zeros, not an error
    assert admin.post(f"/api/journeys/{journey['id']}/enrollments", json={"external_ids": ["a"]}).status_code == 409

    admin.post(f"/api/journeys/{journey['id']}/publish")
    for external_id in ("a", "b"):
        admin.post("/api/contacts", json={"external_id": external_id, "email": f"{external_id}@example.com"})
    enrolled = admin.post(f"/api/journeys/{journey['id']}/enrollments", json={"external_ids": ["a", "b", "zz"]})
    assert enrolled.json() == {"enrolled": 2, "control": 0, "skipped": 0, "unknown": ["zz"]}
    again = admin.post(f"/api/journeys/{journey['id']}/enrollments", json={"external_ids": ["a"]})
    assert again.json()["skipped"] == 1  # re-entry "never" by default
    ticker.run_until_idle()

    stats = admin.get(f"/api/journeys/{journey['id']}/stats").json()
    assert stats["nodes"]["start"] == {"waiting": 0, "passed": 2, "outcomes": {"next": 2}}
    assert stats["nodes"]["hold"]["waiting"] == 2
    assert stats["nodes"]["done"] == {"waiting": 0, "passed": 0, "outcomes": {}}
    waiting = admin.get(f"/api/journeys/{journey['id']}/nodes/hold/contacts").json()["items"]
    assert sorted(c["email"] for c in waiting) == ["a@example.com", "b@example.com"]
    page = admin.get(f"/api/journeys/{journey['id']}/nodes/start/contacts?status=passed&limit=1").json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = admin.get(f"/api/journeys/{journey['id']}/nodes/start/contacts?status=passed&cursor={page['next_cursor']}")
    assert len(rest.json()["items"]) == 1 and rest.json()["next_cursor"] is None


def test_lifecycle_pause_resume_archive_duplicate_delete(admin):
    journey = create(admin, graph=MANUAL)
    jid = journey["id"]
    assert admin.post(f"/api/journeys/{jid}/pause").status_code == 409  # not published yet
    admin.post(f"/api/journeys/{jid}/publish")
    assert admin.post(f"/api/journeys/{jid}/pause").json()["status"] == "paused"
    assert admin.post(f"/api/journeys/{jid}/resume").json()["status"] == "published"
    copy = admin.post(f"/api/journeys/{jid}/duplicate").json()
    assert (copy["name"], copy["status"], copy["draft"]["nodes"]) == (
        "Onboarding (copy)",
        "draft",
        admin.get(f"/api/journeys/{jid}").json()["draft"]["nodes"],
    )
    assert admin.delete(f"/api/journeys/{jid}").status_code == 409  # published journeys keep their history
    assert admin.delete(f"/api/journeys/{copy['id']}").status_code == 204
    assert admin.post(f"/api/journeys/{jid}/archive").json()["status"] == "archived"
    assert admin.put(f"/api/journeys/{jid}/draft", json={"graph": MANUAL}).status_code == 409
    assert admin.get("/api/journeys").json()["items"] == []  # archived ones are hidden by default
    assert [j["id"] for j in admin.get("/api/journeys?status=archived").json()["items"]] == [jid]


def test_other_workspaces_cannot_see_or_touch_a_journey(admin, client, other_workspace):
    from tests.api.conftest import admin_api

    journey = create(admin, graph=MANUAL)
    intruder = admin_api(client, other_workspace)
    for method, path in [
        ("GET", f"/api/journeys/{journey['id']}"),
        ("GET", f"/api/journeys/{journey['id']}/stats"),
        ("POST", f"/api/journeys/{journey['id']}/publish"),
        ("POST", f"/api/journeys/{journey['id']}/archive"),
    ]:
        assert intruder.request(method, path).status_code == 404
    assert intruder.get("/api/journeys").json()["items"] == []
