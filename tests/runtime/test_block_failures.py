"""Parking in the runtime: a contact whose block raised on the block it was waiting on keeps what it was
waiting for, and a retry runs the very same step again (same state, same wake-up event)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from backend.engine.registry import Registry, default_registry
from backend.engine.sdk import BlockType, Go, Item, StepContext, Wait
from backend.runtime.events import IncomingEvent, handle_events
from backend.runtime.failures import retry
from backend.runtime.tick import Ticker
from backend.services import Services
from tests.factories import add_contact, enrollments, linear_graph, publish_graph


class AwaitReply(BlockType):
    """Waits for a ``reply`` event, then goes on; raises when the reply's ``score`` is not a number."""

    type = "test.await_reply"
    label = "Await reply"
    pauses = True
    Config = msgspec.defstruct("AwaitReplyConfig", [])
    seen: list[tuple[dict[str, Any], Any]] = []

    def step(self, config: Any, item: Item, ctx: StepContext):
        if item.event is None:
            return Wait(event="reply", state={"asked": True})
        AwaitReply.seen.append((dict(item.state), item.event.properties))
        float(item.event.properties["score"])  # the bug: a score that is not a number raises
        return Go("next")


@pytest.fixture
def registry():
    return Registry([*default_registry(), AwaitReply()])


@pytest.fixture
def services(engine, clock, registry) -> Services:
    from backend.config import load_settings

    return Services.create(
        load_settings(secret_key="test", var_dir="/tmp/waymark-test"), engine=engine, clock=clock, registry=registry
    )


def test_a_contact_that_failed_on_its_wait_keeps_its_state_and_event_for_the_retry(services, workspace, clock):
    AwaitReply.seen.clear()
    journey_id, _ = publish_graph(
        services,
        workspace.id,
        linear_graph(
            {"id": "start", "type": "trigger.event", "config": {"event": "asked"}},
            {"id": "reply", "type": "test.await_reply"},
            {"id": "done", "type": "tag", "config": {"add": ["replied"]}},
        ),
    )
    contact = add_contact(services.sessions, workspace.id)
    ticker = Ticker(services.engine, services.graphs, clock, batch_size=10)

    def track(name: str, **properties: Any) -> None:
        with services.engine.begin() as conn:
            event = IncomingEvent(contact_id=contact, name=name, properties=properties, occurred_at=clock.now())
            handle_events(conn, services.graphs, workspace.id, [event], clock.now())

    track("asked")
    ticker.run_until_idle()
    track("reply", score="n/a")  # float("n/a") raises ValueError
    ticker.run_until_idle()
    (row,) = enrollments(services.engine, journey_id)
    assert (row["node_id"], row["status"], row["error_type"]) == ("reply", "failed", "ValueError")
    assert row["wait_event"] == "reply" and row["wake_event"]["properties"] == {"score": "n/a"}

    track("reply", score="late")  # a parked contact is not woken
    (row,) = enrollments(services.engine, journey_id)
    assert row["wake_event"]["properties"] == {"score": "n/a"} and row["due_at"] is None

    AwaitReply.seen.clear()
    with services.engine.begin() as conn:
        assert retry(conn, workspace_id=workspace.id, journey_id=journey_id, now=clock.now()) == 1
    ticker.run_until_idle()
    # The very same step again (twice: the batch, then the contact on its own to isolate the failure).
    assert AwaitReply.seen == [({"asked": True}, {"score": "n/a"})] * 2
    assert enrollments(services.engine, journey_id)[0]["status"] == "failed"
