"""Bearer-token authentication at the edge and per-user visibility.

Tokens are JWTs signed with `auth.jwt_secret` (HS256 by default) carrying `sub` (the user id),
`roles` (["user"] or ["admin"]), `iss`, `aud` and `exp`. A missing, malformed, badly signed or
expired token is UNAUTHENTICATED. Someone else's job or track is NOT_FOUND, so that a caller
cannot learn whether it exists.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from grpc import aio

from cadenza_orchestrator.names import user_name, valid_user_id
from cadenza_runtime.config import AuthConfig
from cadenza_runtime.errors import NotFound, PermissionDenied, Unauthenticated
from cadenza_runtime.identity import act_for

ADMIN_ROLE = "admin"
USER_ROLE = "user"
_KNOWN_ROLES = {ADMIN_ROLE, USER_ROLE}


@dataclass(frozen=True)
class Principal:
    """Who is calling."""

    user_id: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    @property
    def user(self) -> str:
        """Resource name, "users/{id}"."""
        return user_name(self.user_id)

    def can_see(self, owner: str) -> bool:
        return self.is_admin or owner == self.user

    def require_visible(self, owner: str, resource: str) -> None:
        """NOT_FOUND (not PERMISSION_DENIED) so that existence does not leak."""
        if not self.can_see(owner):
            raise NotFound(f"{resource} does not exist or is not yours", metadata={"resource": resource})

    def resolve_user_filter(self, requested: str) -> str:
        """The user a List call is scoped to: yourself, or anyone (or everyone) for an admin."""
        if not requested:
            return "" if self.is_admin else self.user
        if requested != self.user and not self.is_admin:
            raise PermissionDenied(
                "only admins can list another user's resources; leave `user` empty for your own",
                metadata={"user": requested, "resource": requested},
            )
        return requested


def mint_token(
    config: AuthConfig, user_id: str, roles: Sequence[str] = (USER_ROLE,), ttl: float = 3600
) -> str:
    """A signed bearer token (used by the `token` command and by tests)."""
    if not valid_user_id(user_id):
        raise ValueError(f"invalid user id {user_id!r}: use letters, digits and . _ @ -")
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


class Authenticator:
    def __init__(self, config: AuthConfig):
        self._config = config

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._config.jwt_secret.get_secret_value(),
                algorithms=[self._config.jwt_algorithm],
                audience=self._config.jwt_audience,
                issuer=self._config.jwt_issuer,
                options={"require": ["sub", "exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated(
                "the bearer token has expired; request a new one", reason="TOKEN_EXPIRED"
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(
                f"the bearer token is not valid ({exc}); send 'authorization: Bearer <jwt>' signed by Cadenza",
                reason="TOKEN_INVALID",
            ) from exc
        subject = claims.get("sub")
        roles = claims.get("roles", [USER_ROLE])
        if not isinstance(subject, str) or not valid_user_id(subject):
            raise Unauthenticated("the token's `sub` is not a valid user id", reason="TOKEN_INVALID")
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise Unauthenticated("the token's `roles` must be a list of strings", reason="TOKEN_INVALID")
        return Principal(user_id=subject, roles=frozenset(role for role in roles if role in _KNOWN_ROLES))

    def authenticate(self, context: aio.ServicerContext[Any, Any]) -> Principal:
        """The caller of a gRPC call, from its `authorization: Bearer <jwt>` metadata; the rest of
        the call's downstream calls name that user as the one they act for (audit rows say so)."""
        header = ""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                header = value if isinstance(value, str) else value.decode()
                break
        if not header:
            raise Unauthenticated(
                "missing 'authorization: Bearer <jwt>' metadata; get a token with "
                "`cadenza token --user <id>`",
                reason="TOKEN_MISSING",
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the authorization metadata must be 'Bearer <jwt>'", reason="TOKEN_INVALID")
        principal = self.verify(token.strip())
        act_for(principal.user)
        return principal
