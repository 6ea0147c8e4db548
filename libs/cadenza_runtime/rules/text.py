"""What free text in a request may contain: one definition of a control character for every service.

A control character is one of Unicode category Cc: C0 (U+0000..U+001F), DEL (U+007F) and C1
(U+0080..U+009F). Single-line text (titles, display names, users, URIs) holds none; multi-line
text (a prompt) may hold tabs and line breaks, and no other.
"""

from __future__ import annotations

import re

from cadenza_runtime.rules.field import invalid

# Exactly the characters of Unicode category Cc (unicodedata.category(c) == "Cc").
CONTROL_CHARS = r"[\x00-\x1f\x7f-\x9f]"
# What multi-line text may hold of them.
MULTI_LINE_ALLOWED = "\t\n\r"
_CONTROL = re.compile(CONTROL_CHARS)
_MULTI_LINE_CONTROL = re.compile(rf"(?![{re.escape(MULTI_LINE_ALLOWED)}]){CONTROL_CHARS}")


def check_single_line(value: str, field: str) -> str:
    """`value` when it holds no control character, else INVALID_ARGUMENT on `field`."""
    if _CONTROL.search(value):
        raise invalid(field, f"{field} must not contain control characters")
    return value


def check_multi_line(value: str, field: str) -> str:
    """`value` when its only control characters are tabs and line breaks."""
    if _MULTI_LINE_CONTROL.search(value):
        raise invalid(field, f"{field}: contains control characters (only tabs and line breaks are allowed)")
    return value
