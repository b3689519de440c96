"""The runtime against a real database: ticks, events, publishing rules, date triggers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from backend.db.models import Contact, Journey, NodeCounter, OutboxMessage, StepLog, Subscription
from backend.runtime import date_triggers, publishing
from backend.runtime.events import IncomingEvent, handle_events
from backend.runtime.tick import Ticker
from backend.services import Services
from tests.factories import add_contact, enrollments, linear_graph, publish_graph


@pytest.fixture
def services(engine, clock, registry) -> Services:
    from backend.config import load_settings

    return Services.create(
        load_settings(secret_key="test", var_dir="/tmp/waymark-test"), engine=engine, clock=clock, registry=registry
    )


@pytest.fixture
def ticker(services) -> Ticker:
    return Ticker(services.engine, services.graphs, services.clock, batch_size=50)


def track(services, workspace_id: int, contact_id: int, name: str, **properties) -> None:
    with services.engine.begin() as conn:
        handle_events(
            conn,
            services.graphs,
            workspace_id,
            [IncomingEvent(contact_id=contact_id, name=name, properties=properties, occurred_at=services.clock.now())],
            services.clock.now(),
        )


SIGNUP_FLOW = linear_graph(
    {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
    {"id": "wait", "type": "wait.duration", "config": {"duration": "PT2H"}},
    {"id": "mail", "type": "send", "config": {"template": "welcome"}},
    {"id": "done", "type": "tag", "config": {"add": ["welcomed"]}},
)


def test_event_starts_journey_and_contact_walks_to_the_end(services, ticker, workspace, clock):
    journey_id, _ = publish_graph(services, workspace.id, SIGNUP_FLOW)
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com")

    track(services, workspace.id, contact, "signup", plan="pro")
    ticker.run_until_idle()
    (enr,) = enrollments(services.engine, journey_id)
    assert (enr["node_id"], enr["status"]) == ("wait", "active")
    assert enr["context"]["event"]["properties"] == {"plan": "pro"}

    clock.advance(hours=1, minutes=59)
    ticker.run_until_idle()
    assert enrollments(services.engine, journey_id)[0]["node_id"] == "wait"

    clock.advance(minutes=1)
    ticker.run_until_idle()
    (enr,) = enrollments(services.engine, journey_id)
    assert (enr["node_id"], enr["status"]) == ("done", "completed")
    with services.sessions() as session:
        assert session.get(Contact, contact).tags == ["welcomed"]
        outbox = session.execute(sa.select(OutboxMessage)).scalars().all()
        assert [(m.channel, m.template_key, m.contact_id) for m in outbox] == [("email", "welcome", contact)]
        steps = session.execute(sa.select(StepLog.node_id, StepLog.outcome).order_by(StepLog.id)).all()
        assert steps == [("start", "next"), ("wait", "wait"), ("wait", "next"), ("mail", "next"), ("done", "next")]


def test_a_rerun_of_the_same_step_cannot_queue_a_second_message(services, ticker, workspace):
    publish_graph(services, workspace.id, SIGNUP_FLOW)
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com")
    track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()
    services.clock.advance(hours=3)
    ticker.run_until_idle()
    with services.engine.begin() as conn:  # simulate a replayed batch: put the enrollment back before the send
        conn.execute(
            sa.text("UPDATE enrollments SET node_id = 'mail', status = 'active', due_at = :now"),
            {
                "now": services.clock.now().replace(tzinfo=None)
                if conn.dialect.name == "sqlite"
                else services.clock.now()
            },
        )
    ticker.run_until_idle()
    with services.sessions() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(OutboxMessage)).scalar() == 1


def test_wait_for_event_is_woken_immediately_by_the_event(services, ticker, workspace):
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.event", "config": {"event": "cart"}},
            {"id": "wait", "type": "wait.event", "config": {"event": "paid", "timeout": "P1D"}},
            {"id": "thanks", "type": "tag", "config": {"add": ["paid"]}},
            {"id": "nudge", "type": "tag", "config": {"add": ["nudged"]}},
        ],
        "edges": [
            {"id": "a", "source": "start", "target": "wait"},
            {"id": "b", "source": "wait", "port": "event", "target": "thanks"},
            {"id": "c", "source": "wait", "port": "timeout", "target": "nudge"},
        ],
    }
    journey_id, _ = publish_graph(services, workspace.id, graph)
    payer = add_contact(services.sessions, workspace.id)
    idler = add_contact(services.sessions, workspace.id)
    for contact in (payer, idler):
        track(services, workspace.id, contact, "cart")
    ticker.run_until_idle()

    services.clock.advance(minutes=5)
    track(services, workspace.id, payer, "paid")
    ticker.run_until_idle()  # no clock movement needed: the event made it due now
    by_contact = {e["contact_id"]: e for e in enrollments(services.engine, journey_id)}
    assert (by_contact[payer]["node_id"], by_contact[payer]["status"]) == ("thanks", "completed")
    assert (by_contact[idler]["node_id"], by_contact[idler]["status"]) == ("wait", "active")

    services.clock.advance(days=1)
    ticker.run_until_idle()
    assert {e["contact_id"]: e["node_id"] for e in enrollments(services.engine, journey_id)}[idler] == "nudge"


@pytest.mark.parametrize(
    ("reentry", "expected"),
    [("never", 1), ("after_exit", 2), ("always", 3)],
)
def test_reentry_setting(services, ticker, workspace, reentry, expected):
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "visit"}},
        {"id": "hold", "type": "wait.duration", "config": {"duration": "PT1H"}},
        settings={"reentry": reentry},
    )
    journey_id, _ = publish_graph(services, workspace.id, graph)
    contact = add_contact(services.sessions, workspace.id)
    track(services, workspace.id, contact, "visit")
    ticker.run_until_idle()
    track(services, workspace.id, contact, "visit")  # still active in the journey
    services.clock.advance(hours=2)
    ticker.run_until_idle()  # the first two finish (or only the first, under never/after_exit)
    track(services, workspace.id, contact, "visit")  # everyone has exited now
    assert len(enrollments(services.engine, journey_id)) == expected


def test_goal_and_exit_events_take_contacts_out_wherever_they_are(services, ticker, workspace):
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "trial_started"}},
        {"id": "hold", "type": "wait.duration", "config": {"duration": "P7D"}},
        {"id": "mail", "type": "send", "config": {"template": "upgrade"}},
        settings={"goal": {"event": "upgraded"}, "exit_when": ["deleted_account"]},
    )
    journey_id, _ = publish_graph(services, workspace.id, graph)
    converts, leaves, stays = (add_contact(services.sessions, workspace.id) for _ in range(3))
    for contact in (converts, leaves, stays):
        track(services, workspace.id, contact, "trial_started")
    ticker.run_until_idle()
    track(services, workspace.id, converts, "upgraded")
    track(services, workspace.id, leaves, "deleted_account")
    services.clock.advance(days=8)
    ticker.run_until_idle()
    by_contact = {e["contact_id"]: e for e in enrollments(services.engine, journey_id)}
    assert by_contact[converts]["status"] == "exited"
    assert by_contact[converts]["exit_reason"] == "goal reached"
    assert by_contact[converts]["converted_at"] is not None
    assert by_contact[leaves]["exit_reason"] == "exit event: deleted_account"
    assert by_contact[stays]["status"] == "completed"
    with services.sessions() as session:
        recipients = session.execute(sa.select(OutboxMessage.contact_id)).scalars().all()
    assert recipients == [stays]


def test_control_group_is_held_out_and_stable(services, ticker, workspace):
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "mail", "type": "send", "config": {"template": "welcome"}},
        settings={"control_group_percent": 20, "reentry": "always"},
    )
    journey_id, _ = publish_graph(services, workspace.id, graph)
    contacts = [add_contact(services.sessions, workspace.id) for _ in range(200)]
    for contact in contacts:
        track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()
    rows = enrollments(services.engine, journey_id)
    control = {r["contact_id"] for r in rows if r["control"]}
    assert 20 <= len(control) <= 60  # 20 % of 200, with hash noise
    assert all(r["status"] == "control" for r in rows if r["control"])
    with services.sessions() as session:
        recipients = set(session.execute(sa.select(OutboxMessage.contact_id)).scalars())
    assert recipients == set(contacts) - control
    for contact in contacts[:50]:  # re-entering keeps a contact in the same group
        track(services, workspace.id, contact, "signup")
    again = [r for r in enrollments(services.engine, journey_id)[200:]]
    assert {r["contact_id"] for r in again if r["control"]} == control & set(contacts[:50])


def test_publishing_moves_waiting_contacts_by_node_id(services, ticker, workspace):
    v1 = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "wait", "type": "wait.duration", "config": {"duration": "P3D"}},
        {"id": "mail", "type": "send", "config": {"template": "old"}},
    )
    journey_id, _ = publish_graph(services, workspace.id, v1)
    contact = add_contact(services.sessions, workspace.id)
    track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()

    v2 = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "wait", "type": "wait.duration", "config": {"duration": "P1D"}},
        {"id": "mail2", "type": "send", "config": {"template": "new"}},
    )
    _, v2_id = publish_graph(services, workspace.id, v2, journey_id=journey_id)
    (enr,) = enrollments(services.engine, journey_id)
    assert enr["version_id"] == v2_id

    services.clock.advance(days=1, minutes=1)  # the shortened wait applies to the migrated contact
    ticker.run_until_idle()
    with services.sessions() as session:
        assert session.execute(sa.select(OutboxMessage.template_key)).scalars().all() == ["new"]


def test_contacts_on_a_removed_block_finish_on_their_version(services, ticker, workspace):
    v1 = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "wait_a", "type": "wait.duration", "config": {"duration": "P1D"}},
        {"id": "mail", "type": "send", "config": {"template": "old"}},
    )
    journey_id, v1_id = publish_graph(services, workspace.id, v1)
    contact = add_contact(services.sessions, workspace.id)
    track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()
    v2 = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "wait_b", "type": "wait.duration", "config": {"duration": "P1D"}},
    )
    publish_graph(services, workspace.id, v2, journey_id=journey_id)
    services.clock.advance(days=2)
    ticker.run_until_idle()
    (enr,) = enrollments(services.engine, journey_id)
    assert (enr["version_id"], enr["status"]) == (v1_id, "completed")
    with services.sessions() as session:
        assert session.execute(sa.select(OutboxMessage.template_key)).scalars().all() == ["old"]


def test_paused_journey_holds_contacts_and_takes_no_new_ones(services, ticker, workspace):
    journey_id, _ = publish_graph(services, workspace.id, SIGNUP_FLOW)
    first, second = add_contact(services.sessions, workspace.id), add_contact(services.sessions, workspace.id)
    track(services, workspace.id, first, "signup")
    ticker.run_until_idle()
    with services.sessions.begin() as session:
        publishing.pause(session, session.get(Journey, journey_id), services.clock.now())
    track(services, workspace.id, second, "signup")
    services.clock.advance(hours=3)
    ticker.run_until_idle()
    rows = enrollments(services.engine, journey_id)
    assert [(r["contact_id"], r["node_id"]) for r in rows] == [(first, "wait")]

    with services.sessions.begin() as session:
        publishing.resume(session, session.get(Journey, journey_id), services.clock.now())
    ticker.run_until_idle()
    assert enrollments(services.engine, journey_id)[0]["status"] == "completed"


def test_archiving_exits_everyone(services, ticker, workspace):
    journey_id, _ = publish_graph(services, workspace.id, SIGNUP_FLOW)
    contact = add_contact(services.sessions, workspace.id)
    track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()
    with services.sessions.begin() as session:
        assert publishing.archive(session, session.get(Journey, journey_id), services.clock.now()) == 1
    (enr,) = enrollments(services.engine, journey_id)
    assert (enr["status"], enr["exit_reason"]) == ("exited", "journey archived")


def test_node_counters_match_the_step_log(services, ticker, workspace):
    journey_id, _ = publish_graph(services, workspace.id, SIGNUP_FLOW)
    for _ in range(7):
        track(services, workspace.id, add_contact(services.sessions, workspace.id), "signup")
    ticker.run_until_idle()
    services.clock.advance(hours=2)
    ticker.run_until_idle()
    with services.sessions() as session:
        counters = dict(
            session.execute(
                sa.select(NodeCounter.node_id + ":" + NodeCounter.outcome, NodeCounter.count).where(
                    NodeCounter.journey_id == journey_id
                )
            ).all()
        )
    assert counters == {"start:next": 7, "wait:wait": 7, "wait:next": 7, "mail:next": 7, "done:next": 7}


# -- date triggers --------------------------------------------------------------------------------------


def renewal_graph(**config) -> dict:
    return linear_graph(
        {"id": "start", "type": "trigger.date", "config": config},
        {"id": "mail", "type": "send", "config": {"template": "renewal"}},
    )


def test_date_trigger_fires_days_before_subscription_end_at_local_time(services, workspace, clock):
    journey_id, _ = publish_graph(
        services, workspace.id, renewal_graph(source="subscription_end", offset_days=-7, at="09:00")
    )
    shanghai = add_contact(services.sessions, workspace.id, timezone="Asia/Shanghai")
    warsaw = add_contact(services.sessions, workspace.id, timezone="Europe/Warsaw")
    later = add_contact(services.sessions, workspace.id, timezone="Europe/Warsaw")
    with services.sessions.begin() as session:
        for contact, end in ((shanghai, "2026-01-12"), (warsaw, "2026-01-12"), (later, "2026-01-20")):
            session.add(
                Subscription(
                    workspace_id=workspace.id,
                    contact_id=contact,
                    name="VIP",
                    end_at=datetime.fromisoformat(end + "T12:00:00+00:00"),
                )
            )
    clock.set(datetime(2026, 1, 5, 1, 30, tzinfo=UTC))  # 09:30 in Shanghai, 02:30 in Warsaw
    date_triggers.scan(services.engine, services.graphs, clock.now())
    assert {e["contact_id"] for e in enrollments(services.engine, journey_id)} == {shanghai}

    clock.set(datetime(2026, 1, 5, 8, 5, tzinfo=UTC))  # 09:05 in Warsaw
    date_triggers.scan(services.engine, services.graphs, clock.now())
    date_triggers.scan(services.engine, services.graphs, clock.now())  # a second scan the same day adds nobody
    rows = enrollments(services.engine, journey_id)
    assert sorted(r["contact_id"] for r in rows) == sorted([shanghai, warsaw])
    assert {r["trigger_key"] for r in rows} == {"start:2026-01-05"}


def test_date_trigger_on_a_yearly_attribute(services, workspace, clock):
    journey_id, _ = publish_graph(
        services, workspace.id, renewal_graph(source="attribute", attribute="birthday", yearly=True, at="10:00")
    )
    birthday = add_contact(services.sessions, workspace.id, attributes={"birthday": "1990-01-05"})
    add_contact(services.sessions, workspace.id, attributes={"birthday": "1990-03-05"})
    add_contact(services.sessions, workspace.id, attributes={})
    clock.set(datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    report = date_triggers.scan(services.engine, services.graphs, clock.now())
    assert [e["contact_id"] for e in enrollments(services.engine, journey_id)] == [birthday]
    assert report.candidates == 1  # the SQL prefilter skipped the others


def test_tick_batches_are_bounded(services, workspace, clock):
    journey_id, _ = publish_graph(services, workspace.id, SIGNUP_FLOW)
    for _ in range(120):
        track(services, workspace.id, add_contact(services.sessions, workspace.id), "signup")
    ticker = Ticker(services.engine, services.graphs, services.clock, batch_size=50)
    assert ticker.run_batch().claimed == 50
    assert ticker.run_until_idle().claimed == 70
    assert all(e["node_id"] == "wait" for e in enrollments(services.engine, journey_id))


def test_a_version_that_cannot_run_is_set_aside_without_stopping_others(services, ticker, workspace, clock):
    """E.g. a plugin block type was uninstalled: its contacts wait, every other journey keeps moving."""
    from backend.db.models import JourneyVersion
    from backend.runtime.tick import SET_ASIDE_FOR

    good_journey, _ = publish_graph(services, workspace.id, SIGNUP_FLOW, name="Good")
    broken_graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
        {"id": "ping", "type": "acme.uninstalled", "config": {}},
    )
    with services.sessions.begin() as session:
        journey = Journey(workspace_id=workspace.id, name="Broken", draft=broken_graph, status="published")
        session.add(journey)
        session.flush()
        session.add(JourneyVersion(workspace_id=workspace.id, journey_id=journey.id, number=1, graph=broken_graph))
        session.flush()
        broken_journey = journey.id
    contact = add_contact(services.sessions, workspace.id)
    track(services, workspace.id, contact, "signup")  # enters the good journey only: the broken one can't match
    with services.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO enrollments (workspace_id, journey_id, version_id, contact_id, node_id, node_entered_at,"
                " due_at, status, control, entered_at) SELECT :ws, :j, id, :c, 'start', :now, :now, 'active',"
                " FALSE, :now FROM journey_versions WHERE journey_id = :j"
            ).bindparams(sa.bindparam("now", type_=Journey.__table__.c.created_at.type)),
            {"ws": workspace.id, "j": broken_journey, "c": contact, "now": clock.now()},
        )

    ticker.run_until_idle()

    assert enrollments(services.engine, good_journey)[0]["node_id"] == "wait"
    (stuck,) = enrollments(services.engine, broken_journey)
    assert (stuck["node_id"], stuck["status"]) == ("start", "active")
    assert stuck["due_at"] == clock.now() + SET_ASIDE_FOR
