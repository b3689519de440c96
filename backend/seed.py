"""The demo workspace `waymark run` creates on first start: keys, an owner account, a recovery email
template and a published abandoned-registration journey, so the README walk-through works at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from backend.db.models import Contact, Journey, Subscription, Workspace
from backend.runtime import publishing
from backend.services import Services
from backend.templates import service as templates
from backend.users import create_user
from backend.workspaces import create_workspace

DEMO_SLUG = "demo"
OWNER_EMAIL = "owner@example.com"

RECOVERY_MJML = """<mjml>
  <mj-head>
    <mj-title>Finish signing up</mj-title>
  </mj-head>
  <mj-body background-color="#f4f5f7">
    <mj-section background-color="#ffffff" padding="32px 24px">
      <mj-column>
        <mj-text font-size="22px" font-weight="600">Hi {{ contact.first_name | default("there") }},</mj-text>
        <mj-text font-size="16px" line-height="24px">
          You started creating your account{% if event.properties.plan %} for the
          <b>{{ event.properties.plan }}</b> plan{% endif %} but did not finish. It only takes a minute.
        </mj-text>
        <mj-button background-color="#4f46e5" href="https://example.com/signup/continue">Finish signing up</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"""

RECOVERY_TEMPLATE = {
    "email": {
        "subject": "{{ contact.first_name | default('Hi') }}, finish creating your account",
        "preheader": "Your account is one step away",
        "sender": "",
        "mjml": RECOVERY_MJML,
    }
}


def abandoned_registration_graph(wait: str = "PT1M") -> dict:
    """Registration started → wait up to ``wait`` for registration_completed → remind by email."""
    return {
        "schema_version": 1,
        "nodes": [
            {
                "id": "entry",
                "type": "trigger.event",
                "label": "Registration started",
                "config": {"event": "registration_started"},
                "position": {"x": 0, "y": 0},
            },
            {
                "id": "wait_done",
                "type": "wait.event",
                "label": "Finished registering?",
                "config": {"event": "registration_completed", "timeout": wait},
                "position": {"x": 0, "y": 140},
            },
            {
                "id": "tag_done",
                "type": "tag",
                "label": "Mark as registered",
                "config": {"add": ["registered"]},
                "position": {"x": -220, "y": 300},
            },
            {
                "id": "has_email",
                "type": "condition",
                "label": "Has an email address?",
                "config": {"rule": {"kind": "reachable", "channel": "email"}},
                "position": {"x": 220, "y": 300},
            },
            {
                "id": "send_recovery",
                "type": "send",
                "label": "Recovery email",
                "config": {"channel": "email", "template": "tpl_recovery_1"},
                "position": {"x": 120, "y": 460},
            },
            {
                "id": "tag_sent",
                "type": "tag",
                "label": "Mark reminder sent",
                "config": {"add": ["recovery_sent"]},
                "position": {"x": 120, "y": 620},
            },
            {
                "id": "no_email",
                "type": "exit",
                "label": "Unreachable",
                "config": {"reason": "no email address"},
                "position": {"x": 380, "y": 460},
            },
        ],
        "edges": [
            {"id": "e1", "source": "entry", "port": "next", "target": "wait_done"},
            {"id": "e2", "source": "wait_done", "port": "event", "target": "tag_done"},
            {"id": "e3", "source": "wait_done", "port": "timeout", "target": "has_email"},
            {"id": "e4", "source": "has_email", "port": "yes", "target": "send_recovery"},
            {"id": "e5", "source": "has_email", "port": "no", "target": "no_email"},
            {"id": "e6", "source": "send_recovery", "port": "next", "target": "tag_sent"},
        ],
        "settings": {"reentry": "after_exit", "goal": {"event": "registration_completed", "exit": False}},
    }


DEMO_CONTACTS = [
    {
        "external_id": "demo-ana",
        "email": "ana@example.com",
        "attributes": {"first_name": "Ana", "last_name": "García", "plan": "pro", "city": "Madrid"},
        "tags": ["newsletter"],
        "timezone": "Europe/Madrid",
        "locale": "es",
    },
    {
        "external_id": "demo-wei",
        "email": "wei@example.com",
        "phone": "+8613800138000",
        "attributes": {"first_name": "伟", "last_name": "王", "plan": "vip", "city": "上海"},
        "tags": ["vip"],
        "timezone": "Asia/Shanghai",
        "locale": "zh-CN",
    },
    {
        "external_id": "demo-zofia",
        "email": "zofia@example.com",
        "phone": "+48500100200",
        "attributes": {"first_name": "Zofia", "last_name": "Wiśniewska", "plan": "free", "city": "Kraków"},
        "tags": [],
        "timezone": "Europe/Warsaw",
        "locale": "pl",
    },
]


@dataclass
class DemoCredentials:
    workspace: str
    write_key: str
    admin_key: str
    email: str
    password: str

    def render(self) -> str:
        return (
            f"workspace   {self.workspace}\n"
            f"write key   {self.write_key}\n"
            f"admin key   {self.admin_key}\n"
            f"sign in     {self.email} / {self.password}\n"
        )


def credentials_path(services: Services) -> Path:
    return services.settings.var_dir / "demo-credentials.txt"


def seed_demo(services: Services, *, password: str | None = None) -> DemoCredentials | None:
    """Create the demo workspace unless any workspace exists. Returns the new credentials, shown once
    and also written (mode 600) to var/demo-credentials.txt."""
    with services.sessions.begin() as session:
        if session.execute(sa.select(Workspace.id).limit(1)).first():
            return None
        ws = create_workspace(session, DEMO_SLUG, "Demo workspace")
        password = password or secrets.token_urlsafe(12)
        create_user(session, OWNER_EMAIL, password, "Demo Owner", workspace_id=ws.id)
        _create_template(session, services, ws.id)
        now = services.clock.now()
        _create_contacts(session, ws.id, now)
        journey = Journey(
            workspace_id=ws.id,
            name="Abandoned registration recovery",
            description="Reminds people who started signing up but did not finish.",
            status="draft",
            draft=abandoned_registration_graph(),
            draft_revision=1,
            created_at=now,
            updated_at=now,
        )
        session.add(journey)
        session.flush()
        publishing.publish(session, journey, registry=services.registry, graphs=services.graphs, now=now, note="demo")
    creds = DemoCredentials(DEMO_SLUG, ws.write_key, ws.admin_key, OWNER_EMAIL, password)
    path = credentials_path(services)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(creds.render())
    path.chmod(0o600)
    return creds


def _create_template(session, services: Services, workspace_id: int) -> None:
    now = services.clock.now()
    template, _ = templates.create_template(
        session,
        workspace_id,
        key="tpl_recovery_1",
        name="Registration recovery",
        draft=RECOVERY_TEMPLATE,
        tags=["demo"],
        now=now,
    )
    templates.publish(session, template, now=now)


def _create_contacts(session, workspace_id: int, now) -> None:
    """A few people to preview templates for, in the languages the editor speaks."""
    for fields in DEMO_CONTACTS:
        contact = Contact(workspace_id=workspace_id, created_at=now, updated_at=now, **fields)
        session.add(contact)
        session.flush()
        if fields["attributes"]["plan"] == "vip":
            session.add(
                Subscription(
                    workspace_id=workspace_id,
                    contact_id=contact.id,
                    external_id="demo-sub-1",
                    name="VIP membership",
                    start_at=now - timedelta(days=358),
                    end_at=now + timedelta(days=7),
                    duration="P1Y",
                    auto_renew=False,
                    auto_renew_before=True,
                )
            )
