"""SMS: the GSM-7 / UCS-2 segment counter, and the Twilio-compatible and JSON-webhook providers
against real local servers (exact form fields, JSON bodies, headers and auth)."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

import pytest

from backend.channels.base import OutgoingMessage
from backend.channels.sms import TwilioConfig, TwilioProvider
from backend.channels.sms_segments import count_segments
from backend.db.models import Event
from tests.factories import add_contact
from tests.http_sink import HttpSink
from tests.providers.conftest import add_provider, consent_and_events, make_template, outbox_row, queue


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments", "remaining"),
    [
        ("", "GSM-7", 0, 0, 160),
        ("Hello", "GSM-7", 5, 1, 155),
        ("a" * 160, "GSM-7", 160, 1, 0),
        ("a" * 161, "GSM-7", 161, 2, 145),
        ("a" * 306, "GSM-7", 306, 2, 0),
        ("a" * 307, "GSM-7", 307, 3, 152),
        ("€" * 80, "GSM-7", 160, 1, 0),  # extension characters count two
        ("[x]{y}~^|\\", "GSM-7", 18, 1, 142),
        ("a" * 152 + "€" + "a", "GSM-7", 155, 1, 5),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 164, 2, 141),  # the escape pair is not split: 152 + (2 + 10)
        ("Ça coûte 5£ à Øresund, ñandú", "UCS-2", 28, 1, 42),  # û and ú are not GSM-7
        ("Zażółć gęślą jaźń", "UCS-2", 17, 1, 53),  # Polish forces UCS-2
        ("Zazolc gesla jazn", "GSM-7", 17, 1, 143),
        ("你好,欢迎注册!", "UCS-2", 8, 1, 62),
        ("¿Qué tal? Ñandú", "UCS-2", 15, 1, 55),
        ("¿Que tal? Ñandu", "GSM-7", 15, 1, 145),  # ¿ and Ñ are GSM-7
        ("字" * 70, "UCS-2", 70, 1, 0),
        ("字" * 71, "UCS-2", 71, 2, 63),
        ("字" * 134, "UCS-2", 134, 2, 0),
        ("😀" * 35, "UCS-2", 70, 1, 0),  # astral characters are two UTF-16 units
        ("a" * 66 + "😀" + "ł", "UCS-2", 69, 1, 1),
        ("ł" * 66 + "😀" + "ł", "UCS-2", 69, 1, 1),
        ("ł" * 66 + "😀" + "ł" * 5, "UCS-2", 73, 2, 60),  # the surrogate pair moves to segment 2
    ],
)
def test_segments(text, encoding, units, segments, remaining):
    result = count_segments(text)
    assert (result.encoding, result.units, result.segments, result.remaining) == (encoding, units, segments, remaining)
    assert (
        result.per_segment == ({"GSM-7": 160, "UCS-2": 70} if segments <= 1 else {"GSM-7": 153, "UCS-2": 67})[encoding]
    )


def test_segments_name_the_characters_that_force_ucs2():
    assert count_segments("Cześć Łukasz, zażółć").non_gsm == ["ś", "ć", "Ł", "ż", "ó", "ł"]
    assert count_segments("Hola, ¿qué tal?").non_gsm == []  # é and ¿ are GSM-7
    assert count_segments("¿Cómo estás?").non_gsm == ["ó", "á"]
    assert count_segments("Plain `backtick`").non_gsm == ["`"]


SMS_DRAFT = {"sms": {"text": "Cześć {{ contact.first_name }}! Kod: {{ event.properties.code }}"}}


def twilio_config(twilio, **extra) -> dict:
    return {
        "account_sid": twilio.account_sid,
        "auth_token": twilio.auth_token,
        "from": "+15005550006",
        "base_url": twilio.base_url,
        **extra,
    }


def test_twilio_gets_the_exact_form_auth_and_idempotency_token(services, workspace, dispatcher, twilio):
    add_provider(services, workspace.id, "twilio", "sms", twilio_config(twilio), rate_per_second=0)
    make_template(services, workspace.id, "code", SMS_DRAFT)
    contact = add_contact(services.sessions, workspace.id, phone="+48600100200", attributes={"first_name": "Łucja"})
    oid = queue(services, workspace.id, contact, "sms", "code", context={"event": {"properties": {"code": "4711"}}})

    assert dispatcher.run_once() == 1

    (call,) = twilio.messages
    assert call.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.form == {"To": "+48600100200", "From": "+15005550006", "Body": "Cześć Łucja! Kod: 4711"}
    assert call.headers["authorization"] == "Basic " + base64.b64encode(b"AC123:tok-secret").decode()
    assert call.headers["i-twilio-idempotency-token"] == f"enr:{contact}:code:0"
    row = outbox_row(services.engine, oid)
    assert row["status"] == "sent"
    assert row["provider_message_id"] == "SM" + "0" * 31 + "1"
    with services.engine.connect() as conn:
        names = [e.name for e in conn.execute(Event.__table__.select().where(Event.contact_id == contact))]
    assert "sms_sent" in names


def test_twilio_messaging_service_and_status_callback(services, workspace, dispatcher, twilio):
    config = twilio_config(twilio, messaging_service_sid="MG999", status_callback="https://acme.test/status")
    del config["from"]
    add_provider(services, workspace.id, "twilio", "sms", config)
    make_template(services, workspace.id, "code", {"sms": {"text": "Hi"}})
    contact = add_contact(services.sessions, workspace.id, phone="+34600111222")
    queue(services, workspace.id, contact, "sms", "code")
    dispatcher.run_once()
    (call,) = twilio.messages
    assert call.form == {
        "To": "+34600111222",
        "MessagingServiceSid": "MG999",
        "Body": "Hi",
        "StatusCallback": "https://acme.test/status",
    }


@pytest.mark.parametrize(
    ("reply", "status", "error_part"),
    [
        ((400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}), "failed", "replied STOP"),
        ((400, {"code": 21614, "message": "'To' number is not a valid mobile number"}), "failed", "not a mobile"),
        ((400, {"code": 21408, "message": "Permission to send an SMS has not been enabled"}), "failed", "region"),
        ((429, {"code": 20429, "message": "Too Many Requests"}), "pending", "Too Many Requests"),
        ((500, {"code": 20500, "message": "Internal Server Error"}), "pending", "20500"),
        ((503, {"message": "Service unavailable"}), "pending", "HTTP 503"),
    ],
)
def test_twilio_errors_are_classified(services, workspace, dispatcher, twilio, clock, reply, status, error_part):
    import json

    add_provider(services, workspace.id, "twilio", "sms", twilio_config(twilio))
    make_template(services, workspace.id, "code", {"sms": {"text": "Hi"}})
    contact = add_contact(services.sessions, workspace.id, phone="+48600100200")
    oid = queue(services, workspace.id, contact, "sms", "code")
    code, body = reply
    headers = {"Content-Type": "application/json", **({"Retry-After": "600"} if code == 429 else {})}
    twilio.queued.append((code, headers, json.dumps(body).encode()))
    dispatcher.run_once()
    row = outbox_row(services.engine, oid)
    assert row["status"] == status
    assert error_part in row["last_error"]
    if code == 429:
        assert row["next_attempt_at"] >= clock.now() + timedelta(seconds=600)


def test_a_stop_reply_withdraws_sms_consent_and_later_marketing_is_skipped(services, workspace, dispatcher, twilio):
    import json

    add_provider(services, workspace.id, "twilio", "sms", twilio_config(twilio))
    make_template(services, workspace.id, "code", {"sms": {"text": "Hi"}})
    contact = add_contact(services.sessions, workspace.id, phone="+48600100200", consent={"sms": True, "email": True})
    body = {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}
    twilio.queued.append((400, {"Content-Type": "application/json"}, json.dumps(body).encode()))
    first = queue(services, workspace.id, contact, "sms", "code")
    dispatcher.run_once()

    assert outbox_row(services.engine, first)["status"] == "failed"
    consent, events = consent_and_events(services.engine, contact)
    assert consent == {"sms": False, "email": True}
    (unsubscribed,) = [props for name, props in events if name == "unsubscribed"]
    assert unsubscribed["channel"] == "sms" and unsubscribed["source"] == "provider"
    assert "21610" in unsubscribed["reason"] and unsubscribed["outbox_id"] == first

    second = queue(services, workspace.id, contact, "sms", "code", n=1)
    dispatcher.run_once()
    row = outbox_row(services.engine, second)
    assert row["status"] == "skipped" and "not consented" in row["last_error"]
    assert len(twilio.messages) == 1  # only the refused attempt: nothing more went out


def test_an_invalid_number_is_permanent(services, workspace, dispatcher, twilio):
    add_provider(services, workspace.id, "twilio", "sms", twilio_config(twilio))
    make_template(services, workspace.id, "code", {"sms": {"text": "Hi"}})
    contact = add_contact(services.sessions, workspace.id, phone="600100200")
    oid = queue(services, workspace.id, contact, "sms", "code")
    dispatcher.run_once()
    row = outbox_row(services.engine, oid)
    assert row["status"] == "failed"
    assert "21211" in row["last_error"] and "invalid 'To' phone number" in row["last_error"]


def test_wrong_credentials_are_retried_with_a_hint(services, workspace, dispatcher, twilio):
    add_provider(services, workspace.id, "twilio", "sms", twilio_config(twilio, auth_token="wrong"))
    make_template(services, workspace.id, "code", {"sms": {"text": "Hi"}})
    contact = add_contact(services.sessions, workspace.id, phone="+48600100200")
    oid = queue(services, workspace.id, contact, "sms", "code")
    dispatcher.run_once()
    row = outbox_row(services.engine, oid)
    assert row["status"] == "pending"
    assert "20003" in row["last_error"] and "check the provider" in row["last_error"]


def test_a_loopback_base_url_is_refused_unless_private_targets_are_allowed(twilio):
    config = TwilioConfig(account_sid="AC123", auth_token="tok-secret", from_="+1500", base_url=twilio.base_url)
    message = OutgoingMessage(1, "enr:1:n", 1, "sms", "+48600100200", {"text": "Hi"})

    async def send(allow: bool):
        provider = TwilioProvider(config, allow_private=allow)
        try:
            return await provider.send(message)
        finally:
            await provider.close()

    refused = asyncio.run(send(False))
    assert refused.outcome == "failed" and "refusing" in refused.error
    assert twilio.calls == []
    assert asyncio.run(send(True)).outcome == "sent"


def test_sms_webhook_posts_json_with_bearer_token_and_idempotency_key(services, workspace, dispatcher):
    sink = HttpSink()
    try:
        config = {"url": sink.url("/sms"), "token": "gw-token", "from": "ACME", "headers": {"X-Tenant": "acme"}}
        add_provider(services, workspace.id, "sms_webhook", "sms", config)
        make_template(services, workspace.id, "code", {"sms": {"text": "你好 {{ contact.first_name }}"}})
        contact = add_contact(services.sessions, workspace.id, phone="+8613800138000", attributes={"first_name": "李"})
        oid = queue(services, workspace.id, contact, "sms", "code")
        dispatcher.run_once()
        (request,) = sink.requests
        import json

        assert request.method == "POST" and request.path == "/sms"
        assert request.headers["authorization"] == "Bearer gw-token"
        assert request.headers["idempotency-key"] == f"enr:{contact}:code:0"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-tenant"] == "acme"
        assert json.loads(request.body) == {
            "to": "+8613800138000",
            "from": "ACME",
            "text": "你好 李",
            "encoding": "UCS-2",
            "segments": 1,
            "idempotency_key": f"enr:{contact}:code:0",
            "message_id": oid,
        }
        assert outbox_row(services.engine, oid)["status"] == "sent"

        sink.responses = [(422, {}), (503, {})]
        second = queue(services, workspace.id, contact, "sms", "code", n=1)
        third = queue(services, workspace.id, contact, "sms", "code", n=2)
        dispatcher.run_once()
        statuses = {outbox_row(services.engine, i)["status"] for i in (second, third)}
        assert statuses == {"failed", "pending"}
    finally:
        sink.close()
