"""Events of one /v1/batch have exactly the effect they would have had one call at a time, in timestamp
order. The official Segment libraries batch calls made within half a second, so a trigger event and the
event that should wake, convert or end the enrollment it starts often arrive together."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import ok
from tests.api.test_ingest import SIGNUP_JOURNEY, enrollments, publish
from tests.factories import linear_graph


def _at(services, seconds: float) -> str:
    return (services.clock.now() - timedelta(seconds=10) + timedelta(seconds=seconds)).isoformat()


def _batch(services, *calls: tuple[str, float]) -> dict:
    """(event, seconds) for user u-1, sent in the order given."""
    return {
        "batch": [
            {"type": "track", "userId": "u-1", "event": name, "timestamp": _at(services, t), "messageId": f"m{i}"}
            for i, (name, t) in enumerate(calls)
        ]
    }


def test_a_later_event_in_the_same_batch_wakes_the_wait_the_trigger_leads_to(admin, writer, services, ticker):
    publish(admin, SIGNUP_JOURNEY)
    ok(writer.post("/v1/batch", json=_batch(services, ("signup", 0.0), ("purchase", 0.3))))
    ticker.run_until_idle()
    (enrollment,) = enrollments(services.engine)
    assert (enrollment["node_id"], enrollment["status"]) == ("buyer", "completed")
    assert enrollment["pending_events"] is None


def test_timestamps_not_the_order_sent_decide(admin, writer, services, ticker):
    """The purchase happened before the signup: one call at a time it would have woken nothing."""
    publish(admin, SIGNUP_JOURNEY)
    ok(writer.post("/v1/batch", json=_batch(services, ("purchase", 0.3), ("signup", 0.5))))
    ticker.run_until_idle()
    (enrollment,) = enrollments(services.engine)
    assert (enrollment["node_id"], enrollment["status"], enrollment["wait_event"]) == ("wait", "active", "purchase")


def test_a_goal_later_in_the_batch_converts_and_ends_the_new_enrollment(admin, writer, services, ticker):
    graph = {**SIGNUP_JOURNEY, "settings": {"goal": {"event": "purchase", "exit": True}}}
    publish(admin, graph)
    ok(writer.post("/v1/batch", json=_batch(services, ("signup", 0.0), ("purchase", 0.2))))
    ticker.run_until_idle()
    (enrollment,) = enrollments(services.engine)
    assert enrollment["converted_at"] == services.clock.now()
    assert (enrollment["status"], enrollment["exit_reason"]) == ("exited", "goal reached")


def test_an_exit_event_later_in_the_batch_ends_the_new_enrollment_after_its_first_steps(
    admin, writer, services, ticker
):
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "welcome", "type": "tag", "config": {"add": ["welcomed"]}},
        {"id": "wait", "type": "wait.duration", "config": {"duration": "P1D"}},
        {"id": "late", "type": "tag", "config": {"add": ["nudged"]}},
        settings={"exit_when": ["unsubscribed_all"]},
    )
    publish(admin, graph)
    ok(writer.post("/v1/batch", json=_batch(services, ("signup", 0.0), ("unsubscribed_all", 0.4))))
    ticker.run_until_idle()
    (enrollment,) = enrollments(services.engine)
    assert (enrollment["status"], enrollment["exit_reason"]) == ("exited", "exit event: unsubscribed_all")
    contact = ok(admin.get(f"/api/contacts/{enrollment['contact_id']}"))
    assert contact["tags"] == ["welcomed"]  # the steps before the first wait ran, as they would have


def test_events_before_the_trigger_do_not_end_or_convert_it(admin, writer, services, ticker):
    graph = {**SIGNUP_JOURNEY, "settings": {"goal": {"event": "purchase", "exit": True}, "exit_when": ["churned"]}}
    publish(admin, graph)
    ok(writer.post("/v1/batch", json=_batch(services, ("churned", 0.0), ("purchase", 0.1), ("signup", 0.2))))
    ticker.run_until_idle()
    (enrollment,) = enrollments(services.engine)
    assert (enrollment["status"], enrollment["node_id"], enrollment["converted_at"]) == ("active", "wait", None)


def test_a_waiting_enrollment_woken_by_the_batch_sees_the_batch_s_next_events(admin, writer, services, ticker):
    """Already waiting for ``a``: the batch brings ``a`` then ``b``; the journey waits for ``b`` next."""
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "wait_a", "type": "wait.event", "config": {"event": "a", "timeout": "P1D"}, "_port": "event"},
        {"id": "wait_b", "type": "wait.event", "config": {"event": "b", "timeout": "P1D"}, "_port": "event"},
        {"id": "done", "type": "tag", "config": {"add": ["both"]}},
    )
    publish(admin, graph)
    ok(writer.post("/v1/track", json={"userId": "u-1", "event": "signup"}))
    ticker.run_until_idle()
    ok(writer.post("/v1/batch", json=_batch(services, ("a", 1.0), ("b", 2.0))))
    ticker.run_until_idle()
    (enrollment,) = enrollments(services.engine)
    assert (enrollment["node_id"], enrollment["status"]) == ("done", "completed")


def test_a_control_group_member_converts_from_the_same_batch(admin, writer, services, ticker):
    graph = {
        **SIGNUP_JOURNEY,
        "settings": {"goal": {"event": "purchase", "exit": True}, "control_group_percent": 100},
    }
    publish(admin, graph)
    ok(writer.post("/v1/batch", json=_batch(services, ("signup", 0.0), ("purchase", 0.2))))
    (enrollment,) = enrollments(services.engine)
    assert (enrollment["status"], enrollment["converted_at"]) == ("control", services.clock.now())
