"""The checks of a generation request that the orchestrator, metadata and inference all run.

Each returns the value (or None for "the model's default") and raises INVALID_ARGUMENT naming the
field with the allowed range; the model-specific bounds (its own max duration, schedulers, tasks)
are checked by whoever knows the model.
"""

from __future__ import annotations

import math
import re
import secrets

from cadenza_runtime.rules.field import invalid
from cadenza_runtime.rules.limits import (
    MAX_DURATION_SECONDS,
    MAX_GUIDANCE,
    MAX_PROMPT_CHARS,
    MAX_REQUEST_ID_CHARS,
    MAX_STEPS,
    MIN_GUIDANCE,
    PICKED_SEED_BITS,
)
from cadenza_runtime.rules.text import check_multi_line

_REQUEST_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_REQUEST_ID_CHARS}}}")
REQUEST_ID_RULE = f"1..{MAX_REQUEST_ID_CHARS} printable ASCII characters without spaces"


def check_prompt(prompt: str, field: str, *, required: bool = True) -> str:
    """At most MAX_PROMPT_CHARS characters of text (tabs and line breaks allowed), not blank when required."""
    if required and not prompt.strip():
        raise invalid(
            field, f"{field}: must not be empty: describe the music to generate", reason="MISSING_FIELD"
        )
    if len(prompt) > MAX_PROMPT_CHARS:
        raise invalid(field, f"{field}: has {len(prompt)} characters, at most {MAX_PROMPT_CHARS} are allowed")
    # Free text over several lines: tabs and line breaks, no other control character.
    return check_multi_line(prompt, field)


def check_request_id(request_id: str, field: str = "request_id", *, required: bool = True) -> str:
    """An idempotency key (AIP-155); empty only when not required."""
    if not request_id and not required:
        return request_id
    if not request_id:
        raise invalid(
            field, f"{field}: is required (an idempotency key, {REQUEST_ID_RULE})", reason="MISSING_FIELD"
        )
    if not _REQUEST_ID.fullmatch(request_id):
        raise invalid(field, f"{field}: must be {REQUEST_ID_RULE}")
    return request_id


def check_steps(steps: int, field: str) -> int | None:
    """1..MAX_STEPS; 0 means the model's default (None)."""
    if steps == 0:
        return None
    if not 1 <= steps <= MAX_STEPS:
        raise invalid(field, f"{field}: must be 1..{MAX_STEPS} (0 for the model's default), got {steps}")
    return steps


def check_guidance(guidance: float, field: str) -> float | None:
    """MIN_GUIDANCE..MAX_GUIDANCE; 0 means the model's default (None)."""
    if guidance == 0:
        return None
    if not (math.isfinite(guidance) and MIN_GUIDANCE <= guidance <= MAX_GUIDANCE):
        raise invalid(
            field,
            f"{field}: must be {MIN_GUIDANCE:g}..{MAX_GUIDANCE:g} (0 for the model's default), got {guidance:g}",
        )
    return guidance


def check_duration(seconds: float, field: str, *, limit: float = MAX_DURATION_SECONDS) -> float:
    """(0, limit] seconds: `limit` is the model's max_duration_seconds where the model is known."""
    if not (math.isfinite(seconds) and 0 < seconds <= limit):
        raise invalid(field, f"{field}: must be in (0, {limit:g}] seconds, got {seconds:g}")
    return seconds


def check_strength(strength: float, field: str, op: str) -> float:
    """How far VARIATION/REMIX re-noise the parent: (0, 1]."""
    if not (math.isfinite(strength) and 0 < strength <= 1):
        raise invalid(field, f"{field}: must be in (0, 1] for {op}, got {strength:g}")
    return strength


def pick_seed() -> int:
    """A seed for a request that set none: below 2**PICKED_SEED_BITS."""
    return secrets.randbits(PICKED_SEED_BITS)
