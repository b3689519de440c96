"""MJML → an HTML *Jinja* template, once per template version.

MJML knows nothing about Jinja, and raw Jinja is not valid MJML (``href="{{ url|default("x") }}"``,
``{% if a < b %}``). So every Jinja construct is swapped for an inert placeholder, the MJML is
compiled, and the constructs are put back into the HTML. The result is stored in
``TemplateVersion.compiled`` and only Jinja runs per message.

A construct MJML drops (a placeholder inside an attribute MJML rewrites, say) is reported as a
problem at the construct's line and column rather than silently vanishing.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from backend.templates.environment import TemplateProblem, _line_col, _normalise, syntax_problems
from backend.templates.text import html_to_text

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_PLACEHOLDER = re.compile(r"wmjx(\d{6})x")

_lock = threading.Lock()
_compilations = 0


def compilations() -> int:
    """How many times MJML has been compiled in this process (tests prove it is once per version)."""
    return _compilations


@dataclass
class CompiledHtml:
    html: str
    """The HTML Jinja template."""
    line_map: list[list[int]] = field(default_factory=list)
    """``[html_line, mjml_line, mjml_column]`` per Jinja construct, to point render errors at the MJML."""
    problems: list[TemplateProblem] = field(default_factory=list)
    text: str | None = None
    """The plain-text Jinja template derived from the HTML (None: derive per message)."""


def _mjml2html(source: str) -> str:
    global _compilations
    from mjml import mjml2html

    with _lock:
        _compilations += 1
    return mjml2html(source, disable_comments=True)


def compile_mjml(source: str, pointer: str = "/email/mjml") -> CompiledHtml:
    text = _normalise(source)
    constructs: list[tuple[str, int]] = []

    def protect(match: re.Match[str]) -> str:
        constructs.append((match.group(0), match.start()))
        return f"wmjx{len(constructs) - 1:06d}x"

    protected = _JINJA.sub(protect, text)
    if not protected.lstrip().startswith("<mjml"):
        return CompiledHtml("", problems=[TemplateProblem(pointer, "an MJML document must start with <mjml>", 1, 1)])
    try:
        html = _mjml2html(protected)
    except Exception as exc:  # mjml-python raises ValueError/RuntimeError with the parser's message
        return CompiledHtml("", problems=[TemplateProblem(pointer, f"MJML does not compile: {exc}")])

    restored, line_map, seen = _restore(html, constructs, text)
    problems = []
    for index, (construct, offset) in enumerate(constructs):
        if index not in seen and not construct.startswith("{#"):
            line, column = _line_col(text, offset)
            problems.append(
                TemplateProblem(
                    pointer, f"MJML dropped {construct[:40]!r}: move it into text or an attribute", line, column
                )
            )
    # The plain-text part is derived once too, from the same placeholders; if a construct did not
    # survive into the text (an ``{% if %}`` inside a style attribute, say) the text is derived per
    # message from the rendered HTML instead.
    plain, _, _ = _restore(html_to_text(html), constructs, text)
    if syntax_problems(plain, pointer):
        plain = None
    return CompiledHtml(restored, line_map, problems, plain)


def _restore(compiled: str, constructs: list[tuple[str, int]], text: str) -> tuple[str, list[list[int]], set[int]]:
    seen: set[int] = set()
    line_map: list[list[int]] = []
    parts: list[str] = []
    last = 0
    out_line = 1
    for match in _PLACEHOLDER.finditer(compiled):
        index = int(match.group(1))
        if index >= len(constructs):
            continue
        chunk = compiled[last : match.start()]
        parts.append(chunk)
        out_line += chunk.count("\n")
        construct, offset = constructs[index]
        parts.append(construct)
        line, column = _line_col(text, offset)
        line_map.append([out_line, line, column])
        out_line += construct.count("\n")
        seen.add(index)
        last = match.end()
    parts.append(compiled[last:])
    return "".join(parts), line_map, seen


def mjml_position(line_map: list[list[int]], html_line: int | None) -> tuple[int | None, int | None]:
    """The MJML line/column of the construct nearest before ``html_line`` in the compiled HTML."""
    if html_line is None:
        return None, None
    best = None
    for entry in line_map:
        if entry[0] <= html_line:
            best = entry
        else:
            break
    return (best[1], best[2]) if best else (None, None)
