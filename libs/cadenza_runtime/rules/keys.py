"""What an object key (and a listing prefix) in blob storage may be.

Blob checks every key it is sent; whoever writes keys for it (the model import) checks them with
this same rule first, so a key it builds is never one blob refuses halfway through an upload.
"""

from __future__ import annotations

import re

from cadenza_runtime.rules.field import invalid
from cadenza_runtime.rules.limits import MAX_KEY_CHARS, MAX_KEY_SEGMENT_CHARS
from cadenza_runtime.rules.names import OBJECT_KEY_CHARS

_KEY_CHARS = re.compile(rf"{OBJECT_KEY_CHARS}*")


def _check_path(value: str, what: str) -> None:
    if len(value) > MAX_KEY_CHARS:
        raise invalid(what, f"{what} is {len(value)} characters long; the limit is {MAX_KEY_CHARS}")
    if not _KEY_CHARS.fullmatch(value):
        bad = sorted({char for char in value if not _KEY_CHARS.fullmatch(char)})
        raise invalid(
            what,
            f"{what} {value[:80]!r} contains {''.join(bad)!r}; allowed are letters, digits and / . _ = -",
        )
    if value.startswith("/"):
        raise invalid(what, f"{what} {value[:80]!r} must not start with '/'")
    if ".." in value:
        raise invalid(what, f"{what} {value[:80]!r} must not contain '..'")
    if "//" in value:
        raise invalid(what, f"{what} {value[:80]!r} must not contain an empty segment '//'")
    if "/./" in value or value.startswith("./"):
        raise invalid(what, f"{what} {value[:80]!r} must not contain a '.' segment")
    longest = max(len(segment) for segment in value.split("/"))
    if longest > MAX_KEY_SEGMENT_CHARS:
        raise invalid(
            what,
            f"{what} {value[:80]!r} has a segment of {longest} characters; "
            f"each '/'-separated segment may have at most {MAX_KEY_SEGMENT_CHARS}",
        )


def check_key(key: str, field: str = "key") -> str:
    """An object key: 1..512 characters of [A-Za-z0-9/._=-], a clean relative path of segments of
    at most 255 characters."""
    if not key:
        raise invalid(field, f"{field} is required (1..{MAX_KEY_CHARS} characters of {OBJECT_KEY_CHARS})")
    _check_path(key, field)
    if key.endswith("/") or key == "." or key.endswith("/."):
        # MinIO treats a trailing slash as a folder marker, not an object.
        raise invalid(field, f"{field} {key[:80]!r} must name an object, not end with '/' or '.'")
    return key


def check_prefix(prefix: str, field: str = "prefix") -> str:
    """A listing prefix: like a key, but may be empty and may end with '/'."""
    if prefix:
        _check_path(prefix, field)
    return prefix
