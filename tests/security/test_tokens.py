"""Service tokens against a real service (metadata, in process): expiry and leeway, audience,
tampering, a key speaking for another identity, unknown keys, over-long lifetimes, end-user tokens
sent to an internal service; health stays open; the acting user only from the orchestrator."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.metadata.v1 import metadata_pb2, metadata_pb2_grpc
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.errors import error_info_from_rpc_error
from cadenza_runtime.identity import key_file, load_private_key, public_jwk
from cadenza_runtime.server import CadenzaServer
from cadenza_runtime.user_tokens import mint_token

REQUEST = metadata_pb2.GetJobRequest(name=f"jobs/{uuid.uuid4()}")  # NOT_FOUND once let through


def forge(
    config: CadenzaConfig,
    *,
    signer: str = "operator",
    sub: str | None = None,
    aud: str | list[str] = "metadata",
    iat: float | None = None,
    ttl: float = 300,
    key: Ed25519PrivateKey | None = None,
) -> str:
    """A token signed with `signer`'s dev key (or `key`), with any claims."""
    private = key or load_private_key(key_file(config, signer))
    kid = public_jwk(signer, private.public_key())["kid"]
    issued = int(time.time() if iat is None else iat)
    claims = {
        "iss": "cadenza-internal",
        "sub": sub or signer,
        "aud": aud,
        "iat": issued,
        "exp": issued + int(ttl),
    }
    return jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": kid})


@pytest.fixture(scope="module")
async def plain(internal: dict[str, CadenzaServer]) -> AsyncIterator[aio.Channel]:
    """No client interceptors: each test sends exactly the header it means to."""
    async with aio.insecure_channel(internal["metadata"].address) as channel:
        yield channel


async def _code(channel: aio.Channel, header: str | None) -> tuple[grpc.StatusCode, str, str]:
    metadata = None if header is None else (("authorization", header),)
    try:
        await metadata_pb2_grpc.MetadataServiceStub(channel).GetJob(REQUEST, metadata=metadata, timeout=10)
    except aio.AioRpcError as error:
        info = error_info_from_rpc_error(error)
        return error.code(), error.details() or "", info.reason if info else ""
    return grpc.StatusCode.OK, "", ""


async def test_a_fresh_token_passes(plain: aio.Channel, config: CadenzaConfig) -> None:
    code, _, _ = await _code(plain, f"Bearer {forge(config)}")
    assert code == grpc.StatusCode.NOT_FOUND  # past the gate, into the handler


async def test_expired_tokens_are_refused_beyond_the_leeway_only(
    plain: aio.Channel, config: CadenzaConfig
) -> None:
    leeway = config.identity.leeway_seconds
    now = time.time()
    stale = forge(config, iat=now - 600, ttl=600 - leeway - 30)  # expired 30 s past the leeway
    code, details, reason = await _code(plain, f"Bearer {stale}")
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "SERVICE_TOKEN_EXPIRED")
    assert "expired" in details and "cadenza token --operator" in details
    skewed = forge(config, iat=now - 600, ttl=600 - leeway / 2)  # inside the clock-skew leeway
    assert (await _code(plain, f"Bearer {skewed}"))[0] == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("wrong audience", "addressed to another service"),
        ("tampered claims", "Signature verification failed"),
        ("another identity's key", "cannot speak for"),
        ("key not in the trust bundle", "not in this service's trust bundle"),
        ("lifetime too long", "lifetime exceeds"),
        ("end-user token", "not an internal service token"),
        ("not a jwt", "not a JWT"),
    ],
)
async def test_bad_tokens_are_unauthenticated_with_the_reason(
    plain: aio.Channel, config: CadenzaConfig, case: str, expect: str
) -> None:
    token: str
    if case == "wrong audience":
        token = forge(config, aud="blob")
    elif case == "tampered claims":
        # An orchestrator token whose payload is rewritten to claim the operator.
        header, payload, signature = forge(config, signer="orchestrator").split(".")
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["sub"] = "operator"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        token = f"{header}.{forged}.{signature}"
    elif case == "another identity's key":
        token = forge(config, signer="inference", sub="operator")
    elif case == "key not in the trust bundle":
        token = forge(config, key=Ed25519PrivateKey.generate())
    elif case == "lifetime too long":
        token = forge(config, ttl=config.identity.max_token_lifetime_seconds + 60)
    elif case == "end-user token":
        token = mint_token(config.auth, "alice", ["user", "admin"])
    else:
        token = "not-a-token"
    code, details, reason = await _code(plain, f"Bearer {token}")
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "SERVICE_TOKEN_INVALID"), details
    assert expect in details, details


async def test_missing_or_malformed_authorization_is_unauthenticated(
    plain: aio.Channel, config: CadenzaConfig
) -> None:
    for header in (None, forge(config), "Basic b3BlcmF0b3I6eA==", "Bearer "):
        code, details, reason = await _code(plain, header)
        assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "SERVICE_TOKEN_MISSING"), header
        assert "metadata is an internal service" in details


async def test_health_is_open_to_anonymous_probes(internal: dict[str, CadenzaServer]) -> None:
    for server in internal.values():
        async with aio.insecure_channel(server.address) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    ("signer", "acting", "expected"),
    [
        ("orchestrator", "users/alice", grpc.StatusCode.NOT_FOUND),
        ("operator", "users/alice", grpc.StatusCode.PERMISSION_DENIED),
        ("blob", "users/alice", grpc.StatusCode.PERMISSION_DENIED),
        ("orchestrator", "alice", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_only_the_orchestrator_may_name_an_acting_user(
    plain: aio.Channel, config: CadenzaConfig, signer: str, acting: str, expected: grpc.StatusCode
) -> None:
    stub = metadata_pb2_grpc.MetadataServiceStub(plain)
    # GetJob is the orchestrator's; the operator may call everything, blob is refused anyway.
    metadata = (
        ("authorization", f"Bearer {forge(config, signer=signer)}"),
        ("x-cadenza-acting-user", acting),
    )
    with pytest.raises(aio.AioRpcError) as caught:
        await stub.GetJob(REQUEST, metadata=metadata, timeout=10)
    assert caught.value.code() == expected, caught.value.details()
    if expected == grpc.StatusCode.PERMISSION_DENIED and signer == "operator":
        assert "may not act for end users" in (caught.value.details() or "")
