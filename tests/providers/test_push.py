"""Web Push with VAPID against a real local push service: the payload decrypts to what the template
rendered, the VAPID JWT verifies, and gone subscriptions (404/410) are removed from the contact."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from py_vapid import Vapid

from backend.channels.base import stable_id
from backend.db.models import Contact
from tests.factories import add_contact
from tests.providers.conftest import add_provider, make_template, outbox_row, queue
from tests.providers.servers import Subscriber

DRAFT = {
    "push": {
        "title": "Hola {{ contact.first_name }}",
        "body": "Tu plan {{ event.properties.plan }} caduca mañana",
        "image": "https://acme.test/i.png",
        "link": "https://acme.test/renew?c={{ contact.id }}",
    }
}


@pytest.fixture
def vapid():
    key = Vapid()
    key.generate_keys()
    return key


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def private_pem(vapid) -> str:
    return vapid.private_pem().decode()


def setup(services, workspace, vapid, subscribers):
    config = {"vapid_private_key": private_pem(vapid), "subject": "mailto:ops@acme.test", "ttl": 3600}
    add_provider(services, workspace.id, "webpush", "push", config)
    make_template(services, workspace.id, "renew", DRAFT)
    tokens = [s.subscription for s in subscribers] + ["fcm-legacy-token"]
    return add_contact(services.sessions, workspace.id, push_tokens=tokens, attributes={"first_name": "Ana"})


def verify_vapid(authorization: str, vapid, audience: str) -> dict:
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    values = dict(p.strip().split("=", 1) for p in params.split(","))
    assert b64d(values["k"]) == vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    header, claims, signature = values["t"].split(".")
    raw = b64d(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    vapid.public_key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    body = json.loads(b64d(claims))
    assert body["aud"] == audience and body["sub"] == "mailto:ops@acme.test"
    return body


def test_push_payload_headers_and_vapid(services, workspace, dispatcher, push_service, vapid):
    phone, laptop = Subscriber(push_service.endpoint("phone")), Subscriber(push_service.endpoint("laptop"))
    contact = setup(services, workspace, vapid, [phone, laptop])
    oid = queue(services, workspace.id, contact, "push", "renew", context={"event": {"properties": {"plan": "Pro"}}})
    assert dispatcher.run_once() == 1

    calls = {c.path: c for c in push_service.calls}
    assert set(calls) == {"/push/phone", "/push/laptop"}  # the non-Web-Push token is ignored
    for subscriber, call in ((phone, calls["/push/phone"]), (laptop, calls["/push/laptop"])):
        assert subscriber.decrypt(call.body) == {
            "title": "Hola Ana",
            "body": "Tu plan Pro caduca mañana",
            "image": "https://acme.test/i.png",
            "url": f"https://acme.test/renew?c={contact}",
            "message_id": oid,
        }
        assert call.headers["content-encoding"] == "aes128gcm"
        assert call.headers["ttl"] == "3600"
        assert call.headers["urgency"] == "normal"
        assert call.headers["topic"] == stable_id(workspace.id, f"enr:{contact}:renew:0")
        verify_vapid(call.headers["authorization"], vapid, push_service.base_url)
    assert outbox_row(services.engine, oid)["status"] == "sent"


def test_a_gone_subscription_is_removed_and_the_others_still_get_it(
    services, workspace, dispatcher, push_service, vapid
):
    alive, gone = Subscriber(push_service.endpoint("alive")), Subscriber(push_service.endpoint("gone"))
    push_service.statuses["gone"] = 410
    contact = setup(services, workspace, vapid, [alive, gone])
    oid = queue(services, workspace.id, contact, "push", "renew")
    dispatcher.run_once()
    row = outbox_row(services.engine, oid)
    assert row["status"] == "sent"
    with services.engine.connect() as conn:
        tokens = conn.execute(sa.select(Contact.push_tokens).where(Contact.id == contact)).scalar()
    assert tokens == [alive.subscription, "fcm-legacy-token"]


def test_all_subscriptions_gone_is_a_permanent_failure(services, workspace, dispatcher, push_service, vapid):
    only = Subscriber(push_service.endpoint("only"))
    push_service.statuses["only"] = 404
    contact = setup(services, workspace, vapid, [only])
    oid = queue(services, workspace.id, contact, "push", "renew")
    dispatcher.run_once()
    row = outbox_row(services.engine, oid)
    assert row["status"] == "failed" and "HTTP 404" in row["last_error"] and "removed" in row["last_error"]
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(Contact.push_tokens).where(Contact.id == contact)).scalar() == [
            "fcm-legacy-token"
        ]


def test_a_busy_push_service_is_retried_after_its_retry_after(
    services, workspace, dispatcher, push_service, vapid, clock
):
    busy = Subscriber(push_service.endpoint("busy"))
    push_service.statuses["busy"] = 429
    contact = setup(services, workspace, vapid, [busy])
    oid = queue(services, workspace.id, contact, "push", "renew")
    dispatcher.run_once()
    row = outbox_row(services.engine, oid)
    assert row["status"] == "pending"
    assert row["next_attempt_at"] >= clock.now() + timedelta(seconds=120)


def test_a_private_push_endpoint_is_refused(
    services, workspace, vapid, push_service, engine, clock, registry, tmp_path
):
    from backend.config import load_settings
    from backend.runtime.outbox import Dispatcher
    from backend.services import Services

    strict = Services.create(
        load_settings(secret_key="s" * 32, var_dir=str(tmp_path), dev_inbox=False),
        engine=engine,
        clock=clock,
        registry=registry,
    )
    victim = Subscriber(push_service.endpoint("internal"))
    contact = setup(strict, workspace, vapid, [victim])
    oid = queue(strict, workspace.id, contact, "push", "renew")
    Dispatcher(strict).run_once()
    row = outbox_row(engine, oid)
    assert row["status"] == "failed" and "refusing" in row["last_error"]
    assert push_service.calls == []
