"""The edge verifies tokens of an external OIDC issuer from a locally generated JWKS."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
from pydantic import ValidationError

from cadenza_orchestrator.auth import Authenticator
from cadenza_runtime.config import AuthConfig
from cadenza_runtime.errors import Unauthenticated
from cadenza_runtime.user_tokens import mint_token
from tests.security.edge_support import Issuer, forged_kid_token


def _config(issuer: Issuer, algorithm: str, **extra: object) -> AuthConfig:
    return AuthConfig.model_validate(
        {
            "jwks_file": str(issuer.jwks_file),
            "jwt_algorithm": algorithm,
            "jwt_issuer": issuer.issuer,
            "jwt_audience": issuer.audience,
            "max_token_lifetime_seconds": 3600,
            "clock_skew_seconds": 30,
            "jwks_min_refresh_seconds": 0,
            **extra,
        }
    )


@pytest.fixture
def issuer(tmp_path: Path) -> Issuer:
    return Issuer(tmp_path / "jwks.json")


def _refused(auth: Authenticator, token: str, reason: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        auth.verify(token)
    assert caught.value.reason == reason, caught.value.message


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_tokens_of_the_issuer_verify(issuer: Issuer, algorithm: str) -> None:
    kid = issuer.add_key(algorithm)
    issuer.publish()
    auth = Authenticator(_config(issuer, algorithm))
    principal = auth.verify(issuer.token(kid, "carol", roles=["user", "admin"]))
    assert principal.user == "users/carol" and principal.is_admin


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_wrong_issuer_audience_or_key_is_refused(issuer: Issuer, algorithm: str) -> None:
    kid = issuer.add_key(algorithm)
    issuer.publish()
    auth = Authenticator(_config(issuer, algorithm))
    _refused(auth, issuer.token(kid, iss="https://evil.example.test/"), "TOKEN_INVALID")
    _refused(auth, issuer.token(kid, aud="someone-else"), "TOKEN_INVALID")
    # Signed by a key the issuer does not publish, under a published kid.
    rogue = Issuer(issuer.jwks_file.with_name("rogue.json"), issuer.issuer)
    rogue_kid = rogue.add_key(algorithm)
    _refused(auth, forged_kid_token(rogue.token(rogue_kid), kid), "TOKEN_INVALID")
    # The local signer's HS256 token is not the issuer's.
    hs = jwt.encode({"sub": "x", "iss": issuer.issuer, "aud": issuer.audience}, "k" * 32, algorithm="HS256")
    _refused(auth, hs, "TOKEN_INVALID")


def test_lifetime_and_clock_skew(issuer: Issuer) -> None:
    kid = issuer.add_key("ES256")
    issuer.publish()
    auth = Authenticator(_config(issuer, "ES256"))
    _refused(auth, issuer.token(kid, ttl=2 * 3600), "TOKEN_TOO_LONG_LIVED")
    assert auth.verify(issuer.token(kid, ttl=3600)).user_id == "alice"
    # Expired 10 s ago: inside the 30 s skew. 60 s ago: outside it.
    assert auth.verify(issuer.token(kid, ttl=600, issued_ago=610)).user_id == "alice"
    _refused(auth, issuer.token(kid, ttl=600, issued_ago=660), "TOKEN_EXPIRED")
    # Issued 10 s in the future (the issuer's clock is ahead): accepted; 5 minutes: refused.
    assert auth.verify(issuer.token(kid, issued_ago=-10)).user_id == "alice"
    _refused(auth, issuer.token(kid, issued_ago=-300), "TOKEN_INVALID")
    _refused(auth, issuer.token(kid, iat=None), "TOKEN_INVALID")


def test_unknown_kid_reloads_the_keys_once(issuer: Issuer) -> None:
    first = issuer.add_key("RS256")
    issuer.publish()
    auth = Authenticator(_config(issuer, "RS256", jwks_min_refresh_seconds=1))
    assert auth.verify(issuer.token(first)).user_id == "alice"
    # The issuer rotates in a new key; tokens naming it verify after a reload.
    second = issuer.add_key("RS256")
    issuer.publish()
    token = issuer.token(second, "dave")
    _refused(auth, token, "TOKEN_INVALID")  # reloaded less than a second ago: not yet
    time.sleep(1.1)
    assert auth.verify(token).user_id == "dave"
    # A kid nobody publishes is refused (and, within the interval, costs no reload).
    _refused(auth, forged_kid_token(token, "no-such-kid"), "TOKEN_INVALID")


def test_algorithm_is_validated_at_start_up(issuer: Issuer) -> None:
    with pytest.raises(ValidationError, match="'none' never is"):
        AuthConfig.model_validate({"jwt_algorithm": "none"})
    with pytest.raises(ValidationError, match="not accepted"):
        AuthConfig.model_validate({"jwt_algorithm": "XS999"})
    with pytest.raises(ValidationError, match="shared-secret algorithm"):
        _config(issuer, "HS256")
    with pytest.raises(ValidationError, match="needs the issuer's public keys"):
        AuthConfig.model_validate({"jwt_algorithm": "RS256"})
    # An alg:none token is refused by a running edge too.
    kid = issuer.add_key("RS256")
    issuer.publish()
    unsigned = jwt.encode(
        {"sub": "x", "iss": issuer.issuer, "aud": issuer.audience},
        cast(Any, None),
        algorithm="none",
        headers={"kid": kid},
    )
    _refused(Authenticator(_config(issuer, "RS256")), unsigned, "TOKEN_INVALID")
    with pytest.raises(ValueError, match="external issuer"):
        mint_token(_config(issuer, "RS256"), "alice")


class _Context:
    """Just enough of a grpc ServicerContext for Authenticator.authenticate."""

    def __init__(self, token: str):
        self._metadata = (("authorization", f"Bearer {token}"),)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata


@pytest.fixture
def jwks_server(issuer: Issuer) -> Iterator[tuple[str, list[str]]]:
    """The issuer's JWKS over HTTP on loopback, as an IdP's jwks_uri; records every fetch."""
    fetches: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(self.path)
            body = issuer.jwks_file.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", fetches
    finally:
        server.shutdown()
        server.server_close()


async def test_keys_from_a_jwks_url_are_cached_and_refreshed_on_rotation(
    issuer: Issuer, jwks_server: tuple[str, list[str]]
) -> None:
    url, fetches = jwks_server
    kid = issuer.add_key("ES256")
    issuer.publish()
    config = AuthConfig.model_validate(
        {
            "jwks_url": url,
            "jwt_algorithm": "ES256",
            "jwt_issuer": issuer.issuer,
            "jwt_audience": issuer.audience,
            "jwks_min_refresh_seconds": 0.5,
        }
    )
    auth = Authenticator(config)
    for _ in range(5):
        assert (await auth.authenticate(_Context(issuer.token(kid)))).user == "users/alice"
    assert len(fetches) == 1  # cached
    # Made-up kids cost at most one fetch per refresh interval.
    for i in range(20):
        with pytest.raises(Unauthenticated):
            await auth.authenticate(_Context(forged_kid_token(issuer.token(kid), f"made-up-{i}")))
    assert len(fetches) <= 2
    rotated = issuer.add_key("ES256")
    issuer.publish()
    await asyncio.sleep(0.6)
    assert (await auth.authenticate(_Context(issuer.token(rotated, "erin")))).user == "users/erin"
    assert len(fetches) <= 3
