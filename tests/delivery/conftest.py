"""Delivery fixtures: the API app wired to a real aiosmtpd server (``smtp_server``), a ticker and a
dispatcher on the same services, and helpers to publish templates and journeys."""

from __future__ import annotations

from typing import Any

import pytest

from backend.config import Settings, load_settings
from backend.runtime.events import IncomingEvent, handle_events
from backend.runtime.outbox import Dispatcher
from backend.templates import service as template_service
from tests.api.conftest import admin, client, other_workspace, services, ticker, writer  # noqa: F401 - fixtures
from tests.factories import linear_graph, publish_graph

WELCOME_MJML = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {{ contact.first_name | default("friend") }},</mj-text>
        <mj-text>Your {{ event.properties.plan | default("free") }} plan is waiting.</mj-text>
        <mj-button href="https://acme.test/finish?c={{ contact.id }}">Finish registration</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"""


@pytest.fixture
def settings(tmp_path, smtp_server) -> Settings:
    return load_settings(secret_key="s" * 32, var_dir=str(tmp_path), dev_inbox=False, smtp_url=smtp_server.url)


@pytest.fixture
def dispatcher(services) -> Dispatcher:  # noqa: F811
    return Dispatcher(services)


def make_template(svc, workspace_id: int, key: str = "welcome", *, publish: bool = True, **email: Any) -> int:
    email.setdefault("subject", "Welcome, {{ contact.first_name | default('friend') }}!")
    email.setdefault("mjml", WELCOME_MJML)
    now = svc.clock.now()
    with svc.sessions.begin() as session:
        template, problems = template_service.create_template(
            session, workspace_id, key=key, name=key.title(), draft={"email": email}, now=now
        )
        assert not problems, problems
        if publish:
            template_service.publish(session, template, now=now)
        return template.id


def email_journey(svc, workspace_id: int, template: str = "welcome", event: str = "signup", **send: Any):
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": event}},
        {"id": "mail", "type": "send", "config": {"template": template, **send}},
    )
    return publish_graph(svc, workspace_id, graph)


def track(svc, workspace_id: int, contact_id: int, name: str, **properties: Any) -> None:
    now = svc.clock.now()
    with svc.engine.begin() as conn:
        handle_events(
            conn,
            svc.graphs,
            workspace_id,
            [IncomingEvent(contact_id=contact_id, name=name, properties=properties, occurred_at=now)],
            now,
        )
