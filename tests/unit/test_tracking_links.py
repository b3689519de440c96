"""The per-message tracking rewrite (no database): which links are tracked, what is stored, signatures."""

from __future__ import annotations

import base64
import hmac
import re
from html.parser import HTMLParser

import pytest

from backend.config import load_settings
from backend.tracking.i18n import language
from backend.tracking.links import Tracker, redirect_location
from backend.tracking.signing import Signer, new_public_id, plausible_id

BASE = "https://mail.acme.test"


@pytest.fixture
def tracker(tmp_path) -> Tracker:
    return Tracker(load_settings(secret_key="k" * 32, var_dir=str(tmp_path), dev_inbox=False, base_url=BASE))


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "a" and values.get("href") is not None:
            self.hrefs.append(values["href"])
        if tag == "img":
            self.images.append(values.get("src") or "")


def parse(body: str) -> _Collect:
    collector = _Collect()
    collector.feed(body)
    return collector


EMAIL = """<!doctype html><html><body><div>
<a href="https://acme.test/a?x=1&amp;y=2">First</a>
<A class="btn" HREF='http://acme.test/b'>Second</A>
<a href=https://acme.test/c>Unquoted</a>
<a href="mailto:help@acme.test">Mail us</a> <a href="tel:+48123">Call</a> <a href="#top">Top</a>
<a href="/relative">Relative</a> <a name="anchor">No href</a>
<a data-href="https://acme.test/not-this" href="https://acme.test/d" title="a > b">Tricky</a>
<a href="https://acme.test/secret" data-waymark-notrack>Not tracked</a>
<a href="{unsubscribe}">Unsubscribe</a>
<a href="https://acme.test/a?x=1&amp;y=2">First again</a>
<a href="https://acme.test/e?a=1&copy=2&#38;b=3&lt;">Entities</a>
</div></body></html>"""


def test_http_links_become_signed_click_urls_and_the_originals_are_returned_in_order(tracker):
    pid = new_public_id()
    body = EMAIL.format(unsubscribe=tracker.unsubscribe_url(pid))
    out = tracker.email({"html": body, "text": "hi"}, pid, marketing=True, locale="en")
    assert out.links == [
        "https://acme.test/a?x=1&y=2",  # HTML-unescaped: what the browser would have opened
        "http://acme.test/b",
        "https://acme.test/c",
        "https://acme.test/d",
        "https://acme.test/a?x=1&y=2",  # one index per link position
        "https://acme.test/e?a=1&copy=2&b=3<",  # unterminated legacy references stay (HTML5 attributes)
    ]
    hrefs = parse(out.fields["html"]).hrefs
    clicks = [h for h in hrefs if h.startswith(f"{BASE}/t/c/")]
    assert clicks == [tracker.click_url(pid, i) for i in range(6)]
    assert "mailto:help@acme.test" in hrefs and "tel:+48123" in hrefs and "#top" in hrefs and "/relative" in hrefs
    assert "https://acme.test/secret" in hrefs  # opted out
    assert tracker.unsubscribe_url(pid) in hrefs  # our own link is never wrapped
    assert 'data-href="https://acme.test/not-this"' in out.fields["html"]
    assert 'class="btn"' in out.fields["html"] and 'title="a > b"' in out.fields["html"]


def test_the_pixel_goes_before_the_end_of_the_body(tracker):
    pid = new_public_id()
    out = tracker.email({"html": "<html><body><p>Hi</p></body></html>"}, pid, marketing=False, locale=None)
    assert out.fields["html"].endswith(f'<img src="{tracker.open_url(pid)}" width="1" height="1" alt="" '
                                       'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0" />'
                                       "</body></html>")  # fmt: skip
    assert parse(out.fields["html"]).images == [tracker.open_url(pid)]


