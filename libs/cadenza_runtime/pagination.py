"""Opaque, tamper-evident page tokens and page-size bounds shared by every List RPC.

A token is base64url(JSON cursor) + "." + HMAC-SHA256 over it, bound to the method and its
filters: a token edited by hand, or reused with different filters, is INVALID_ARGUMENT.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.rules.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


def page_size(requested: int, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    """AIP-158: 0 means the default, larger than the maximum is clamped, negative is an error."""
    if requested < 0:
        raise InvalidArgument(f"page_size must be >= 0, got {requested}")
    if requested == 0:
        return default
    return min(requested, maximum)


class PageTokenCodec:
    def __init__(self, secret: bytes):
        if not secret:
            raise ValueError("page token secret must not be empty")
        self._secret = secret

    def _mac(self, scope: str, body: bytes) -> str:
        digest = hmac.new(self._secret, scope.encode() + b"\0" + body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")

    def encode(self, scope: str, cursor: dict[str, Any]) -> str:
        """Token for `cursor`; `scope` names the method and its filters (e.g. a JSON of them)."""
        body = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + self._mac(scope, body)

    def decode(self, scope: str, token: str) -> dict[str, Any] | None:
        """The cursor in `token`, None for an empty token; INVALID_ARGUMENT when forged or foreign."""
        if not token:
            return None
        try:
            encoded_body, mac = token.split(".", 1)
            body = base64.urlsafe_b64decode(encoded_body + "=" * (-len(encoded_body) % 4))
        except ValueError as exc:
            raise InvalidArgument("page_token is malformed; pass back next_page_token unchanged") from exc
        if not hmac.compare_digest(mac, self._mac(scope, body)):
            raise InvalidArgument(
                "page_token does not match this request; list again from the first page with the same filters"
            )
        cursor = json.loads(body)
        if not isinstance(cursor, dict):
            raise InvalidArgument("page_token is malformed; pass back next_page_token unchanged")
        return cursor
