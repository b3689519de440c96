"""The web app is served at / with deep links and long-cached hashed assets, without shadowing the API."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from backend.api import spa
from backend.api.app import create_app
from backend.config import load_settings
from backend.services import Services


@pytest.fixture
def client(engine, tmp_path, monkeypatch):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    (dist / "assets" / "index-abc123.js").write_text("console.log('app')")
    monkeypatch.setattr(spa, "SPA_DIR", dist)
    services = Services.create(load_settings(secret_key="k", var_dir=str(tmp_path)), engine=engine)
    with TestClient(create_app(services)) as client:
        yield client


@pytest.mark.parametrize("path", ["/", "/journeys/42", "/contacts/7/events"])
def test_pages_reload_into_the_app(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "<div id=root>" in response.text
    assert response.headers["cache-control"] == "no-cache"


def test_hashed_assets_are_cached_for_a_year(client):
    response = client.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["cache-control"]


def test_api_paths_are_not_swallowed_by_the_app(client):
    assert client.get("/api/journeys").status_code == 401
    assert client.get("/api/no-such-thing").json()["status"] == 404
    assert client.get("/schema/openapi.json").json()["info"]["title"] == "Waymark API"
    assert client.get("/assets/missing.js").status_code == 404


def test_unbuilt_app_explains_itself(client, monkeypatch, tmp_path):
    monkeypatch.setattr(spa, "SPA_DIR", tmp_path / "nowhere")
    response = client.get("/journeys")
    assert response.status_code == 503
    assert "make run" in response.text


def test_assets_are_gzipped_for_browsers_that_accept_it(client, tmp_path):
    code = "export const greeting = 'hello';\n" * 200
    (spa.SPA_DIR / "assets" / "vendor-def456.js").write_text(code)
    response = client.get("/assets/vendor-def456.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert "max-age=31536000" in response.headers["cache-control"]
    assert response.text == code  # the client decodes it
    assert int(response.headers.get("content-length", len(response.content))) < len(code) / 5

    plain = client.get("/assets/vendor-def456.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == code
