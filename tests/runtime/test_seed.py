"""`waymark run` on an empty database gives a new user something that works straight away."""

from __future__ import annotations

import sqlalchemy as sa

from backend.config import load_settings
from backend.db.models import Contact, Journey, Template
from backend.seed import credentials_path, seed_demo
from backend.services import Services
from backend.templates import service as templates
from backend.users import user_by_email, verify_password


def test_seed_creates_a_usable_demo_workspace_once(engine, clock, registry, tmp_path):
    services = Services.create(
        load_settings(secret_key="k", var_dir=str(tmp_path)), engine=engine, clock=clock, registry=registry
    )
    creds = seed_demo(services, password="open sesame")
    assert creds is not None
    assert creds.write_key.startswith("wm_write_") and creds.admin_key.startswith("wm_admin_")
    assert "open sesame" in credentials_path(services).read_text()
    assert oct(credentials_path(services).stat().st_mode)[-3:] == "600"

    with services.sessions() as session:
        owner = user_by_email(session, creds.email)
        assert verify_password(owner.password_hash, "open sesame")
        journey = session.execute(sa.select(Journey)).scalar_one()
        assert journey.status == "published" and journey.published_version_id is not None
        template = session.execute(sa.select(Template)).scalar_one()
        assert template.key == "tpl_recovery_1" and template.published_version_id is not None
        wei = session.execute(sa.select(Contact).where(Contact.external_id == "demo-wei")).scalar_one()
        preview = templates.preview(session, template, contact_id=wei.id, now=clock.now())
    assert preview.problems == []
    assert preview.fields["subject"].startswith("伟, finish creating your account")

    assert seed_demo(services) is None  # never twice, never over existing data
