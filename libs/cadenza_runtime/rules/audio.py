"""What a sample rate may be: the range every service that takes or stores audio agrees on."""

from __future__ import annotations

from cadenza_runtime.rules.field import invalid
from cadenza_runtime.rules.limits import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE


def check_sample_rate(rate: int, field: str, *, unknown_allowed: bool = False) -> int:
    """MIN_SAMPLE_RATE..MAX_SAMPLE_RATE Hz; 0 ("not known") too where `unknown_allowed`."""
    if rate == 0 and unknown_allowed:
        return rate
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        unknown = " (0 when not known)" if unknown_allowed else ""
        raise invalid(field, f"{field}: must be {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz{unknown}, got {rate}")
    return rate
