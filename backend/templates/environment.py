"""The Jinja2 sandbox every message template runs in.

* ``ImmutableSandboxedEnvironment``: no access to dunder/internal attributes, no mutating the data a
  template is given, ``str.format`` sandboxed. An unsafe attribute raises :class:`SecurityError` at
  once instead of quietly rendering as empty (so ``{{ ''.__class__ }}`` is refused, not hidden).
* Missing values never crash a send: an undefined value renders as nothing, chains (``a.b.c``),
  compares false, iterates as empty and takes ``default``; the names that were missing are recorded
  so a preview can list them.
* ``html`` autoescapes (email bodies); ``text`` does not (subjects, SMS, push, webhook bodies).
* Errors carry line *and* column: Jinja reports only a line, so the source is re-tokenised to find
  the column of the token the parser stopped at.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.core import UnknownLocaleError
from jinja2 import ChainableUndefined, TemplateSyntaxError, pass_context
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.lexer import TokenStream, newline_re
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing as _MISSING_OBJ

__all__ = [
    "SecurityError",
    "TemplateProblem",
    "TemplateRenderError",
    "compile_jinja",
    "html_env",
    "locate",
    "recording_missing",
    "syntax_problems",
    "text_env",
]

_missing: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("waymark_missing", default=None)


class LenientUndefined(ChainableUndefined):
    """Missing data renders as nothing and never raises; ``default`` still sees it as missing."""

    __slots__ = ()

    def __init__(self, hint=None, obj=_MISSING_OBJ, name=None, exc=UndefinedError) -> None:
        if exc is SecurityError:  # defence in depth: unsafe_undefined raises before this
            raise SecurityError(hint or f"access to attribute {name!r} is unsafe")
        super().__init__(hint, obj, name, exc)
        seen = _missing.get()
        if seen is not None and name is not None and len(seen) < 200:
            seen.append(str(name))

    def _lenient(self, *args: Any, **kwargs: Any) -> LenientUndefined:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _lenient
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _lenient
    __mod__ = __rmod__ = __pow__ = __rpow__ = __neg__ = __pos__ = _lenient
    __call__ = _lenient

    def __getattr__(self, name: str) -> LenientUndefined:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._child(name)

    def __getitem__(self, key: Any) -> LenientUndefined:
        return self._child(str(key))

    def _child(self, name: str) -> LenientUndefined:
        parent = self._undefined_name
        return type(self)(obj=self, name=f"{parent}.{name}" if parent else name)

    def _false(self, other: Any) -> bool:
        return False

    __lt__ = __le__ = __gt__ = __ge__ = _false

    def __int__(self) -> int:
        return 0

    def __float__(self) -> float:
        return 0.0


class recording_missing:
    """Collect the names of undefined values looked up while rendering (for previews)."""

    def __enter__(self) -> list[str]:
        self.names: list[str] = []
        self._token = _missing.set(self.names)
        return self.names

    def __exit__(self, *exc: object) -> None:
        _missing.reset(self._token)
        # ``a.b.c`` was recorded as ``a``, ``a.b``, ``a.b.c``: keep the longest paths only.
        unique = list(dict.fromkeys(self.names))
        self.names[:] = [n for n in unique if not any(o.startswith(n + ".") for o in unique)]


class WaymarkSandbox(ImmutableSandboxedEnvironment):
    def unsafe_undefined(self, obj: Any, attribute: str):
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def getattr(self, obj: Any, attribute: str):
        # Data first: ``contact.items`` is the contact's ``items`` attribute, not ``dict.items``.
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)


# -- filters -------------------------------------------------------------------------------------


def _locale(ctx) -> str:
    """The message's locale in Babel's spelling (``zh-CN`` → ``zh_CN``; Babel refuses the hyphen)."""
    loc = ctx.get("locale")
    return loc.replace("-", "_") if isinstance(loc, str) and loc else "en"


def _as_datetime(value: Any) -> datetime | date | None:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, int | float):
        from datetime import UTC

        return datetime.fromtimestamp(value, UTC)
    return None


def _unparsed(value: Any) -> str:
    """What a locale filter shows for a value it cannot read: nothing for a missing one, else as-is."""
    return "" if isinstance(value, ChainableUndefined) or value is None else str(value)


def _in_locale(ctx, render: Callable[[str], str]) -> str:
    """Format in the message's locale, or in English when Babel does not know that locale."""
    try:
        return render(_locale(ctx))
    except (ValueError, LookupError, UnknownLocaleError):
        return render("en")


def _zone(ctx):
    from babel import dates

    try:
        return dates.get_timezone(ctx.get("timezone") or "UTC")
    except LookupError:
        return dates.get_timezone("UTC")


@pass_context
def _date(ctx, value: Any, format: str = "medium") -> str:
    from babel import dates

    moment = _as_datetime(value)
    if moment is None:
        return _unparsed(value)
    return _in_locale(ctx, lambda locale: dates.format_date(moment, format=format, locale=locale))


@pass_context
def _datetime(ctx, value: Any, format: str = "medium") -> str:
    from babel import dates

    moment = _as_datetime(value)
    if moment is None:
        return _unparsed(value)
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    tzinfo = _zone(ctx)
    return _in_locale(ctx, lambda locale: dates.format_datetime(moment, format=format, tzinfo=tzinfo, locale=locale))


def _number_value(value: Any) -> float | Decimal | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return None
    return None


