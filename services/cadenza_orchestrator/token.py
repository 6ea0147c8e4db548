"""Prints an end user's bearer token for the orchestrator: an alias of `cadenza token --user`.

    python -m cadenza_orchestrator.token --user alice             # a user token, valid 1 hour
    python -m cadenza_orchestrator.token --user ops --admin --ttl 600

Prefer `cadenza token` (which also mints operator tokens for the internal services).
"""

from __future__ import annotations

import sys

from cadenza_suite.cli import main as cadenza


def main(argv: list[str] | None = None) -> int:
    return cadenza(["token", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
