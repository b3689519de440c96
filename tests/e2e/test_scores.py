"""Issue 10's web app, as a marketer uses it: the score "email engagement" (open 3, click 5, 30-day window)
defined on the Scores page by mouse and keyboard; opens and clicks of a delivered newsletter, through
its tracking links, land contacts on the right levels of the histogram within seconds, and on their
contact pages with the events that made them; a changed weight recomputes everyone; the rule editor,
split.rules and the condition block pick the score by name; a score in use cannot be deleted and says
why. axe-core and the other languages check the new pages."""

from __future__ import annotations

import http.client
import re
import time
import uuid
from html.parser import HTMLParser
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from tests.e2e.a11y import assert_accessible, assert_no_spill
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.live import LiveServer
from tests.e2e.test_audiences import live_count, new_segment, save_segment
from tests.e2e.test_build_journey import admin, create_journey, drop_block, ingest, wait_for
from tests.factories import linear_graph
from tests.smtp_sink import Received

UI_TIMEOUT = 15_000
expect.set_options(timeout=UI_TIMEOUT)


def contact_id(server: LiveServer, external_id: str) -> int:
    return admin(server, "GET", f"/api/contacts?q={external_id}")["items"][0]["id"]


NEWS_MJML = """<mjml><mj-body><mj-section><mj-column>
  <mj-text>Hello, this week: <a href="https://acme.test/offer">the offer</a>.</mj-text>
</mj-column></mj-section></mj-body></mjml>"""


def newsletter_journey(server: LiveServer, key: str) -> None:
    """A template with one link, and a published journey "newsletter_due → send it by e-mail"."""
    created = admin(
        server,
        "POST",
        "/api/templates",
        {"key": key, "name": "Newsletter", "draft": {"email": {"subject": "This week", "mjml": NEWS_MJML}}},
    )
    admin(server, "POST", f"/api/templates/{created['template']['id']}/publish")
    graph = linear_graph(
        {"id": "start", "type": "trigger.event", "config": {"event": "newsletter_due"}},
        {"id": "mail", "type": "send", "config": {"channel": "email", "template": key}},
    )
    journey = admin(server, "POST", "/api/journeys", {"name": f"Newsletter {key}", "graph": graph})
    admin(server, "POST", f"/api/journeys/{journey['id']}/publish", {})


def delivered(mailbox, address: str) -> Received:
    wait_for(lambda: any(address in m.rcpt_tos for m in mailbox.messages), timeout=30)
    return next(m for m in mailbox.messages if address in m.rcpt_tos)


class _Urls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        self.urls.append(values.get("href") or values.get("src") or "")


def tracking_urls(mail: Received) -> tuple[str, str]:
    """The open pixel and the tracked link of the SMTP server's copy."""
    parser = _Urls()
    parser.feed(mail.part("html"))
    (pixel,) = [u for u in parser.urls if "/t/o/" in u]
    (link,) = [u for u in parser.urls if "/t/c/" in u]
    return pixel, link


