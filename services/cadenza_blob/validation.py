"""Request validation: buckets, keys, prefixes, user metadata, content types, checksums, expiries.

Everything a caller sends is checked here before it reaches MinIO, so a bad request is a clear
INVALID_ARGUMENT (or NOT_FOUND for a bucket the suite does not own) and never a half-written object.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import timedelta

from google.protobuf import duration_pb2

from cadenza_runtime.errors import NotFound
from cadenza_runtime.rules import digests
from cadenza_runtime.rules.field import invalid
from cadenza_runtime.rules.keys import check_key as check_key
from cadenza_runtime.rules.keys import check_prefix as check_prefix
from cadenza_runtime.rules.limits import DEFAULT_PRESIGN_EXPIRY, MAX_PRESIGN_EXPIRY, MIN_PRESIGN_EXPIRY

# S3 sends user metadata as HTTP headers: lowercase names, printable ASCII values, 2 KiB in all.
_META_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_META_VALUE = re.compile(r"[\x20-\x7e]{0,1024}")
MAX_METADATA_BYTES = 2048
# The service owns these metadata names; callers may not set them.
RESERVED_METADATA_KEYS = frozenset({"sha256"})
_CONTENT_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;[\x20-\x7e]*)?"
)
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def check_bucket(bucket: str, allowed: Collection[str]) -> str:
    if not bucket:
        raise invalid("bucket", f"bucket is required; one of: {', '.join(sorted(allowed))}")
    if bucket not in allowed:
        raise NotFound(
            f"bucket {bucket!r} is not one of this service's buckets ({', '.join(sorted(allowed))})",
            reason="BUCKET_NOT_FOUND",
            metadata={"bucket": bucket, "resource": bucket},
        )
    return bucket


def check_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    total = 0
    for key, value in metadata.items():
        if not _META_KEY.fullmatch(key):
            raise invalid(
                "metadata",
                f"metadata key {key[:80]!r} must be 1..64 characters of lowercase letters, digits, '_' "
                "and '-', starting with a letter or digit (S3 sends it as a case-insensitive header)",
            )
        if key in RESERVED_METADATA_KEYS:
            raise invalid(
                "metadata", f"metadata key {key!r} is set by the service; remove it from the request"
            )
        if not _META_VALUE.fullmatch(value):
            raise invalid(
                "metadata", f"metadata value of {key!r} must be at most 1024 printable ASCII characters"
            )
        total += len(key) + len(value)
    if total > MAX_METADATA_BYTES:
        raise invalid("metadata", f"metadata is {total} bytes in all; S3 allows {MAX_METADATA_BYTES}")
    return dict(metadata)


def check_content_type(content_type: str) -> str:
    if not content_type:
        return DEFAULT_CONTENT_TYPE
    if len(content_type) > 255 or not _CONTENT_TYPE.fullmatch(content_type):
        raise invalid(
            "content_type",
            f"content_type {content_type[:80]!r} is not a media type such as 'audio/wav' or "
            "'application/octet-stream'",
        )
    return content_type


def check_sha256(value: str, what: str = "expected_sha256") -> str:
    """Lowercase hex digest, or "" when none was given."""
    return digests.check_sha256(value, what)


def presign_expiry(expiry: duration_pb2.Duration, present: bool) -> timedelta:
    """The URL's lifetime: unset means 15 minutes; otherwise whole seconds within 1 s..7 days."""
    if not present:
        return DEFAULT_PRESIGN_EXPIRY
    if expiry.nanos:
        raise invalid("expiry", "expiry must be a whole number of seconds (presigned URLs count seconds)")
    value = timedelta(seconds=expiry.seconds)
    if not MIN_PRESIGN_EXPIRY <= value <= MAX_PRESIGN_EXPIRY:
        raise invalid(
            "expiry",
            f"expiry must be between {MIN_PRESIGN_EXPIRY.seconds} second and {MAX_PRESIGN_EXPIRY.days} days "
            f"({int(MAX_PRESIGN_EXPIRY.total_seconds())} s), got {expiry.seconds} s",
        )
    return value
