"""End-user bearer tokens of the local signer (`auth.jwt_secret`, dev): the claims the orchestrator's
Authenticator verifies, minted by `cadenza token --user`, `cadenza demo` and tests.

With an external OAuth2/OIDC issuer configured, tokens come from that issuer, never from here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jwt

from cadenza_runtime.config import AuthConfig
from cadenza_runtime.rules.names import USER_ID_RULE, is_user_id

ADMIN_ROLE = "admin"
USER_ROLE = "user"
KNOWN_ROLES = frozenset({ADMIN_ROLE, USER_ROLE})


def mint_token(
    config: AuthConfig, user_id: str, roles: Sequence[str] = (USER_ROLE,), ttl: float = 3600
) -> str:
    """A signed bearer token naming `user_id` with `roles`, valid for `ttl` seconds."""
    if not is_user_id(user_id):
        raise ValueError(f"invalid user id {user_id!r}: use {USER_ID_RULE}")
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
