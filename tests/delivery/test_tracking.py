"""Tracking and consent against real servers: a journey email goes through aiosmtpd, and the SMTP
server's copy is what the tests open, click and unsubscribe from — through the real app."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from backend.db.models import Contact, OutboxMessage, Workspace
from backend.tracking.signing import Signer
from tests.api.conftest import ok
from tests.delivery.conftest import email_journey, make_template, track
from tests.factories import add_contact, enrollments, linear_graph, publish_graph
from tests.smtp_sink import Received

NEWS_MJML = """<mjml><mj-body><mj-section><mj-column>
  <mj-text>Hello {{ contact.first_name | default("friend") }},
    read <a href="https://acme.test/blog?id={{ contact.id }}&amp;utm_source=mail">our blog</a>
    or <a href="mailto:help@acme.test">write to us</a>.</mj-text>
  <mj-button href="https://acme.test/offer">See the offer</mj-button>
  <mj-text><a href="{{ message.unsubscribe_url }}">Manage your subscription</a></mj-text>
</mj-column></mj-section></mj-body></mjml>"""


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"])
        elif tag == "img":
            self.images.append(values.get("src") or "")


def links(mail: Received) -> _Links:
    parser = _Links()
    parser.feed(mail.part("html"))
    return parser


def path(url: str) -> str:
    return urlsplit(url).path


def outbox_rows(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(OutboxMessage.__table__).order_by(OutboxMessage.id))]


def consent(engine, contact_id: int) -> dict:
    with engine.connect() as conn:
        return conn.execute(sa.select(Contact.consent).where(Contact.id == contact_id)).scalar()


def names(events: list[dict]) -> list[str]:
    return [e["name"] for e in events]


def events_of(admin, contact_id: int) -> list[dict]:
    """The contact's timeline as the admin API shows it, oldest first (the tests' ``track`` calls feed
    journeys directly and store no event, so it starts with the delivery)."""
    return list(reversed(ok(admin.get(f"/api/contacts/{contact_id}/events"))["items"]))


def mail_one(services, workspace_id, ticker, dispatcher, smtp_server, *, template="news", event="signup", **contact):
    contact.setdefault("email", "ana@example.com")
    contact.setdefault("attributes", {"first_name": "Ana"})
    contact_id = add_contact(services.sessions, workspace_id, **contact)
    before = len(smtp_server.messages)
    track(services, workspace_id, contact_id, event)
    ticker.run_until_idle()
    dispatcher.run_once()
    mails = smtp_server.wait_for(before + 1)
    assert len(mails) == before + 1, outbox_rows(services.engine)
    return contact_id, mails[-1]


@pytest.fixture
def news(services, workspace):
    make_template(services, workspace.id, "news", mjml=NEWS_MJML, subject="News for {{ contact.first_name }}")
    email_journey(services, workspace.id, template="news")


# -- opens and clicks from the SMTP server's copy ---------------------------------------------------------


def test_opening_and_clicking_the_delivered_copy_shows_up_on_the_contact(
    news, admin, client, ticker, dispatcher, services, workspace, smtp_server
):
    contact_id, mail = mail_one(services, workspace.id, ticker, dispatcher, smtp_server)
    (row,) = outbox_rows(services.engine)
    found = links(mail)
    base = services.settings.base_url
    clicks = [h for h in found.hrefs if h.startswith(f"{base}/t/c/{row['public_id']}/")]
    assert len(clicks) == 2  # the blog link and the button; not mailto:, not the unsubscribe link
    assert "mailto:help@acme.test" in found.hrefs
    assert not any(h.startswith("https://acme.test") for h in found.hrefs)  # nothing left untracked
    assert row["links"] == [f"https://acme.test/blog?id={contact_id}&utm_source=mail", "https://acme.test/offer"]
    (pixel,) = [src for src in found.images if "/t/o/" in src]
    assert pixel.startswith(f"{base}/t/o/{row['public_id']}/")
    assert len(row["public_id"]) == 22

    # Opening the message loads the pixel.
    response = client.get(path(pixel))
    assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a") and "no-store" in response.headers["cache-control"]
    client.get(path(pixel), headers={"User-Agent": "Mail/1.0"})  # opened again later

    # Clicking the blog link: a 302 to exactly the URL that was in the message.
    response = client.get(path(clicks[0]), follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == f"https://acme.test/blog?id={contact_id}&utm_source=mail"
    response = client.get(path(clicks[1]), follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (302, "https://acme.test/offer")
    client.get(path(clicks[1]), follow_redirects=False)

    timeline = events_of(admin, contact_id)
    assert names(timeline) == [
        "email_sent",
        "email_opened",
        "email_opened",
        "email_clicked",
        "email_clicked",
        "email_clicked",
    ]
    open1, open2, click1, click2, click3 = timeline[1:]
    for event in (open1, open2, click1, click2, click3):
        assert event["properties"]["outbox_id"] == row["id"] and event["properties"]["template"] == "news"
        assert event["properties"]["channel"] == "email" and event["properties"]["node_id"] == "mail"
        assert event["source"] == "tracking"
    assert (open1["properties"]["first"], open2["properties"]["first"]) == (True, False)
    assert open2["properties"]["user_agent"] == "Mail/1.0"
    assert click1["properties"]["url"] == f"https://acme.test/blog?id={contact_id}&utm_source=mail"
    assert (click1["properties"]["link_index"], click2["properties"]["link_index"]) == (0, 1)
    assert [c["properties"]["first"] for c in (click1, click2, click3)] == [True, False, False]

    (row,) = outbox_rows(services.engine)
    assert row["opened_at"] is not None and row["clicked_at"] is not None


def test_the_plain_text_part_is_tracked_like_the_html(
    news, admin, client, ticker, dispatcher, services, workspace, smtp_server
):
    """A reader of the text/plain part clicks tracked links too, counted as the same links as the HTML's."""
    contact_id, mail = mail_one(services, workspace.id, ticker, dispatcher, smtp_server)
    (row,) = outbox_rows(services.engine)
    text = mail.part("plain")
    assert "https://acme.test" not in text  # nothing left untracked
    base = services.settings.base_url
    text_clicks = re.findall(rf"{re.escape(base)}/t/c/[^\s()]+", text)
    assert text_clicks == [h for h in links(mail).hrefs if "/t/c/" in h]  # the same links, the same indices
    assert row["links"] == [f"https://acme.test/blog?id={contact_id}&utm_source=mail", "https://acme.test/offer"]
    assert "mailto:help@acme.test" in text or "write to us" in text

    response = client.get(path(text_clicks[1]), follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (302, "https://acme.test/offer")
    clicked = [e for e in events_of(admin, contact_id) if e["name"] == "email_clicked"]
    assert [e["properties"]["link_index"] for e in clicked] == [1]


def test_a_text_part_of_its_own_gets_its_links_tracked_too(ticker, dispatcher, services, workspace, smtp_server):
    make_template(
        services,
        workspace.id,
        "plain",
        mjml=NEWS_MJML,
        text="Hi! Our offer: https://acme.test/offer. The archive: https://acme.test/archive, enjoy.",
    )
    email_journey(services, workspace.id, template="plain")
    _, mail = mail_one(services, workspace.id, ticker, dispatcher, smtp_server, template="plain")
    (row,) = outbox_rows(services.engine)
    text = mail.part("plain")
    assert "https://acme.test" not in text
    assert row["links"][1:] == ["https://acme.test/offer", "https://acme.test/archive"]
    assert f"/t/c/{row['public_id']}/1/" in text and f"/t/c/{row['public_id']}/2/" in text  # the HTML's index
    assert ". The archive: " in text and ", enjoy." in text  # punctuation after a URL is not part of it


def test_the_preheader_appears_once_in_the_delivered_html(ticker, dispatcher, services, workspace, smtp_server):
    """The preheader field and an <mj-preview> in the MJML: the inbox shows one preheader, the field's."""
    mjml = NEWS_MJML.replace("<mjml>", "<mjml><mj-head><mj-preview>From the MJML</mj-preview></mj-head>")
    make_template(services, workspace.id, "pre", mjml=mjml, preheader="Fresh news inside")
    email_journey(services, workspace.id, template="pre")
    _, mail = mail_one(services, workspace.id, ticker, dispatcher, smtp_server, template="pre")
    html = mail.part("html")
    assert html.count("Fresh news inside") == 1
    assert "From the MJML" not in html
    assert "Fresh news inside" not in mail.part("plain")  # hidden text stays out of the text part


def test_a_click_without_the_pixel_counts_as_the_first_open(
    news, admin, client, ticker, dispatcher, services, workspace, smtp_server
):
    contact_id, mail = mail_one(services, workspace.id, ticker, dispatcher, smtp_server)
    click = next(h for h in links(mail).hrefs if "/t/c/" in h)
    assert client.get(path(click), follow_redirects=False).status_code == 302
    opened, clicked = events_of(admin, contact_id)[1:]
    assert (opened["name"], opened["properties"]["implied"], opened["properties"]["first"]) == (
        "email_opened",
        True,
        True,
    )
    assert clicked["name"] == "email_clicked"
    pixel = next(src for src in links(mail).images if "/t/o/" in src)
    client.get(path(pixel))
    assert events_of(admin, contact_id)[-1]["properties"]["first"] is False


def test_journeys_use_tracking_events(news, client, ticker, dispatcher, services, workspace, smtp_server):
    """ "Opened at least once" for a journey: a trigger on the first open, a condition counting opens."""
    tagging, _ = publish_graph(
        services,
        workspace.id,
        linear_graph(
            {
                "id": "opened",
                "type": "trigger.event",
                "config": {"event": "email_opened", "where": [{"key": "first", "op": "eq", "value": True}]},
            },
            {
                "id": "check",
                "type": "condition",
                "config": {"rule": {"kind": "event", "event": "email_opened", "op": "at_least", "count": 1}},
                "_port": "yes",
            },
            {"id": "tag", "type": "tag", "config": {"add": ["engaged"]}},
            settings={"reentry": "always"},
        ),
        name="Engaged",
    )
    contact_id, mail = mail_one(services, workspace.id, ticker, dispatcher, smtp_server)
    pixel = next(src for src in links(mail).images if "/t/o/" in src)
    client.get(path(pixel))
    client.get(path(pixel))  # a repeat open: not a first open, the trigger does not fire again
    ticker.run_until_idle()
    (enrollment,) = enrollments(services.engine, tagging)
    assert enrollment["status"] == "completed" and enrollment["contact_id"] == contact_id
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(Contact.tags).where(Contact.id == contact_id)).scalar() == ["engaged"]