def follow(url: str) -> int:
    """GET as a mail client does, without following the redirect to the (unreachable) destination."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", parts.path, headers={"User-Agent": "Mail/1.0"})
        return conn.getresponse().status
    finally:
        conn.close()


def histogram(page: Page, expected: list[int], timeout: int = UI_TIMEOUT) -> None:
    expect(page.get_by_test_id("score-histogram")).to_have_attribute(
        "data-values", ",".join(map(str, expected)), timeout=timeout
    )


def test_email_engagement_defined_in_the_browser_scores_contacts_live(
    page: Page, live_server: LiveServer, mailbox
) -> None:
    tag = uuid.uuid4().hex[:6]
    # Another score the workspace already has, used by a segment (its key is taken; it cannot be deleted).
    newsletter = admin(
        live_server,
        "POST",
        "/api/scores",
        {"name": "Newsletter reads", "key": "newsletter", "definition": {"events": [{"event": "read", "weight": 1}]}},
    )
    admin(
        live_server,
        "POST",
        "/api/segments",
        {"name": "Keen readers", "rule": {"kind": "score", "key": "newsletter", "min": 5, "max": 10}},
    )

    sign_in(page, live_server)
    page.get_by_test_id("nav-scores").click()
    expect(page.get_by_test_id("scores-page")).to_be_visible()
    expect(page.get_by_test_id(f"score-row-{newsletter['id']}")).to_contain_text("Newsletter reads")
    page.get_by_test_id("score-create").click()
    expect(page.get_by_test_id("score-page")).to_be_visible()

    # The weights table: open 3, click 5 — the second line added with the keyboard.
    page.get_by_test_id("score-name").fill("Email engagement")
    page.get_by_test_id("score-key").fill("newsletter")  # taken: the server says so on the key field
    page.get_by_test_id("score-event-0-name").fill("email_opened")
    page.get_by_test_id("score-event-0-weight").fill("3")
    page.get_by_test_id("score-add-event").focus()
    page.keyboard.press("Enter")
    page.get_by_test_id("score-event-1-name").fill("email_clicked")
    page.get_by_test_id("score-event-1-weight").fill("11")
    expect(page.get_by_test_id("score-event-1")).to_contain_text("From −10 to 10, not 0.")
    expect(page.get_by_test_id("score-save")).to_be_disabled()
    page.get_by_test_id("score-event-1-weight").fill("5")
    page.get_by_test_id("score-event-0-channel").select_option("email")
    page.get_by_test_id("score-event-0-channel").select_option("")
    # A third line, added and removed by keyboard.
    page.get_by_test_id("score-add-event").press("Enter")
    expect(page.get_by_test_id("score-event-2")).to_be_visible()
    page.get_by_test_id("score-event-2-remove").press("Enter")
    expect(page.get_by_test_id("score-event-2")).to_have_count(0)

    # Fading: a 30-day rolling window, edited as number + unit (decay shows its half-life instead).
    expect(page.get_by_test_id("score-fading-window")).to_be_checked()
    page.get_by_test_id("score-fading-decay").check()
    expect(page.get_by_test_id("score-fading-hint")).to_contain_text("halves with every half-life")
    expect(page.get_by_test_id("score-fading-amount")).to_have_value("14")
    page.get_by_test_id("score-fading-window").check()
    page.get_by_test_id("score-fading-amount").fill("30")
    page.get_by_test_id("score-fading-unit").select_option("days")

    # Bands: fixed thresholds (the defaults), with the percentile alternative explained in one line.
    page.get_by_test_id("score-bands-percentile").check()
    expect(page.get_by_test_id("score-bands-hint")).to_contain_text("ten equal groups")
    expect(page.get_by_test_id("score-thresholds")).to_have_count(0)
    page.get_by_test_id("score-bands-thresholds").check()
    expect(page.get_by_test_id("score-threshold-2")).to_have_value("1")
    expect(page.get_by_test_id("score-threshold-10")).to_have_value("45")
    page.get_by_test_id("score-threshold-3").fill("0")
    expect(page.get_by_test_id("score-thresholds-local")).to_contain_text("more points than the one before")
    page.get_by_test_id("score-threshold-3").fill("3")
    expect(page.get_by_test_id("score-template-code")).to_have_text("{{ contact.scores.newsletter }}")
    assert_accessible(page, "the score editor")

    # Clicks count only on links to the shop: a property filter on the click's URL, its value forgotten.
    page.get_by_test_id("score-event-1-filters").press("Enter")
    page.get_by_test_id("field-definition.events.1.where-add").click()
    page.get_by_test_id("field-definition.events.1.where.0.key").fill("url")
    page.get_by_test_id("field-definition.events.1.where.0.op").select_option("contains")

    # The server's refusals land on the fields they are about: the key first, then the filter's value.
    page.get_by_test_id("score-save").click()
    expect(page.get_by_test_id("score-key-error")).to_contain_text("another score already has the key")
    page.get_by_test_id("score-key").fill("engagement")
    page.get_by_test_id("score-save").click()
    expect(page.get_by_test_id("field-definition.events.1.where.0.value-error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/scores/new$"))
    page.get_by_test_id("field-definition.events.1.where.0.value").fill("acme.test")
    page.get_by_test_id("score-save").click()
    page.wait_for_url(re.compile(r"/scores/\d+$"))
    score_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_test_id("score-status")).to_have_attribute("data-status", "ready", timeout=30_000)
    stored = admin(live_server, "GET", f"/api/scores/{score_id}")["definition"]
    assert stored["events"] == [
        {"event": "email_opened", "weight": 3.0, "where": [], "channel": None},
        {
            "event": "email_clicked",
            "weight": 5.0,
            "where": [{"key": "url", "op": "contains", "value": "acme.test"}],
            "channel": None,
        },
    ]
    assert stored["fading"]["mode"] == "window" and stored["fading"]["window"] == "P30D"
    assert stored["bands"] == {"mode": "thresholds", "thresholds": [1, 3, 6, 10, 15, 21, 28, 36, 45]}
    histogram(page, [0] * 10)

    # A newsletter with a link goes to four contacts; what they do with the delivered copy goes through
    # the tracking links: Ana opens it once (3 points, level 3), Ben opens it and clicks (8, level 4), Cy
    # opens it five times and clicks three (30, level 8), Dee never opens it (no score).
    did = {"ana": (1, 0), "ben": (1, 1), "cy": (5, 3), "dee": (0, 0)}
    users = {name: f"{name}-{tag}" for name in did}
    newsletter_journey(live_server, f"news_{tag}")
    for user in users.values():
        ingest(live_server, "identify", {"userId": user, "traits": {"email": f"{user}@example.com"}})
        ingest(live_server, "track", {"userId": user, "event": "newsletter_due"})
    mails = {name: delivered(mailbox, f"{user}@example.com") for name, user in users.items()}
    sent = time.monotonic()
    for name, (opens, clicks) in did.items():
        pixel, link = tracking_urls(mails[name])
        for _ in range(opens):
            assert follow(pixel) == 200
        for _ in range(clicks):
            assert follow(link) == 302
    wait_for(lambda: admin(live_server, "GET", f"/api/scores/{score_id}")["scored"] == 3, timeout=15)
    took = time.monotonic() - sent
    print(f"7 opens and 4 clicks on tracking links → three contacts on their levels: {took:.2f} s")
    assert took < 10, f"levels took {took:.1f} s"
    # The page follows within its polling pace (10 s).
    histogram(page, [0, 0, 1, 1, 0, 0, 0, 1, 0, 0], timeout=20_000)
    expect(page.get_by_test_id("score-scored")).to_have_text("3 contacts have a score.")
    total = admin(live_server, "GET", "/api/contacts")["total"]
    expect(page.get_by_test_id("score-unscored")).to_have_text(
        f"{total - 3} contacts have no score yet (no scored events)."
    )
    expect(page.get_by_test_id("score-trend")).to_be_visible()
    assert_accessible(page, "a score with its histogram")
    screenshot(page, "score")

    # Cy's contact page: level 8 and the events that made it; Dee has no score.
    page.goto(f"{live_server.url}/contacts/{contact_id(live_server, users['cy'])}")
    expect(page.get_by_test_id("contact-score-engagement-level")).to_contain_text("Level 8")
    expect(page.get_by_test_id("contact-score-engagement-level")).to_contain_text("30 points")
    expect(page.get_by_test_id("contact-score-engagement-events")).to_contain_text("3 × email_clicked: 15 points")
    expect(page.get_by_test_id("contact-score-engagement-events")).to_contain_text("5 × email_opened: 15 points")
    expect(page.get_by_test_id("contact-score-newsletter-level")).to_have_text("No score")
    assert_accessible(page, "a contact page with scores")
    page.goto(f"{live_server.url}/contacts/{contact_id(live_server, users['dee'])}")
    expect(page.get_by_test_id("contact-score-engagement-level")).to_have_text("No score")
    expect(page.get_by_test_id("contact-score-engagement")).to_have_attribute("data-level", "")

    # A click now weighs 10: saving recomputes everyone (Ben 13 → level 5, Cy 45 → level 10).
    page.goto(f"{live_server.url}/scores/{score_id}")
    page.get_by_test_id("score-event-1-weight").fill("10")
    page.get_by_test_id("score-save").click()
    expect(page.get_by_test_id("score-status")).to_have_attribute("data-status", "ready", timeout=30_000)
    histogram(page, [0, 0, 1, 0, 1, 0, 0, 0, 0, 1], timeout=30_000)

    # The rule editor offers the score by its name: a segment of levels 8-10 (Cy alone).
    new_segment(page, "Engaged readers")
    page.get_by_test_id("field-rule.kind").select_option("score")
    page.get_by_test_id("field-rule.key").select_option(label="Email engagement")
    page.get_by_test_id("field-rule.min").fill("8")
    page.get_by_test_id("field-rule.max").fill("10")
    live_count(page, 1)
    save_segment(page)

    # In use: the score page lists the segment, and deleting says why it cannot.
    page.get_by_test_id("nav-scores").click()
    expect(page.get_by_test_id(f"score-levels-{score_id}")).to_have_attribute("data-values", "0,0,1,0,1,0,0,0,0,1")
    expect(page.get_by_test_id(f"score-scored-{score_id}")).to_have_text("3")
    assert_accessible(page, "the scores list")
    page.get_by_test_id(f"score-open-{score_id}").click()
    expect(page.get_by_test_id("score-used-by")).to_contain_text("Engaged readers")
    page.get_by_test_id("score-delete").click()
    page.get_by_test_id("score-delete-confirm").click()
    expect(page.get_by_test_id("score-delete-error")).to_contain_text("segments use this score: Engaged readers")
    assert_accessible(page, "the refused delete", include="[data-testid=score-delete-dialog]")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("score-delete-dialog")).to_have_count(0)

    # The journey editor offers it wherever rules are written: split.rules (its default branches name
    # the key `engagement`, shown by the score's name) and the condition block.
    create_journey(page, "Newsletter by engagement")
    drop_block(page, "split.rules", 380, 200, "split_rules_1")
    branch_key = page.get_by_test_id("field-config.branches.0.rule.key")
    expect(branch_key.locator("option:checked")).to_have_text("Email engagement")
    expect(page.get_by_test_id("field-config.branches.1.rule.min")).to_have_value("5")
    drop_block(page, "condition", 380, 420, "condition_1")
    page.get_by_test_id("field-config.rule.kind").select_option("score")
    page.get_by_test_id("field-config.rule.key").select_option(label="Newsletter reads")
    expect(page.get_by_test_id("field-config.rule.key")).to_have_value("newsletter")
    assert_accessible(page, "a condition on a score", include="[data-testid=node-panel]")


def test_score_pages_in_every_language(page: Page, live_server: LiveServer) -> None:
    score = admin(
        live_server,
        "POST",
        "/api/scores",
        {
            "name": "Engagement across e-mail, text messages and push notifications",
            "definition": {
                "events": [
                    {"event": "email_opened", "weight": 3, "channel": "email"},
                    {"event": "email_clicked", "weight": 5, "where": [{"key": "url", "op": "contains", "value": "/p"}]},
                ],
                "fading": {"mode": "decay", "half_life": "P14D"},
            },
        },
    )
    contact = admin(live_server, "GET", "/api/contacts?limit=1")["items"][0]["id"]
    sign_in(page, live_server)
    pages = {
        "scores": ("/scores", "scores-page"),
        "score": (f"/scores/{score['id']}", "score-histogram"),
        "new score": ("/scores/new", "score-weights"),
        "contact": (f"/contacts/{contact}", "contact-scores"),
    }
    titles = {"en": "Scores", "zh-CN": "评分", "es": "Puntuaciones", "pl": "Oceny"}
    for language, nav in titles.items():
        page.get_by_test_id("language-switcher").select_option(language)
        expect(page.get_by_test_id("nav-scores")).to_have_text(nav)
        for name, (path, ready) in pages.items():
            page.get_by_test_id("nav-journeys").click()  # client-side navigation keeps the language
            page.evaluate(
                "(path) => { history.pushState({}, '', path); dispatchEvent(new PopStateEvent('popstate')); }", path
            )
            expect(page.get_by_test_id(ready)).to_be_visible()
            if name == "new score":
                page.get_by_test_id("score-fading-decay").check()
                page.get_by_test_id("score-bands-percentile").check()
            page.wait_for_timeout(300)
            assert_no_spill(page, f"{name} ({language})")
            screenshot(page, f"{name.replace(' ', '-')}-{language}")
            if language != "en":
                assert_accessible(page, f"{name} ({language})")
    page.get_by_test_id("language-switcher").select_option("en")
