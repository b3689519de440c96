"""The issue's "done when", as a new user would do it against the real `waymark run` process: a
template, a journey, an event over the ingestion API; the email arrives at a real SMTP server; opening
it (the pixel) and clicking a link *from that copy* over real HTTP shows delivered, opened and clicked
events on the contact; the List-Unsubscribe one-click POST unsubscribes."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.e2e.live import LiveServer, ServerDidNotStart, start_live_server
from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow

MJML = """<mjml><mj-body><mj-section><mj-column>
  <mj-text>Hi {{ contact.first_name | default("there") }}, your trial ends soon.</mj-text>
  <mj-button href="https://shop.acme.test/upgrade?plan={{ event.properties.plan }}&amp;src=mail">Upgrade</mj-button>
</mj-column></mj-section></mj-body></mjml>"""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def call(method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class Client:
    def __init__(self, server: LiveServer) -> None:
        self.url = server.url
        self.admin = {"Authorization": f"Bearer {server.admin_key}"}
        self.writer = {"Authorization": "Basic " + base64.b64encode(f"{server.write_key}:".encode()).decode()}

    def api(self, method: str, path: str, body: Any = None, *, write: bool = False) -> Any:
        status, _, data = call(method, self.url + path, body=body, headers=self.writer if write else self.admin)
        assert status < 300, (method, path, status, data[:500])
        return json.loads(data) if data else None


@pytest.fixture(scope="module")
def mailbox():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory, mailbox) -> LiveServer:
    try:
        server = start_live_server(tmp_path_factory.mktemp("tracking-live"), mailbox.port)
    except ServerDidNotStart as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"])
        elif tag == "img" and values.get("src"):
            self.images.append(values["src"])


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def test_delivered_opened_clicked_and_unsubscribed_from_the_smtp_servers_copy(live, mailbox):
    client = Client(live)
    draft = {
        "email": {"subject": "Your trial, {{ contact.first_name }}", "mjml": MJML},
        "sms": {"text": "Hi {{ contact.first_name }}, your trial ends soon: https://shop.acme.test/upgrade"},
    }
    template = client.api("POST", "/api/templates", {"key": "trial_end", "name": "Trial ending", "draft": draft})
    client.api("POST", f"/api/templates/{template['template']['id']}/publish")
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.event", "version": 1, "config": {"event": "trial_ending"}},
            {"id": "mail", "type": "send", "version": 1, "config": {"template": "trial_end"}},
        ],
        "edges": [{"id": "e1", "source": "start", "port": "next", "target": "mail"}],
        "settings": {},
    }
    journey = client.api("POST", "/api/journeys", {"name": "Trial ending", "graph": graph})
    client.api("POST", f"/api/journeys/{journey['id']}/publish")
    traits = {"email": "lena@example.com", "first_name": "Lena"}
    client.api("POST", "/v1/identify", {"userId": "lena", "traits": traits}, write=True)
    client.api(
        "POST", "/v1/track", {"userId": "lena", "event": "trial_ending", "properties": {"plan": "pro"}}, write=True
    )

    mail = wait_for(lambda: next((m for m in mailbox.messages if m.rcpt_tos == ["lena@example.com"]), None))
    assert mail is not None, live.log()[-3000:]
    assert mail.subject == "Your trial, Lena"
    parsed = _Html()
    parsed.feed(mail.part("html"))
    (click,) = [h for h in parsed.hrefs if h.startswith(f"{live.url}/t/c/")]
    (pixel,) = [src for src in parsed.images if src.startswith(f"{live.url}/t/o/")]

    status, headers, body = call("GET", pixel)  # the mail client shows the images
    assert status == 200 and headers["content-type"] == "image/gif" and body.startswith(b"GIF89a")
    status, headers, _ = call("GET", click)  # the recipient clicks "Upgrade"
    assert status == 302 and headers["location"] == "https://shop.acme.test/upgrade?plan=pro&src=mail"

    (contact,) = client.api("GET", "/api/contacts?q=lena@example.com")["items"]

    def timeline() -> list[str]:
        return [e["name"] for e in reversed(client.api("GET", f"/api/contacts/{contact['id']}/events")["items"])]

    names = wait_for(lambda: (t := timeline()) and "email_clicked" in t and t)
    assert names[-3:] == ["email_sent", "email_opened", "email_clicked"], names

    # The inbox's "Unsubscribe" button: RFC 8058 one-click POST to the List-Unsubscribe URL.
    unsubscribe = str(mail.message["List-Unsubscribe"]).strip("<>")
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    status, _, _ = call("GET", unsubscribe)
    assert status == 200 and "unsubscribed" not in timeline()  # looking is not unsubscribing
    status, _, _ = call(
        "POST",
        unsubscribe,
        raw=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert timeline()[-1] == "unsubscribed"
    assert client.api("GET", f"/api/contacts/{contact['id']}")["consent"] == {"email": False}
