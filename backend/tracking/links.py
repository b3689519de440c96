"""Tracking applied to a rendered email, on the sending hot path (one call per message).

:meth:`Tracker.email` takes the rendered fields and returns them with

* every ``<a href="http(s)://…">`` rewritten to a signed click URL naming the link's index (not
  ``mailto:``/``tel:``/anchors/relative links, not Waymark's own ``/t/`` links such as the unsubscribe
  link, not links marked ``data-waymark-notrack``) — the original URLs come back as ``links``, to be
  stored on the outbox row;
* a 1x1 open pixel before ``</body>``;
* for marketing messages: an unsubscribe footer when the template has no ``{{ message.unsubscribe_url }}``
  of its own, and ``List-Unsubscribe`` / ``List-Unsubscribe-Post`` headers (RFC 2369, RFC 8058).

One regular-expression pass over the HTML and one HMAC per link: ~20 µs for a typical MJML email (see
``bench/tracking.py``). The ``text/plain`` part's ``http(s)://`` URLs are rewritten the same way, a URL
that is also a link of the HTML getting that link's index (a click is the same click from either part),
so a reader of the plain-text part is not untracked.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from backend.tracking import i18n
from backend.tracking.signing import Signer

_LINK = re.compile(
    r"""<a\s[^>]*?(?P<href>)(?<![\w:.-])href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE
)
"""From ``<a `` to the end of its ``href`` value (the last group matched, by quoting; ``href`` marks where
the attribute starts): the rest of the tag stays as it is. An anchor whose ``href`` follows an attribute
value containing ``>`` is left untracked."""
_NOTRACK = re.compile(r"(?<![\w-])data-waymark-notrack(?![\w-])", re.IGNORECASE)
_TEXT_URL = re.compile(r"https?://[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
"""A URL in plain text: up to a space, a quote or a bracket (html_to_text writes ``label (url)``)."""
_TRAILING = ".,;:!?"
_CHARREF = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_LOCATION_SAFE = "%/:=&?~#+!$,;'@()*[]"

PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
"""A transparent 1x1 GIF (43 bytes)."""


@dataclass
class TrackedEmail:
    fields: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)


def redirect_location(url: str) -> str:
    """A stored link as a ``Location`` header value: non-ASCII percent-encoded (UTF-8), the rest as is."""
    return url if url.isascii() else quote(url, safe=_LOCATION_SAFE)


