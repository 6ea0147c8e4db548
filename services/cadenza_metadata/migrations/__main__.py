"""`python -m cadenza_metadata.migrations`: applies the pending schema migrations (what `cadenza migrate`
and `cadenza up` run once PostgreSQL is up). Exit 1 with the reason when the schema cannot be updated."""

from __future__ import annotations

import asyncio
import sys

from cadenza_metadata.migrations import MigrationError, migrate
from cadenza_runtime.config import load_config


def main() -> int:
    try:
        applied = asyncio.run(migrate(load_config()))
    except MigrationError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"applied {', '.join(applied)}" if applied else "the schema is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
