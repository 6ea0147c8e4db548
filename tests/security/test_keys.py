"""The identities' keys: generated once for dev with private permissions (also when several
processes race to make them), required in stage and prod, and rotated and retired on a running
service without a restart."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from grpc import aio

from cadenza.blob.v1 import blob_pb2, blob_pb2_grpc
from cadenza_runtime.config import CadenzaConfig, IdentityConfig, Profile
from cadenza_runtime.identity import (
    IDENTITIES,
    IdentityError,
    TokenSigner,
    ensure_dev_identities,
    key_file,
    retire_keys,
    rotate_key,
    trust_bundle_file,
)
from cadenza_runtime.server import CadenzaServer, ServiceBundle, ServiceRegistration

BLOB = blob_pb2.DESCRIPTOR.services_by_name["BlobService"].full_name


def _own(config: CadenzaConfig, state_dir: Path) -> CadenzaConfig:
    return config.model_copy(update={"state_dir": state_dir, "identity": IdentityConfig()})


def test_dev_keys_are_private_and_made_once_even_when_raced(config: CadenzaConfig, tmp_path: Path) -> None:
    own = _own(config, tmp_path / "state")
    with ThreadPoolExecutor(8) as pool:
        made = set(pool.map(lambda _: ensure_dev_identities(own), range(8)))
    [directory] = made
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    bundle = json.loads(trust_bundle_file(own).read_text())
    assert sorted(k["kid"].split(":")[0] for k in bundle["keys"]) == sorted(IDENTITIES)
    for identity in IDENTITIES:
        assert stat.S_IMODE(key_file(own, identity).stat().st_mode) == 0o600
    before = trust_bundle_file(own).read_text()
    ensure_dev_identities(own)
    assert trust_bundle_file(own).read_text() == before, "idempotent: the same keys on every run"
    assert not [p for p in directory.parent.iterdir() if p.name.startswith(".identity-")], "no staging left"


@pytest.mark.parametrize("profile", [Profile.STAGE, Profile.PROD])
def test_stage_and_prod_refuse_to_start_without_configured_keys(
    config: CadenzaConfig, tmp_path: Path, profile: Profile
) -> None:
    own = _own(config, tmp_path).model_copy(update={"profile": profile})
    bundle = ServiceBundle(
        [ServiceRegistration(BLOB, object(), blob_pb2_grpc.add_BlobServiceServicer_to_server)]
    )
    with pytest.raises(IdentityError, match=r"identity\.key_file and identity\.trust_bundle"):
        CadenzaServer("blob", bundle, own, port=0)
    assert not (tmp_path / "identity").exists(), "only dev generates keys"


class _Stat(blob_pb2_grpc.BlobServiceServicer):
    async def StatObject(
        self, request: blob_pb2.StatObjectRequest, context: object
    ) -> blob_pb2.StatObjectResponse:
        return blob_pb2.StatObjectResponse()


@pytest.fixture
async def served(config: CadenzaConfig, tmp_path: Path) -> AsyncIterator[tuple[CadenzaConfig, aio.Channel]]:
    own = _own(config, tmp_path / "state")
    ensure_dev_identities(own)
    servicer = _Stat()  # type: ignore[abstract]  # the other RPCs stay UNIMPLEMENTED
    bundle = ServiceBundle(
        [ServiceRegistration(BLOB, servicer, blob_pb2_grpc.add_BlobServiceServicer_to_server, access={})]
    )
    server = CadenzaServer("blob", bundle, own, port=0)
    await server.start()
    async with aio.insecure_channel(server.address) as channel:
        yield own, channel
    await server.stop(grace=0.5)


async def _code(channel: aio.Channel, token: str) -> grpc.StatusCode:
    try:
        await blob_pb2_grpc.BlobServiceStub(channel).StatObject(
            blob_pb2.StatObjectRequest(bucket="a", key="k"), metadata=(("authorization", f"Bearer {token}"),)
        )
    except aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_rotation_and_retirement_apply_to_a_running_service(
    served: tuple[CadenzaConfig, aio.Channel],
) -> None:
    own, channel = served
    old = TokenSigner("operator", key_file(own, "operator"), 300).mint("blob")
    assert await _code(channel, old) == grpc.StatusCode.OK

    new_kid = rotate_key(own, "operator")
    await asyncio.sleep(1.1)  # the service looks at its trust bundle once a second
    fresh = TokenSigner("operator", key_file(own, "operator"), 300).mint("blob")
    assert (
        json.loads(__import__("base64").urlsafe_b64decode(fresh.split(".")[0] + "==")).get("kid") == new_kid
    )
    assert await _code(channel, fresh) == grpc.StatusCode.OK
    assert await _code(channel, old) == grpc.StatusCode.OK, "the old key stays trusted until retired"

    retired = retire_keys(own, "operator")
    assert len(retired) == 1 and retired[0] != new_kid
    await asyncio.sleep(1.1)
    assert await _code(channel, old) == grpc.StatusCode.UNAUTHENTICATED
    assert await _code(channel, fresh) == grpc.StatusCode.OK
