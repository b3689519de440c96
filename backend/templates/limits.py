"""Bounded rendering: how much CPU time, output and memory one message's templates may use.

A template is code a marketer (or anyone with a viewer's preview) writes, so without limits one
``{{ 7 ** 20000000 }}`` holds the GIL for half a minute and two nested ``range(100000)`` loops stall
delivery for every workspace. Every render therefore runs under a :class:`Budget` (one per message:
all its fields share it) that the sandbox (backend/templates/environment.py) consults at fixed points:

* **Sizes are checked before anything is computed.** Operators that grow values (``*``, ``**``,
  ``+``, ``%``, ``~``), the filters and string methods that pad, repeat, join or replace, ``range``
  and ``lipsum`` estimate the size of their result first and refuse one larger than
  ``max_value`` characters (a list counts as it would print); numbers stay under 4,300 digits
  (Python's own limit for printing one). What they did build is added up: a render may build at
  most ``BUILT_FACTOR`` times ``max_value`` in all, so memory stays bounded however the values are
  kept.
* **Output** (what the message's fields finally hold) is counted as it is produced, and text that
  macros, ``{% set %}`` and ``{% filter %}`` blocks capture is measured before it is joined.
* **Loop iterations** are counted across the whole render (``max_iterations``); a ``range`` may not
  be longer either.
* **CPU time**: every checkpoint above (and every call, attribute lookup and output) ticks the
  budget; every few dozen ticks the thread's CPU clock is compared with the deadline. No single
  step between two checkpoints can run long, because the sizes it works on are bounded.

Nothing here needs a second thread or signals: the checks raise :class:`RenderLimitError` inside the
template's own code, so the error carries the template line it happened on, and the render stops
cleanly (no half-updated state, no exception injected into library code).
"""

from __future__ import annotations

import contextvars
import math
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from typing import Any

from jinja2.exceptions import TemplateRuntimeError
from jinja2.runtime import Undefined

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_INT_DIGITS",
    "Budget",
    "RenderLimitError",
    "RenderLimits",
    "current",
    "rendering",
]

MAX_INT_DIGITS = 4300
"""Largest number a template may compute, in decimal digits: Python refuses to print a longer one."""

BUILT_FACTOR = 10
"""All the values one render builds, together, may be this many times ``max_value``."""

_CHECK_EVERY = 64
"""Ticks between two looks at the CPU clock (a look costs about a microsecond)."""


@dataclass(frozen=True)
class RenderLimits:
    cpu_seconds: float = 1.0
    """CPU time one message's render may take (all its fields together); 0 turns the limit off."""
    max_output: int = 1_000_000
    """Characters one message's fields may hold in all."""
    max_value: int = 1_000_000
    """Characters of the largest single value (text, or a list as it would print)."""
    max_iterations: int = 100_000
    """Loop iterations in one message's render; also the longest ``range``."""

    @classmethod
    def from_settings(cls, settings: Any) -> RenderLimits:
        return cls(
            cpu_seconds=float(settings.template_cpu_seconds),
            max_output=int(settings.template_max_output),
            max_value=int(settings.template_max_value),
            max_iterations=int(settings.template_max_iterations),
        )


DEFAULT_LIMITS = RenderLimits()


