"""The admin API behind the settings page, the "send test" button and the failed-messages view."""

from __future__ import annotations

import sqlalchemy as sa

from backend.channels.kinds import SECRET_PLACEHOLDER
from backend.db.models import Event, Provider
from tests.api.conftest import admin_api, ok
from tests.factories import add_contact
from tests.providers.conftest import add_provider, make_template, outbox_row, queue
from tests.providers.servers import Subscriber


def stored_config(services, provider_id: int) -> dict:
    with services.engine.connect() as conn:
        return conn.execute(sa.select(Provider.config).where(Provider.id == provider_id)).scalar()


def test_provider_kinds_come_with_settings_schemas(admin):
    kinds = {k["kind"]: k for k in ok(admin.get("/api/provider-kinds"))}
    assert {"smtp", "twilio", "sms_webhook", "wechat", "webpush", "http", "null"} <= set(kinds)
    twilio = kinds["twilio"]
    assert twilio["channel"] == "sms" and twilio["secrets"] == ["auth_token"]
    assert twilio["default_rate_per_second"] == 10.0
    assert twilio["config_schema"]["properties"]["auth_token"]["writeOnly"] is True
    assert "account_sid" in twilio["config_schema"]["required"]


def test_secrets_are_never_returned_and_kept_when_left_out(admin, services, twilio):
    config = {"account_sid": "AC123", "auth_token": "tok-secret", "from": "+1500", "base_url": twilio.base_url}
    created = ok(admin.post("/api/providers", json={"kind": "twilio", "name": "Twilio", "config": config}), 201)
    assert created["channel"] == "sms"
    assert created["config"]["auth_token"] == SECRET_PLACEHOLDER
    assert created["secrets_set"] == ["auth_token"]
    assert created["effective_rate_per_second"] == 10.0
    pid = created["id"]
    assert "tok-secret" not in admin.get(f"/api/providers/{pid}").text
    assert "tok-secret" not in admin.get("/api/providers").text

    # Send back what the form got (placeholder included), change the sender: the secret stays.
    form = ok(admin.get(f"/api/providers/{pid}"))["config"]
    form["from"] = "+1999"
    ok(admin.patch(f"/api/providers/{pid}", json={"config": form}))
    assert stored_config(services, pid)["auth_token"] == "tok-secret"
    # Leave it out entirely: still kept.
    ok(admin.patch(f"/api/providers/{pid}", json={"config": {k: v for k, v in form.items() if k != "auth_token"}}))
    assert stored_config(services, pid) == {**config, "from": "+1999"}
    # A new value replaces it.
    ok(admin.patch(f"/api/providers/{pid}", json={"config": {**form, "auth_token": "new"}}))
    assert stored_config(services, pid)["auth_token"] == "new"
    # Clearing a required secret is refused.
    response = admin.patch(f"/api/providers/{pid}", json={"config": {**form, "auth_token": None}})
    assert response.status_code == 400 and response.json()["problems"][0]["pointer"] == "/config/auth_token"

    updated = ok(admin.patch(f"/api/providers/{pid}", json={"rate_per_second": 0, "enabled": False, "name": "Off"}))
    assert (updated["rate_per_second"], updated["effective_rate_per_second"], updated["enabled"]) == (0, None, False)
    assert admin.delete(f"/api/providers/{pid}").status_code == 204
    assert admin.get(f"/api/providers/{pid}").status_code == 404


def test_smtp_secrets_and_webpush_public_key(admin):
    smtp = ok(
        admin.post(
            "/api/providers",
            json={"kind": "smtp", "config": {"host": "mail.acme.test", "username": "u", "password": "pw"}},
        ),
        201,
    )
    assert smtp["config"]["password"] == SECRET_PLACEHOLDER and "pw" not in str(smtp)
    from py_vapid import Vapid

    key = Vapid()
    key.generate_keys()
    push = ok(
        admin.post(
            "/api/providers",
            json={
                "kind": "webpush",
                "config": {"vapid_private_key": key.private_pem().decode(), "subject": "mailto:ops@acme.test"},
            },
        ),
        201,
    )
    assert push["config"]["vapid_private_key"] == SECRET_PLACEHOLDER
    assert len(push["config"]["public_key"]) == 87  # base64url of a 65-byte uncompressed point
    ok(admin.patch(f"/api/providers/{push['id']}", json={"config": push["config"]}))  # round trip


