"""The SMS segment counter's API shape (shared by template previews, draft saves and test sends)."""

from __future__ import annotations

import msgspec

from backend.channels.sms_segments import count_segments


class SegmentsOut(msgspec.Struct, kw_only=True):
    encoding: str
    """``GSM-7`` or ``UCS-2``."""
    units: int
    """GSM-7 septets or UTF-16 code units."""
    segments: int
    per_segment: int
    remaining: int
    """Units still free in the last segment."""
    non_gsm: list[str]
    """The characters that forced UCS-2."""


def segments_out(text: str) -> SegmentsOut:
    return SegmentsOut(**count_segments(text or "").as_dict())
