"""Keyset pagination: signed cursors bound to a method and its filters, and a WHERE builder.

A page is `ORDER BY <key> LIMIT n + 1`: the extra row says whether another page exists, and the
last row's key becomes the cursor, so deep pages cost the same as the first (no OFFSET).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.pagination import PageTokenCodec, page_size

R = TypeVar("R")


@dataclass
class Where:
    """AND-ed conditions with numbered parameters; "{}" in a condition stands for the next one."""

    args: list[Any] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)

    def add(self, condition: str, *values: Any) -> None:
        placeholders = []
        for value in values:
            self.args.append(value)
            placeholders.append(f"${len(self.args)}")
        self.conditions.append(condition.format(*placeholders))

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    @property
    def sql(self) -> str:
        return "WHERE " + " AND ".join(self.conditions) if self.conditions else ""


class Pager:
    """One List call: its page size, its decoded cursor and how to sign the next one."""

    def __init__(self, codec: PageTokenCodec, method: str, filters: dict[str, Any], size: int, token: str):
        self.size = page_size(size)
        self._codec = codec
        # The filters are part of the signed scope: a token reused with other filters is refused.
        self._scope = method + ":" + json.dumps(filters, sort_keys=True, separators=(",", ":"), default=str)
        self.cursor = codec.decode(self._scope, token)

    def cursor_value(self, key: str, kind: type) -> Any:
        """One field of the cursor, checked for type (a signed token can still be from a bug)."""
        assert self.cursor is not None
        value = self.cursor.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidArgument("page_token is malformed; list again from the first page")
        return value

    def page(self, rows: Sequence[R], cursor_of: Callable[[R], dict[str, Any]]) -> tuple[Sequence[R], str]:
        """The rows of this page and the next page token ("" on the last page)."""
        if len(rows) <= self.size:
            return rows, ""
        rows = rows[: self.size]
        return rows, self._codec.encode(self._scope, cursor_of(rows[-1]))
