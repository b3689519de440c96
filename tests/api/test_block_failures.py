"""A plug-in block that raises for one contact does not stall the journey (issue 9, item 6).

The example package in tests/plugins/acme_blocks is pip-installed and loaded through the ``waymark.blocks``
entry points; its ``acme.lead_score`` divides by an attribute and raises ZeroDivisionError when that is 0,
its ``acme.plan_signup`` trigger raises KeyError in ``matches()`` for a ``signup`` event without a plan.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import admin_api, ok
from tests.factories import enrollments, linear_graph
from tests.plugin_support import acme_registry, install_acme_plugin


@pytest.fixture(scope="session")
def acme_blocks(tmp_path_factory):
    return acme_registry(install_acme_plugin(tmp_path_factory.mktemp("acme-failures") / "plugins"))


@pytest.fixture
def registry(acme_blocks):
    return acme_blocks


SCORING = linear_graph(
    {"id": "start", "type": "trigger.manual"},
    {"id": "score", "type": "acme.lead_score", "config": {"numerator": "revenue", "divisor": "visits"}},
    {"id": "done", "type": "tag", "config": {"add": ["scored"]}},
)


def publish(admin, graph, journey_id=None):
    if journey_id is None:
        journey_id = ok(admin.post("/api/journeys", json={"name": "Scoring", "graph": graph}), 201)["id"]
    else:
        revision = admin.get(f"/api/journeys/{journey_id}").json()["revision"]
        ok(admin.put(f"/api/journeys/{journey_id}/draft", json={"graph": graph, "revision": revision}))
    ok(admin.post(f"/api/journeys/{journey_id}/publish"), 201)
    return journey_id


def contact(admin, external_id, **attributes):
    return ok(admin.post("/api/contacts", json={"external_id": external_id, "attributes": attributes}), 201)["id"]


def by_contact(services, journey_id):
    return {e["contact_id"]: e for e in enrollments(services.engine, journey_id)}


def test_a_block_that_raises_for_one_contact_parks_it_and_the_rest_move_on(admin, services, ticker):
    jid = publish(admin, SCORING)
    good = [contact(admin, f"c{i}", revenue=100, visits=4) for i in range(3)]
    bad = contact(admin, "zero", revenue=100, visits=0)
    ok(admin.post(f"/api/journeys/{jid}/enrollments", json={"external_ids": ["c0", "c1", "zero", "c2"]}))

    report = ticker.run_until_idle()
    assert report.claimed == 4  # one batch: the failure did not roll it back

    rows = by_contact(services, jid)
    assert all((rows[c]["node_id"], rows[c]["status"]) == ("done", "completed") for c in good)
    assert admin.get(f"/api/contacts/{good[0]}").json()["attributes"]["score"] == 25
    parked = rows[bad]
    assert (parked["node_id"], parked["status"], parked["due_at"]) == ("score", "failed", None)
    assert parked["error_type"] == "ZeroDivisionError"
    assert "division by zero" in parked["error_message"]
    assert parked["failed_at"] == services.clock.now()

    # Not claimed again, tick after tick.
    services.clock.advance(minutes=10)
    assert ticker.run_until_idle().claimed == 0

    # On the block in the canvas: a failure count and the latest error.
    stats = admin.get(f"/api/journeys/{jid}/stats").json()
    score = stats["nodes"]["score"]
    assert (score["failed"], score["passed"], score["outcomes"]) == (1, 3, {"next": 3, "error": 1})
    assert score["last_error"]["type"] == "ZeroDivisionError"
    assert "division by zero" in score["last_error"]["message"]
    assert "failed" not in stats["nodes"]["done"]
    assert (stats["failed"], stats["completed"], stats["entered"]) == (1, 3, 4)
    failed = admin.get(f"/api/journeys/{jid}/nodes/score/contacts?status=failed").json()["items"]
    assert [(c["contact_id"], c["error"]["type"]) for c in failed] == [(bad, "ZeroDivisionError")]
    passed = admin.get(f"/api/journeys/{jid}/nodes/score/contacts?status=passed").json()["items"]
    assert sorted(c["contact_id"] for c in passed) == sorted(good)

    # In the contact's path.
    (journey,) = admin.get(f"/api/contacts/{bad}").json()["journeys"]
    assert (journey["node_id"], journey["status"], journey["error"]["type"]) == ("score", "failed", "ZeroDivisionError")
    assert admin.get(f"/api/contacts/{good[0]}").json()["journeys"][0]["error"] is None

    # Retrying before the cause is fixed parks it again, with the new time.
    services.clock.advance(minutes=5)
    assert ok(admin.post(f"/api/journeys/{jid}/retry-failed", json={})) == {"retried": 1}
    assert by_contact(services, jid)[bad]["status"] == "active"
    assert ticker.run_until_idle().claimed == 1
    assert by_contact(services, jid)[bad]["failed_at"] == services.clock.now()

    # The cause is fixed (the contact's data), the operator retries: it moves on.
    ok(admin.patch(f"/api/contacts/{bad}", json={"attributes": {"visits": 2}}))
    assert ok(admin.post(f"/api/journeys/{jid}/retry-failed", json={"node_id": "score"})) == {"retried": 1}
    ticker.run_until_idle()
    row = by_contact(services, jid)[bad]
    assert (row["node_id"], row["status"], row["error_type"], row["failed_at"]) == ("done", "completed", None, None)
    assert admin.get(f"/api/contacts/{bad}").json()["attributes"]["score"] == 50
    score = admin.get(f"/api/journeys/{jid}/stats").json()["nodes"]["score"]
    assert ("failed" not in score, score["outcomes"]) == (True, {"next": 4, "error": 2})


def test_a_fixed_version_takes_over_the_parked_contacts(admin, services, ticker):
    jid = publish(admin, SCORING)
    bad = contact(admin, "zero", revenue=100, visits=0, orders=5)
    ok(admin.post(f"/api/journeys/{jid}/enrollments", json={"contact_ids": [bad]}))
    ticker.run_until_idle()
    assert by_contact(services, jid)[bad]["status"] == "failed"

    fixed = linear_graph(
        SCORING["nodes"][0],
        {"id": "score", "type": "acme.lead_score", "config": {"numerator": "revenue", "divisor": "orders"}},
        SCORING["nodes"][2],
    )
    publish(admin, fixed, jid)
    ticker.run_until_idle()
    row = by_contact(services, jid)[bad]
    assert row["status"] == "failed"  # moved to the new version, still parked: nothing retries by itself
    new_version = admin.get(f"/api/journeys/{jid}").json()["published_version_id"]
    assert row["version_id"] == new_version

    assert ok(admin.post(f"/api/journeys/{jid}/retry-failed", json={"contact_ids": [bad]})) == {"retried": 1}
    ticker.run_until_idle()
    assert by_contact(services, jid)[bad]["status"] == "completed"
    assert admin.get(f"/api/contacts/{bad}").json()["attributes"]["score"] == 20


def test_retry_can_be_narrowed_and_stays_in_the_workspace(admin, client, services, ticker, other_workspace):
    jid = publish(admin, SCORING)
    first = contact(admin, "z1", visits=0)
    second = contact(admin, "z2", visits=0)
    ok(admin.post(f"/api/journeys/{jid}/enrollments", json={"contact_ids": [first, second]}))
    ticker.run_until_idle()
    assert {e["status"] for e in enrollments(services.engine, jid)} == {"failed"}

    assert ok(admin.post(f"/api/journeys/{jid}/retry-failed", json={"node_id": "done"})) == {"retried": 0}
    other = admin_api(client, other_workspace)
    assert other.post(f"/api/journeys/{jid}/retry-failed", json={}).status_code == 404
    assert admin.post(f"/api/journeys/{jid}/retry-failed", json={"nope": 1}).status_code == 400
    assert ok(admin.post(f"/api/journeys/{jid}/retry-failed", json={"contact_ids": [second]})) == {"retried": 1}
    statuses = {e["contact_id"]: e["status"] for e in enrollments(services.engine, jid)}
    assert statuses == {first: "failed", second: "active"}


def test_archiving_takes_parked_contacts_out_too(admin, services, ticker):
    jid = publish(admin, SCORING)
    bad = contact(admin, "zero", visits=0)
    ok(admin.post(f"/api/journeys/{jid}/enrollments", json={"contact_ids": [bad]}))
    ticker.run_until_idle()
    ok(admin.post(f"/api/journeys/{jid}/archive"))
    assert by_contact(services, jid)[bad]["status"] == "exited"


def test_a_trigger_whose_matches_raises_does_not_fail_the_ingest(admin, writer, services, ticker):
    jid = publish(
        admin,
        linear_graph(
            {"id": "signup", "type": "acme.plan_signup", "config": {"plan": "pro"}},
            {"id": "done", "type": "tag", "config": {"add": ["pro"]}},
        ),
    )
    ok(writer.post("/v1/track", json={"userId": "u-1", "event": "signup", "properties": {"plan": "Pro"}}))
    ok(writer.post("/v1/track", json={"userId": "u-2", "event": "signup", "properties": {}}))  # matches() raises
    ok(writer.post("/v1/track", json={"userId": "u-3", "event": "signup", "properties": {"plan": "pro"}}))
    ticker.run_until_idle()

    entered = sorted(e["contact_id"] for e in enrollments(services.engine, jid))
    contacts = {c["external_id"]: c for c in admin.get("/api/contacts").json()["items"]}
    assert entered == sorted([contacts["u-1"]["id"], contacts["u-3"]["id"]])
    events = admin.get(f"/api/contacts/{contacts['u-2']['id']}/events").json()["items"]
    assert [e["name"] for e in events] == ["signup"]  # stored all the same
    assert admin.get(f"/api/journeys/{jid}/stats").json()["nodes"]["signup"]["outcomes"] == {"next": 2, "error": 1}
