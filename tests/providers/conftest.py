"""Provider fixtures: the fake provider servers (real HTTP on local ports), the API app and a
dispatcher on the test database, and helpers to configure providers and queue messages."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from backend.channels.tokens import forget_local
from backend.config import Settings, load_settings
from backend.db.models import Contact, Event, OutboxMessage, Provider
from backend.runtime.outbox import Dispatcher
from backend.templates import service as template_service
from tests.api.conftest import admin, client, other_workspace, services, ticker, writer  # noqa: F401 - fixtures
from tests.providers.servers import FakePushService, FakeTwilio, FakeWechat


@pytest.fixture
def settings(tmp_path, smtp_server) -> Settings:
    # The fake providers listen on 127.0.0.1: private targets must be allowed for them.
    return load_settings(
        secret_key="s" * 32,
        var_dir=str(tmp_path),
        dev_inbox=False,
        smtp_url=smtp_server.url,
        allow_private_webhooks=True,
    )


@pytest.fixture
def dispatcher(services) -> Dispatcher:  # noqa: F811
    return Dispatcher(services)


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    forget_local()
    yield
    forget_local()


@pytest.fixture
def twilio():
    server = FakeTwilio()
    yield server
    server.close()


@pytest.fixture
def wechat():
    server = FakeWechat()
    yield server
    server.close()


@pytest.fixture
def push_service():
    server = FakePushService()
    yield server
    server.close()


def add_provider(svc, workspace_id: int, kind: str, channel: str, config: dict, **fields: Any) -> int:
    with svc.sessions.begin() as session:
        row = Provider(workspace_id=workspace_id, kind=kind, channel=channel, config=config, **fields)
        session.add(row)
        session.flush()
        return row.id


def make_template(svc, workspace_id: int, key: str, draft: dict, *, publish: bool = True) -> int:
    now = svc.clock.now()
    with svc.sessions.begin() as session:
        template, problems = template_service.create_template(
            session, workspace_id, key=key, name=key.title(), draft=draft, now=now
        )
        assert not (problems and publish), problems
        if publish:
            template_service.publish(session, template, now=now)
        return template.id


def queue(svc, workspace_id: int, contact_id: int, channel: str, template: str, n: int = 0, **payload) -> int:
    """An outbox row as a send block would queue it."""
    payload.setdefault("marketing", True)
    now = svc.clock.now()
    with svc.engine.begin() as conn:
        return conn.execute(
            sa.insert(OutboxMessage.__table__)
            .values(
                workspace_id=workspace_id,
                idempotency_key=f"enr:{contact_id}:{template}:{n}",
                contact_id=contact_id,
                channel=channel,
                template_key=template,
                payload=payload,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                test=False,
            )
            .returning(OutboxMessage.id)
        ).scalar_one()


def outbox_row(engine, outbox_id: int) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(sa.select(OutboxMessage.__table__).where(OutboxMessage.id == outbox_id)).one()._mapping
        )


def consent_and_events(engine, contact_id: int) -> tuple[dict, list[tuple[str, dict]]]:
    """The contact's consent and its events (name, properties), oldest first."""
    with engine.connect() as conn:
        consent = conn.execute(sa.select(Contact.consent).where(Contact.id == contact_id)).scalar_one()
        events = conn.execute(
            sa.select(Event.name, Event.properties).where(Event.contact_id == contact_id).order_by(Event.id)
        ).all()
    return dict(consent or {}), [(name, dict(props or {})) for name, props in events]
