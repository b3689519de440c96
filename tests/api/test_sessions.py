"""Signing in to the web app: cookie sessions (ended by sign-out, sign-out everywhere, a password reset,
losing the membership, or age), CSRF, throttling."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from backend import cli, throttle
from backend.api.app import create_app
from backend.config import load_settings
from backend.db.models import Membership, UserSession
from backend.services import Services
from backend.users import create_user, user_by_email


@pytest.fixture
def app(engine, clock, registry, sessions, workspace, tmp_path):
    services = Services.create(
        load_settings(secret_key="k" * 32, var_dir=str(tmp_path)), engine=engine, clock=clock, registry=registry
    )
    with sessions.begin() as session:
        create_user(session, "Owner@Example.com", "correct horse", "Olga Owner", workspace_id=workspace.id)
    return create_app(services)


@pytest.fixture
def web(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture
def other_browser(app):
    with TestClient(app) as client:
        yield client


def login(client, password="correct horse", email="owner@example.com"):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def test_sign_in_sets_an_httponly_session_and_returns_the_workspace(web):
    response = login(web, email="  OWNER@example.com ")
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["name"] == "Olga Owner"
    assert body["workspace"]["slug"] == "acme"
    set_cookie = ",".join(response.headers.get_list("set-cookie"))
    assert "waymark_session=" in set_cookie and "HttpOnly" in set_cookie
    assert web.get("/api/auth/me").json()["csrf_token"] == body["csrf_token"]
    assert web.get("/api/journeys").status_code == 200


def test_wrong_password_and_unknown_user_look_the_same(web):
    wrong = login(web, password="nope")
    unknown = login(web, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["title"] == unknown.json()["title"]
    assert web.get("/api/journeys").status_code == 401


def test_writes_need_the_csrf_token(web):
    csrf = login(web).json()["csrf_token"]
    assert web.post("/api/journeys", json={"name": "No token"}).status_code == 403
    assert web.post("/api/journeys", json={"name": "Bad"}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    created = web.post("/api/journeys", json={"name": "With token"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201


def test_a_tampered_or_oversized_cookie_is_rejected(web):
    login(web)
    token = web.cookies.get("waymark_session")
    web.cookies.set("waymark_session", token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert web.get("/api/auth/me").status_code == 401
    web.cookies.set("waymark_session", "x" * 5000)
    assert web.get("/api/auth/me").status_code == 401


def test_only_a_hash_of_the_cookie_is_stored(web, engine):
    login(web)
    token = web.cookies.get("waymark_session")
    with engine.connect() as conn:
        stored = conn.execute(sa.select(UserSession.token_hash, UserSession.user_agent)).all()
    assert len(stored) == 1 and stored[0].token_hash != token and token not in stored[0].token_hash


def test_sign_out_ends_the_session_even_for_a_copied_cookie(web):
    csrf = login(web).json()["csrf_token"]
    copied = web.cookies.get("waymark_session")
    assert web.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert web.get("/api/journeys").status_code == 401
    web.cookies.set("waymark_session", copied)  # someone kept the cookie: it no longer works
    assert web.get("/api/journeys").status_code == 401


def test_sign_out_everywhere_ends_every_browser(web, other_browser):
    csrf = login(web).json()["csrf_token"]
    login(other_browser)
    assert other_browser.get("/api/journeys").status_code == 200
    assert web.post("/api/auth/logout-everywhere").status_code == 403  # CSRF token required
    assert web.post("/api/auth/logout-everywhere", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert web.get("/api/journeys").status_code == 401
    assert other_browser.get("/api/journeys").status_code == 401
    assert login(other_browser).status_code == 200  # signing in again works


def test_sign_out_needs_the_csrf_token_so_another_site_cannot_sign_the_user_out(web):
    csrf = login(web).json()["csrf_token"]
    assert web.post("/api/auth/logout").status_code == 403  # a cross-site form post carries no token
    assert web.post("/api/auth/logout", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert web.get("/api/journeys").status_code == 200  # still signed in
    assert web.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    # A browser whose session already ended may always clear its cookies.
    assert web.post("/api/auth/logout").status_code == 204


def test_signing_out_one_browser_leaves_the_other_signed_in(web, other_browser):
    csrf = login(web).json()["csrf_token"]
    login(other_browser)
    assert web.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert other_browser.get("/api/journeys").status_code == 200


def test_a_password_reset_from_the_cli_signs_the_user_out(web, monkeypatch, db_url, tmp_path, capsys):
    login(web)
    monkeypatch.setenv("WAYMARK_DATABASE_URL", db_url)
    monkeypatch.setenv("WAYMARK_VAR_DIR", str(tmp_path / "cli"))
    cli.main(["reset-password", "OWNER@example.com"])
    printed = capsys.readouterr().out
    new_password = printed.split("new password for owner@example.com: ")[1].split()[0]
    assert "signed out of 1 session(s)" in printed
    assert web.get("/api/journeys").status_code == 401
    assert login(web).status_code == 401
    assert login(web, password=new_password).status_code == 200

    with pytest.raises(SystemExit):
        cli.main(["reset-password", "nobody@example.com"])
    assert "no user 'nobody@example.com'" in capsys.readouterr().err


def test_losing_the_membership_ends_access_at_once(web, sessions, workspace):
    login(web)
    with sessions.begin() as session:
        user = user_by_email(session, "owner@example.com")
        session.execute(sa.delete(Membership).where(Membership.user_id == user.id))
    assert web.get("/api/journeys").status_code == 401


def test_a_session_expires_after_its_lifetime(web, clock):
    login(web)
    clock.advance(days=13)
    assert web.get("/api/journeys").status_code == 200
    clock.advance(days=1, seconds=1)
    assert web.get("/api/journeys").status_code == 401


def test_repeated_failures_are_throttled(web):
    for _ in range(throttle.PAIR_LIMIT):
        assert login(web, password="guess").status_code == 401
    blocked = login(web)  # even the right password waits out the window
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"]


def test_language_choice_is_stored_on_the_account(web):
    csrf = login(web).json()["csrf_token"]
    assert web.patch("/api/auth/me", json={"locale": "zh-CN"}).status_code == 403
    changed = web.patch("/api/auth/me", json={"locale": "zh-CN"}, headers={"X-CSRF-Token": csrf})
    assert changed.json()["user"]["locale"] == "zh-CN"
    web.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert login(web).json()["user"]["locale"] == "zh-CN"
    bad = web.patch("/api/auth/me", json={"locale": "chinese"}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 400
    assert bad.json()["problems"][0]["pointer"] == "/locale"


@pytest.fixture
def team(app, sessions, workspace):
    """An editor and a viewer next to the owner, each signed in in a browser of their own."""
    with sessions.begin() as session:
        create_user(session, "ed@example.com", "editor pass", "Ed", workspace_id=workspace.id, role="editor")
        create_user(session, "vi@example.com", "viewer pass", "Vi", workspace_id=workspace.id, role="viewer")
    with TestClient(app) as editor, TestClient(app) as viewer:
        editor.headers["X-CSRF-Token"] = login(editor, "editor pass", "ed@example.com").json()["csrf_token"]
        viewer.headers["X-CSRF-Token"] = login(viewer, "viewer pass", "vi@example.com").json()["csrf_token"]
        yield editor, viewer


def test_a_viewer_reads_everything_and_changes_nothing(web, team):
    editor, viewer = team
    journey = editor.post("/api/journeys", json={"name": "Welcome"}).json()
    assert viewer.get("/api/journeys").status_code == 200
    assert viewer.get(f"/api/journeys/{journey['id']}").status_code == 200

    refused = viewer.post("/api/journeys", json={"name": "Mine"})
    assert refused.status_code == 403 and "Viewers" in refused.json()["title"]
    assert viewer.post(f"/api/journeys/{journey['id']}/publish").status_code == 403
    assert viewer.delete("/api/contacts/1").status_code == 403
    # Validating changes nothing, and a viewer's own language is theirs to choose.
    assert viewer.post(f"/api/journeys/{journey['id']}/validate").status_code == 200
    assert viewer.patch("/api/auth/me", json={"locale": "pl"}).json()["user"]["locale"] == "pl"
    assert viewer.get("/api/auth/me").json()["workspace"]["role"] == "viewer"


def test_only_owners_change_keys_and_providers(web, team):
    editor, _ = team
    assert editor.get("/api/keys").status_code == 200
    assert editor.get("/api/providers").status_code == 200
    refused = editor.post("/api/keys", json={"kind": "write", "name": "CRM"})
    assert refused.status_code == 403 and "owners" in refused.json()["title"]
    smtp = {"kind": "smtp", "channel": "email", "name": "Mail", "config": {"host": "mail.example.com"}}
    assert editor.post("/api/providers", json=smtp).status_code == 403

    csrf = login(web).json()["csrf_token"]
    created = web.post("/api/keys", json={"kind": "write", "name": "CRM"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    assert editor.delete(f"/api/keys/{created.json()['id']}").status_code == 403