def test_bad_provider_settings_are_400s_with_pointers(admin):
    cases = [
        ({"kind": "carrier-pigeon", "config": {}}, "/kind"),
        ({"kind": "twilio", "config": {"auth_token": "x", "from": "+1"}}, "/config"),
        (
            {"kind": "twilio", "config": {"account_sid": "AC", "auth_token": "x", "from": "+1", "base_url": "ftp://x"}},
            "/config/base_url",
        ),
        ({"kind": "twilio", "config": {"account_sid": "AC", "auth_token": "x"}}, "/config"),
        ({"kind": "smtp", "config": {"host": "h", "port": 70000}}, "/config/port"),
        ({"kind": "smtp", "config": {"host": "h", "bogus": 1}}, "/config/bogus"),
        (
            {"kind": "webpush", "config": {"vapid_private_key": "not a key", "subject": "mailto:a@b"}},
            "/config/vapid_private_key",
        ),
        ({"kind": "wechat", "config": {"appid": "wx1"}}, "/config/secret"),
        ({"kind": "null", "config": {}}, "/channel"),
        ({"kind": "twilio", "channel": "email", "config": {}}, "/channel"),
        ({"kind": "twilio", "config": "nope"}, "/config"),
    ]
    for body, pointer in cases:
        response = admin.post("/api/providers", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["problems"][0]["pointer"] == pointer, (body, response.json())


def test_test_connection(admin, twilio, wechat, smtp_server):
    def create(kind, config):
        return ok(admin.post("/api/providers", json={"kind": kind, "config": config}), 201)["id"]

    good = create(
        "twilio", {"account_sid": "AC123", "auth_token": "tok-secret", "from": "+1", "base_url": twilio.base_url}
    )
    bad = create("twilio", {"account_sid": "AC123", "auth_token": "wrong", "from": "+1", "base_url": twilio.base_url})
    assert ok(admin.post(f"/api/providers/{good}/test")) == {
        "ok": True,
        "message": "connected to account 'Acme SMS'",
        "details": {"kind": "twilio", "channel": "sms"},
    }
    result = ok(admin.post(f"/api/providers/{bad}/test"))
    assert result["ok"] is False and "Authenticate" in result["message"]
    assert not twilio.messages  # nothing was sent

    wx = create("wechat", {"appid": "wx123", "secret": "wrong", "base_url": wechat.base_url})
    result = ok(admin.post(f"/api/providers/{wx}/test"))
    assert result["ok"] is False and "invalid AppSecret" in result["message"]

    smtp = create("smtp", {"host": smtp_server.host, "port": smtp_server.port, "tls": "none"})
    assert ok(admin.post(f"/api/providers/{smtp}/test"))["ok"] is True
    smtp_server.stop()
    result = ok(admin.post(f"/api/providers/{smtp}/test"))
    assert result["ok"] is False and "connection" in result["message"].lower()
    smtp_server.start()


def test_providers_are_scoped_to_the_workspace(admin, client, services, other_workspace):
    pid = add_provider(services, other_workspace.id, "null", "email", {})
    assert admin.get(f"/api/providers/{pid}").status_code == 404
    assert admin.patch(f"/api/providers/{pid}", json={"name": "x"}).status_code == 404
    assert admin.delete(f"/api/providers/{pid}").status_code == 404
    assert ok(admin.get("/api/providers")) == []
    assert len(ok(admin_api(client, other_workspace).get("/api/providers"))) == 1


EMAIL_DRAFT = {
    "email": {
        "subject": "Hi {{ contact.first_name | default('there') }}",
        "mjml": "<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{ contact.first_name }}</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>",
    },
    "sms": {"text": "Cześć {{ contact.first_name | default('!') }}"},
}


def test_test_send_email_renders_the_draft_for_a_contact(admin, services, workspace, smtp_server):
    tid = make_template(services, workspace.id, "welcome", EMAIL_DRAFT, publish=False)  # never published
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com", attributes={"first_name": "Ana"})
    result = ok(admin.post(f"/api/templates/{tid}/test-send", json={"channel": "email", "contact_id": contact}))
    assert result["status"] == "sent" and result["error"] is None
    assert result["message"]["test"] is True and result["message"]["channel"] == "email"
    assert result["fields"]["subject"] == "Hi Ana"
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["ana@example.com"] and mail.subject == "Hi Ana"
    assert "Hello Ana" in mail.part("html")
    # A test is not a delivery: no contact events, not in the default message list or counts.
    with services.engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(Event).where(Event.contact_id == contact)).scalar() == 0
        )
    assert ok(admin.get("/api/messages"))["items"] == []
    assert ok(admin.get("/api/messages/counts"))["sent"] == 0
    assert [m["id"] for m in ok(admin.get("/api/messages?test=true"))["items"]] == [result["message"]["id"]]

    # Another address, sample data (no contact).
    result = ok(admin.post(f"/api/templates/{tid}/test-send", json={"channel": "email", "to": "qa@acme.test"}))
    assert result["status"] == "sent"
    assert smtp_server.wait_for(2)[1].subject == "Hi there"