# -- tampering --------------------------------------------------------------------------------------------


def _tamper(signature: str) -> str:
    return signature[:-1] + ("A" if signature[-1] != "A" else "B")


def test_tampered_or_unknown_tracking_links_are_404_and_record_nothing(
    news, admin, client, ticker, dispatcher, services, workspace, smtp_server
):
    contact_id, mail = mail_one(services, workspace.id, ticker, dispatcher, smtp_server)
    (row,) = outbox_rows(services.engine)
    pid = row["public_id"]
    signer = Signer(services.settings.secret_key)
    click = path(next(h for h in links(mail).hrefs if "/t/c/" in h))
    pixel = path(next(src for src in links(mail).images if "/t/o/" in src))
    unsubscribe = path(next(h for h in links(mail).hrefs if "/t/u/" in h))
    prefix, _, signature = click.rpartition("/")
    other = Signer("another secret entirely, thirty-two+")
    bad = [
        f"{prefix}/{_tamper(signature)}",
        f"{pixel.rpartition('/')[0]}/{_tamper(pixel.rpartition('/')[2])}",
        f"{unsubscribe.rpartition('/')[0]}/{_tamper(unsubscribe.rpartition('/')[2])}",
        f"/t/c/{pid}/1/{signature}",  # a signature of link 0 used for link 1
        f"/t/c/{pid}/7/{signer.click_sig(pid, 7)}",  # validly signed, but the message had no link 7
        f"/t/c/{pid}/00/{signer.click_sig(pid, 0)}",
        f"/t/c/{pid}/-1/{signer.click_sig(pid, -1)}",
        f"/t/c/{pid}/0/{other.click_sig(pid, 0)}",  # signed with another key
        f"/t/o/{pid}/{signer.click_sig(pid, 0)}",  # a click signature on the pixel
        f"/t/u/{pid}/{signer.open_sig(pid)}",
        f"/t/o/{'A' * 22}/{signer.open_sig('A' * 22)}",  # validly signed, unknown message
        f"/t/c/{'A' * 22}/0/{signer.click_sig('A' * 22, 0)}",
        f"/t/u/{'A' * 22}/{signer.unsubscribe_sig('A' * 22)}",
        "/t/o/x/y",
        "/t/c/%00%00/0/zz",
        f"/t/c/{pid}/99999999999999999999999/{signature}",
        f"/t/o/{'é' * 30}/{'ü' * 16}",
        f"/t/o/{pid}/{'x' * 5000}",
        "/t/u/" + "a" * 3000 + "/b",
        "/t/",
        "/t/o",
    ]
    for url in bad:
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 404, (url, response.status_code, response.text[:200])
        assert "location" not in response.headers
    for url in bad[2:3] + bad[9:10] + bad[12:13]:
        response = client.post(url, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 404, (url, response.text[:200])
    assert names(events_of(admin, contact_id)) == ["email_sent"]
    assert consent(services.engine, contact_id) == {}


# -- unsubscribes -----------------------------------------------------------------------------------------


def test_list_unsubscribe_one_click_post_unsubscribes_and_get_changes_nothing(
    news, admin, client, ticker, dispatcher, services, workspace, smtp_server
):
    contact_id, mail = mail_one(services, workspace.id, ticker, dispatcher, smtp_server)
    header = str(mail.message["List-Unsubscribe"])
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert header.startswith("<") and header.endswith(">")
    url = header[1:-1]
    assert url in links(mail).hrefs  # the same signed link the template placed in the body

    for _ in range(3):  # a scanner, a link preview, the recipient: none of them unsubscribes
        page = client.get(path(url))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
    assert consent(services.engine, contact_id) == {}
    assert names(events_of(admin, contact_id)) == ["email_sent"]

    # RFC 8058: the mail client POSTs exactly this, with no cookie and no token.
    response = client.post(
        path(url),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert consent(services.engine, contact_id) == {"email": False}
    unsubscribed = events_of(admin, contact_id)[-1]
    assert unsubscribed["name"] == "unsubscribed"
    assert unsubscribed["properties"]["channel"] == "email" and unsubscribed["properties"]["source"] == "one_click"

    # Repeating it (multipart, as some clients send it) changes nothing more.
    response = client.post(path(url), files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert names(events_of(admin, contact_id)).count("unsubscribed") == 1

    # A POST that is neither one-click nor the page's form is refused.
    response = client.post(path(url), data={"channel": "sms"})
    assert response.status_code == 400 and consent(services.engine, contact_id) == {"email": False}


def test_later_marketing_sends_are_skipped_with_the_reason_and_transactional_ones_still_go(
    news, admin, client, ticker, dispatcher, services, workspace, smtp_server
):
    make_template(services, workspace.id, "receipt", subject="Your receipt", mjml=NEWS_MJML)
    email_journey(services, workspace.id, template="news", event="promo")
    email_journey(services, workspace.id, template="receipt", event="purchase", marketing=False)
    contact_id, mail = mail_one(services, workspace.id, ticker, dispatcher, smtp_server)
    url = str(mail.message["List-Unsubscribe"])[1:-1]
    assert client.post(path(url), data={"List-Unsubscribe": "One-Click"}).status_code == 200

    track(services, workspace.id, contact_id, "promo")
    track(services, workspace.id, contact_id, "purchase")
    ticker.run_until_idle()
    dispatcher.run_once()
    mails = smtp_server.wait_for(2)
    assert [m.subject for m in mails] == ["News for Ana", "Your receipt"]
    receipt = mails[-1]
    assert receipt.message["List-Unsubscribe"] is None  # transactional: no unsubscribe header or footer
    assert "/t/o/" in receipt.part("html")  # still tracked

    skipped = [r for r in outbox_rows(services.engine) if r["status"] == "skipped"]
    assert [(r["template_key"], r["last_error"]) for r in skipped] == [
        ("news", "the contact has not consented to marketing email")
    ]
    event = next(e for e in events_of(admin, contact_id) if e["name"] == "message_skipped")
    assert event["properties"]["reason"] == "the contact has not consented to marketing email"


def test_the_preference_page_round_trip(news, admin, client, ticker, dispatcher, services, workspace, smtp_server):
    with services.engine.begin() as conn:
        conn.execute(sa.update(Workspace).values(name="Acme <b>&</b> Co"))
    contact_id, mail = mail_one(
        services, workspace.id, ticker, dispatcher, smtp_server, phone="+48600100200", locale="pl-PL"
    )
    url = path(str(mail.message["List-Unsubscribe"])[1:-1])
    page = client.get(url)
    assert page.status_code == 200
    body = page.text
    assert '<html lang="pl">' in body and "Ustawienia subskrypcji" in body and "Wypisz mnie" in body
    assert "Acme &lt;b&gt;&amp;&lt;/b&gt; Co" in body and "<b>" not in body  # escaped
    assert "<script" not in body and "http" not in body.split("<body>")[1]  # no scripts, no external assets
    assert "default-src 'none'" in page.headers["content-security-policy"]
    form = _Form.parse(body)
    assert form.shown == ["email", "sms"]  # the channels the contact has an address on
    assert form.checked == ["email", "sms"]

    # Keep SMS, drop email.
    response = client.post(
        url, data={"token": form.token, "action": "save", "shown": ["email", "sms"], "subscribed": ["sms"]}
    )
    assert response.status_code == 200 and "Twoje ustawienia zostały zapisane." in response.text
    assert consent(services.engine, contact_id) == {"email": False, "sms": True}
    assert _Form.parse(response.text).checked == ["sms"]
    last = events_of(admin, contact_id)[-1]
    assert (last["name"], last["properties"]["channel"], last["properties"]["source"]) == (
        "unsubscribed",
        "email",
        "preferences",
    )

    # Changed my mind: subscribe to email again.
    response = client.post(
        url, data={"token": form.token, "action": "save", "shown": ["email", "sms"], "subscribed": ["email", "sms"]}
    )
    assert response.status_code == 200
    assert consent(services.engine, contact_id) == {"email": True, "sms": True}
    assert names(events_of(admin, contact_id))[-2:] == ["unsubscribed", "resubscribed"]

    # The page's unsubscribe button.
    response = client.post(url, data={"token": form.token, "action": "unsubscribe", "channel": "email"})
    assert "Gotowe" in response.text and consent(services.engine, contact_id) == {"email": False, "sms": True}

    # A forged or stale form token changes nothing.
    before = names(events_of(admin, contact_id))
    response = client.post(
        url, data={"token": "x" * 16, "action": "save", "shown": ["email", "sms"], "subscribed": ["email", "sms"]}
    )
    assert response.status_code == 400 and "Nie udało się zweryfikować formularza" in response.text
    assert consent(services.engine, contact_id) == {"email": False, "sms": True}
    assert names(events_of(admin, contact_id)) == before


@pytest.mark.parametrize(
    ("locale", "title", "button"),
    [
        ("en", "Subscription preferences", "Unsubscribe"),
        ("zh-CN", "订阅偏好", "退订"),
        ("es-MX", "Preferencias de suscripción", "Darme de baja"),
        ("pl", "Ustawienia subskrypcji", "Wypisz mnie"),
        (None, "Subscription preferences", "Unsubscribe"),
    ],
)
def test_the_preference_page_speaks_the_contacts_language(
    news, client, ticker, dispatcher, services, workspace, smtp_server, locale, title, button
):
    _, mail = mail_one(services, workspace.id, ticker, dispatcher, smtp_server, locale=locale)
    page = client.get(path(str(mail.message["List-Unsubscribe"])[1:-1]))
    assert f"<title>{title}</title>" in page.text and f">{button}</button>" in page.text


def test_hard_bounce_at_send_time_stops_later_marketing(
    news, admin, ticker, dispatcher, services, workspace, smtp_server
):
    email_journey(services, workspace.id, template="news", event="promo")
    smtp_server.reject_rcpt["gone@example.com"] = "550 5.1.1 No such user"
    contact_id = add_contact(services.sessions, workspace.id, email="gone@example.com")
    track(services, workspace.id, contact_id, "signup")
    ticker.run_until_idle()
    dispatcher.run_once()
    assert consent(services.engine, contact_id) == {"email": False}
    smtp_server.reject_rcpt.clear()
    track(services, workspace.id, contact_id, "promo")
    ticker.run_until_idle()
    dispatcher.run_once()
    assert smtp_server.messages == []
    assert names(events_of(admin, contact_id)) == [
        "message_failed",
        "email_bounced",
        "message_skipped",
    ]


# -- provider notifications -------------------------------------------------------------------------------


def test_bounce_and_complaint_notifications(news, admin, writer, ticker, dispatcher, services, workspace, smtp_server):
    ana, mail = mail_one(services, workspace.id, ticker, dispatcher, smtp_server)
    bo, _ = mail_one(services, workspace.id, ticker, dispatcher, smtp_server, email="bo@example.com")
    cy, _ = mail_one(services, workspace.id, ticker, dispatcher, smtp_server, email="cy@example.com")
    message_id = str(mail.message["Message-ID"])

    result = ok(writer.post("/v1/bounces", json={"type": "delivered", "message_id": message_id}))
    assert (result["received"], result["matched"]) == (1, 1)
    hard = {"type": "hard", "message_id": message_id.strip("<>"), "reason": "550 5.1.1 user unknown", "id": "n-1"}
    assert ok(writer.post("/v1/bounces", json=hard))["matched"] == 1
    assert ok(writer.post("/v1/bounces", json=hard))["duplicates"] == 1  # the provider retried its webhook
    assert consent(services.engine, ana) == {"email": False}
    delivered, bounced = events_of(admin, ana)[1:]
    assert delivered["name"] == "email_delivered" and delivered["properties"]["outbox_id"]
    assert bounced["name"] == "email_bounced" and bounced["source"] == "provider"
    assert bounced["properties"]["type"] == "hard" and bounced["properties"]["reason"] == "550 5.1.1 user unknown"
    assert bounced["properties"]["consent_withdrawn"] is True and bounced["properties"]["template"] == "news"

    batch = [
        {"type": "soft", "email": "BO@example.com", "reason": "mailbox full"},
        {"type": "complaint", "email": "cy@example.com", "provider": "ses"},
        {"type": "hard", "email": "nobody@example.com"},
    ]
    result = ok(writer.post("/v1/bounces", json=batch))
    assert (result["received"], result["matched"]) == (3, 2)
    assert consent(services.engine, bo) == {} and events_of(admin, bo)[-1]["properties"]["type"] == "soft"
    assert consent(services.engine, cy) == {"email": False}
    assert events_of(admin, cy)[-1]["name"] == "spam_complaint"

    assert ok(writer.post("/v1/bounces", json={"type": "unsubscribe", "email": "bo@example.com"}))["matched"] == 1
    assert consent(services.engine, bo) == {"email": False} and events_of(admin, bo)[-1]["name"] == "unsubscribed"

    for body, pointer in [
        ({"type": "hard"}, ""),
        ([{"type": "hard", "email": "a@b.c"}, {"type": "soft"}], "/1"),
        ({"type": "bounced", "email": "a@b.c"}, "/type"),
    ]:
        response = writer.post("/v1/bounces", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["problems"][0]["pointer"] == pointer
    assert writer.post("/v1/bounces", json=[hard] * 501).status_code == 400
    assert admin.client.post("/v1/bounces", json=hard).status_code == 401


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.token = ""
        self.shown: list[str] = []
        self.checked: list[str] = []

    @classmethod
    def parse(cls, body: str) -> _Form:
        form = cls()
        form.feed(body)
        return form

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag != "input":
            return
        if values.get("name") == "token":
            self.token = values["value"]
        elif values.get("name") == "shown":
            self.shown.append(values["value"])
        elif values.get("name") == "subscribed" and "checked" in values:
            self.checked.append(values["value"])


def test_test_sends_have_working_links_but_record_nothing(admin, client, services, workspace, smtp_server):
    template_id = make_template(services, workspace.id, "promo", mjml=NEWS_MJML)
    contact_id = add_contact(services.sessions, workspace.id, email="ana@example.com", locale="es")
    ok(admin.post(f"/api/templates/{template_id}/test-send", json={"contact_id": contact_id}))
    ok(admin.post(f"/api/templates/{template_id}/test-send", json={"to": "me@agency.test"}))
    mails = smtp_server.wait_for(2)
    assert len(mails) == 2
    notices = ["Este enlace procede de un mensaje de prueba", "This link comes from a test message"]
    for mail, notice in zip(mails, notices, strict=True):
        found = links(mail)
        pixel = next(src for src in found.images if "/t/o/" in src)
        click = next(h for h in found.hrefs if "/t/c/" in h)
        assert client.get(path(pixel)).status_code == 200
        response = client.get(path(click), follow_redirects=False)
        assert response.status_code == 302 and response.headers["location"].startswith("https://acme.test/blog")
        assert mail.message["List-Unsubscribe"] is None  # test sends are not marketing
        unsubscribe = path(next(h for h in found.hrefs if "/t/u/" in h))  # the template's own link
        page = client.get(unsubscribe)
        assert page.status_code == 200 and notice in page.text
        assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert consent(services.engine, contact_id) == {}
    assert [e for e in events_of(admin, contact_id) if e["source"] == "tracking"] == []


def test_a_database_failure_on_a_tracking_route_is_a_503_page_not_a_500(tmp_path):
    from litestar.testing import TestClient

    from backend.api.app import create_app
    from backend.config import load_settings
    from backend.db.session import make_engine
    from backend.services import Services

    settings = load_settings(secret_key="s" * 32, var_dir=str(tmp_path), dev_inbox=False)
    services = Services.create(settings, engine=make_engine("sqlite://"))  # a database with no tables at all
    signer, pid = Signer(settings.secret_key), "A" * 22
    unsubscribe = f"/t/u/{pid}/{signer.unsubscribe_sig(pid)}"
    with TestClient(create_app(services)) as client:
        for url in (f"/t/o/{pid}/{signer.open_sig(pid)}", f"/t/c/{pid}/0/{signer.click_sig(pid, 0)}", unsubscribe):
            response = client.get(url)
            assert (response.status_code, response.headers["retry-after"]) == (503, "30"), response.text[:300]
        response = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 503 and "text/html" in response.headers["content-type"]
