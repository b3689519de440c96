"""Issue 4's editor scenario in the real app and real Chromium, as a marketer does it: create a template,
compose an email in the visual composer (a section, a text with the contact's first name from the
variables panel, a button) without touching MJML, preview it for a seeded contact in the sandboxed
iframe, send a test and find the personalised email in the live server's SMTP server. Plus the code
view (CodeMirror) and back, and the SMS segment counter."""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid

from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.live import LiveServer

UI_TIMEOUT = 15_000
MAIL_TIMEOUT = 30.0
expect.set_options(timeout=UI_TIMEOUT)


def admin(server: LiveServer, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        server.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.admin_key}"},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        text = response.read()
    return json.loads(text) if text else {}


def wait_for(condition, timeout: float = MAIL_TIMEOUT, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)


def wait_saved(page: Page) -> None:
    expect(page.get_by_test_id("save-status")).to_have_attribute("data-state", "saved")


def test_compose_preview_and_send_a_test_email(page: Page, live_server: LiveServer, mailbox):
    suffix = uuid.uuid4().hex[:6]
    email = f"ada.{suffix}@example.test"
    contact = admin(
        live_server,
        "POST",
        "/api/contacts",
        {"external_id": f"ada-{suffix}", "email": email, "attributes": {"first_name": "Ada", "plan": "pro"}},
    )

    sign_in(page, live_server)
    page.get_by_test_id("nav-templates").click()
    page.get_by_test_id("template-create").click()
    page.get_by_test_id("template-create-dialog-name").fill(f"Welcome {suffix}")
    expect(page.get_by_test_id("template-create-dialog-key")).to_have_value(f"welcome_{suffix}")
    page.get_by_test_id("template-create-dialog-confirm").click()
    expect(page.get_by_test_id("composer")).to_be_visible()
    match = re.search(r"/templates/(\d+)$", page.url)
    assert match, page.url
    template_id = int(match.group(1))

    # The subject, with a variable clicked in from the panel at the caret.
    subject = page.get_by_test_id("email-subject")
    subject.fill("Hello ")
    page.get_by_test_id("variable-contact.first_name").click()
    expect(subject).to_have_value("Hello {{ contact.first_name }}")

    # A one-column section with a text (bold, and the first name from the variables panel) and a button.
    page.get_by_test_id("composer-add-section-1").click()
    page.get_by_test_id("column-c1-add-text").click()
    text = page.get_by_test_id("block-field-text")
    text.fill("Hi ")
    page.get_by_test_id("variable-contact.first_name").click()
    expect(text).to_have_value("Hi {{ contact.first_name }}")
    text.press("End")
    text.press_sequentially(", welcome aboard!")
    text.press("Enter")
    text.press("Enter")
    page.get_by_test_id("text-bold").click()  # inserts **bold text**, selected
    text.press_sequentially("Your plan is ready")
    expect(text).to_have_value("Hi {{ contact.first_name }}, welcome aboard!\n\n**Your plan is ready**")
    page.get_by_test_id("column-c1-add-button").click()
    page.get_by_test_id("block-field-label").fill("Open my account")
    page.get_by_test_id("block-field-href").fill("https://acme.test/account?u={{ contact.external_id }}")
    page.get_by_test_id("block-field-background-picker").fill("#16a34a")
    expect(page.get_by_test_id("block-b2")).to_contain_text("Open my account")
    wait_saved(page)

    # The composer wrote MJML for the server (and keeps its own document alongside).
    draft = admin(live_server, "GET", f"/api/templates/{template_id}")["draft"]
    mjml = draft["email"]["mjml"]
    assert "<mj-button" in mjml and "Open my account" in mjml and "{{ contact.first_name }}" in mjml
    assert "waymark-composer v1" in mjml

    # Live preview rendered by the server for the seeded contact, in a sandboxed iframe.
    page.get_by_test_id("preview-contact").click()
    page.get_by_test_id("preview-contact").fill(email)
    page.get_by_test_id(f"preview-contact-option-{contact['id']}").click()
    expect(page.get_by_test_id("preview-contact-picked")).to_contain_text(email)
    expect(page.get_by_test_id("preview-subject")).to_have_text("Hello Ada")
    frame = page.get_by_test_id("preview-frame")
    expect(frame).to_have_attribute("sandbox", "")
    preview = page.frame_locator("[data-testid=preview-frame]")
    expect(preview.get_by_text("Hi Ada, welcome aboard!")).to_be_visible()
    expect(preview.get_by_text("Open my account")).to_be_visible()
    expect(page.get_by_test_id("preview-missing")).to_have_count(0)
    page.get_by_test_id("preview-width-mobile").click()
    expect(frame).to_have_css("width", "375px")
    page.get_by_test_id("preview-width-desktop").click()
    screenshot(page, "template-editor")  # artefact; docs/screenshots/ is refreshed by hand from test-artifacts/

    # The code view (CodeMirror, loaded on demand) shows the MJML; back to visual while untouched.
    page.get_by_test_id("email-view-code").click()
    expect(page.get_by_test_id("code-editor")).to_contain_text("<mj-button")
    page.get_by_test_id("email-view-visual").click()
    expect(page.get_by_test_id("composer")).to_be_visible()

    # Send a test to the contact's address and find it in the SMTP server, personalised.
    before = len(mailbox.messages)
    page.get_by_test_id("send-test").click()
    expect(page.get_by_test_id("send-test-to")).to_have_value(email)
    page.get_by_test_id("send-test-dialog-confirm").click()
    expect(page.get_by_test_id("send-test-result")).to_have_attribute("data-status", "sent")

    def arrived():
        return next((m for m in mailbox.messages[before:] if email in m.rcpt_tos), None)

    message = wait_for(arrived)
    assert message.subject == "Hello Ada"
    html = message.part("html")
    assert "Hi Ada, welcome aboard!" in html
    assert "<strong>Your plan is ready</strong>" in html
    assert "Open my account" in html
    assert "{{" not in html and "waymark-composer" not in html
    assert "Hi Ada, welcome aboard!" in message.part("plain")
    page.get_by_test_id("send-test-dialog").get_by_role("button", name="Close").click()

    # Publish: the email is live as version 1.
    page.get_by_test_id("publish-button").click()
    expect(page.get_by_test_id("template-editor")).to_contain_text("v1")
    assert admin(live_server, "GET", f"/api/templates/{template_id}")["version"] == 1


