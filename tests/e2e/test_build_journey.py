"""Issue 3's scenario in the real app and real Chromium, as a marketer does it: sign in, build the
abandoned-registration journey by dragging blocks from the palette and filling their forms, connect the
ports by dragging handles, publish, then push contacts and events over the public API and watch the
email arrive in a real SMTP server and the counts on the canvas move. Plus the generated form of a
third-party block, validation on the offending block, deep links, and the Chinese UI."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
import uuid

from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.live import LiveServer

# Generous: CI runs this on two cores next to ~600 other tests.
UI_TIMEOUT = 15_000
FLOW_TIMEOUT = 60_000  # event → tick → counts poll (every 5 s) → canvas
expect.set_options(timeout=UI_TIMEOUT)


# --- talking to the server the way a developer's backend would ---------------------------------------


def _call(server: LiveServer, method: str, path: str, body: dict | None = None, *, auth: str) -> dict:
    request = urllib.request.Request(
        server.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": auth},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        text = response.read()
    return json.loads(text) if text else {}


def ingest(server: LiveServer, kind: str, body: dict) -> None:
    """`POST /v1/<kind>` with the write key as the Basic-auth user, as Segment's libraries send it."""
    basic = base64.b64encode(f"{server.write_key}:".encode()).decode()
    assert _call(server, "POST", f"/v1/{kind}", body, auth=f"Basic {basic}") == {"success": True}


def admin(server: LiveServer, method: str, path: str, body: dict | None = None) -> dict:
    return _call(server, method, path, body, auth=f"Bearer {server.admin_key}")


def stats(server: LiveServer, journey: int) -> dict:
    return admin(server, "GET", f"/api/journeys/{journey}/stats")


def wait_for(condition, timeout: float = FLOW_TIMEOUT / 1000, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)


def journey_id_by_name(server: LiveServer, name: str) -> int:
    items = admin(server, "GET", "/api/journeys?limit=500")["items"]
    return next(j["id"] for j in items if j["name"] == name)


# --- driving the editor with the mouse --------------------------------------------------------------


