"""`python -m cadenza_metadata.migrations`: apply pending metadata migrations and exit."""

import asyncio

from cadenza_metadata.migrations import migrate
from cadenza_runtime.config import load_config


def main() -> None:
    applied = asyncio.run(migrate(load_config()))
    print("applied: " + (", ".join(applied) if applied else "nothing, the schema is up to date"))


if __name__ == "__main__":
    main()