def test_sms_segments_and_problems_at_their_line(page: Page, live_server: LiveServer):
    suffix = uuid.uuid4().hex[:6]
    created = admin(
        live_server,
        "POST",
        "/api/templates",
        {"key": f"renewal_{suffix}", "name": f"Renewal {suffix}", "draft": {"sms": {"text": ""}}},
    )
    template_id = created["template"]["id"]
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/templates/{template_id}")
    page.get_by_test_id("channel-tab-sms").click()
    sms = page.get_by_test_id("sms-text")
    sms.fill("Hi, your plan ends tomorrow.")
    expect(page.get_by_test_id("sms-segments")).to_have_attribute("data-encoding", "GSM-7")
    sms.fill("Cześć! Twoja subskrypcja wygasa jutro. Odnów ją teraz, żeby nie stracić dostępu.")
    counter = page.get_by_test_id("sms-segments")
    expect(counter).to_have_attribute("data-encoding", "UCS-2")
    expect(counter).to_have_attribute("data-segments", "2")
    sms.fill("您好，您的会员将于明天到期。")
    expect(counter).to_have_attribute("data-segments", "1")
    expect(page.get_by_test_id("sms-bubble")).to_have_text("您好，您的会员将于明天到期。")

    # A Jinja syntax error is shown under the field with its line and column, and blocks publishing.
    sms.fill("Line one\nHi {{ contact.first_name }")
    problems = page.get_by_test_id("sms-text-problems")
    expect(problems).to_contain_text("line 2")
    expect(page.get_by_test_id("publish-button")).to_be_disabled()
    sms.fill("Hi {{ contact.first_name | default('there') }}")
    expect(problems).to_have_count(0)
    wait_saved(page)
    expect(page.get_by_test_id("publish-button")).to_be_enabled()


def test_providers_secrets_are_write_only_and_messages_page(page: Page, live_server: LiveServer):
    sign_in(page, live_server)
    page.get_by_test_id("nav-providers").click()
    page.get_by_test_id("provider-add-email").click()
    form = page.get_by_test_id("provider-new-email")
    form.get_by_test_id("provider-kind").select_option("smtp")
    form.get_by_test_id("provider-name").fill("Backup SMTP")
    form.get_by_test_id("field-config.host").fill("127.0.0.1")
    form.get_by_test_id("field-config.port").fill("2525")
    form.get_by_test_id("field-config.username").fill("mailer")
    form.get_by_test_id("secret-password-input").fill("s3cret-value")
    form.get_by_test_id("provider-enabled").uncheck()  # keep the live server's delivery as it is
    form.get_by_test_id("provider-save").click()
    expect(form).to_have_count(0)

    saved = next(p for p in admin(live_server, "GET", "/api/providers") if p["name"] == "Backup SMTP")
    assert saved["secrets_set"] == ["password"]
    assert "s3cret-value" not in json.dumps(saved)
    card = page.get_by_test_id(f"provider-{saved['id']}")
    expect(card.get_by_test_id(f"provider-{saved['id']}-secret-password")).to_have_attribute("data-set", "true")
    card.get_by_test_id(f"provider-{saved['id']}-edit").click()
    expect(card.get_by_test_id("secret-password-state")).to_have_text("set")
    expect(card.get_by_test_id("secret-password-input")).to_have_count(0)
    assert "s3cret-value" not in page.content()
    # Saving other settings keeps the secret.
    card.get_by_test_id("provider-name").fill("Backup SMTP (port 2525)")
    card.get_by_test_id("provider-save").click()
    expect(card).to_contain_text("Backup SMTP (port 2525)")
    assert admin(live_server, "GET", f"/api/providers/{saved['id']}")["secrets_set"] == ["password"]
    card.get_by_test_id(f"provider-{saved['id']}-test").click()
    expect(card.get_by_test_id(f"provider-{saved['id']}-test-result")).to_be_visible()
    screenshot(page, "providers")

    page.get_by_test_id("nav-messages").click()
    expect(page.get_by_test_id("messages-page")).to_be_visible()
    page.get_by_test_id("messages-filter-sent").click()
    page.get_by_test_id("messages-channel").select_option("email")
    expect(page.get_by_test_id("messages-filter-sent")).to_have_attribute("aria-selected", "true")
    screenshot(page, "messages")