def create_journey(page: Page, name: str) -> int:
    page.get_by_test_id("nav-journeys").click()
    page.get_by_test_id("journey-create").click()
    page.get_by_test_id("journey-create-dialog-input").fill(name)
    page.get_by_test_id("journey-create-dialog-confirm").click()
    expect(page.get_by_test_id("canvas")).to_be_visible()
    match = re.search(r"/journeys/(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1))


def drop_block(page: Page, block_type: str, x: float, y: float, node_id: str) -> None:
    """Drag a palette item onto the canvas at (x, y) in canvas pixels; the new block is selected."""
    item = page.get_by_test_id(f"palette-item-{block_type}")
    item.scroll_into_view_if_needed()
    item.drag_to(page.get_by_test_id("canvas"), target_position={"x": x, "y": y})
    expect(page.get_by_test_id(f"node-{node_id}")).to_be_visible()
    expect(page.get_by_test_id("node-panel")).to_have_attribute("data-node-id", node_id)


def _centre(page: Page, test_id: str) -> tuple[float, float]:
    locator = page.get_by_test_id(test_id)
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None, test_id
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def connect(page: Page, source: str, port: str, target: str) -> None:
    """Drag from an output port's handle to a block's input handle, as a mouse user does."""
    edges = page.locator(".react-flow__edge")
    before = edges.count()
    (x1, y1), (x2, y2) = _centre(page, f"handle-{source}-{port}"), _centre(page, f"handle-{target}-in")
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move((x1 + x2) / 2, (y1 + y2) / 2, steps=6)
    page.mouse.move(x2, y2, steps=6)
    page.mouse.up()
    expect(edges).to_have_count(before + 1)


def select_block(page: Page, node_id: str) -> None:
    page.get_by_test_id(f"node-{node_id}").locator(".block-node-head").click()
    expect(page.get_by_test_id("node-panel")).to_have_attribute("data-node-id", node_id)


def wait_saved(page: Page) -> None:
    expect(page.get_by_test_id("save-status")).to_have_attribute("data-state", "saved")


def count(page: Page, node_id: str):
    return page.get_by_test_id(f"node-count-{node_id}")


# --- the scenario -----------------------------------------------------------------------------------


def test_build_publish_and_watch_contacts_flow(page: Page, live_server: LiveServer, mailbox) -> None:
    sign_in(page, live_server)

    # The seeded demo journey also starts on registration_started; the marketer pauses it first so only
    # the new journey reacts (from the journeys list, like anyone would).
    demo = journey_id_by_name(live_server, "Abandoned registration recovery")
    page.get_by_test_id(f"journey-pause-{demo}").click()
    expect(page.get_by_test_id(f"journey-resume-{demo}")).to_be_visible()

    journey = create_journey(page, "Recover abandoned sign-ups")
    page.wait_for_url(f"**/journeys/{journey}")
    screenshot(page, "editor-empty")

    # 1. Start when someone starts registering.
    drop_block(page, "trigger.event", 380, 70, "trigger_event_1")
    page.get_by_test_id("field-config.event").fill("registration_started")
    page.get_by_test_id("field-label").fill("Registration started")

    # 2. Wait for them to finish, or give up after a quarter of a minute (the demo is impatient).
    drop_block(page, "wait.event", 380, 230, "wait_event_1")
    page.get_by_test_id("field-config.event").fill("registration_completed")
    page.get_by_test_id("field-config.timeout").fill("0.25")
    page.get_by_test_id("field-config.timeout-unit").select_option("minutes")
    page.get_by_test_id("field-label").fill("Finished registering?")

    # 3a. Finished: tag them.
    drop_block(page, "tag", 200, 430, "tag_1")
    page.get_by_test_id("field-config.add-add").click()
    page.get_by_test_id("field-config.add.0").fill("registered")
    page.get_by_test_id("field-label").fill("Mark as registered")

    # 3b. Did not finish: the recovery email; the template field offers the workspace's templates by
    # name and stores the key.
    drop_block(page, "send", 560, 430, "send_1")
    suggestions = page.get_by_test_id("field-config.template").locator("option[value=tpl_recovery_1]")
    expect(suggestions).to_have_count(1)
    page.get_by_test_id("field-config.channel").select_option(label="E-mail")
    page.get_by_test_id("field-config.template").select_option("tpl_recovery_1")
    page.get_by_test_id("field-label").fill("Recovery email")

    # Until the blocks are connected the journey is invalid and cannot be published.
    wait_saved(page)
    expect(page.get_by_test_id("publish-button")).to_be_disabled()
    expect(page.get_by_test_id("node-problems-wait_event_1")).to_be_visible()

    connect(page, "trigger_event_1", "next", "wait_event_1")
    connect(page, "wait_event_1", "event", "tag_1")
    connect(page, "wait_event_1", "timeout", "send_1")

    wait_saved(page)
    expect(page.get_by_test_id("problem-count")).to_have_count(0)
    expect(page.get_by_test_id("publish-button")).to_be_enabled()
    page.mouse.click(*_blank_canvas_spot(page))  # deselect: the journey panel lists no problems
    expect(page.get_by_test_id("problems-none")).to_be_visible()
    screenshot(page, "editor-built")

    # What the mouse built is what the server stores.
    draft = admin(live_server, "GET", f"/api/journeys/{journey}")["draft"]
    nodes = {n["id"]: n for n in draft["nodes"]}
    assert nodes["trigger_event_1"]["type"] == "trigger.event"
    assert nodes["trigger_event_1"]["config"]["event"] == "registration_started"
    assert nodes["wait_event_1"]["config"] == {"event": "registration_completed", "where": [], "timeout": "PT15S"}
    assert nodes["tag_1"]["config"]["add"] == ["registered"]
    assert nodes["send_1"]["config"]["template"] == "tpl_recovery_1"
    assert nodes["send_1"]["config"]["channel"] == "email"
    assert {(e["source"], e["port"], e["target"]) for e in draft["edges"]} == {
        ("trigger_event_1", "next", "wait_event_1"),
        ("wait_event_1", "event", "tag_1"),
        ("wait_event_1", "timeout", "send_1"),
    }

    # Publish: version 1, listed with who published it.
    page.get_by_test_id("publish-button").click()
    page.get_by_test_id("publish-dialog-input").fill("first version")
    page.get_by_test_id("publish-dialog-confirm").click()
    expect(page.get_by_test_id("publish-dialog-confirm")).to_have_count(0)
    page.get_by_test_id("versions-button").click()
    version = page.get_by_test_id("version-1")
    expect(version).to_be_visible()
    expect(version).to_contain_text("Demo Owner")
    expect(version).to_contain_text("first version")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("versions-dialog")).to_have_count(0)

    # Every number the wait block shows from now on, to check that the canvas showed contacts waiting
    # (however briefly, on a busy machine) without a reload.
    page.evaluate(_WATCH_WAITING, "wait_event_1")

    # Two people start registering (over the public API, as the product's backend would report it).
    tag = uuid.uuid4().hex[:8]
    ana, ben = f"ana-{tag}", f"ben-{tag}"
    ana_email, ben_email = f"ana.{tag}@example.com", f"ben.{tag}@example.com"
    ingest(live_server, "identify", {"userId": ana, "traits": {"email": ana_email, "first_name": "Ana"}})
    ingest(live_server, "identify", {"userId": ben, "traits": {"email": ben_email, "first_name": "Ben"}})
    ingest(live_server, "track", {"userId": ana, "event": "registration_started", "properties": {"plan": "pro"}})
    ingest(live_server, "track", {"userId": ben, "event": "registration_started", "properties": {"plan": "free"}})

    # Both are now waiting for registration_completed (checked over the API, quicker than the canvas'
    # five-second refresh, so Ben can finish well within the timeout)…
    wait_for(lambda: stats(live_server, journey)["nodes"].get("wait_event_1", {}).get("waiting") == 2)
    # …and Ben finishes in time: he leaves through "event" and is tagged; no email for him.
    ingest(live_server, "track", {"userId": ben, "event": "registration_completed"})

    # The canvas follows without a reload: both entered, Ben tagged, Ana still waiting.
    expect(count(page, "trigger_event_1")).to_have_attribute("data-passed", "2", timeout=FLOW_TIMEOUT)
    expect(count(page, "tag_1")).to_have_attribute("data-passed", "1", timeout=FLOW_TIMEOUT)
    screenshot(page, "editor-contacts-waiting")

    # Ana does not: after the timeout the recovery email reaches the SMTP server, personalised.
    wait_for(lambda: any(ana_email in m.rcpt_tos for m in mailbox.messages))
    mails = [m for m in mailbox.messages if ana_email in m.rcpt_tos]
    assert len(mails) == 1, [(m.rcpt_tos, m.subject) for m in mailbox.messages]
    mail = mails[0]
    assert ana_email in mail.to
    assert mail.subject == "Ana, finish creating your account"
    html = mail.part("html")
    assert "Hi Ana," in html
    assert "<b>pro</b> plan" in html
    assert not any(ben_email in m.rcpt_tos for m in mailbox.messages)

    # And the counts moved on the canvas: nobody waiting, one through each branch.
    expect(count(page, "send_1")).to_have_attribute("data-passed", "1", timeout=FLOW_TIMEOUT)
    expect(count(page, "wait_event_1")).to_have_attribute("data-waiting", "0", timeout=FLOW_TIMEOUT)
    expect(count(page, "wait_event_1")).to_have_attribute("data-passed", "2")
    expect(count(page, "tag_1")).to_have_attribute("data-passed", "1")
    assert page.evaluate("() => window.__waitingSeen") >= 1, "the canvas never showed anyone waiting"
    screenshot(page, "editor-after-flow")

    # Clicking a block lists who passed through it.
    select_block(page, "send_1")
    expect(page.get_by_test_id("node-send_1")).to_contain_text("E-mail · tpl_recovery_1")
    screenshot(page, "editor-block-form")
    page.get_by_test_id("node-tab-contacts").click()
    page.get_by_test_id("node-contacts-passed").click()
    expect(page.get_by_test_id("node-contacts")).to_contain_text(ana)

    # The contacts themselves, read back over the admin API.
    contacts = admin(live_server, "GET", f"/api/contacts?q={ben}")["items"]
    assert contacts and "registered" in contacts[0]["tags"]


