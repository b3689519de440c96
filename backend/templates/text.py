"""HTML → readable plain text, for the ``text/plain`` part of an email."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = frozenset(
    [
        "p",
        "div",
        "br",
        "tr",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "pre",
        "hr",
        "ul",
        "ol",
    ]
)
_SKIP = frozenset({"head", "style", "script", "title"})
_HIDDEN = re.compile(r"display\s*:\s*none", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.stack: list[tuple[str, bool]] = []
        self.links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        hidden = tag in _SKIP or bool(_HIDDEN.search(attributes.get("style") or ""))
        if tag not in ("br", "hr", "img", "meta", "link", "input"):
            self.stack.append((tag, hidden))
            if hidden:
                self.skip += 1
        if self.skip:
            return
        if tag in _BLOCK:
            self.out.append("\n")
        if tag == "hr":
            self.out.append("----------\n")
        if tag == "li":
            self.out.append("- ")
        if tag == "a":
            self.links.append(attributes.get("href"))
        if tag == "img" and attributes.get("alt"):
            self.out.append(attributes["alt"] or "")

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, hidden = self.stack.pop()
            if hidden:
                self.skip -= 1
            if open_tag == tag:
                break
        if self.skip:
            return
        if tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith(("mailto:", "#")):
                self.out.append(f" ({href})")
        if tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)

    def text(self) -> str:
        raw = "".join(self.out)
        lines = [_SPACES.sub(" ", line).strip() for line in raw.split("\n")]
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() + "\n"


def html_to_text(html: str) -> str:
    converter = _Converter()
    converter.feed(html)
    converter.close()
    return converter.text()
