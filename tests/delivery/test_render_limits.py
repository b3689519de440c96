"""Render limits where templates run: previews and test sends (a problem on the field, never a 500 and
never a blocked API), publishing (refused at the line), delivery (that message fails for good, the
others go out, and a version that ran out of CPU time is not rendered again)."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from backend.db.models import OutboxMessage
from backend.runtime.outbox import Dispatcher
from tests.api.conftest import ok
from tests.delivery.conftest import WELCOME_MJML, email_journey, make_template, track
from tests.delivery.test_dispatch import http_sink, webhook_journey  # noqa: F401 - a fixture
from tests.factories import add_contact

NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
SLOW = "{% macro t(n) %}{% if n %}{{ t(n - 1) }}{{ t(n - 1) }}{% endif %}{% endmacro %}{{ t(contact.depth|int) }}"


def outbox(engine) -> dict[int, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(OutboxMessage.__table__).order_by(OutboxMessage.id))
        return {r.contact_id: dict(r._mapping) for r in rows}


def create(admin, key: str, **email) -> int:
    draft = {"email": {"subject": "Hi", "mjml": WELCOME_MJML, **email}}
    return ok(admin.post("/api/templates", json={"key": key, "name": key, "draft": draft}), 201)["template"]["id"]


def test_a_preview_over_a_limit_answers_at_once_with_the_problem_on_its_field(admin):
    tid = create(admin, "pow")
    for payload, limit in (
        ("{{ (7**20000000) % 7 }}", "number"),
        ("{{ ('a' * 10**9)|length }}", "value"),
        ("{{ 'a' * 10**10 }}", "value"),
        (NESTED_LOOPS, "iterations"),
    ):
        draft = {"email": {"subject": "Hello\n" + payload, "mjml": WELCOME_MJML}}
        started = time.monotonic()
        response = admin.post(f"/api/templates/{tid}/preview", json={"draft": draft})
        assert time.monotonic() - started < 2.0, payload
        body = ok(response)
        (problem,) = body["problems"]
        assert problem["pointer"] == "/draft/email/subject"
        assert (problem["line"], problem["limit"]) == (2, limit), problem
        assert body["fields"] == {}


def test_a_slow_preview_does_not_hold_up_other_requests(admin):
    tid = create(admin, "slow", subject=SLOW.replace("contact.depth|int", "60"))
    done: dict[str, float] = {}

    def slow_preview() -> None:
        body = ok(admin.post(f"/api/templates/{tid}/preview", json={}))
        assert body["problems"][0]["limit"] == "cpu"
        done["preview"] = time.monotonic()

    thread = threading.Thread(target=slow_preview)
    thread.start()
    time.sleep(0.2)  # the preview is rendering now
    started = time.monotonic()
    ok(admin.get("/api/templates"))
    done["list"] = time.monotonic()
    thread.join(30)
    assert "preview" in done
    assert done["list"] < done["preview"]
    assert done["list"] - started < 1.0


def test_publishing_refuses_a_template_over_a_limit_at_its_line(admin):
    mjml = WELCOME_MJML.replace("Finish registration", "{{ range(10)|join('x' * 10**6) }}")
    tid = create(admin, "heavy", subject="Hi\n{{ contact.first_name }}\n" + NESTED_LOOPS, mjml=mjml)
    response = admin.post(f"/api/templates/{tid}/publish")
    assert response.status_code == 422, response.text
    problems = {p["pointer"]: p for p in response.json()["problems"]}
    assert problems["/draft/email/subject"]["line"] == 3
    assert problems["/draft/email/subject"]["code"] == "template_limit"
    assert problems["/draft/email/subject"]["limit"] == "iterations"
    assert "loop iterations" in problems["/draft/email/subject"]["message"]
    assert problems["/draft/email/mjml"]["line"] == 7  # the MJML line of the button
    assert problems["/draft/email/mjml"]["limit"] == "value"
    # Fixed, it publishes; a template that is only heavy for some data publishes too.
    ok(admin.put(f"/api/templates/{tid}/draft", json={"draft": {"email": {"subject": SLOW, "mjml": WELCOME_MJML}}}))
    ok(admin.post(f"/api/templates/{tid}/publish"), 201)


def test_a_test_send_over_a_limit_is_refused_with_the_problem(admin, smtp_server):
    tid = create(admin, "tsend", subject="{{ '%0999999999d' % 1 }}")
    response = admin.post(f"/api/templates/{tid}/test-send", json={"channel": "email", "to": "qa@acme.test"})
    assert response.status_code == 422, response.text
    (problem,) = response.json()["problems"]
    assert problem["pointer"] == "/draft/email/subject" and "line 1" in problem["message"]
    assert "too large" in problem["message"]
    assert smtp_server.messages == []


def test_at_delivery_a_message_over_a_limit_fails_for_good_and_the_others_go_out(
    ticker, dispatcher, services, workspace, smtp_server
):
    subject = "Hi {{ contact.first_name }}{% for i in range(contact.n|int) %}{% for j in range(contact.n|int) %}"
    make_template(services, workspace.id, key="loops", subject=subject + "{% endfor %}{% endfor %}")
    email_journey(services, workspace.id, template="loops")
    contacts = {}
    for name, n in (("ana", 3), ("bob", 100000), ("cy", 0)):
        contacts[name] = add_contact(
            services.sessions, workspace.id, email=f"{name}@example.com", attributes={"first_name": name, "n": n}
        )
        track(services, workspace.id, contacts[name], "signup")
    ticker.run_until_idle()
    dispatcher.run_once()
    rows = outbox(services.engine)
    assert rows[contacts["ana"]]["status"] == rows[contacts["cy"]]["status"] == "sent"
    failed = rows[contacts["bob"]]
    assert failed["status"] == "failed" and failed["attempts"] == 0
    assert "/email/subject: line 1: too many loop iterations" in failed["last_error"]
    assert sorted(to for m in smtp_server.messages for to in m.rcpt_tos) == ["ana@example.com", "cy@example.com"]
    dispatcher.run_once()  # failed for good: not tried again
    assert outbox(services.engine)[contacts["bob"]]["status"] == "failed"


def test_a_version_that_ran_out_of_cpu_time_is_not_rendered_again(ticker, services, workspace, smtp_server, settings):
    settings.template_cpu_seconds = 0.2
    dispatcher = Dispatcher(services)
    make_template(services, workspace.id, key="slow", subject=SLOW)
    make_template(services, workspace.id, key="quick", subject="Hello {{ contact.first_name }}")
    email_journey(services, workspace.id, template="slow")
    email_journey(services, workspace.id, template="quick", event="other")
    slow = [
        add_contact(services.sessions, workspace.id, email=f"s{i}@example.com", attributes={"depth": 40})
        for i in range(3)
    ]
    light = add_contact(services.sessions, workspace.id, email="light@example.com", attributes={"depth": 2})
    other = add_contact(services.sessions, workspace.id, email="other@example.com", attributes={"first_name": "Oz"})
    for contact in [*slow, light]:
        track(services, workspace.id, contact, "signup")
    track(services, workspace.id, other, "other")
    ticker.run_until_idle()
    started = time.thread_time()
    dispatcher.run_once()
    assert time.thread_time() - started < 2.0  # one render ran out of time, not three
    rows = outbox(services.engine)
    reasons = [rows[c]["last_error"] for c in slow]
    assert all(rows[c]["status"] == "failed" for c in slow)
    assert all("/email/subject: line 1: took too long: more than 0.2 s of CPU time" in r for r in reasons)
    assert sum("this version is not rendered again" in r for r in reasons) == 2
    assert rows[other]["status"] == "sent"
    # A light contact rendered after the first slow one is refused too: a version that slow is broken.
    if rows[light]["status"] == "failed":
        assert "not rendered again" in rows[light]["last_error"]


def test_a_webhook_body_over_a_limit_fails_that_message(
    ticker,
    services,
    workspace,
    http_sink,  # noqa: F811 - the fixture
    settings,
):
    settings.allow_private_webhooks = True
    dispatcher = Dispatcher(services)
    webhook_journey(services, workspace.id, http_sink.url(), body='{"x": "{{ "a" * 10**9 }}"}')
    contact = add_contact(services.sessions, workspace.id, email="ana@example.com")
    track(services, workspace.id, contact, "signup")
    ticker.run_until_idle()
    dispatcher.run_once()
    row = outbox(services.engine)[contact]
    assert row["status"] == "failed"
    assert row["last_error"].startswith("webhook body: line 1: too large")
    assert http_sink.requests == []