_WATCH_WAITING = """(nodeId) => {
  window.__waitingSeen = 0;
  const selector = `[data-testid="node-count-${nodeId}"]`;
  const look = () => {
    const element = document.querySelector(selector);
    if (element) window.__waitingSeen = Math.max(window.__waitingSeen, Number(element.dataset.waiting));
  };
  new MutationObserver(look).observe(document.querySelector('[data-testid="canvas"]'), {
    attributes: true, attributeFilter: ['data-waiting'], subtree: true,
  });
  look();
}"""


def _blank_canvas_spot(page: Page) -> tuple[float, float]:
    box = page.get_by_test_id("canvas").bounding_box()
    assert box is not None
    return box["x"] + 24, box["y"] + 24


# --- a block type from a third-party package ----------------------------------------------------------


def test_third_party_block_has_a_working_generated_form(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    create_journey(page, "Tell sales in Slack")

    # The example package `acme.slack` is installed next to the server; its block is in the palette,
    # found by searching, with no frontend code of its own.
    page.get_by_test_id("palette-search").fill("slack")
    expect(page.get_by_test_id("palette-item-acme.slack")).to_contain_text("Notify Slack")
    expect(page.get_by_test_id("palette-item-send")).to_have_count(0)
    drop_block(page, "acme.slack", 380, 260, "acme_slack_1")
    page.get_by_test_id("palette-search").fill("")
    drop_block(page, "trigger.event", 380, 80, "trigger_event_1")
    page.get_by_test_id("field-config.event").fill("demo_requested")
    connect(page, "trigger_event_1", "next", "acme_slack_1")

    # Its form comes from its msgspec config: a URL with a pattern, defaults, an enum, a checkbox.
    select_block(page, "acme_slack_1")
    url = page.get_by_test_id("field-config.webhook_url")
    expect(page.get_by_test_id("field-config.channel")).to_have_value("#sales")
    expect(page.get_by_test_id("field-config.priority")).to_contain_text("Urgent")
    url.fill("http://example.com/not-slack")
    expect(page.get_by_test_id("field-config.webhook_url-error")).to_be_visible()  # the schema's pattern
    url.fill("https://hooks.slack.com/services/T000/B000/XXXX")
    expect(page.get_by_test_id("field-config.webhook_url-error")).to_have_count(0)
    wait_saved(page)
    expect(page.get_by_test_id("publish-button")).to_be_enabled()

    # The block's own server-side rule: urgent messages must mention @here. The server's problem shows
    # on that field and on the block, and Publish is disabled while it stands.
    page.get_by_test_id("field-config.priority").select_option(label="Urgent")
    error = page.get_by_test_id("field-config.mention_here-error")
    expect(error).to_contain_text("urgent messages must mention @here")
    expect(page.get_by_test_id("node-problems-acme_slack_1")).to_be_visible()
    expect(page.get_by_test_id("publish-button")).to_be_disabled()
    screenshot(page, "third-party-block-problem")

    page.get_by_test_id("field-config.mention_here").check()
    expect(error).to_have_count(0)
    expect(page.get_by_test_id("node-problems-acme_slack_1")).to_have_count(0)
    wait_saved(page)
    expect(page.get_by_test_id("publish-button")).to_be_enabled()

    journey = int(re.search(r"/journeys/(\d+)$", page.url).group(1))
    config = {n["id"]: n for n in admin(live_server, "GET", f"/api/journeys/{journey}")["draft"]["nodes"]}
    assert config["acme_slack_1"]["config"] == {
        "webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX",
        "channel": "#sales",
        "message": "{{ contact.email }} reached {{ journey.name }}",
        "priority": "urgent",
        "mention_here": True,
    }


# --- validation on the offending block; deep links ----------------------------------------------------


def test_problems_show_on_the_block_and_block_publishing(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    journey = create_journey(page, "Welcome series")
    drop_block(page, "trigger.event", 380, 80, "trigger_event_1")
    page.get_by_test_id("field-config.event").fill("signed_up")
    drop_block(page, "wait.duration", 380, 240, "wait_duration_1")
    page.get_by_test_id("field-config.duration").fill("2")
    page.get_by_test_id("field-config.duration-unit").select_option("days")
    connect(page, "trigger_event_1", "next", "wait_duration_1")
    wait_saved(page)
    expect(page.get_by_test_id("publish-button")).to_be_enabled()

    # A block nobody can reach: the problem is on that block, and Publish waits until it is fixed.
    drop_block(page, "exit", 620, 400, "exit_1")
    wait_saved(page)
    expect(page.get_by_test_id("node-problems-exit_1")).to_be_visible()
    expect(page.get_by_test_id("node-problems-trigger_event_1")).to_have_count(0)
    expect(page.get_by_test_id("problem-count")).to_be_visible()
    expect(page.get_by_test_id("publish-button")).to_be_disabled()
    expect(page.get_by_test_id("node-panel-problems")).to_be_visible()
    screenshot(page, "editor-problem-on-block")

    connect(page, "wait_duration_1", "next", "exit_1")
    wait_saved(page)
    expect(page.get_by_test_id("node-problems-exit_1")).to_have_count(0)
    expect(page.get_by_test_id("publish-button")).to_be_enabled()

    # A deep link reloads into the editor with the saved draft, not into a 404 or the list.
    page.reload()
    expect(page.get_by_test_id("editor")).to_be_visible()
    assert page.url.endswith(f"/journeys/{journey}")
    for node in ("trigger_event_1", "wait_duration_1", "exit_1"):
        expect(page.get_by_test_id(f"node-{node}")).to_be_visible()
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    select_block(page, "wait_duration_1")
    expect(page.get_by_test_id("field-config.duration")).to_have_value("2")
    expect(page.get_by_test_id("field-config.duration-unit")).to_have_value("days")

    # Straight to the URL in a fresh tab works too (the server answers the SPA for client routes).
    fresh = page.context.new_page()
    fresh.goto(f"{live_server.url}/journeys/{journey}")
    expect(fresh.get_by_test_id("node-exit_1")).to_be_visible()
    fresh.close()


# --- 中文 -------------------------------------------------------------------------------------------

# ASCII words that may appear in the Chinese UI: product and protocol names, and the languages' own
# names in the switcher. Everything else in ASCII must be data (names, ids, e-mail addresses, numbers).
ALLOWED_WORDS = {
    "Waymark",
    "Slack",
    "Webhook",
    "HTTP",
    "API",
    "URL",
    "JSON",
    "ISO",
    "IANA",
    "SMS",
    "WeChat",
    "Jinja",
    "MJML",
    "ID",
    "English",
    "Espa",  # Español (the ñ ends the ASCII word)
    "ol",
    "Polski",
}

_VISIBLE_TEXT = """() => {
  const visible = (el) => el.checkVisibility ? el.checkVisibility() : el.getClientRects().length > 0;
  const out = [document.body.innerText];
  for (const el of document.querySelectorAll('[placeholder], [title], [aria-label]')) {
    if (!visible(el)) continue;
    for (const name of ['placeholder', 'title', 'aria-label']) {
      const value = el.getAttribute(name);
      if (value) out.push(value);
    }
  }
  for (const select of document.querySelectorAll('select')) {
    if (visible(select)) for (const option of select.options) out.push(option.text);
  }
  return out.join('\\n');
}"""


def english_left(page: Page, data: list[str]) -> list[str]:
    """Lines of the visible text and labels (titles, placeholders, aria-labels) with ASCII words that are
    neither data nor allowed names: English left in a Chinese UI."""
    lines = page.evaluate(_VISIBLE_TEXT).splitlines()
    found = []
    for line in lines:
        text = re.sub(r"“[^”]*”|`[^`]*`", " ", line)  # quoted literals: values to type, not words to read
        for value in sorted(filter(None, data), key=len, reverse=True):
            text = text.replace(value, " ")
        for word in re.findall(r"[A-Za-z0-9_.@#{}/:-]+", text):
            word = word.strip(".:-")
            if re.search(r"[\d_@{}/#]", word) or word in ALLOWED_WORDS or len(word) < 2:
                continue  # numbers, ids, e-mail addresses, template syntax, allowed names
            if word.islower() and "." in word:
                continue  # dotted ids such as trigger.event
            found.append(f"{word!r} in {line.strip()!r}")
    return sorted(set(found))


def assert_no_english(page: Page, data: list[str]) -> None:
    left = english_left(page, data)
    assert not left, "English in the Chinese UI:\n" + "\n".join(left)


def test_chinese_leaves_no_english(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.get_by_test_id("language-switcher").select_option("zh-CN")
    expect(page.get_by_test_id("nav-journeys")).to_have_text("旅程")

    me = admin(live_server, "GET", "/api/journeys?limit=500")["items"]
    # Data: names people gave things (the demo template's name is offered by the send block's picker).
    data = [live_server.email, "Demo workspace", "Demo Owner", "Registration recovery"]
    data += [j["name"] for j in me] + [j["description"] or "" for j in me] + [j["updated_by"] or "" for j in me]
    expect(page.get_by_test_id("journey-create")).to_be_visible()
    assert_no_english(page, data)
    screenshot(page, "journeys-zh-CN")

    create_journey(page, "注册召回")
    data += ["registration_started", "registration_completed"]
    expect(page.get_by_test_id("palette-item-wait.event")).to_contain_text("等待事件")
    assert_no_english(page, data)

    # A block's generated form (nested fields, a duration, an autocompleted event), after the server
    # has looked at it: its problems are in Chinese too.
    drop_block(page, "trigger.event", 380, 80, "trigger_event_1")
    page.get_by_test_id("field-config.event").fill("registration_started")
    drop_block(page, "wait.event", 380, 240, "wait_event_1")
    connect(page, "trigger_event_1", "next", "wait_event_1")
    page.get_by_test_id("field-config.where-add").click()
    wait_saved(page)
    expect(page.get_by_test_id("node-problems-wait_event_1")).to_be_visible()
    assert_no_english(page, data)
    drop_block(page, "send", 620, 400, "send_1")
    wait_saved(page)
    assert_no_english(page, data)
    page.get_by_test_id("field-config.template").select_option("tpl_recovery_1")
    data += ["tpl_recovery_1"]
    page.mouse.click(*_blank_canvas_spot(page))
    expect(page.get_by_test_id("journey-panel")).to_be_visible()
    wait_saved(page)
    assert_no_english(page, data)
    screenshot(page, "editor-zh-CN")
