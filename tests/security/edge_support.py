"""Helpers for the edge security tests: generated strong secrets, a JWKS made on the spot."""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

# The secrets stage and prod check, by config section and field.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "auth": ("page_token_secret", "jwt_secret"),
    "postgres": ("owner_password", "service_password", "superuser_password"),
    "redis": ("password",),
    "minio": ("secret_key",),
    "neo4j": ("password",),
    "milvus": ("token",),
}


def strong_secrets() -> dict[str, dict[str, str]]:
    """Config sections with a fresh random value for every secret."""
    return {
        section: {name: secrets.token_urlsafe(24) for name in fields}
        for section, fields in SECRET_FIELDS.items()
    }


def with_strong_secrets(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with every secret replaced by a fresh random value (other keys kept)."""
    merged = dict(settings)
    for section, values in strong_secrets().items():
        merged[section] = {**merged.get(section, {}), **values}
    return merged


def strong_secret_env() -> dict[str, str]:
    """The same as CADENZA_<SECTION>__<FIELD> environment variables."""
    return {
        f"CADENZA_{section.upper()}__{name.upper()}": value
        for section, fields in strong_secrets().items()
        for name, value in fields.items()
    }


class Issuer:
    """A stand-in external OIDC issuer: its own RSA and EC keys, published as a JWKS file."""

    def __init__(self, jwks_file: Path, issuer: str = "https://idp.example.test/", audience: str = "cadenza"):
        self.jwks_file = jwks_file
        self.issuer = issuer
        self.audience = audience
        self.keys: dict[str, tuple[str, Any]] = {}
        self.publish()

    def add_key(self, algorithm: str) -> str:
        kid = f"{algorithm.lower()}-{secrets.token_hex(4)}"
        key: Any
        if algorithm.startswith("RS"):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        self.keys[kid] = (algorithm, key)
        return kid

    def publish(self) -> None:
        entries = []
        for kid, (algorithm, key) in self.keys.items():
            codec = RSAAlgorithm if algorithm.startswith("RS") else ECAlgorithm
            jwk = json.loads(codec.to_jwk(key.public_key()))
            entries.append({**jwk, "kid": kid, "use": "sig", "alg": algorithm})
        self.jwks_file.write_text(json.dumps({"keys": entries}))

    def token(
        self,
        kid: str,
        sub: str = "alice",
        *,
        ttl: float = 600,
        issued_ago: float = 0,
        roles: list[str] | None = None,
        **overrides: Any,
    ) -> str:
        algorithm, key = self.keys[kid]
        now = int(time.time() - issued_ago)
        claims: dict[str, Any] = {
            "sub": sub,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + int(ttl),
            "roles": roles or ["user"],
        }
        claims.update(overrides)
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def forged_kid_token(token: str, kid: str) -> str:
    """The same token with another kid in its header (signature unchanged, so it cannot verify)."""
    header, payload, signature = token.split(".")
    fields = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    fields["kid"] = kid
    encoded = base64.urlsafe_b64encode(json.dumps(fields).encode()).rstrip(b"=").decode()
    return f"{encoded}.{payload}.{signature}"
