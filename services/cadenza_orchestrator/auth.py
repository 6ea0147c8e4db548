"""Bearer-token authentication at the edge and per-user visibility.

Tokens are JWTs carrying `sub` (the user id), `roles` (["user"] or ["admin"]), `iss`, `aud`, `iat`
and `exp`, signed either by the local signer (`auth.jwt_secret`, HS256: dev; minted by
cadenza_runtime.user_tokens) or by an external
OAuth2/OIDC issuer whose public keys come from a JWKS file or URL (RS256, ES256, ...). A missing,
malformed, badly signed, expired, wrongly addressed or too long-lived token is UNAUTHENTICATED.

Roles: a user the metadata store knows has the roles it lists there (granted and revoked with
GrantRole / RevokeRole, read through a short cache), whatever the token claims, so a revoked admin
stops being one within `auth.roles_cache_seconds`; a user it does not know has the token's roles.

Someone else's job or track is NOT_FOUND, so that a caller cannot learn whether it exists.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any, Protocol

import jwt

from cadenza_orchestrator.jwks import JwksKeys, JwksUnavailable
from cadenza_orchestrator.names import user_name, valid_user_id
from cadenza_runtime.config import AuthConfig
from cadenza_runtime.errors import PermissionDenied, Unauthenticated, Unavailable
from cadenza_runtime.identity import act_for
from cadenza_runtime.user_tokens import ADMIN_ROLE, KNOWN_ROLES, USER_ROLE


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


class RoleSource(Protocol):
    async def roles_of(self, user_id: str) -> frozenset[str] | None:
        """The user's roles in the metadata store, or None when it does not know the user."""
        ...


class Authenticator:
    def __init__(self, config: AuthConfig, roles: RoleSource | None = None):
        self._config = config
        self._roles = roles
        self._keys: JwksKeys | None = None
        if config.jwks_file is not None:
            self._keys = JwksKeys.from_file(
                config.jwks_file, config.jwks_cache_seconds, config.jwks_min_refresh_seconds
            )
        elif config.jwks_url:
            self._keys = JwksKeys.from_url(
                config.jwks_url, config.jwks_cache_seconds, config.jwks_min_refresh_seconds
            )

    def _signing_key(self, token: str) -> Any:
        if self._keys is None:
            return self._config.jwt_secret.get_secret_value()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise _invalid(exc) from exc
        kid = header.get("kid")
        if header.get("alg") != self._config.jwt_algorithm:
            raise _invalid(f"it is signed with {header.get('alg')!r}, not {self._config.jwt_algorithm}")
        try:
            key = self._keys.key(kid if isinstance(kid, str) else None)
        except JwksUnavailable as exc:
            raise Unavailable(
                "the identity provider's signing keys cannot be loaded; retry shortly",
                reason="JWKS_UNAVAILABLE",
            ) from exc
        if key is None:
            raise _invalid(f"no signing key with kid {kid!r} is published by the issuer")
        return key

    def verify(self, token: str) -> Principal:
        """The token's principal (its own roles); raises UNAUTHENTICATED for any defect."""
        config = self._config
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=[config.jwt_algorithm],
                audience=config.jwt_audience,
                issuer=config.jwt_issuer,
                leeway=config.clock_skew_seconds,
                options={"require": ["sub", "exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated(
                "the bearer token has expired; request a new one", reason="TOKEN_EXPIRED"
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise _invalid(exc) from exc
        lifetime = claims["exp"] - claims["iat"]
        if not isinstance(lifetime, int | float) or lifetime > config.max_token_lifetime_seconds:
            raise Unauthenticated(
                f"the bearer token is valid for {lifetime}s, longer than the accepted "
                f"{config.max_token_lifetime_seconds:g}s; request a shorter-lived one",
                reason="TOKEN_TOO_LONG_LIVED",
            )
        subject = claims.get("sub")
        roles = claims.get("roles", [USER_ROLE])
        if not isinstance(subject, str) or not valid_user_id(subject):
            raise Unauthenticated("the token's `sub` is not a valid user id", reason="TOKEN_INVALID")
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise Unauthenticated("the token's `roles` must be a list of strings", reason="TOKEN_INVALID")
        return Principal(user_id=subject, roles=frozenset(role for role in roles if role in KNOWN_ROLES))

    async def authenticate(self, context: Any) -> Principal:
        """The caller of a gRPC call, from its `authorization: Bearer <jwt>` metadata; the rest of
        the call's downstream calls name that user as the one they act for (audit rows say so).

        Runs first in every RPC: nothing else is read or computed for an unauthenticated caller.
        """
        token = bearer_token(context)
        if self._config.jwks_url:
            principal = await asyncio.to_thread(self.verify, token)  # a key refresh is a blocking fetch
        else:
            principal = self.verify(token)
        act_for(principal.user)
        if self._roles is None:
            return principal
        stored = await self._roles.roles_of(principal.user_id)
        return principal if stored is None else replace(principal, roles=stored & KNOWN_ROLES)


def bearer_token(context: Any) -> str:
    header = ""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            header = value if isinstance(value, str) else value.decode()
            break
    if not header:
        raise Unauthenticated(
            "missing 'authorization: Bearer <jwt>' metadata; get a token from your identity provider "
            "(or, with the local signer, `cadenza token --user <id>`)",
            reason="TOKEN_MISSING",
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the authorization metadata must be 'Bearer <jwt>'", reason="TOKEN_INVALID")
    return token.strip()


def _invalid(why: object) -> Unauthenticated:
    return Unauthenticated(
        f"the bearer token is not valid ({why}); send 'authorization: Bearer <jwt>' from the configured issuer",
        reason="TOKEN_INVALID",
    )
