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
* Bounded: every render runs under a budget of CPU time, output, value sizes and loop iterations
  (backend/templates/limits.py). The sandbox intercepts what can grow a value (``*``, ``**``, ``+``,
  ``%``, ``~``, calls, filters, ``range``, ``lipsum``, ``str.format``), wraps every ``for`` loop's
  iterable, and joins captured text only after measuring it; a limit raises
  :class:`RenderLimitError` inside the template, at its line.
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
from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes, pass_context, pass_environment, pass_eval_context
from jinja2.compiler import CodeGenerator
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.filters import make_attrgetter
from jinja2.lexer import TokenStream, newline_re
from jinja2.parser import Parser
from jinja2.runtime import LoopContext, Macro
from jinja2.runtime import markup_join as _jinja_markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import _PassArg, generate_lorem_ipsum
from jinja2.utils import missing as _MISSING_OBJ
from markupsafe import Markup

from backend.templates.limits import (
    RenderLimitError,
    binop,
    current,
    join_size,
    lipsum_size,
    materialise,
    method_call,
    percent_size,
    rendering,
    replace_size,
    spec_size,
    text_size,
)

__all__ = [
    "RenderLimitError",
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


# -- bounded rendering (backend/templates/limits.py) ------------------------------------------------


class BoundedCodeGenerator(CodeGenerator):
    """Every ``for`` loop iterates ``environment.guard_loop(iterable)``, which counts each iteration
    against the render's budget (Jinja allows no custom node types, so the guard is a call node)."""

    def visit_For(self, node: nodes.For, frame) -> None:
        iterable = node.iter
        if not (
            isinstance(iterable, nodes.Call)
            and isinstance(iterable.node, nodes.EnvironmentAttribute)
            and iterable.node.name == "guard_loop"
        ):
            guard = nodes.EnvironmentAttribute("guard_loop", lineno=iterable.lineno)
            node.iter = nodes.Call(guard, [iterable], [], None, None, lineno=iterable.lineno)
        super().visit_For(node, frame)


def _measured_join(seq: tuple[Any, ...], what: str = "~") -> None:
    budget = current()
    budget.tick()
    cap = budget.limits.max_value + 1
    total = 0
    for part in seq:
        total += text_size(part, cap)
        if total > cap:
            break
    budget.value(total, f"joining with {what}")


def _str_join(seq: tuple[Any, ...]) -> str:
    _measured_join(seq)
    return "".join(map(str, seq))


def _markup_join(seq: tuple[Any, ...]) -> str:
    _measured_join(seq)
    return _jinja_markup_join(seq)


def _concat(parts: Any) -> str:
    """Joins what a macro, ``{% set %}`` or ``{% filter %}`` block captured (``environment.concat``)."""
    return current().captured(parts if isinstance(parts, list) else list(parts))


class BoundedTemplate(Template):
    """A template whose render always runs under a budget: the message's, when one is being rendered
    (``with rendering(limits)``), else a fresh one with the default limits."""

    @classmethod
    def _from_namespace(cls, environment, namespace, globals):
        # The compiled module imported these from jinja2.runtime; ``~`` must measure before joining.
        namespace["str_join"] = _str_join
        namespace["markup_join"] = _markup_join
        return super()._from_namespace(environment, namespace, globals)

    def render(self, *args: Any, **kwargs: Any) -> str:
        budget = current()
        if budget.metered:
            return self._render_in(budget, args, kwargs)
        with rendering() as fresh:
            return self._render_in(fresh, args, kwargs)

    def _render_in(self, budget, args, kwargs) -> str:
        ctx = self.new_context(dict(*args, **kwargs))
        try:
            return budget.collect(self.root_render_func(ctx))
        except Exception:
            try:
                self.environment.handle_exception()  # re-raises with the template's lines in the traceback
            except RecursionError as exc:
                raise RenderLimitError(
                    "recursion", "too deeply nested: a macro or a recursive loop calls itself too many times"
                ) from exc
            except MemoryError as exc:
                raise RenderLimitError("memory", "ran out of memory while rendering") from exc


class _BoundedFormat:
    """``str.format`` that sizes each field (``'{:>999999999}'``, ``'{0!r}'``) before formatting it."""

    _total = 0

    def vformat(self, format_string, args, kwargs):
        self._total = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value, conversion):
        if conversion is not None:
            budget = current()
            budget.value(text_size(value, budget.limits.max_value + 1) * 4, "this format", charge=False)
        return super().convert_field(value, conversion)

    def format_field(self, value, format_spec):
        budget = current()
        budget.tick()
        self._total += spec_size(value, format_spec, budget.limits.max_value + 1)
        budget.value(self._total, "this format", charge=False)
        return super().format_field(value, format_spec)


