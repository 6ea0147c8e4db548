"""How many items a List call asks for per page: the server's own default (its List RPCs read a
page_size of 0 as this). The server's rules import it from here, so the SDK and the suite agree."""

from __future__ import annotations

DEFAULT_PAGE_SIZE = 50
