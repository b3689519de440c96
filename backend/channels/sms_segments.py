"""SMS segment counting: GSM-7 or UCS-2, and how many segments a text takes.

* GSM 03.38 basic characters count one septet; the extension table (``^ { } \\ [ ~ ] | €`` and form
  feed) counts two (an escape plus the character).
* One character outside both tables (Chinese, Polish ``ą ę ł``, Spanish ``á``, emoji …) switches the
  whole message to UCS-2, counted in UTF-16 code units (astral characters such as emoji count two).
* A single segment holds 160 septets / 70 units; a concatenated message carries a header, leaving
  153 / 67 per segment. Like handsets and carriers, an escape pair (GSM-7) or a surrogate pair (UCS-2)
  is never split across two segments, so a message can take one more segment than ``ceil(n / 153)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE = {"GSM-7": 160, "UCS-2": 70}
MULTI = {"GSM-7": 153, "UCS-2": 67}


@dataclass
class Segments:
    encoding: str
    """``GSM-7`` or ``UCS-2``."""
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2)."""
    segments: int
    per_segment: int
    remaining: int
    """Units still free in the last segment."""
    non_gsm: list[str] = field(default_factory=list)
    """The characters that forced UCS-2 (distinct, in order, at most 20)."""

    def as_dict(self) -> dict:
        return {
            "encoding": self.encoding,
            "units": self.units,
            "segments": self.segments,
            "per_segment": self.per_segment,
            "remaining": self.remaining,
            "non_gsm": list(self.non_gsm),
        }


def _widths(text: str) -> tuple[str, list[int], list[str]]:
    non_gsm: list[str] = []
    for ch in text:
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION and ch not in non_gsm:
            non_gsm.append(ch)
    if not non_gsm:
        return "GSM-7", [2 if ch in GSM7_EXTENSION else 1 for ch in text], []
    return "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in text], non_gsm[:20]


def count_segments(text: str) -> Segments:
    encoding, widths, non_gsm = _widths(text or "")
    units = sum(widths)
    single = SINGLE[encoding]
    if units <= single:
        segments = 1 if units else 0
        return Segments(encoding, units, segments, single, single - units, non_gsm)
    per = MULTI[encoding]
    segments, used = 1, 0
    for width in widths:  # pack: a two-unit character never straddles a boundary
        if used + width > per:
            segments += 1
            used = 0
        used += width
    return Segments(encoding, units, segments, per, per - used, non_gsm)