class RenderLimitError(TemplateRuntimeError):
    """A template went over one of the render limits. ``limit`` names which: ``cpu``, ``output``,
    ``value``, ``number``, ``built``, ``iterations``, ``recursion`` or ``memory``."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


def _n(value: float) -> str:
    return f"{value:,.0f}" if value < 1e18 else f"{value:.1e}"


# -- sizes ---------------------------------------------------------------------------------------

_SMALL = (bool, float, type(None), date, datetime, dtime)


def int_digits(value: int) -> int:
    """Decimal digits of ``value`` (an upper estimate, exact enough)."""
    return int(abs(value).bit_length() * 0.30103) + 1


def text_size(obj: Any, cap: int | None = None) -> int:
    """About how many characters ``str(obj)`` would have, without building it; stops counting once
    past ``cap``. A list counts its items as they would print (quotes, commas, brackets)."""
    if isinstance(obj, str):
        return len(obj)
    stack = [obj]
    total = 0
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes | bytearray):
            total += len(item) + 3
        elif isinstance(item, int):
            total += int_digits(item) + 2
        elif isinstance(item, _SMALL):
            total += 32
        elif isinstance(item, Undefined):
            total += 2
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | type({}.keys()) | type({}.values())):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif isinstance(item, type({}.items())):
            total += 2 + 6 * len(item)
            for pair in item:
                stack.extend(pair)
        else:
            attrs = getattr(item, "_Namespace__attrs", None)  # jinja2's namespace() prints its contents
            if isinstance(attrs, dict):
                stack.append(attrs)
            total += 48
        if cap is not None and total > cap:
            return total
    return total - 3 if isinstance(obj, bytes | bytearray) else total


def sized(obj: Any) -> bool:
    """Whether ``obj`` is a value whose size the budget measures (text, bytes and containers)."""
    return isinstance(obj, str | bytes | list | tuple | dict | set | frozenset)


# -- the budget ----------------------------------------------------------------------------------


class Budget:
    """What one message's render has used so far, against its :class:`RenderLimits`."""

    __slots__ = ("built", "deadline", "iterations", "limits", "next_check", "output", "ticks")
    metered = True

    def __init__(self, limits: RenderLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.ticks = 0
        self.next_check = _CHECK_EVERY
        self.iterations = 0
        self.output = 0
        self.built = 0
        self.deadline: float | None = 0.0 if limits.cpu_seconds > 0 else None
        """The thread's CPU clock reading to stop at; set at the first check, so that the many renders
        that never reach one (a few dozen ticks) never read the clock (a microsecond each time)."""

    # time

    def tick(self, weight: int = 1) -> None:
        self.ticks += weight
        if self.ticks >= self.next_check:
            self.next_check = self.ticks + _CHECK_EVERY
            self.check_time()

    def check_time(self) -> None:
        if self.deadline is None:
            return
        now = time.thread_time()
        if not self.deadline:
            self.deadline = now + self.limits.cpu_seconds
        elif now > self.deadline:
            self.deadline = None  # raise once: the render unwinds through more checkpoints
            raise RenderLimitError(
                "cpu",
                f"took too long: more than {self.limits.cpu_seconds:g} s of CPU time for one message",
            )

    # sizes

    def value(self, size: float, what: str = "this", *, charge: bool = True) -> None:
        """Refuse a value of ``size`` characters before it is built; count it as built unless
        ``charge`` is false (an estimate checked before a call whose result is counted after it)."""
        cap = self.limits.max_value
        if size > cap:
            raise RenderLimitError(
                "value", f"too large: {what} would make {_n(size)} characters; the limit is {_n(cap)}"
            )
        if charge:
            self.add_built(int(size))

    def add_built(self, size: int) -> None:
        self.built += size
        cap = BUILT_FACTOR * self.limits.max_value
        if self.built > cap:
            raise RenderLimitError(
                "built", f"builds too much: more than {_n(cap)} characters of text and lists in one message"
            )
        if size > 4096:
            self.tick(size >> 12)

    def number(self, digits: float, what: str = "this") -> None:
        if digits > MAX_INT_DIGITS:
            raise RenderLimitError(
                "number", f"too large: {what} would have about {_n(digits)} digits; the limit is {_n(MAX_INT_DIGITS)}"
            )

    def made(self, result: Any, what: str = "this") -> Any:
        """Check and count a value some function returned (its size is known only now)."""
        if isinstance(result, str | bytes):
            self.value(len(result), what)
        elif isinstance(result, list | tuple | dict | set | frozenset):
            self.value(text_size(result, self.limits.max_value + 1), what)
        elif type(result) is int and result.bit_length() > 14_000:  # int.from_bytes(b'\xff' * 10**6)
            self.number(int_digits(result), what)
        return result

    def captured(self, parts: list[str]) -> str:
        """Join text a macro, ``{% set %}`` or ``{% filter %}`` block captured, if it is not too much."""
        size = sum(map(len, parts))
        self.value(size, "the text this block captures")
        return "".join(parts)

    # loops and output

    def range_size(self, size: float) -> None:
        cap = self.limits.max_iterations
        if size > cap:
            raise RenderLimitError("iterations", f"range too large: {_n(size)} items; the limit is {_n(cap)}")

    def loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        cap = self.limits.max_iterations
        for item in iterable:
            self.iterations += 1
            if self.iterations > cap:
                raise RenderLimitError("iterations", f"too many loop iterations: more than {_n(cap)} in one message")
            self.ticks += 1
            if self.ticks >= self.next_check:
                self.next_check = self.ticks + _CHECK_EVERY
                self.check_time()
            yield item

    def collect(self, parts: Iterator[str]) -> str:
        """Join a template's top-level output, stopping it (at the line it was on) once too long."""
        cap = self.limits.max_output
        out: list[str] = []
        append = out.append
        total = self.output
        for part in parts:
            total += len(part)
            if total > cap:
                self.output = total
                parts.throw(  # type: ignore[attr-defined]
                    RenderLimitError("output", f"too long: the message would have more than {_n(cap)} characters")
                )
            append(part)
        self.output = total
        return "".join(out)


class _Unmetered(Budget):
    """Outside any render (compile-time folding): single values are still checked, nothing adds up."""

    __slots__ = ()
    metered = False

    def __init__(self) -> None:
        super().__init__(RenderLimits(cpu_seconds=0))

    def tick(self, weight: int = 1) -> None:
        pass

    def add_built(self, size: int) -> None:
        pass

    def loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        return iter(iterable)


_UNMETERED = _Unmetered()
_current: contextvars.ContextVar[Budget] = contextvars.ContextVar("waymark_render_budget", default=_UNMETERED)


current = _current.get
"""The budget of the render running in this thread (an unmetered one outside any render)."""


class rendering:
    """``with rendering(limits) as budget:`` runs a render (one message, all its fields) under a fresh
    budget."""

    __slots__ = ("budget", "token")

    def __init__(self, limits: RenderLimits | None = None) -> None:
        self.budget = Budget(limits or DEFAULT_LIMITS)

    def __enter__(self) -> Budget:
        self.token = _current.set(self.budget)
        return self.budget

    def __exit__(self, *exc: object) -> None:
        _current.reset(self.token)


# -- estimates for operators, formats and methods --------------------------------------------------

_SEQUENCES = (str, bytes, list, tuple)


def binop(op: str, left: Any, right: Any) -> None:
    """Refuse ``left op right`` before Python computes it, if the result would be too large."""
    budget = _current.get()
    budget.tick()
    if op == "*":
        if isinstance(left, int) and isinstance(right, _SEQUENCES):
            left, right = right, left
        if isinstance(left, _SEQUENCES) and isinstance(right, int):
            if right > 0:
                budget.value(text_size(left, budget.limits.max_value + 1) * right)
        elif isinstance(left, int) and isinstance(right, int):
            budget.number(int_digits(left) + int_digits(right))
    elif op == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            budget.number(right * math.log10(abs(left)))
    elif op == "+":
        if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            cap = budget.limits.max_value + 1
            budget.value(text_size(left, cap) + text_size(right, cap))
        elif isinstance(left, int) and isinstance(right, int):
            budget.number(max(int_digits(left), int_digits(right)) + 1)
    elif op == "%" and isinstance(left, str | bytes):
        budget.value(percent_size(left, right, budget.limits.max_value), "this format")


_PERCENT = re.compile(rb"%(?:\(([^)]*)\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)
_PERCENT_STR = re.compile(_PERCENT.pattern.decode(), re.S)
_NUMBER_TEXT = 330
"""Characters a number may take in a format (a float's integer part has up to 309 digits)."""


def _int_or_zero(value: Any) -> int:
    return abs(value) if isinstance(value, int) else 0


def percent_size(fmt: str | bytes, args: Any, cap: int) -> int:
    """About how long ``fmt % args`` would be: widths and precisions (``%0999999999d``,
    ``%.999999999f``, ``%*d``) and the values' own sizes, counted before formatting."""
    pattern = _PERCENT if isinstance(fmt, bytes) else _PERCENT_STR
    mapping = args if isinstance(args, Mapping) else None
    values = list(args) if isinstance(args, tuple) else [args]
    position = 0
    total = len(fmt)

    def take() -> Any:
        nonlocal position
        value = values[position] if position < len(values) else None
        position += 1
        return value

    for match in pattern.finditer(fmt):  # type: ignore[arg-type]
        key, width, precision, kind = match.groups()
        if kind in ("%", b"%"):
            continue
        width = _int_or_zero(take()) if width in ("*", b"*") else int(width or 0)
        precision = _int_or_zero(take()) if precision in ("*", b"*") else int(precision or 0)
        if key is not None and mapping is not None:
            value = mapping.get(key.decode() if isinstance(key, bytes) else key)
        else:
            value = take()
        size = text_size(value, cap) * (4 if kind in ("r", "a", b"r", b"a") else 1)
        total += max(width, size + _NUMBER_TEXT + precision)
        if total > cap:
            break
    return total


_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?[a-zA-Z%]?", re.S)


def spec_size(value: Any, spec: str, cap: int) -> int:
    """About how long ``format(value, spec)`` would be (``'{:>999999999}'.format(x)``)."""
    size = text_size(value, cap)
    match = _SPEC.fullmatch(spec)
    if match:
        width, precision = match.groups()
        return max(int(width or 0), size + (_NUMBER_TEXT + int(precision) if precision else 0))
    # A date's strftime-style spec, or another type's own mini-language.
    return size + len(spec) + 40 * spec.count("%")


def _strftime_size(fmt: Any) -> int:
    return len(fmt) + 40 * fmt.count("%") if isinstance(fmt, str) else 0


def materialise(iterable: Any) -> list[Any]:
    """The items of something about to be joined (read once, so that they can be measured first)."""
    items = iterable if isinstance(iterable, list) else list(iterable)
    _current.get().tick(len(items) >> 6)
    return items


def join_size(separator: Any, items: list[Any], cap: int) -> int:
    total = max(0, len(items) - 1) * text_size(separator, cap)
    for item in items:
        total += text_size(item, cap)
        if total > cap:
            break
    return total


def replace_size(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    if not isinstance(text, str | bytes) or not isinstance(old, str | bytes) or not isinstance(new, str | bytes):
        return 0
    try:
        found = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
    except TypeError:
        return 0
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(0, len(new) - len(old))


def method_call(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a string, bytes, number or date method call that would build something too large;
    returns the arguments to call with (an iterable to join is read once, here)."""
    budget = _current.get()
    cap = budget.limits.max_value
    if isinstance(owner, str | bytes):
        first = args[0] if args else None
        if name in ("center", "ljust", "rjust", "zfill"):
            width = args[0] if args else kwargs.get("width")
            budget.value(max(len(owner), _int_or_zero(width)), f"{name}()", charge=False)
        elif name == "expandtabs":
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            tabs = owner.count("\t" if isinstance(owner, str) else b"\t")  # type: ignore[arg-type]
            budget.value(len(owner) + tabs * _int_or_zero(tabsize), "expandtabs()", charge=False)
        elif name == "join" and args:
            items = materialise(first)
            budget.value(join_size(owner, items, cap), "join()", charge=False)
            return (items, *args[1:])
        elif name == "replace" and len(args) >= 2:
            count = args[2] if len(args) > 2 else -1
            budget.value(replace_size(owner, args[0], args[1], count), "replace()", charge=False)
        elif name == "translate" and isinstance(first, Mapping):
            longest = max((len(v) for v in first.values() if isinstance(v, str | bytes)), default=1)
            budget.value(len(owner) * max(1, longest), "translate()", charge=False)
    elif isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        budget.value(_int_or_zero(length), "to_bytes()", charge=False)
    elif isinstance(owner, date | dtime) and name == "strftime":
        budget.value(_strftime_size(args[0] if args else kwargs.get("format", "")), "strftime()", charge=False)
    return args


def lipsum_size(n: Any = 5, html: Any = True, min: Any = 20, max: Any = 100) -> None:
    budget = _current.get()
    paragraphs, longest = _int_or_zero(n), _int_or_zero(max)
    budget.range_size(paragraphs * longest)
    budget.value(paragraphs * (longest * 12 + 20), "lipsum()", charge=False)
