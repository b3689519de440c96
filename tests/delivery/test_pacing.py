"""A journey's quiet hours and frequency cap, applied when its messages are delivered."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from backend.db.models import OutboxMessage
from tests.delivery.conftest import make_template, track
from tests.factories import add_contact, linear_graph, publish_graph


def outbox(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(OutboxMessage.__table__).order_by(OutboxMessage.id))
        return [dict(r._mapping) for r in rows]


def test_quiet_hours_hold_a_message_until_morning_in_the_contacts_timezone(
    ticker, dispatcher, services, workspace, smtp_server, clock
):
    make_template(services, workspace.id)
    publish_graph(
        services,
        workspace.id,
        linear_graph(
            {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
            {"id": "mail", "type": "send", "config": {"template": "welcome"}},
            settings={"quiet_hours": {"start": "22:00", "end": "08:00"}},
        ),
    )
    contact = add_contact(services.sessions, workspace.id, email="wei@example.com", timezone="Asia/Shanghai")
    clock.set(datetime(2026, 3, 5, 15, 30, tzinfo=UTC))  # 23:30 in Shanghai
    track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()
    dispatcher.run_once()
    (row,) = outbox(services.engine)
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 0, "quiet hours")
    assert row["next_attempt_at"] == datetime(2026, 3, 6, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert smtp_server.messages == []

    clock.set(datetime(2026, 3, 6, 0, 0, tzinfo=UTC))
    dispatcher.run_once()
    assert [m.to for m in smtp_server.wait_for(1)] == ["wei@example.com"]
    assert outbox(services.engine)[0]["status"] == "sent"


def test_frequency_cap_skips_marketing_messages_past_the_limit(ticker, dispatcher, services, workspace, smtp_server):
    make_template(services, workspace.id)
    publish_graph(
        services,
        workspace.id,
        linear_graph(
            {"id": "start", "type": "trigger.event", "config": {"event": "browse"}},
            {"id": "first", "type": "send", "config": {"template": "welcome"}},
            {"id": "second", "type": "send", "config": {"template": "welcome"}},
            {"id": "receipt", "type": "send", "config": {"template": "welcome", "marketing": False}},
            settings={"frequency_cap": {"messages": 1, "per": "P1D"}},
        ),
    )
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com")
    track(services, workspace.id, contact, "browse")
    ticker.run_until_idle()
    dispatcher.run_once()
    by_node = {r["node_id"]: r for r in outbox(services.engine)}
    assert by_node["first"]["status"] == "sent"
    assert (by_node["second"]["status"], by_node["second"]["last_error"]) == (
        "skipped",
        "frequency cap: at most 1 message(s) per 1 day(s)",
    )
    assert by_node["receipt"]["status"] == "sent"  # transactional messages are never capped
    assert len(smtp_server.wait_for(2)) == 2