def test_marketing_mail_gets_list_unsubscribe_headers_and_a_footer_only_when_the_template_has_no_link(tracker):
    pid = new_public_id()
    url = tracker.unsubscribe_url(pid)
    out = tracker.email({"html": "<body><p>Hi</p></body>", "text": "Hi"}, pid, marketing=True, locale="zh-CN")
    assert out.headers == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert parse(out.fields["html"]).hrefs == [url]
    assert "不想再收到这类邮件？" in out.fields["html"] and "退订" in out.fields["html"]
    assert out.fields["text"] == f"Hi\n\n不想再收到这类邮件？ 退订: {url}\n"

    own = tracker.email(
        {"html": f'<body><a href="{url}">Stop</a></body>', "text": f"Stop: {url}"}, pid, marketing=True, locale="pl"
    )
    assert parse(own.fields["html"]).hrefs == [url] and own.fields["text"] == f"Stop: {url}"

    transactional = tracker.email({"html": "<body>Receipt</body>", "text": "Receipt"}, pid, marketing=False, locale="")
    assert transactional.headers == {} and url not in transactional.fields["html"]
    assert transactional.fields["text"] == "Receipt"


def test_a_mailto_unsubscribe_is_offered_only_when_configured(tmp_path):
    settings = load_settings(
        secret_key="k" * 32,
        var_dir=str(tmp_path),
        dev_inbox=False,
        base_url=BASE,
        unsubscribe_mailto="unsubscribe@acme.test",
    )
    tracker = Tracker(settings)
    pid = new_public_id()
    out = tracker.email({"html": "<body></body>"}, pid, marketing=True, locale="en")
    assert out.headers["List-Unsubscribe"] == (
        f"<{tracker.unsubscribe_url(pid)}>, <mailto:unsubscribe@acme.test?subject=unsubscribe%20{pid}>"
    )


def test_tracking_can_be_turned_off(tmp_path):
    settings = load_settings(
        secret_key="k" * 32, var_dir=str(tmp_path), dev_inbox=False, track_opens=False, track_clicks=False
    )
    out = Tracker(settings).email(
        {"html": '<body><a href="https://x.test">x</a></body>'}, "p" * 22, marketing=False, locale=""
    )
    assert out.fields["html"] == '<body><a href="https://x.test">x</a></body>' and out.links == []


def test_signatures_are_bound_to_the_secret_the_message_and_the_link():
    signer, other = Signer("a" * 32), Signer("b" * 32)
    pid = new_public_id()
    sig = signer.click_sig(pid, 3)
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", sig)
    assert signer.verify(f"c/{pid}/3", sig)
    assert not other.verify(f"c/{pid}/3", sig)
    assert not signer.verify(f"c/{pid}/4", sig)
    assert not signer.verify(f"c/{new_public_id()}/3", sig)
    assert not signer.verify(f"o/{pid}", sig)
    assert not signer.verify(f"c/{pid}/3", sig[:-1] + ("A" if sig[-1] != "A" else "B"))
    assert not signer.verify(f"c/{pid}/3", sig + "x")
    assert not signer.verify(f"c/{pid}/3", "é" * 16)
    assert len({new_public_id() for _ in range(1000)}) == 1000
    assert plausible_id(pid) and not plausible_id("short") and not plausible_id("x" * 22 + "\x00")


def test_the_signature_is_truncated_hmac_sha256_in_base64url():
    signer = Signer("a secret of more than thirty-two characters")
    for text in ("", "o/x", "c/" + "p" * 22 + "/12", "é" * 100):
        assert signer.mac(text.encode()) == hmac.digest(signer.key, text.encode(), "sha256")
        expected = base64.urlsafe_b64encode(hmac.digest(signer.key, text.encode(), "sha256")[:12]).decode()
        assert signer.sign(text) == expected
    assert signer.key == hmac.digest(
        b"a secret of more than thirty-two characters", b"waymark/tracking-links/v1", "sha256"
    )


def test_non_ascii_urls_are_percent_encoded_for_the_location_header():
    assert redirect_location("https://acme.test/a?b=c&d=e#f") == "https://acme.test/a?b=c&d=e#f"
    assert redirect_location("https://acme.test/zażółć?q=中文") == (
        "https://acme.test/za%C5%BC%C3%B3%C5%82%C4%87?q=%E4%B8%AD%E6%96%87"
    )


def test_the_language_comes_from_the_first_supported_candidate():
    assert language("pl-PL") == "pl" and language("zh_Hant") == "zh-CN" and language("es-419") == "es"
    assert language(None, "fr-FR,fr;q=0.9,pl;q=0.8,en;q=0.5", "en") == "pl"
    assert language("de", "", None) == "en" and language() == "en"
    assert language("english") == "en"  # not a tag we know: the default
