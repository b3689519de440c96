"""Publishing checks what will fail later: templates that are missing or lack the channel's body,
channels without a provider, segments that do not exist — errors on the block's field; events nobody
performed yet and attributes no contact has — warnings that let the journey go live."""

from __future__ import annotations

from backend.templates import service as template_service
from tests.api.conftest import ok
from tests.delivery.conftest import make_template
from tests.factories import linear_graph


def journey(admin, *nodes, settings=None) -> int:
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}}, *nodes, settings=settings
    )
    return ok(admin.post("/api/journeys", json={"name": "Check", "graph": graph}), 201)["id"]


def check(admin, journey_id: int) -> dict[str, list[tuple[str, str]]]:
    result = ok(admin.post(f"/api/journeys/{journey_id}/validate"))
    out: dict[str, list[tuple[str, str]]] = {"error": [], "warning": []}
    for p in result["problems"]:
        out[p.get("severity") or "error"].append((p["pointer"], p["code"]))
    return out


def test_an_sms_block_with_an_email_only_template_is_stopped_at_publish(admin, services, workspace):
    make_template(services, workspace.id, "vip_reminder")
    journey_id = journey(admin, {"id": "sms", "type": "send", "config": {"template": "vip_reminder", "channel": "sms"}})
    assert check(admin, journey_id)["error"] == [("/nodes/1/config/template", "template_channel_missing")]
    refused = admin.post(f"/api/journeys/{journey_id}/publish", json={})
    assert refused.status_code == 422
    (problem,) = [p for p in refused.json()["problems"] if "severity" not in p]
    assert problem["node_id"] == "sms" and "no SMS version" in problem["message"]


def test_a_missing_template_and_a_missing_segment_are_errors(admin, services, workspace):
    journey_id = journey(
        admin,
        {"id": "mail", "type": "send", "config": {"template": "nope"}},
        {"id": "vip", "type": "condition", "config": {"rule": {"kind": "segment", "segment": "ghosts"}}},
    )
    errors = check(admin, journey_id)["error"]
    assert ("/nodes/1/config/template", "unknown_templates") in errors
    assert ("/nodes/2/config/rule/segment", "unknown_segments") in errors


def test_a_channel_without_a_provider_is_an_error(admin, services, workspace):
    now = services.clock.now()
    with services.sessions.begin() as session:
        template, problems = template_service.create_template(
            session, workspace.id, key="sms_hello", name="SMS", draft={"sms": {"text": "Hi"}}, now=now
        )
        assert not problems
        template_service.publish(session, template, now=now)
    journey_id = journey(admin, {"id": "s", "type": "send", "config": {"template": "sms_hello", "channel": "sms"}})
    assert check(admin, journey_id)["error"] == [("/nodes/1/config/channel", "no_provider")]


def test_unknown_events_and_attributes_are_warnings_that_do_not_stop_publishing(admin, writer, services, workspace):
    ok(writer.post("/v1/identify", json={"userId": "u", "traits": {"first_name": "Ana"}}))
    make_template(
        services,
        workspace.id,
        "hello",
        subject="Hi {{ contact.first_name }} {{ contact.nickname }} {{ contact.pet | default('friend') }}",
    )
    journey_id = journey(
        admin, {"id": "mail", "type": "send", "config": {"template": "hello"}}, settings={"exit_when": ["churned"]}
    )
    found = check(admin, journey_id)
    assert found["error"] == []
    assert sorted(found["warning"]) == [
        ("/nodes/0/config/event", "unknown_event"),
        ("/nodes/1/config/template", "unknown_variable"),
        ("/settings/exit_when/0", "unknown_event"),
    ]
    published = ok(admin.post(f"/api/journeys/{journey_id}/publish", json={}), 201)
    assert {w["code"] for w in published["warnings"]} == {"unknown_event", "unknown_variable"}
    assert "nickname" in next(w["message"] for w in published["warnings"] if w["code"] == "unknown_variable")
