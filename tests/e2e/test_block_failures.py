"""A plug-in block that raises for one contact, as a marketer sees it: a red count on the block, the
error in the block's contact list and on the contact's page, and a retry there once the data is fixed."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_build_journey import admin, wait_for
from tests.factories import linear_graph

SCORING = linear_graph(
    {"id": "start", "type": "trigger.manual", "position": {"x": 0, "y": 0}},
    {"id": "score", "type": "acme.lead_score", "label": "Revenue per visit", "position": {"x": 0, "y": 160}},
    {"id": "done", "type": "tag", "config": {"add": ["scored"]}, "position": {"x": 0, "y": 320}},
)


def status_of(server, journey_id: int, contact_id: int) -> str:
    journeys = admin(server, "GET", f"/api/contacts/{contact_id}")["journeys"]
    return next(j["status"] for j in journeys if j["journey_id"] == journey_id)


def test_a_failing_block_shows_its_error_and_the_contact_can_be_retried(page, live_server):
    server = live_server
    journey = admin(server, "POST", "/api/journeys", {"name": "Lead scoring", "graph": SCORING})["id"]
    admin(server, "POST", f"/api/journeys/{journey}/publish", {})
    good = admin(server, "POST", "/api/contacts", {"external_id": "good", "attributes": {"revenue": 90, "visits": 3}})
    bad = admin(server, "POST", "/api/contacts", {"external_id": "zero", "attributes": {"revenue": 90, "visits": 0}})
    admin(server, "POST", f"/api/journeys/{journey}/enrollments", {"contact_ids": [good["id"], bad["id"]]})
    wait_for(lambda: status_of(server, journey, bad["id"]) == "failed")
    assert status_of(server, journey, good["id"]) == "completed"

    sign_in(page, server, path=f"/journeys/{journey}")
    failed = page.get_by_test_id("node-failed-score")
    expect(failed).to_have_attribute("data-failed", "1")
    title = r"^1 contact failed here and waits for a retry\nLast error \(.+\): ZeroDivisionError: division by zero$"
    expect(failed).to_have_attribute("title", re.compile(title))
    page.locator('.react-flow__node[data-id="score"]').click()
    page.get_by_test_id("node-tab-contacts").click()
    page.get_by_test_id("node-contacts-failed").click()
    expect(page.get_by_test_id(f"node-contact-error-{bad['id']}")).to_contain_text("ZeroDivisionError")
    expect(page.get_by_test_id("journey-totals-failed")).to_contain_text("1 failed")
    screenshot(page, "editor-block-failed")

    admin(server, "PATCH", f"/api/contacts/{bad['id']}", {"attributes": {"visits": 2}})
    page.goto(f"{server.url}/contacts/{bad['id']}")
    error = page.get_by_test_id(f"contact-journey-error-{journey}")
    expect(error).to_contain_text("Revenue per visit")
    expect(error).to_contain_text("ZeroDivisionError: division by zero")
    screenshot(page, "contact-block-failed")
    page.get_by_test_id(f"contact-journey-retry-{journey}").click()
    expect(error).to_have_count(0)
    wait_for(lambda: status_of(server, journey, bad["id"]) == "completed")
    assert admin(server, "GET", f"/api/contacts/{bad['id']}")["attributes"]["score"] == 45