def test_test_send_sms_reports_segments_and_provider_errors(admin, services, workspace, twilio):
    add_provider(
        services,
        workspace.id,
        "twilio",
        "sms",
        {"account_sid": "AC123", "auth_token": "tok-secret", "from": "+1500", "base_url": twilio.base_url},
    )
    tid = make_template(services, workspace.id, "welcome", EMAIL_DRAFT, publish=False)
    result = ok(admin.post(f"/api/templates/{tid}/test-send", json={"channel": "sms", "to": "+48600100200"}))
    assert result["status"] == "sent" and result["provider_message_id"].startswith("SM")
    assert result["sms"] == {
        "encoding": "UCS-2",
        "units": 7,
        "segments": 1,
        "per_segment": 70,
        "remaining": 63,
        "non_gsm": ["ś", "ć"],
    }
    assert twilio.messages[0].form["Body"] == "Cześć !"
    result = ok(admin.post(f"/api/templates/{tid}/test-send", json={"channel": "sms", "to": "600"}))
    assert result["status"] == "failed" and "21211" in result["error"]


def test_test_send_push_to_a_given_subscription(admin, services, workspace, push_service):
    from py_vapid import Vapid

    key = Vapid()
    key.generate_keys()
    add_provider(
        services,
        workspace.id,
        "webpush",
        "push",
        {"vapid_private_key": key.private_pem().decode(), "subject": "mailto:ops@acme.test"},
    )
    tid = make_template(services, workspace.id, "p", {"push": {"title": "T", "body": "B"}}, publish=False)
    device = Subscriber(push_service.endpoint("qa"))
    result = ok(admin.post(f"/api/templates/{tid}/test-send", json={"channel": "push", "to": device.subscription}))
    assert result["status"] == "sent"
    assert device.decrypt(push_service.calls[0].body)["title"] == "T"


