"""The one way a rule reports a bad request field.

Every rule raises through ``invalid`` so that the field travels with the error (ErrorInfo metadata
"field"); richer details (google.rpc.BadRequest) can be attached here, once, for every service.
"""

from __future__ import annotations

from collections.abc import Mapping

from cadenza_runtime.errors import InvalidArgument

# How much of a refused value an error message repeats.
SHOWN_CHARS = 80


def invalid(
    field: str, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None
) -> InvalidArgument:
    """INVALID_ARGUMENT for `field`; `message` is the whole sentence a person reads."""
    return InvalidArgument(message, reason=reason, metadata={"field": field, **(metadata or {})})


def shown(value: str) -> str:
    """`value` quoted for an error message, cut to SHOWN_CHARS."""
    return repr(value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "...")


def bounded(value: int, field: str, default: int, maximum: int) -> int:
    """A count whose 0 means `default`; otherwise 1..maximum."""
    if value == 0:
        return default
    if not 1 <= value <= maximum:
        raise invalid(field, f"{field} must be in 1..{maximum} (0 means {default}), got {value}")
    return value
