"""Calling the internal services as the operator, outside create_channel (grpcurl, raw channels)."""

from __future__ import annotations

from grpc import aio

from cadenza_runtime.client import identity_stamp
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.identity import IDENTITIES, OPERATOR, as_identity, signer_for
from cadenza_runtime.telemetry import client_tracing_interceptors


def operator_token(config: CadenzaConfig, ttl: float = 300) -> str:
    """An operator service token good for every service (what `cadenza token --operator` prints),
    for grpcurl and for channels made without create_channel."""
    signer = signer_for(as_identity(config, OPERATOR))
    assert signer is not None
    return signer.mint([name for name in IDENTITIES if name != OPERATOR], ttl)


def operator_metadata(config: CadenzaConfig) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {operator_token(config)}"),)


def plain_channel(address: str, config: CadenzaConfig) -> aio.Channel:
    """A channel without the suite's retries and default deadline (to see a raw status), still
    calling as this process's identity."""
    stamp = identity_stamp(signer_for(config))
    return aio.insecure_channel(address, interceptors=client_tracing_interceptors(stamp))
