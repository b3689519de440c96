"""A workspace's SMTP provider may not reach the server's own network: "Test connection" and sending
refuse private, loopback and link-local hosts (resolved names too) unless the operator sets
WAYMARK_ALLOW_PRIVATE_SMTP — the same check as webhooks. Otherwise an owner could use the provider form
as a port scanner of the internal network (open and closed ports answered differently)."""

from __future__ import annotations

import pytest

from backend.config import Settings, load_settings
from tests.api.conftest import ok
from tests.factories import add_contact
from tests.providers.conftest import make_template
from tests.smtp_sink import free_port

DRAFT = {
    "email": {
        "subject": "Hi",
        "mjml": "<mjml><mj-body><mj-section><mj-column><mj-text>Hello</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>",
    }
}


@pytest.fixture
def settings(tmp_path, smtp_server) -> Settings:
    return load_settings(
        secret_key="s" * 32, var_dir=str(tmp_path), dev_inbox=False, smtp_url=None, allow_private_smtp=False
    )


def _provider(admin, host: str, port: int) -> int:
    body = {"kind": "smtp", "config": {"host": host, "port": port, "tls": "none"}}
    return ok(admin.post("/api/providers", json=body), 201)["id"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254", "::1"])
def test_test_connection_refuses_private_hosts_without_touching_them(admin, smtp_server, host):
    open_port = _provider(admin, host, smtp_server.port)
    closed_port = _provider(admin, host, free_port())
    answers = [ok(admin.post(f"/api/providers/{pid}/test")) for pid in (open_port, closed_port)]
    assert all(a["ok"] is False for a in answers)
    assert "WAYMARK_ALLOW_PRIVATE_SMTP" in answers[0]["message"] and "private" in answers[0]["message"]
    # An open port and a closed one look the same: nothing to learn about the network.
    assert answers[0]["message"] == answers[1]["message"]
    assert smtp_server.connections == 0


def test_sending_through_a_private_host_fails_with_the_reason(admin, services, workspace, smtp_server):
    _provider(admin, "127.0.0.1", smtp_server.port)
    tid = make_template(services, workspace.id, "hello", DRAFT, publish=False)
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com")
    result = ok(admin.post(f"/api/templates/{tid}/test-send", json={"channel": "email", "contact_id": contact}))
    assert result["status"] == "failed"
    assert "WAYMARK_ALLOW_PRIVATE_SMTP" in result["error"]
    assert smtp_server.connections == 0 and smtp_server.messages == []


def test_the_operator_can_allow_a_relay_on_the_private_network(admin, services, workspace, smtp_server):
    services.settings.allow_private_smtp = True
    pid = _provider(admin, "127.0.0.1", smtp_server.port)
    assert ok(admin.post(f"/api/providers/{pid}/test"))["ok"] is True
    tid = make_template(services, workspace.id, "hello", DRAFT, publish=False)
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com")
    result = ok(admin.post(f"/api/templates/{tid}/test-send", json={"channel": "email", "contact_id": contact}))
    assert result["status"] == "sent", result
    assert smtp_server.wait_for(1)[0].subject == "Hi"
