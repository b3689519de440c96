"""The API viewer at /schema works offline: everything it loads comes from the Waymark server itself,
under the same Content-Security-Policy as the app (no inline script). Every answer of the real server
carries the security headers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in


def test_the_api_viewer_loads_only_from_this_server(page, live_server):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    # Offline: any request to another host fails at once instead of waiting for a network.
    page.route(
        lambda url: urlsplit(url).netloc != urlsplit(live_server.url).netloc and not url.startswith("data:"),
        lambda route: route.abort(),
    )
    page.goto(live_server.url + "/schema")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Waymark API")
    expect(page.locator(".opblock-summary-path", has_text="/v1/track").first).to_be_visible()
    hosts = {urlsplit(url).netloc for url in requested if not url.startswith("data:")}
    assert hosts == {urlsplit(live_server.url).netloc}, requested


def test_try_it_out_sends_the_csrf_token_when_signed_in(page, live_server):
    """Swagger UI's requests go through a start script of ours that adds the session's CSRF token."""
    sign_in(page, live_server)
    page.goto(live_server.url + "/schema")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Waymark API")
    answer = page.evaluate(
        """async () => {
          const response = await window.ui.fn.fetch({
            url: '/api/auth/me', method: 'PATCH', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({name: 'Renamed in the viewer'}),
            requestInterceptor: window.ui.getConfigs().requestInterceptor,
          });
          return response.status;
        }"""
    )
    assert answer == 200


def test_the_schema_page_names_no_other_host_and_its_assets_answer(live_server):
    page = httpx.get(live_server.url + "/schema")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(src.startswith(("/", "data:")) for src in sources), sources
    for src in sources:
        if src.startswith("/"):
            asset = httpx.get(live_server.url + src)
            assert asset.status_code == 200, src
            assert asset.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/", "/journeys/1", "/schema", "/api/auth/me", "/api/no-such-thing", "/v1/track"])
def test_every_answer_forbids_framing_sniffing_and_foreign_scripts(live_server, path):
    response = httpx.get(live_server.url + path)
    policy = dict(
        part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";") if part.strip()
    )
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