class _BoundedFormatter(_BoundedFormat, SandboxedFormatter):
    pass


class _BoundedEscapeFormatter(_BoundedFormat, SandboxedEscapeFormatter):
    pass


class WaymarkSandbox(ImmutableSandboxedEnvironment):
    code_generator_class = BoundedCodeGenerator
    template_class = BoundedTemplate
    intercepted_binops = frozenset({"+", "*", "**", "%"})
    concat = staticmethod(_concat)

    @staticmethod
    def guard_loop(iterable: Any) -> Any:
        return current().loop(iterable)

    def unsafe_undefined(self, obj: Any, attribute: str):
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def getattr(self, obj: Any, attribute: str):
        budget = current()
        budget.ticks += 1
        if budget.ticks >= budget.next_check:
            budget.tick(0)
        # Data first: ``contact.items`` is the contact's ``items`` attribute, not ``dict.items``.
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any):
        current().tick()
        return super().getitem(obj, argument)

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        binop(operator, left, right)
        return self.binop_table[operator](left, right)

    def call(self, context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.tick()
        if not self.is_safe_callable(obj):
            raise SecurityError(f"{obj!r} is not safely callable")
        if isinstance(obj, Macro):  # its text was measured when it was joined
            return context.call(obj, *args, **kwargs)
        if isinstance(obj, LoopContext):  # ``loop(children)`` in a recursive loop
            if args:
                args = (budget.loop(args[0]), *args[1:])
            return context.call(obj, *args, **kwargs)
        name = getattr(obj, "__name__", None) or "this call"
        owner = getattr(obj, "__self__", None)
        if owner is not None:
            args = method_call(owner, name, args, kwargs)
        return budget.made(context.call(obj, *args, **kwargs), f"{name}()")

    def wrap_str_format(self, value: Any):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        owner = value.__self__
        formatter: SandboxedFormatter
        if hasattr(owner, "__html__"):
            formatter = _BoundedEscapeFormatter(self, escape=owner.escape)
        else:
            formatter = _BoundedFormatter(self)
        str_type = type(owner)
        is_format_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument and no keywords")
                kwargs, args = args[0], ()
            return current().made(str_type(formatter.vformat(owner, args, kwargs)), "this format")

        bounded.__name__ = value.__name__
        return bounded


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
            number = Decimal(value)
        except ArithmeticError:
            return None
        # "1e999999999" is a valid Decimal that Babel would print with a billion zeros.
        return number if number.is_finite() and abs(number.adjusted()) <= 1000 else None
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


_PRINTS_SMALL = frozenset({str, Markup, int, float, bool, LenientUndefined})


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` passes here before it becomes text: a list is sized before it prints."""
    if value is None:
        return ""
    if type(value) not in _PRINTS_SMALL:
        budget = current()
        budget.tick()
        budget.value(text_size(value, budget.limits.max_value + 1), "printing this", charge=False)
    return value


# -- filters and globals, bounded ------------------------------------------------------------------

_STRUCTURAL = frozenset(
    {
        "abs", "attr", "batch", "count", "d", "default", "dictsort", "filesizeformat", "first", "float",
        "groupby", "int", "items", "join", "last", "length", "list", "map", "max", "min", "random",
        "reject", "rejectattr", "replace", "reverse", "round", "select", "selectattr", "slice", "sort",
        "sum", "unique",
    }
)  # fmt: skip
"""Filters that do not turn their input into text (the others are sized first when it is not text)."""

_UNGUARDED = frozenset(
    {"abs", "attr", "count", "d", "default", "filesizeformat", "first", "float", "int", "last", "length", "random",
     "round"}
)  # fmt: skip
"""Filters that return one of their arguments, or a number or short text: nothing to measure (and
``default`` runs in nearly every template)."""


def _int(value: Any) -> int:
    return abs(value) if isinstance(value, int) else 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _check_center(budget, context, value, width=80):
    budget.value(max(len(_text(value)), _int(width)), "|center", charge=False)
    return value


def _check_indent(budget, context, s, width=4, first=False, blank=False):
    text = _text(s)
    pad = len(width) if isinstance(width, str) else _int(width)
    budget.value(len(text) + (text.count("\n") + 1) * pad, "|indent", charge=False)
    return s


def _check_format(budget, context, value, *args, **kwargs):
    budget.value(percent_size(_text(value), kwargs or args, budget.limits.max_value), "|format", charge=False)
    return value


def _check_join(budget, context, value, d="", attribute=None):
    items = materialise(value)
    measured = items if attribute is None else list(map(make_attrgetter(context.environment, attribute), items))
    budget.value(join_size(d, measured, budget.limits.max_value + 1), "|join", charge=False)
    return items


def _check_replace(budget, context, s, old, new, count=None):
    text = _text(s)
    budget.value(replace_size(text, _text(old), _text(new), -1 if count is None else count), "|replace", charge=False)
    return s


def _check_batch(budget, context, value, linecount, fill_with=None):
    if fill_with is not None:
        budget.value(_int(linecount) * (text_size(fill_with) + 2), "|batch", charge=False)
    return value


def _check_slice(budget, context, value, slices, fill_with=None):
    budget.range_size(_int(slices))
    return value


def _check_wordwrap(budget, context, s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True):
    text = _text(s)
    separator = len(_text(wrapstring)) if wrapstring is not None else 2
    lines = len(text) // max(1, _int(width)) + text.count("\n") + 1
    budget.value(len(text) + lines * separator, "|wordwrap", charge=False)
    return s


def _check_tojson(budget, context, value, indent=None):
    pad = len(indent) if isinstance(indent, str) else _int(indent)
    budget.value(text_size(value, budget.limits.max_value + 1) * (1 + pad), "|tojson", charge=False)
    return value


_CHECKS = {
    "batch": _check_batch,
    "center": _check_center,
    "format": _check_format,
    "indent": _check_indent,
    "join": _check_join,
    "replace": _check_replace,
    "slice": _check_slice,
    "tojson": _check_tojson,
    "wordwrap": _check_wordwrap,
}


@pass_environment
def _sum(environment, iterable, attribute=None, start=0):
    """``|sum``, one bounded ``+`` at a time (``[[...]]|sum(start=[])`` would copy quadratically)."""
    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    total = start
    for item in iterable:
        binop("+", total, item)
        total = total + item
    return total


_PIECE = 8192


def _pieces(text: str, split_at: str) -> list[str]:
    """``text`` cut after a ``split_at`` character about every 8 KB (slices keep ``Markup``)."""
    pieces, start = [], 0
    while len(text) - start > _PIECE:
        cut = text.find(split_at, start + _PIECE)
        if cut < 0:
            break
        pieces.append(text[start : cut + 1])
        start = cut + 1
    pieces.append(text[start:])
    return pieces


def _urlize_in_pieces(urlize: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja's urlize works word by word in Python (about 2 µs a character): run it on pieces cut at
    spaces, with a CPU check between them. The result is the same, words never span two pieces."""

    @pass_eval_context
    def urlize_pieces(eval_ctx, value, *args, **kwargs):
        text = value if isinstance(value, str) else str(value)
        if len(text) <= _PIECE:
            return urlize(eval_ctx, text, *args, **kwargs)
        out = []
        for piece in _pieces(text, " "):
            current().tick(len(piece) >> 6)
            out.append(urlize(eval_ctx, piece, *args, **kwargs))
        return Markup("").join(out) if eval_ctx.autoescape else "".join(out)

    return urlize_pieces


_WRAP_LINE = 100_000


def _wordwrap_in_pieces(wordwrap: Callable[..., Any]) -> Callable[..., Any]:
    """Jinja's wordwrap runs textwrap (pure Python) line by line: wrap groups of lines with a CPU
    check between them; one line may not be longer than 100,000 characters."""

    @pass_environment
    def wordwrap_pieces(environment, s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True):
        text = s if isinstance(s, str) else str(s)
        if len(text) <= _PIECE:
            return wordwrap(environment, text, width, break_long_words, wrapstring, break_on_hyphens)
        separator = environment.newline_sequence if wrapstring is None else wrapstring
        out = []
        for piece in _pieces(text, "\n"):
            lines = piece.splitlines()
            if any(len(line) > _WRAP_LINE for line in lines):
                raise RenderLimitError(
                    "value", f"too large: |wordwrap takes lines of at most {_WRAP_LINE:,} characters"
                )
            current().tick(len(piece) >> 6)
            out.append(wordwrap(environment, piece, width, break_long_words, separator, break_on_hyphens))
        return separator.join(out)

    return wordwrap_pieces


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """The filter, preceded by its size checks and followed by measuring its result. Always a context
    filter, so Jinja never runs it at compile time (constant folding) outside any budget."""
    pass_arg = _PassArg.from_obj(func)
    check = _CHECKS.get(name)
    stringifies = name not in _STRUCTURAL
    what = f"|{name}"

    @pass_context
    def guarded(context, value, *args, **kwargs):
        budget = current()
        budget.tick()
        if stringifies and not isinstance(value, str):
            budget.value(text_size(value, budget.limits.max_value + 1), what, charge=False)
        if check is not None:
            value = check(budget, context, value, *args, **kwargs)
        if pass_arg is _PassArg.context:
            result = func(context, value, *args, **kwargs)
        elif pass_arg is _PassArg.eval_context:
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif pass_arg is _PassArg.environment:
            result = func(context.environment, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        return budget.made(result, what)

    guarded.__name__ = getattr(func, "__name__", name)
    guarded.__doc__ = func.__doc__
    return guarded


def _range(*args: Any) -> range:
    budget = current()
    budget.tick()
    numbers = range(*args)
    try:
        size: float = len(numbers)
    except OverflowError:
        size = float("inf")
    budget.range_size(size)
    return numbers


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    lipsum_size(n, html, min, max)
    return current().made(generate_lorem_ipsum(n, html, min, max), "lipsum()")


def _make(autoescape: bool) -> WaymarkSandbox:
    env = WaymarkSandbox(
        autoescape=autoescape,
        undefined=LenientUndefined,
        extensions=["jinja2.ext.loopcontrols"],
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(
        default=_default, d=_default, date=_date, datetime=_datetime, number=_number, currency=_currency, sum=_sum
    )
    env.filters.update(
        urlize=_urlize_in_pieces(env.filters["urlize"]), wordwrap=_wordwrap_in_pieces(env.filters["wordwrap"])
    )
    env.filters = {
        name: func if name in _UNGUARDED else _guard_filter(name, func) for name, func in env.filters.items()
    }
    env.globals.update(range=_range, lipsum=_lipsum)
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
    limit: str | None = None
    """Set when a render limit stopped the template (``RenderLimitError.limit``: ``cpu``, ``output``…)."""

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
    """The template line a render-time error happened on (Jinja rewrites tracebacks to point there).
    A limit that stood for another exception (recursion, memory) takes that one's line."""
    filename = f"<{field}>"
    while exc is not None:
        tb = exc.__traceback__
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        if line is not None:
            return line
        exc = exc.__cause__  # type: ignore[assignment]
    return None


TemplateError = TemplateError