def test_test_send_bad_input(admin, services, workspace, other_workspace):
    tid = make_template(services, workspace.id, "welcome", EMAIL_DRAFT, publish=False)
    no_email = add_contact(services.sessions, workspace.id, phone="+48600100200")
    stranger = add_contact(services.sessions, other_workspace.id, email="x@example.com")
    cases = [
        ({"channel": "email"}, "/to"),
        ({"channel": "email", "contact_id": no_email}, "/to"),
        ({"channel": "email", "contact_id": stranger}, "/contact_id"),
        ({"channel": "email", "to": "not-an-address"}, "/to"),
        ({"channel": "push", "to": {"endpoint": "https://x"}}, "/to"),
        ({"channel": "fax"}, "/channel"),
    ]
    for body, pointer in cases:
        response = admin.post(f"/api/templates/{tid}/test-send", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["problems"][0]["pointer"] == pointer, (body, response.json())
    response = admin.post(f"/api/templates/{tid}/test-send", json={"channel": "wechat", "to": "oX"})
    assert response.status_code == 422  # no WeChat body
    broken = make_template(services, workspace.id, "broken", {"sms": {"text": "Hi {{ contact."}}, publish=False)
    response = admin.post(f"/api/templates/{broken}/test-send", json={"channel": "sms", "to": "+48600100200"})
    assert response.status_code == 422
    assert response.json()["problems"][0]["pointer"] == "/draft/sms/text"
    assert admin.post("/api/templates/999999/test-send", json={"channel": "sms"}).status_code == 404


def test_failed_messages_view_and_retry(admin, services, workspace, dispatcher, twilio, other_workspace):
    add_provider(
        services,
        workspace.id,
        "twilio",
        "sms",
        {"account_sid": "AC123", "auth_token": "tok-secret", "from": "+1500", "base_url": twilio.base_url},
    )
    make_template(services, workspace.id, "code", {"sms": {"text": "Hi"}})
    good = add_contact(services.sessions, workspace.id, phone="+48600100200", email="g@example.com")
    bad = add_contact(services.sessions, workspace.id, phone="600", external_id="u-bad")
    nophone = add_contact(services.sessions, workspace.id, email="n@example.com")
    sent_id = queue(services, workspace.id, good, "sms", "code")
    failed_id = queue(services, workspace.id, bad, "sms", "code")
    skipped_id = queue(services, workspace.id, nophone, "sms", "code")
    dispatcher.run_once()

    failed = ok(admin.get("/api/messages?status=failed"))["items"]
    assert [m["id"] for m in failed] == [failed_id]
    assert failed[0]["contact"] == {"email": None, "phone": "600", "external_id": "u-bad"}
    assert "21211" in failed[0]["reason"] and failed[0]["attempts"] == 1 and failed[0]["template"] == "code"
    both = ok(admin.get("/api/messages?status=failed,skipped&channel=sms"))["items"]
    assert {m["id"] for m in both} == {failed_id, skipped_id}
    assert ok(admin.get(f"/api/messages?contact_id={good}"))["items"][0]["status"] == "sent"
    assert ok(admin.get("/api/messages/counts")) == {
        "pending": 0,
        "sending": 0,
        "sent": 1,
        "failed": 1,
        "skipped": 1,
        "unknown": 0,
    }
    page = ok(admin.get("/api/messages?limit=2"))
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert len(ok(admin.get(f"/api/messages?limit=2&cursor={page['next_cursor']}"))["items"]) == 1

    detail = ok(admin.get(f"/api/messages/{failed_id}"))
    assert detail["idempotency_key"] == f"enr:{bad}:code:0"
    assert [e["name"] for e in detail["events"]] == ["message_failed"]

    result = ok(admin.post("/api/messages/retry", json={"ids": [failed_id, sent_id, 424242]}))
    assert result == {
        "retried": [failed_id],
        "not_retried": [{"id": sent_id, "reason": "already sent"}, {"id": 424242, "reason": "not found"}],
    }
    row = outbox_row(services.engine, failed_id)
    assert row["status"] == "pending" and row["attempts"] == 0

    assert admin.get("/api/messages?status=lost").json()["problems"][0]["pointer"] == "/query/status"
    assert admin.post("/api/messages/retry", json={"ids": []}).status_code == 400
    assert admin.get("/api/messages/99999999").status_code == 404
    other = admin_api(admin.client, other_workspace)
    assert other.get(f"/api/messages/{failed_id}").status_code == 404
    assert ok(other.post("/api/messages/retry", json={"ids": [failed_id]}))["retried"] == []


def test_segments_in_previews_draft_saves_and_the_counter(admin, services, workspace):
    tid = make_template(services, workspace.id, "welcome", EMAIL_DRAFT, publish=False)
    contact = add_contact(services.sessions, workspace.id, attributes={"first_name": "Zoë"})
    preview = ok(admin.post(f"/api/templates/{tid}/preview", json={"channel": "sms", "contact_id": contact}))
    assert preview["fields"]["text"] == "Cześć Zoë"
    assert preview["sms"]["encoding"] == "UCS-2" and preview["sms"]["segments"] == 1
    saved = ok(admin.put(f"/api/templates/{tid}/draft", json={"draft": {"sms": {"text": "a" * 161}}}))
    assert saved["sms"] == {
        "encoding": "GSM-7",
        "units": 161,
        "segments": 2,
        "per_segment": 153,
        "remaining": 145,
        "non_gsm": [],
    }
    assert ok(admin.post("/api/sms/segments", json={"text": "你好"}))["units"] == 2
    assert admin.post("/api/sms/segments", json={"text": 5}).status_code == 400