@pass_context
def _number(ctx, value: Any, format: str | None = None) -> str:
    from babel import numbers

    number = _number_value(value)
    if number is None:
        return _unparsed(value)
    return _in_locale(ctx, lambda locale: numbers.format_decimal(number, format=format, locale=locale))


@pass_context
def _currency(ctx, value: Any, currency: str = "USD") -> str:
    from babel import numbers

    number = _number_value(value)
    if number is None:
        return _unparsed(value)
    return _in_locale(ctx, lambda locale: numbers.format_currency(number, currency, locale=locale))


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Like Jinja's ``default``, but a ``null`` attribute counts as missing too (identify calls send
    ``null`` for unknown traits, and "Hi None" is never what a marketer meant)."""
    if value is None or isinstance(value, ChainableUndefined) or (boolean and not value):
        return default_value
    return value


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _make(autoescape: bool) -> WaymarkSandbox:
    env = WaymarkSandbox(
        autoescape=autoescape,
        undefined=LenientUndefined,
        extensions=["jinja2.ext.loopcontrols"],
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(default=_default, d=_default, date=_date, datetime=_datetime, number=_number, currency=_currency)
    return env


html_env = _make(True)
"""For HTML email bodies: every ``{{ value }}`` is escaped."""
text_env = _make(False)
"""For subjects, plain text, SMS, push and webhook bodies."""


# -- errors with line and column -----------------------------------------------------------------


@dataclass
class TemplateProblem:
    """A problem in one field of a template; ``pointer`` is a JSON pointer such as ``/email/mjml``."""

    pointer: str
    message: str
    line: int | None = None
    column: int | None = None

    def describe(self) -> str:
        where = ""
        if self.line is not None:
            where = f"line {self.line}" + (f", column {self.column}" if self.column is not None else "") + ": "
        return where + self.message


class TemplateRenderError(Exception):
    """Rendering one message failed (a bug in the template, not in the data): a permanent failure."""

    def __init__(self, problem: TemplateProblem) -> None:
        super().__init__(f"{problem.pointer}: {problem.describe()}")
        self.problem = problem


def _normalise(source: str) -> str:
    return "\n".join(newline_re.split(source)[::2])


def _line_col(source: str, offset: int) -> tuple[int, int]:
    offset = max(0, min(offset, len(source)))
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


_UNEXPECTED_CHAR = re.compile(r"unexpected char .* at (\d+)$")
_UNEXPECTED_CHAR_AT = re.compile(r"(?<=unexpected char '.') at \d+$|(?<=unexpected char \".\") at \d+$")


def locate(env: WaymarkSandbox, source: str, exc: TemplateSyntaxError) -> tuple[int | None, int | None]:
    """Line and column (1-based) of a syntax error in ``source``."""
    text = _normalise(source)
    match = _UNEXPECTED_CHAR.search(exc.message or "")
    if match:
        return _line_col(text, int(match.group(1)))
    lexer = env.lexer
    offsets: list[int] = []
    raw: list[tuple[int, str, str]] = []
    pos = 0
    try:
        for lineno, token, value in lexer.tokeniter(text, None):
            found = text.find(value, pos) if value else pos
            start = found if found >= 0 else pos
            offsets.append(start)
            raw.append((lineno, token, value))
            pos = start + len(value)
    except TemplateSyntaxError:
        # A lexer error: it stopped right after the last token it could read.
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        line, column = _line_col(text, pos)
        if exc.lineno and exc.lineno != line:
            return exc.lineno, None
        return line, column

    # A parser error: replay the parse over the same tokens and see which one it stopped at.
    where: dict[int, int] = {}
    current = [0]
    keep: list[Any] = []

    def numbered():
        for index, item in enumerate(raw):
            current[0] = index
            yield item

    def tokens():
        for tok in lexer.wrap(numbered(), None, None):
            where[id(tok)] = offsets[current[0]]
            keep.append(tok)
            yield tok

    parser = Parser(env, text)
    parser.stream = TokenStream(tokens(), None, None)
    try:
        parser.parse()
    except TemplateSyntaxError as again:
        tok = parser.stream.current
        offset = where.get(id(tok), len(text) if tok.type == "eof" else None)
        if offset is not None:
            line, column = _line_col(text, offset)
            if again.lineno in (None, line):
                return line, column
        return again.lineno, None
    return exc.lineno, None


def syntax_problems(source: str, pointer: str, *, html: bool = False) -> list[TemplateProblem]:
    """Empty when ``source`` parses; otherwise one problem with line and column."""
    env = html_env if html else text_env
    try:
        env.parse(source)
    except TemplateSyntaxError as exc:
        line, column = locate(env, source, exc)
        message = _UNEXPECTED_CHAR_AT.sub("", exc.message or "syntax error")
        return [TemplateProblem(pointer, message, line, column)]
    return []


def compile_jinja(source: str, field: str, *, html: bool = False):
    """Compile one field; the filename makes runtime errors point back at ``field``'s lines."""
    env = html_env if html else text_env
    code = env.compile(source, name=field, filename=f"<{field}>")
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def runtime_line(exc: BaseException, field: str) -> int | None:
    """The template line a render-time error happened on (Jinja rewrites tracebacks to point there)."""
    tb = exc.__traceback__
    line = None
    filename = f"<{field}>"
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


TemplateError = TemplateError
