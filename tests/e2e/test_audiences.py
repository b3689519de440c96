"""Issue 8 in the browser, as a marketer does it: the three iPresso product cases built as segments with
the shared rule editor (live count, day ranges shown as dates), one of them driving a journey through
the segment trigger; a computed property "rentals in the last 30 days" and a segment on it whose journey
emails within seconds of the third rental; the contacts list filtered by segment, and a contact added,
edited and erased. axe-core checks every new page for serious and critical violations.

Set WAYMARK_DOCS_SCREENSHOTS=1 to also write the documentation's screenshots to docs/screenshots/."""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.e2e.a11y import assert_accessible, assert_no_spill
from tests.e2e.conftest import ARTIFACTS, screenshot, sign_in
from tests.e2e.live import ROOT, LiveServer
from tests.e2e.test_build_journey import admin, connect, create_journey, drop_block, ingest, wait_for, wait_saved

UI_TIMEOUT = 15_000
expect.set_options(timeout=UI_TIMEOUT)
DOCS = ROOT / "docs" / "screenshots"


def docs_screenshot(page: Page, name: str, *, height: int = 900) -> None:
    """A screenshot for the documentation, ``height`` pixels tall (the page scrolls inside the app, so a
    taller window shows more of it): always a test artefact, and docs/screenshots/ on request."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1440, "height": height})
    page.wait_for_timeout(400)  # the chart follows its box
    hide_toasts = page.add_style_tag(content=".toasts { display: none !important; }")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if os.environ.get("WAYMARK_DOCS_SCREENSHOTS"):
        page.screenshot(path=str(DOCS / f"{name}.png"))
    hide_toasts.evaluate("(style) => style.remove()")
    page.set_viewport_size({"width": 1440, "height": 900})


def noon_in(days: int) -> str:
    """Noon (UTC) ``days`` calendar days from today: contacts without a time zone count days in UTC."""
    today = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(today.year, today.month, today.day, 12, tzinfo=UTC).isoformat()


def us_date(day: date) -> str:
    """A day as Chromium writes it in en-US with weekday, day, month and year: Thu, Dec 10, 2026."""
    return f"{day:%a}, {day:%b} {day.day}, {day.year}"


def contact_with(server: LiveServer, external_id: str, email: str, first_name: str, *subscriptions: dict) -> int:
    contact = admin(
        server,
        "POST",
        "/api/contacts",
        {"external_id": external_id, "email": email, "attributes": {"first_name": first_name}},
    )
    for sub in subscriptions:
        admin(server, "POST", f"/api/contacts/{contact['id']}/subscriptions", sub)
    return contact["id"]


def email_template(server: LiveServer, key: str, subject: str) -> None:
    mjml = (
        "<mjml><mj-body><mj-section><mj-column>"
        "<mj-text>Hi {{ contact.first_name }}, this one is for you.</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>"
    )
    created = admin(
        server,
        "POST",
        "/api/templates",
        {"key": key, "name": key.replace("_", " ").title(), "draft": {"email": {"subject": subject, "mjml": mjml}}},
    )
    admin(server, "POST", f"/api/templates/{created['template']['id']}/publish")


# --- the segment editor -------------------------------------------------------------------------------


def new_segment(page: Page, name: str) -> None:
    page.get_by_test_id("nav-segments").click()
    expect(page.get_by_test_id("segments-page")).to_be_visible()
    page.get_by_test_id("segment-create").click()
    expect(page.get_by_test_id("segment-page")).to_be_visible()
    page.get_by_test_id("segment-name").fill(name)


def live_count(page: Page, expected: int) -> None:
    preview = page.get_by_test_id("segment-preview")
    expect(preview).to_have_attribute("data-loading", "false")
    expect(preview).to_have_attribute("data-count", str(expected))


def save_segment(page: Page) -> int:
    page.get_by_test_id("segment-save").click()
    page.wait_for_url(re.compile(r"/segments/\d+$"))
    segment_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_test_id("segment-status")).to_have_attribute("data-status", "ready", timeout=30_000)
    return segment_id


def segment_journey(page: Page, server: LiveServer, name: str, segment_label: str, template_key: str) -> int:
    """Build and publish "when a contact enters <segment> → send <template>" with the mouse."""
    journey = create_journey(page, name)
    drop_block(page, "trigger.segment", 380, 70, "trigger_segment_1")
    segment_field = page.get_by_test_id("field-config.segment")
    segment_field.select_option(label=segment_label)
    expect(page.get_by_test_id("field-config.when")).to_contain_text("enters the segment")
    drop_block(page, "send", 380, 280, "send_1")
    page.get_by_test_id("field-config.channel").select_option(label="E-mail")
    page.get_by_test_id("field-config.template").select_option(template_key)
    connect(page, "trigger_segment_1", "next", "send_1")
    wait_saved(page)
    expect(page.get_by_test_id("publish-button")).to_be_enabled()
    page.get_by_test_id("publish-button").click()
    page.get_by_test_id("publish-dialog-confirm").click()
    expect(page.get_by_test_id("publish-dialog-confirm")).to_have_count(0)
    wait_for(lambda: admin(server, "GET", f"/api/journeys/{journey}")["status"] == "published", timeout=15)
    return journey


# --- the three iPresso cases ------------------------------------------------------------------------------


def test_ipresso_cases_as_segments_one_driving_a_journey(page: Page, live_server: LiveServer, mailbox) -> None:
    tag = uuid.uuid4().hex[:6]
    streaming = {"name": "Streaming", "start_at": noon_in(-20), "auto_renew": True}
    contact_with(live_server, f"ana-{tag}", f"ana.{tag}@example.com", "Ana", {**streaming, "end_at": noon_in(40)})
    # Ben's 30-day pass ends in exactly 7 days; Dora's in 8 (not "7 because the end day counts").
    ben = contact_with(
        live_server,
        f"ben-{tag}",
        f"ben.{tag}@example.com",
        "Ben",
        {"name": "Month pass", "duration": "P30D", "start_at": noon_in(-23), "end_at": noon_in(7)},
    )
    contact_with(
        live_server,
        f"dora-{tag}",
        f"dora.{tag}@example.com",
        "Dora",
        {"name": "Month pass", "duration": "P30D", "start_at": noon_in(-22), "end_at": noon_in(8)},
    )
    contact_with(
        live_server,
        f"gus-{tag}",
        f"gus.{tag}@example.com",
        "Gus",
        {"name": "Month pass", "duration": "P90D", "start_at": noon_in(-83), "end_at": noon_in(7)},
    )
    # Cai switched auto-renew off after it was on: the win-back case.
    cai = contact_with(live_server, f"cai-{tag}", f"cai.{tag}@example.com", "Cai", {**streaming, "end_at": noon_in(20)})
    cai_sub = admin(live_server, "GET", f"/api/contacts/{cai}/subscriptions")[0]["id"]
    admin(live_server, "PATCH", f"/api/contacts/{cai}/subscriptions/{cai_sub}", {"auto_renew": False})
    eve_email = f"eve.{tag}@example.com"
    eve = contact_with(live_server, f"eve-{tag}", eve_email, "Eve", {**streaming, "end_at": noon_in(60)})
    email_template(live_server, "winback_offer", "{{ contact.first_name }}, come back for half price")

    sign_in(page, live_server)

    # 1. Cross-sell: has an active streaming package (ends at least 1 day from today).
    new_segment(page, "Streaming active")
    page.get_by_test_id("segment-description").fill("Cross-sell the cinema pass")
    page.get_by_test_id("field-rule.kind").select_option("subscription")
    page.get_by_test_id("field-rule.names-add").click()
    names = page.get_by_test_id("field-rule.names.0")
    names.fill("Streaming")
    expect(
        page.get_by_test_id("field-rule.names.0").locator(
            "xpath=following-sibling::datalist/option[@value='Streaming']"
        )
    ).to_have_count(1)
    page.get_by_test_id("field-rule.ends_in.op").select_option("at_least")
    page.get_by_test_id("field-rule.ends_in.days").fill("1")
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    expect(page.get_by_test_id("field-rule.ends_in-hint")).to_contain_text(f"Ends on {us_date(tomorrow)} or later")
    live_count(page, 3)  # Ana, Cai, Eve
    expect(page.get_by_test_id("segment-sample")).to_contain_text(f"ana-{tag}")
    assert_accessible(page, "the segment editor")
    cross_sell = save_segment(page)
    expect(page.get_by_test_id("segment-size")).to_have_attribute("data-size", "3")

    # 2. Reminder: a 30-day package that ends in 7 days. The hint names the end date, so nobody types 8.
    new_segment(page, "Month pass ends in 7 days")
    page.get_by_test_id("field-rule.kind").select_option("subscription")
    page.get_by_test_id("field-rule.names-add").click()
    page.get_by_test_id("field-rule.names.0").fill("Month pass")
    page.get_by_test_id("field-rule.duration_days.op").select_option("exactly")
    page.get_by_test_id("field-rule.duration_days.days").fill("30")
    expect(page.get_by_test_id("field-rule.duration_days-hint")).to_contain_text("Lasts exactly 30 days")
    page.get_by_test_id("field-rule.ends_in.op").select_option("exactly")
    page.get_by_test_id("field-rule.ends_in.days").fill("7")
    in_seven = datetime.now(UTC).date() + timedelta(days=7)
    expect(page.get_by_test_id("field-rule.ends_in-hint")).to_contain_text(f"Ends on {us_date(in_seven)}")
    live_count(page, 1)  # Ben only: Dora's ends in 8 days, Gus's package is 90 days long
    expect(page.get_by_test_id(f"segment-sample-{ben}")).to_be_visible()
    screenshot(page, "segment-ends-in-7-days")
    save_segment(page)
    expect(page.get_by_test_id("segment-trend")).to_have_attribute("data-ready", "true")
    live_count(page, 1)
    expect(page.get_by_test_id("field-rule.ends_in-hint")).to_contain_text(f"Ends on {us_date(in_seven)}")
    docs_screenshot(page, "segment-editor", height=1250)

    # 3. Win-back: auto-renew is off now and was on before its last change.
    new_segment(page, "Streaming auto-renew switched off")
    page.get_by_test_id("field-rule.kind").select_option("subscription")
    page.get_by_test_id("field-rule.names-add").click()
    page.get_by_test_id("field-rule.names.0").fill("Streaming")
    page.get_by_test_id("field-rule.auto_renew").select_option("false")
    page.get_by_test_id("field-rule.auto_renew_before").select_option("true")
    live_count(page, 1)  # Cai
    winback = save_segment(page)
    expect(page.get_by_test_id(f"segment-member-{cai}")).to_be_visible()

    # The segments list: live sizes, ready.
    page.get_by_test_id("nav-segments").click()
    expect(page.get_by_test_id(f"segment-size-{cross_sell}")).to_have_attribute("data-size", "3")
    expect(page.get_by_test_id(f"segment-status-{winback}")).to_have_attribute("data-status", "ready")
    assert_accessible(page, "the segments list")
    docs_screenshot(page, "segments")

    # The win-back segment starts a journey (the segment trigger, its segment picked by name).
    journey = segment_journey(
        page, live_server, "Win back lapsed streamers", "Streaming auto-renew switched off", "winback_offer"
    )
    # wait.segment has the same picker, and labels its choices in words.
    drop_block(page, "wait.segment", 640, 280, "wait_segment_1")
    expect(page.get_by_test_id("field-config.segment").locator("option", has_text="Streaming active")).to_have_count(1)
    expect(page.get_by_test_id("field-config.until")).to_contain_text("in the segment")
    page.get_by_test_id("node-delete").click()
    wait_saved(page)

    # Eve switches auto-renew off (on her contact page): she enters the segment and gets the offer.
    page.goto(f"{live_server.url}/contacts/{eve}")
    eve_sub = admin(live_server, "GET", f"/api/contacts/{eve}/subscriptions")[0]["id"]
    switch = page.get_by_test_id(f"subscription-{eve_sub}-auto-renew")
    expect(switch).to_be_checked()
    switch.uncheck()
    expect(page.get_by_test_id(f"subscription-{eve_sub}")).to_contain_text("was on before")
    wait_for(lambda: any(eve_email in m.rcpt_tos for m in mailbox.messages), timeout=30)
    mail = next(m for m in mailbox.messages if eve_email in m.rcpt_tos)
    assert mail.subject == "Eve, come back for half price"
    expect(page.get_by_test_id("contact-segment-streaming_auto_renew_switched_off")).to_be_visible(timeout=UI_TIMEOUT)

    # The segment lists the journey that uses it, and refuses deletion while it is published, saying why.
    page.goto(f"{live_server.url}/segments/{winback}")
    expect(page.get_by_test_id(f"segment-journey-{journey}")).to_have_text("Win back lapsed streamers")
    expect(page.get_by_test_id("segment-size")).to_have_attribute("data-size", "2")
    expect(page.get_by_test_id("segment-trend")).to_have_attribute("data-ready", "true")
    live_count(page, 2)
    assert_accessible(page, "a saved segment")
    page.get_by_test_id("segment-delete").click()
    page.get_by_test_id("segment-delete-confirm").click()
    expect(page.get_by_test_id("segment-delete-error")).to_contain_text("Win back lapsed streamers")
    assert_accessible(page, "the delete dialog", include="[data-testid=segment-delete-dialog]")
    page.keyboard.press("Escape")

    # Contacts filtered by a segment, with the total.
    page.get_by_test_id("nav-contacts").click()
    page.get_by_test_id("contacts-segment").select_option(label="Streaming active")
    expect(page.get_by_test_id("contacts-total")).to_have_attribute("data-total", "3")
    expect(page.get_by_test_id("contacts-total")).to_have_text("3 contacts")
    expect(page.locator("[data-testid^=contact-row-]")).to_have_count(3)
    assert "segment=streaming_active" in page.url
    assert_accessible(page, "the contacts list filtered by a segment")


# --- computed property → segment → journey ---------------------------------------------------------------


def test_rentals_in_the_last_30_days_email_within_seconds(page: Page, live_server: LiveServer, mailbox) -> None:
    email_template(
        live_server, "rental_reward", "{{ contact.first_name }}, {{ contact.computed.rentals_30d }} rentals: a free one"
    )
    sign_in(page, live_server)

    # The computed property, from its page.
    page.get_by_test_id("nav-computed").click()
    expect(page.get_by_test_id("computed-page")).to_be_visible()
    page.get_by_test_id("computed-create").click()
    page.get_by_test_id("computed-name").fill("Rentals in the last 30 days")
    page.get_by_test_id("computed-key").fill("rentals_30d")
    page.get_by_test_id("computed-event").fill("rental")
    page.get_by_test_id("computed-aggregate").select_option("count")
    expect(page.get_by_test_id("computed-window-kind")).to_have_value("rolling")
    page.get_by_test_id("computed-window").fill("30")
    page.get_by_test_id("computed-window-unit").select_option("days")
    expect(page.get_by_test_id("computed-template-code")).to_have_text("{{ contact.computed.rentals_30d }}")
    assert_accessible(page, "the computed property editor")
    page.get_by_test_id("computed-save").click()
    page.wait_for_url(re.compile(r"/computed-properties/\d+$"))
    expect(page.get_by_test_id("computed-status")).to_have_attribute("data-status", "ready", timeout=30_000)
    stored = admin(live_server, "GET", "/api/computed-properties")
    assert [
        (p["key"], p["definition"]["event"], p["definition"]["aggregate"], p["definition"]["window"]) for p in stored
    ] == [("rentals_30d", "rental", "count", "P30D")]

    # The segment "rentals_30d ≥ 3", picking the property by its name.
    new_segment(page, "Frequent renters")
    page.get_by_test_id("field-rule.kind").select_option("computed")
    page.get_by_test_id("field-rule.key").select_option(label="Rentals in the last 30 days")
    expect(page.get_by_test_id("rule-editor")).to_contain_text("{{ contact.computed.rentals_30d }}")
    page.get_by_test_id("field-rule.op").select_option(label="is at least")
    page.get_by_test_id("field-rule.value").fill("3")
    live_count(page, 0)
    save_segment(page)

    page.get_by_test_id("nav-computed").click()
    expect(page.locator("[data-testid^=computed-row-]")).to_contain_text("Frequent renters")
    assert_accessible(page, "the computed properties list")

    segment_journey(page, live_server, "Reward frequent renters", "Frequent renters", "rental_reward")

    # Three rentals over the public API; the third makes Fay a frequent renter and she gets the email.
    tag = uuid.uuid4().hex[:6]
    fay, fay_email = f"fay-{tag}", f"fay.{tag}@example.com"
    ingest(live_server, "identify", {"userId": fay, "traits": {"email": fay_email, "first_name": "Fay"}})
    for film in ("Alien", "Heat"):
        ingest(live_server, "track", {"userId": fay, "event": "rental", "properties": {"film": film}})
    time.sleep(1)
    assert not any(fay_email in m.rcpt_tos for m in mailbox.messages), "emailed after two rentals"
    sent = time.monotonic()
    ingest(live_server, "track", {"userId": fay, "event": "rental", "properties": {"film": "Ran"}})
    wait_for(lambda: any(fay_email in m.rcpt_tos for m in mailbox.messages), timeout=30)
    took = time.monotonic() - sent
    mail = next(m for m in mailbox.messages if fay_email in m.rcpt_tos)
    assert mail.subject == "Fay, 3 rentals: a free one"
    assert took < 10, f"the email took {took:.1f} s after the third rental"
    print(f"third rental → email in the SMTP sink: {took:.2f} s")

    # Her contact page: the computed value and the segment, since when (and a package she has).
    contact_id = admin(live_server, "GET", f"/api/contacts?q={fay}")["items"][0]["id"]
    admin(
        live_server,
        "POST",
        f"/api/contacts/{contact_id}/subscriptions",
        {"name": "Cinema pass", "duration": "P30D", "start_at": noon_in(-23), "end_at": noon_in(7), "auto_renew": True},
    )
    page.goto(f"{live_server.url}/contacts/{contact_id}")
    expect(page.get_by_test_id("contact-computed-rentals_30d")).to_have_text("3")
    expect(page.get_by_test_id("contact-segment-frequent_renters")).to_contain_text("since")
    expect(page.get_by_test_id("contact-computed")).to_contain_text("Rentals in the last 30 days")
    assert_accessible(page, "a contact page")
    docs_screenshot(page, "contact", height=1150)


# --- contacts: add, edit, erase ------------------------------------------------------------------------------


def test_add_edit_and_erase_a_contact_with_a_subscription(page: Page, live_server: LiveServer) -> None:
    tag = uuid.uuid4().hex[:6]
    sign_in(page, live_server)
    page.get_by_test_id("nav-contacts").click()
    expect(page.get_by_test_id("contacts-total")).to_have_attribute("data-total", re.compile(r"^\d+$"))
    total = int(page.get_by_test_id("contacts-total").get_attribute("data-total") or "")
    assert_accessible(page, "the contacts list")
    page.get_by_test_id("contact-create").click()
    expect(page.get_by_test_id("contact-form-save")).to_be_disabled()  # nothing identifies the contact yet
    page.get_by_test_id("contact-form-email").fill(f"hana.{tag}@example.com")
    page.get_by_test_id("contact-form-external-id").fill(f"hana-{tag}")
    page.get_by_test_id("contact-form-tags").fill("vip, newsletter")
    page.get_by_test_id("contact-form-attr-add").click()
    page.get_by_test_id("contact-form-attr-0-key").fill("first_name")
    page.get_by_test_id("contact-form-attr-0-value").fill("Hana")
    assert_accessible(page, "the add-contact dialog", include="[data-testid=contact-form]")
    page.get_by_test_id("contact-form-save").click()
    page.wait_for_url(re.compile(r"/contacts/\d+$"))
    contact_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_test_id("contact-attributes")).to_contain_text("Hana")

    # Edit: a phone number, keyboard only (Enter submits the dialog).
    page.get_by_test_id("contact-edit").click()
    page.get_by_test_id("contact-form-phone").fill("+48600100200")
    page.get_by_test_id("contact-form-phone").press("Enter")
    expect(page.get_by_test_id("contact-channels")).to_contain_text("+48600100200")

    # A subscription, then auto-renew off from the list.
    page.get_by_test_id("subscription-add").click()
    page.get_by_test_id("subscription-form-name").fill("Month pass")
    end = datetime.now(UTC).date() + timedelta(days=7)
    page.get_by_test_id("subscription-form-end").fill(end.isoformat())
    expect(page.get_by_test_id("subscription-form-end-hint")).to_have_text("ends in 7 days")
    page.get_by_test_id("subscription-form-auto-renew").check()
    assert_accessible(page, "the subscription dialog", include="[data-testid=subscription-form]")
    page.get_by_test_id("subscription-form-save").click()
    subs = admin(live_server, "GET", f"/api/contacts/{contact_id}/subscriptions")
    wait_for(lambda: len(admin(live_server, "GET", f"/api/contacts/{contact_id}/subscriptions")) == 1, timeout=10)
    sub = admin(live_server, "GET", f"/api/contacts/{contact_id}/subscriptions")[0]
    assert sub["name"] == "Month pass" and sub["auto_renew"] is True and sub["end_at"].startswith(end.isoformat()), subs
    expect(page.get_by_test_id(f"subscription-{sub['id']}-ends-in")).to_have_text("ends in 7 days")
    screenshot(page, "contact-with-subscription")

    # Erase: the confirmation says what goes.
    page.get_by_test_id("contact-delete").click()
    expect(page.get_by_test_id("contact-delete-dialog")).to_contain_text("erases the contact's data for good")
    page.get_by_test_id("contact-delete-dialog-confirm").click()
    page.wait_for_url(re.compile(r"/contacts$"))
    expect(page.get_by_test_id("contacts-total")).to_have_attribute("data-total", str(total))
    assert admin(live_server, "GET", f"/api/contacts?q=hana-{tag}")["total"] == 0


# --- every language: no English left behind in the new pages' chrome, nothing spills, still accessible ----


def test_new_pages_in_every_language(page: Page, live_server: LiveServer) -> None:
    segment = admin(
        live_server,
        "POST",
        "/api/segments",
        {"name": "Long-time customers of the premium streaming package", "rule": {"kind": "all", "rules": []}},
    )
    contact = admin(live_server, "GET", "/api/contacts?limit=1")["items"][0]["id"]
    sign_in(page, live_server)
    pages = {
        "segments": ("/segments", "segments-page"),
        "segment": (f"/segments/{segment['id']}", "segment-preview"),
        "new segment": ("/segments/new", "rule-editor"),
        "computed properties": ("/computed-properties", "computed-page"),
        "new computed property": ("/computed-properties/new", "computed-property-page"),
        "contacts": ("/contacts", "contacts-page"),
        "contact": (f"/contacts/{contact}", "contact-page"),
    }
    titles = {"en": "Segments", "zh-CN": "分群", "es": "Segmentos", "pl": "Segmenty"}
    for language, nav in titles.items():
        page.get_by_test_id("language-switcher").select_option(language)
        expect(page.get_by_test_id("nav-segments")).to_have_text(nav)
        for name, (path, ready) in pages.items():
            page.get_by_test_id("nav-journeys").click()  # client-side navigation keeps the language
            page.evaluate(
                "(path) => { history.pushState({}, '', path); dispatchEvent(new PopStateEvent('popstate')); }", path
            )
            expect(page.get_by_test_id(ready)).to_be_visible()
            if name == "new segment":
                page.get_by_test_id("field-rule.kind").select_option("subscription")
                page.get_by_test_id("field-rule.ends_in.op").select_option("between")
                page.get_by_test_id("field-rule.ends_in.to_days").fill("14")
                expect(page.get_by_test_id("field-rule.ends_in-hint")).to_be_visible()
            page.wait_for_timeout(300)
            assert_no_spill(page, f"{name} ({language})")
            if language != "en":
                assert_accessible(page, f"{name} ({language})")
    page.get_by_test_id("language-switcher").select_option("en")