class Tracker:
    def __init__(self, settings: Any) -> None:
        self.base = settings.base_url.rstrip("/")
        self.prefix = self.base + "/t/"
        self.signer = Signer(settings.secret_key)
        self.opens = settings.track_opens
        self.clicks = settings.track_clicks
        self.mailto = settings.unsubscribe_mailto
        self._footers: dict[str, tuple[str, str]] = {}

    # -- URLs --------------------------------------------------------------------------------------

    def open_url(self, public_id: str) -> str:
        return f"{self.prefix}o/{public_id}/{self.signer.open_sig(public_id)}"

    def click_url(self, public_id: str, index: int) -> str:
        return f"{self.prefix}c/{public_id}/{index}/{self.signer.click_sig(public_id, index)}"

    def unsubscribe_url(self, public_id: str) -> str:
        return f"{self.prefix}u/{public_id}/{self.signer.unsubscribe_sig(public_id)}"

    def template_vars(self, public_id: str) -> dict[str, str]:
        """Added to the ``message`` template variable of every message: ``{{ message.unsubscribe_url }}``
        (the same page is the preference page: ``{{ message.preferences_url }}``)."""
        url = self.unsubscribe_url(public_id)
        return {"unsubscribe_url": url, "preferences_url": url}

    # -- the hot path ------------------------------------------------------------------------------

    def email(self, fields: dict[str, Any], public_id: str, *, marketing: bool, locale: str | None) -> TrackedEmail:
        out = TrackedEmail(dict(fields))
        body = out.fields.get("html") or ""
        unsubscribe = self.unsubscribe_url(public_id) if marketing else None
        if body and self.clicks:
            body = self.rewrite_links(body, public_id, out.links)
        if body and (self.opens or unsubscribe):
            tail = ""
            if unsubscribe and unsubscribe not in body:
                tail += self._html_footer(unsubscribe, locale)
            if self.opens:
                tail += (
                    f'<img src="{self.open_url(public_id)}" width="1" height="1" alt="" '
                    'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0" />'
                )
            body = _before_body_end(body, tail)
        if body:
            out.fields["html"] = body
        if self.clicks and out.fields.get("text"):
            out.fields["text"] = self.rewrite_text_links(out.fields["text"], public_id, out.links)
        if unsubscribe:
            text = out.fields.get("text") or ""
            if unsubscribe not in text:
                lang = i18n.language(locale)
                out.fields["text"] = (
                    f"{text.rstrip()}\n\n{i18n.text(lang, 'footer_question')} "
                    f"{i18n.text(lang, 'footer_link')}: {unsubscribe}\n"
                )
            targets = f"<{unsubscribe}>"
            if self.mailto:
                targets += f", <mailto:{self.mailto}?subject=unsubscribe%20{public_id}>"
            out.headers["List-Unsubscribe"] = targets
            out.headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return out

    def rewrite_links(self, body: str, public_id: str, links: list[str]) -> str:
        prefix = self.prefix
        sign = self.signer.click_sig
        click_base = f"{html.escape(prefix)}c/{public_id}/"
        notrack = "data-waymark-notrack" in body

        def replace(match: re.Match[str]) -> str:
            raw = match.group(match.lastindex)  # type: ignore[arg-type]
            head = raw[:8].lower()
            if not (head.startswith("https://") or head.startswith("http://")):
                return match.group(0)  # mailto:, tel:, #anchors, relative links stay as they are
            url = _attribute_value(raw) if "&" in raw else raw
            if url.startswith(prefix) or not url.isprintable() or " " in url:
                return match.group(0)  # our own links (unsubscribe), control characters, spaces
            if notrack and _NOTRACK.search(body, match.start(), body.find(">", match.end()) + 1 or len(body)):
                return match.group(0)
            index = len(links)
            links.append(url)
            start = match.start()
            return f'{body[start : match.start("href")]}href="{click_base}{index}/{sign(public_id, index)}"'

        return _LINK.sub(replace, body)

    def rewrite_text_links(self, text: str, public_id: str, links: list[str]) -> str:
        """The plain-text part's URLs as click URLs; ``links`` (the HTML's, so far) grows by the URLs
        that only the text has."""
        prefix = self.prefix
        index_of = {url: i for i, url in reversed(list(enumerate(links)))}

        def replace(match: re.Match[str]) -> str:
            found = match.group(0)
            url = found.rstrip(_TRAILING)
            if url.startswith(prefix) or not url.isprintable():
                return found
            index = index_of.get(url)
            if index is None:
                index = index_of[url] = len(links)
                links.append(url)
            return self.click_url(public_id, index) + found[len(url) :]

        return _TEXT_URL.sub(replace, text)

    def _html_footer(self, url: str, locale: str | None) -> str:
        lang = i18n.language(locale)
        before, after = self._footers.get(lang) or self._footer_parts(lang)
        return f"{before}{html.escape(url)}{after}"

    def _footer_parts(self, lang: str) -> tuple[str, str]:
        question = html.escape(i18n.text(lang, "footer_question"))
        link = html.escape(i18n.text(lang, "footer_link"))
        parts = (
            '<p style="font-family:Arial,Helvetica,sans-serif;font-size:12px;line-height:1.5;color:#6b7280;'
            f'text-align:center;margin:16px 0">{question} <a href="',
            f'" style="color:#6b7280;text-decoration:underline">{link}</a></p>',
        )
        self._footers[lang] = parts
        return parts


def _attribute_value(raw: str) -> str:
    """An attribute's text as a browser reads it: character references decoded, except the legacy
    unterminated ones (``?a=1&copy=2`` stays as written, as in HTML5 attribute values)."""
    if "&" not in raw:
        return raw
    return _CHARREF.sub(lambda m: html.unescape(m.group(0)), raw)


def _before_body_end(body: str, tail: str) -> str:
    at = body.rfind("</body>")
    if at < 0:
        at = body.rfind("</BODY>")
    if at < 0:
        return body + tail
    return body[:at] + tail + body[at:]
