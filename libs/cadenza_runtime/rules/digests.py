"""What a SHA-256 digest looks like in a request: 64 hexadecimal digits."""

from __future__ import annotations

import re

from cadenza_runtime.rules.field import SHOWN_CHARS, invalid

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_SHA256_CANONICAL = re.compile(r"[0-9a-f]{64}")


def check_sha256(value: str, field: str, *, required: bool = False, canonical: bool = False) -> str:
    """The digest in lower case ("" when absent and not required). `canonical` accepts only the
    lower-case spelling, for a store that keeps digests as given and compares them byte for byte."""
    if not value:
        if required:
            raise invalid(
                field,
                f"{field} is required: a SHA-256 digest as 64 hexadecimal digits",
                reason="MISSING_FIELD",
            )
        return ""
    pattern, shape = (_SHA256_CANONICAL, "lower-case ") if canonical else (_SHA256, "")
    if not pattern.fullmatch(value):
        raise invalid(
            field,
            f"{field} must be 64 {shape}hexadecimal digits (a SHA-256 digest), got {value[:SHOWN_CHARS]!r}",
        )
    return value.lower()
