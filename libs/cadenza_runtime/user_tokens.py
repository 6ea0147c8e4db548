"""End-user bearer tokens of the local signer (`auth.jwt_secret`, dev): the claims the orchestrator's
Authenticator verifies, minted by `cadenza token --user`, `cadenza demo` and tests.

With an external OAuth2/OIDC issuer configured, tokens come from that issuer, never from here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import jwt

from cadenza_runtime.config import AuthConfig

ADMIN_ROLE = "admin"
USER_ROLE = "user"
KNOWN_ROLES = frozenset({ADMIN_ROLE, USER_ROLE})

# A token's `sub`: the user ids the orchestrator accepts.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")


def valid_user_id(user_id: str) -> bool:
    return bool(_USER_ID.fullmatch(user_id))


def mint_token(
    config: AuthConfig, user_id: str, roles: Sequence[str] = (USER_ROLE,), ttl: float = 3600
) -> str:
    """A signed bearer token naming `user_id` with `roles`, valid for `ttl` seconds."""
    if not valid_user_id(user_id):
        raise ValueError(f"invalid user id {user_id!r}: use letters, digits and . _ @ -")
    if config.external_issuer:
        raise ValueError(
            "tokens come from the external issuer (auth.jwks_file / auth.jwks_url), not this signer"
        )
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "roles": list(roles),
        "iss": config.jwt_issuer,
        "aud": config.jwt_audience,
        "iat": now,
        "exp": now + int(ttl),
    }
    return jwt.encode(claims, config.jwt_secret.get_secret_value(), algorithm=config.jwt_algorithm)
