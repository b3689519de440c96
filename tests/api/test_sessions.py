"""Signing in to the web app: cookie sessions, CSRF, throttling."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from backend.api import sessions as session_module
from backend.api.app import create_app
from backend.config import load_settings
from backend.services import Services
from backend.users import create_user


@pytest.fixture
def web(engine, clock, registry, sessions, workspace, tmp_path):
    services = Services.create(
        load_settings(secret_key="k" * 32, var_dir=str(tmp_path)), engine=engine, clock=clock, registry=registry
    )
    with sessions.begin() as session:
        create_user(session, "Owner@Example.com", "correct horse", "Olga Owner", workspace_id=workspace.id)
    session_module._throttle = session_module._Throttle()
    with TestClient(create_app(services)) as client:
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


def test_a_tampered_cookie_is_rejected(web):
    login(web)
    token = web.cookies.get("waymark_session")
    body, _, sig = token.partition(".")
    web.cookies.set("waymark_session", body[:-2] + "AA." + sig)
    assert web.get("/api/auth/me").status_code == 401


def test_sign_out_ends_the_session(web):
    login(web)
    assert web.post("/api/auth/logout").status_code == 204
    assert web.get("/api/journeys").status_code == 401


def test_repeated_failures_are_throttled(web):
    for _ in range(session_module.MAX_FAILURES):
        assert login(web, password="guess").status_code == 401
    blocked = login(web)  # even the right password waits out the window
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"]


def test_language_choice_is_stored_on_the_account(web):
    csrf = login(web).json()["csrf_token"]
    assert web.patch("/api/auth/me", json={"locale": "zh-CN"}).status_code == 403
    changed = web.patch("/api/auth/me", json={"locale": "zh-CN"}, headers={"X-CSRF-Token": csrf})
    assert changed.json()["user"]["locale"] == "zh-CN"
    web.post("/api/auth/logout")
    assert login(web).json()["user"]["locale"] == "zh-CN"
    bad = web.patch("/api/auth/me", json={"locale": "chinese"}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 400
    assert bad.json()["problems"][0]["pointer"] == "/locale"
