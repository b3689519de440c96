"""The outbox dispatcher against real servers: aiosmtpd for email, a local HTTP server for webhooks."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend.channels.devinbox import start_dev_inbox
from backend.channels.email import SmtpConfig
from backend.config import load_settings
from backend.db.models import Event, OutboxMessage, Provider
from backend.runtime.outbox import Dispatcher, retry_messages
from backend.runtime.tick import Ticker
from backend.services import Services
from tests.api.conftest import ok
from tests.delivery.conftest import WELCOME_MJML, email_journey, make_template, track
from tests.factories import add_contact, linear_graph, publish_graph
from tests.http_sink import HttpSink
from tests.smtp_sink import free_port


def outbox(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(OutboxMessage.__table__).order_by(OutboxMessage.id))]


def system_events(engine, contact_id: int | None = None) -> list[dict]:
    query = sa.select(Event.__table__).where(Event.source == "system").order_by(Event.id)
    if contact_id is not None:
        query = query.where(Event.contact_id == contact_id)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def queue_one(services, workspace_id: int, ticker: Ticker, **contact) -> int:
    contact.setdefault("email", "ana@example.com")
    contact_id = add_contact(services.sessions, workspace_id, **contact)
    track(services, workspace_id, contact_id, "signup")
    ticker.run_until_idle()
    return contact_id


# -- the happy path, end to end over HTTP ------------------------------------------------------------


def test_a_contact_who_performs_the_trigger_event_receives_exactly_one_personalised_email(
    admin, writer, ticker, dispatcher, services, smtp_server
):
    draft = {
        "email": {
            "subject": "Welcome, {{ contact.first_name | default('friend') }}!",
            "preheader": "Your {{ event.properties.plan }} plan",
            "mjml": WELCOME_MJML,
        }
    }
    template = ok(admin.post("/api/templates", json={"key": "welcome", "name": "Welcome", "draft": draft}), 201)
    ok(admin.post(f"/api/templates/{template['template']['id']}/publish"), 201)
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "version": 1, "config": {"event": "registration_started"}},
        {"id": "mail", "type": "send", "version": 1, "config": {"template": "welcome"}},
    )
    journey = ok(admin.post("/api/journeys", json={"name": "Welcome", "graph": graph}), 201)
    ok(admin.post(f"/api/journeys/{journey['id']}/publish"), 201)

    ok(writer.post("/v1/identify", json={"userId": "u1", "traits": {"email": "ana@example.com", "first_name": "Ana"}}))
    ok(writer.post("/v1/identify", json={"userId": "u2", "traits": {"first_name": "Bo"}}))  # no email: not in it
    ok(writer.post("/v1/track", json={"userId": "u1", "event": "registration_started", "properties": {"plan": "Pro"}}))

    ticker.run_until_idle()
    assert dispatcher.run_once() == 1
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["ana@example.com"]
    assert mail.to == "ana@example.com"
    assert mail.subject == "Welcome, Ana!"
    assert str(mail.message["From"]) == "Acme <news@acme.test>"
    assert mail.mail_from == "news@acme.test"
    html = mail.part("html")
    assert "Hello Ana," in html and "Your Pro plan is waiting." in html
    assert "Your Pro plan</div>" in html  # the hidden preheader
    text = mail.part("plain")
    assert "Hello Ana," in text
    # The plain-text part's link is tracked like the HTML's: the very same link.
    link = re.search(r"Finish registration \((\S+)\)", text).group(1)
    assert "/t/c/" in link and link in html

    (row,) = outbox(services.engine)
    assert row["status"] == "sent" and row["attempts"] == 1 and row["last_error"] is None
    assert row["provider_message_id"] == str(mail.message["Message-ID"])
    assert str(mail.message["Message-ID"]).startswith("<wm.") and str(mail.message["Message-ID"]).endswith(
        "@acme.test>"
    )
    (event,) = system_events(services.engine, row["contact_id"])
    assert (event["name"], event["properties"]["channel"], event["properties"]["outbox_id"]) == (
        "email_sent",
        "email",
        row["id"],
    )

    # Running everything again sends nothing more.
    ticker.run_until_idle()
    assert dispatcher.run_once() == 0
    assert len(smtp_server.messages) == 1


def test_the_delivery_event_can_drive_a_journey(ticker, dispatcher, services, workspace, smtp_server):
    make_template(services, workspace.id)
    email_journey(services, workspace.id)
    follow_up = publish_graph(
        services,
        workspace.id,
        linear_graph(
            {"id": "sent", "type": "trigger.event", "config": {"event": "email_sent"}},
            {"id": "tag", "type": "tag", "config": {"add": ["mailed"]}},
        ),
        name="After the mail",
    )
    contact = queue_one(services, workspace.id, ticker)
    dispatcher.run_once()
    ticker.run_until_idle()
    from tests.factories import enrollments

    (enr,) = enrollments(services.engine, follow_up[0])
    assert enr["contact_id"] == contact and enr["status"] == "completed"


# -- retries, permanent failures, skips ------------------------------------------------------------------


def test_smtp_down_then_up_is_retried_with_exponential_backoff(
    ticker, dispatcher, services, workspace, smtp_server, clock
):
    make_template(services, workspace.id)
    email_journey(services, workspace.id)
    queue_one(services, workspace.id, ticker)
    smtp_server.stop()

    assert dispatcher.run_once() == 1
    (row,) = outbox(services.engine)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "connection" in row["last_error"].lower()
    first_delay = row["next_attempt_at"] - clock.now()
    assert timedelta(seconds=60) <= first_delay <= timedelta(seconds=66)

    clock.advance(seconds=30)
    assert dispatcher.run_once() == 0  # not due yet
    clock.advance(seconds=40)
    assert dispatcher.run_once() == 1
    (row,) = outbox(services.engine)
    assert (row["status"], row["attempts"]) == ("pending", 2)
    second_delay = row["next_attempt_at"] - clock.now()
    assert timedelta(seconds=120) <= second_delay <= timedelta(seconds=132)  # doubled

    smtp_server.start()
    clock.advance(second_delay)
    assert dispatcher.run_once() == 1
    assert len(smtp_server.wait_for(1)) == 1
    (row,) = outbox(services.engine)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)
    clock.advance(hours=1)
    assert dispatcher.run_once() == 0
    assert len(smtp_server.messages) == 1
    assert [e["name"] for e in system_events(services.engine)] == ["email_sent"]


def test_a_5xx_reply_is_a_permanent_failure(ticker, dispatcher, services, workspace, smtp_server, clock):
    make_template(services, workspace.id)
    email_journey(services, workspace.id)
    smtp_server.reject_rcpt["gone@example.com"] = "550 5.1.1 No such user"
    gone = queue_one(services, workspace.id, ticker, email="gone@example.com")
    ok_contact = queue_one(services, workspace.id, ticker, email="fine@example.com")

    assert dispatcher.run_once() == 2
    rows = {r["contact_id"]: r for r in outbox(services.engine)}
    assert rows[gone]["status"] == "failed" and "550" in rows[gone]["last_error"]
    assert rows[ok_contact]["status"] == "sent"  # the same connection carried on after RSET
    assert [m.rcpt_tos for m in smtp_server.messages] == [["fine@example.com"]]
    failed, bounced = system_events(services.engine, gone)
    assert failed["name"] == "message_failed" and "550" in failed["properties"]["reason"]
    # The address was refused at RCPT TO: a hard bounce, and marketing email to it stops.
    assert bounced["name"] == "email_bounced"
    assert bounced["properties"]["type"] == "hard" and "550" in bounced["properties"]["reason"]
    assert bounced["properties"]["consent_withdrawn"] is True

    clock.advance(days=2)
    assert dispatcher.run_once() == 0  # never retried


def test_a_4xx_reply_is_retried_and_a_data_5xx_is_permanent(
    ticker, dispatcher, services, workspace, smtp_server, clock
):
    make_template(services, workspace.id)
    email_journey(services, workspace.id)
    smtp_server.reject_rcpt["busy@example.com"] = "451 4.7.1 Greylisted, try again"
    busy = queue_one(services, workspace.id, ticker, email="busy@example.com")
    dispatcher.run_once()
    (row,) = outbox(services.engine)
    assert (row["status"], row["contact_id"]) == ("pending", busy) and "451" in row["last_error"]

    smtp_server.reject_rcpt.clear()
    smtp_server.reject_data = "554 5.6.0 Message rejected as spam"
    clock.advance(minutes=5)
    dispatcher.run_once()
    (row,) = outbox(services.engine)
    assert row["status"] == "failed" and "554" in row["last_error"]
    assert smtp_server.messages == []


def test_retries_stop_after_max_attempts(ticker, services, workspace, smtp_server, clock):
    dispatcher = Dispatcher(services, max_attempts=3)
    make_template(services, workspace.id)
    email_journey(services, workspace.id)
    queue_one(services, workspace.id, ticker)
    smtp_server.stop()
    for _ in range(3):
        assert dispatcher.run_once() == 1
        clock.advance(hours=1)
    (row,) = outbox(services.engine)
    assert row["status"] == "failed" and row["last_error"].startswith("gave up after 3 attempts")
    assert dispatcher.run_once() == 0

    # An operator retry puts it back with fresh attempts.
    smtp_server.start()
    assert retry_messages(services.engine, workspace.id, now=clock.now()) == 1
    assert dispatcher.run_once() == 1
    assert outbox(services.engine)[0]["status"] == "sent"
    assert len(smtp_server.wait_for(1)) == 1


def test_marketing_email_is_skipped_without_consent_or_address(ticker, dispatcher, services, workspace, smtp_server):
    make_template(services, workspace.id)
    email_journey(services, workspace.id)
    unsubscribed = queue_one(services, workspace.id, ticker, email="out@example.com", consent={"email": False})
    no_address = queue_one(services, workspace.id, ticker, email=None)
    granted = queue_one(services, workspace.id, ticker, email="in@example.com", consent={"email": True})

    assert dispatcher.run_once() == 3
    rows = {r["contact_id"]: r for r in outbox(services.engine)}
    assert (rows[unsubscribed]["status"], rows[unsubscribed]["last_error"]) == (
        "skipped",
        "the contact has not consented to marketing email",
    )
    assert (rows[no_address]["status"], rows[no_address]["last_error"]) == (
        "skipped",
        "the contact has no email address",
    )
    assert rows[granted]["status"] == "sent"
    assert [m.rcpt_tos for m in smtp_server.messages] == [["in@example.com"]]
    skipped = [e for e in system_events(services.engine) if e["name"] == "message_skipped"]
    assert {e["contact_id"] for e in skipped} == {unsubscribed, no_address}


def test_a_transactional_email_ignores_marketing_consent(ticker, dispatcher, services, workspace, smtp_server):
    make_template(services, workspace.id)
    email_journey(services, workspace.id, marketing=False)
    queue_one(services, workspace.id, ticker, email="out@example.com", consent={"email": False})
    dispatcher.run_once()
    assert [m.rcpt_tos for m in smtp_server.wait_for(1)] == [["out@example.com"]]


def test_best_channel_picks_the_first_reachable_one(ticker, dispatcher, services, workspace, smtp_server):
    make_template(services, workspace.id)
    email_journey(services, workspace.id, channel="best", fallback=["sms", "email"])
    emailable = queue_one(services, workspace.id, ticker, email="ana@example.com", phone=None)
    nothing = queue_one(services, workspace.id, ticker, email="bo@example.com", consent={"email": False})
    dispatcher.run_once()
    rows = {r["contact_id"]: r for r in outbox(services.engine)}
    assert (rows[emailable]["channel"], rows[emailable]["status"]) == ("email", "sent")
    assert rows[nothing]["status"] == "skipped" and "no reachable channel" in rows[nothing]["last_error"]
    assert len(smtp_server.messages) == 1


def test_template_problems_fail_the_message_visibly(ticker, dispatcher, services, workspace, smtp_server):
    make_template(services, workspace.id, key="unsafe", subject="{{ ''.__class__ }}")
    make_template(services, workspace.id, key="draft-only", publish=False)
    email_journey(services, workspace.id, template="unsafe")
    email_journey(services, workspace.id, template="draft-only", event="other")
    a = queue_one(services, workspace.id, ticker, email="a@example.com")
    b = add_contact(services.sessions, workspace.id, email="b@example.com")
    track(services, workspace.id, b, "other")
    ticker.run_until_idle()
    dispatcher.run_once()
    rows = {r["contact_id"]: r for r in outbox(services.engine)}
    assert rows[a]["status"] == "failed"
    assert "/email/subject" in rows[a]["last_error"] and "line 1" in rows[a]["last_error"]
    assert "unsafe" in rows[a]["last_error"]
    assert rows[b]["status"] == "failed" and "has no published version" in rows[b]["last_error"]
    assert smtp_server.messages == []


# -- providers and connections ------------------------------------------------------------------------------


def test_one_connection_carries_many_messages(ticker, services, workspace, smtp_server):
    make_template(services, workspace.id)
    email_journey(services, workspace.id)
    for i in range(40):
        queue_one(services, workspace.id, ticker, email=f"c{i}@example.com", attributes={"first_name": f"N{i}"})
    dispatcher = Dispatcher(services, chunk_size=10)
    assert dispatcher.run_once() == 40
    received = smtp_server.wait_for(40)
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(f"c{i}@example.com" for i in range(40))
    assert all(m.subject == f"Welcome, N{m.rcpt_tos[0][1:].split('@')[0]}!" for m in received)
    assert smtp_server.connections <= SmtpConfig.from_url(smtp_server.url).concurrency  # 4 connections, 40 mails
    assert len({str(m.message["Message-ID"]) for m in received}) == 40


def test_a_workspace_provider_row_overrides_the_default(ticker, dispatcher, services, workspace, smtp_server):
    other = type(smtp_server)().start()
    try:
        with services.sessions.begin() as session:
            session.add(
                Provider(
                    workspace_id=workspace.id,
                    channel="email",
                    kind="smtp",
                    config={"host": other.host, "port": other.port, "tls": "none", "from": "Ws <ws@acme.test>"},
                )
            )
        make_template(services, workspace.id)
        email_journey(services, workspace.id)
        queue_one(services, workspace.id, ticker)
        dispatcher.run_once()
        (mail,) = other.wait_for(1)
        assert str(mail.message["From"]) == "Ws <ws@acme.test>"
        assert smtp_server.messages == []
    finally:
        other.stop()


def test_without_any_smtp_configuration_mail_lands_in_the_dev_inbox(engine, clock, registry, tmp_path, workspace):
    settings = load_settings(secret_key="s" * 32, var_dir=str(tmp_path), smtp_url=None, dev_inbox=True)
    settings.dev_inbox_port = free_port()
    services = Services.create(settings, engine=engine, clock=clock, registry=registry)
    inbox = start_dev_inbox(settings)
    try:
        make_template(services, workspace.id)
        email_journey(services, workspace.id)
        queue_one(services, workspace.id, Ticker(engine, services.graphs, clock), attributes={"first_name": "Ana"})
        assert Dispatcher(services).run_once() == 1
        (path,) = inbox.messages()
        assert path.parent == tmp_path / "mail" and path.suffix == ".eml"
        content = path.read_bytes()
        assert b"Subject: Welcome, Ana!" in content and b"X-Waymark-Envelope-To: ana@example.com" in content
    finally:
        inbox.stop()


# -- webhooks ------------------------------------------------------------------------------------------------


@pytest.fixture
def http_sink():
    sink = HttpSink()
    yield sink
    sink.close()


def webhook_journey(services, workspace_id: int, url: str, body: str | None = None):
    config = {"url": url, "headers": {"X-Token": "t0k"}}
    if body is not None:
        config["body"] = body
    return publish_graph(
        services,
        workspace_id,
        linear_graph(
            {"id": "start", "type": "trigger.event", "config": {"event": "signup"}},
            {"id": "hook", "type": "webhook", "config": config},
        ),
    )


def test_webhooks_to_private_addresses_are_refused_at_send_time(ticker, dispatcher, services, workspace, http_sink):
    webhook_journey(services, workspace.id, http_sink.url())
    queue_one(services, workspace.id, ticker)
    dispatcher.run_once()
    (row,) = outbox(services.engine)
    assert row["status"] == "failed" and "refusing to call 127.0.0.1" in row["last_error"]
    assert http_sink.requests == []


def test_a_webhook_carries_the_idempotency_key_and_is_retried_with_it(
    ticker, services, workspace, http_sink, clock, settings
):
    settings.allow_private_webhooks = True
    dispatcher = Dispatcher(services)
    _, _ = webhook_journey(
        services,
        workspace.id,
        http_sink.url(),
        body='{"email": "{{ contact.email }}", "plan": "{{ event.properties.plan }}"}',
    )
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com")
    track(services, workspace.id, contact, "signup", plan="pro")
    ticker.run_until_idle()
    http_sink.responses.append((503, {"Retry-After": "120"}))

    dispatcher.run_once()
    (row,) = outbox(services.engine)
    assert row["status"] == "pending" and "HTTP 503" in row["last_error"]
    assert row["next_attempt_at"] - clock.now() >= timedelta(seconds=120)  # Retry-After beats the 60 s backoff
    clock.advance(seconds=121)
    dispatcher.run_once()

    first, second = http_sink.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == row["idempotency_key"]
    assert row["idempotency_key"] == f"enr:{row['enrollment_id']}:hook"
    assert second.body == b'{"email": "ana@example.com", "plan": "pro"}'
    assert second.headers["x-token"] == "t0k" and second.headers["content-type"] == "application/json"
    assert outbox(services.engine)[0]["status"] == "sent"
    assert [e["name"] for e in system_events(services.engine)] == ["webhook_sent"]


def test_a_webhook_4xx_is_permanent(ticker, services, workspace, http_sink, settings):
    settings.allow_private_webhooks = True
    webhook_journey(services, workspace.id, http_sink.url())
    queue_one(services, workspace.id, ticker)
    http_sink.responses.append((422, {}))
    Dispatcher(services).run_once()
    (row,) = outbox(services.engine)
    assert row["status"] == "failed" and "HTTP 422" in row["last_error"]
    (request,) = http_sink.requests
    assert b'"email":"ana@example.com"' in request.body  # no body template: the contact as JSON


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "10.1.2.3",
        "192.168.0.10",
        "172.16.5.4",
        "169.254.169.254",
        "100.64.0.1",
        "::1",
        "::ffff:127.0.0.1",
        "fe80::1",
        "0.0.0.0",
        "224.0.0.1",
    ],
)
def test_private_loopback_and_link_local_targets_are_refused(host):
    import asyncio

    from backend.channels.http import BlockedTarget, resolve_public

    with pytest.raises(BlockedTarget):
        asyncio.run(resolve_public(host, 80))


def test_public_addresses_pass_the_target_check():
    import asyncio

    from backend.channels.http import resolve_public

    assert asyncio.run(resolve_public("93.184.216.34", 443)) == ["93.184.216.34"]
    assert asyncio.run(resolve_public("2606:4700:4700::1111", 443)) == ["2606:4700:4700::1111"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.acme.test", ("mail.acme.test", 25, "auto", None, None)),
        ("smtp://u%40x:p%2Fw@mail.acme.test:2525?tls=starttls", ("mail.acme.test", 2525, "starttls", "u@x", "p/w")),
        ("smtps://mail.acme.test", ("mail.acme.test", 465, "ssl", None, None)),
        ("smtp://mail.acme.test?tls=starttls", ("mail.acme.test", 587, "starttls", None, None)),
        ("smtp://127.0.0.1:1025?tls=none", ("127.0.0.1", 1025, "none", None, None)),
    ],
)
def test_smtp_urls(url, expected):
    cfg = SmtpConfig.from_url(url)
    assert (cfg.host, cfg.port, cfg.tls, cfg.username, cfg.password) == expected


def test_smtp_url_sender():
    cfg = SmtpConfig.from_url("smtp://h?from=Acme%20%3Cnews%40acme.test%3E")
    assert cfg.sender == "Acme <news@acme.test>"
    with pytest.raises(ValueError):
        SmtpConfig.from_url("smtp://h?tls=maybe")
    with pytest.raises(ValueError):
        SmtpConfig.from_url("http://h")


def test_non_ascii_subject_sender_and_body_arrive_intact(ticker, dispatcher, services, workspace, smtp_server):
    make_template(
        services,
        workspace.id,
        subject="Witaj, {{ contact.first_name }}! 你好，欢迎 " + "—" * 40,
        sender="Zespół Acme <news@acme.test>",
        mjml="<mjml><mj-body><mj-text>Cześć {{ contact.first_name }}, 欢迎加入。\n.a line with a dot</mj-text>"
        "</mj-body></mjml>",
    )
    email_journey(services, workspace.id)
    queue_one(services, workspace.id, ticker, attributes={"first_name": "Łucja"})
    dispatcher.run_once()
    (mail,) = smtp_server.wait_for(1)
    assert mail.subject == "Witaj, Łucja! 你好，欢迎 " + "—" * 40
    assert str(mail.message["From"]) == "Zespół Acme <news@acme.test>"
    assert mail.mail_from == "news@acme.test"
    assert "Cześć Łucja, 欢迎加入。" in mail.part("html") and ".a line with a dot" in mail.part("html")
    assert "Cześć Łucja, 欢迎加入。" in mail.part("plain")
    assert all(len(line) <= 998 for line in mail.raw.split(b"\r\n"))


def test_concurrent_dispatchers_deliver_every_message_exactly_once(ticker, services, workspace, smtp_server):
    import threading

    make_template(services, workspace.id)
    email_journey(services, workspace.id)
    for i in range(150):
        add_contact(services.sessions, workspace.id, email=f"c{i}@example.com")
    with services.engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT id FROM contacts ORDER BY id")).scalars().all()
    for cid in ids:
        track(services, workspace.id, cid, "signup")
    ticker.run_until_idle()

    claimed: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        dispatcher = Dispatcher(services, chunk_size=10)
        try:
            for _ in range(20):
                claimed.append(dispatcher.run_once(limit=20))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(claimed) == 150
    received = smtp_server.wait_for(150)
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(f"c{i}@example.com" for i in range(150))
    assert {r["status"] for r in outbox(services.engine)} == {"sent"}


def test_dev_inbox_lifecycle(tmp_path):
    from backend.channels.devinbox import dev_inbox_wanted

    settings = load_settings(secret_key="s" * 32, var_dir=str(tmp_path), smtp_url=None, dev_inbox=True)
    assert dev_inbox_wanted(settings)
    settings.smtp_url = "smtp://relay.acme.test"
    assert not dev_inbox_wanted(settings)
    settings.dev_inbox_port = free_port()
    inbox = start_dev_inbox(settings)
    try:
        with pytest.raises(OSError, match="cannot start the dev inbox"):
            start_dev_inbox(settings)  # the port is taken
    finally:
        inbox.stop()
    inbox.stop()  # idempotent
    again = start_dev_inbox(settings)  # the port is free again
    again.stop()
