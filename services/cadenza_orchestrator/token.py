"""Prints a bearer token for the orchestrator, signed with the configured key.

    python -m cadenza_orchestrator.token --user alice             # a user token, valid 1 hour
    python -m cadenza_orchestrator.token --user ops --admin --ttl 600

Use it with grpcurl:

    grpcurl -plaintext -H "authorization: Bearer $(python -m cadenza_orchestrator.token --user alice)" \\
        -d '{"request_id": "r1", "params": {"prompt": "calm piano", "duration_seconds": 5}}' \\
        127.0.0.1:50050 cadenza.orchestrator.v1.OrchestratorService/SubmitGeneration

The key, algorithm, issuer and audience come from the `auth` section of the configuration
(CADENZA_AUTH__JWT_SECRET and friends), the same ones the orchestrator verifies with.
"""

from __future__ import annotations

import argparse
import sys

from cadenza_orchestrator.auth import ADMIN_ROLE, USER_ROLE, mint_token
from cadenza_runtime.config import load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cadenza_orchestrator.token", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--user", required=True, help="user id (the token's `sub`)")
    parser.add_argument("--admin", action="store_true", help="grant the admin role")
    parser.add_argument("--ttl", type=float, default=3600, help="lifetime in seconds (default 3600)")
    args = parser.parse_args(argv)
    if args.ttl <= 0:
        parser.error("--ttl must be positive")
    roles = [USER_ROLE, ADMIN_ROLE] if args.admin else [USER_ROLE]
    try:
        print(mint_token(load_config().auth, args.user, roles, args.ttl))
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
