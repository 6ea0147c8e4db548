"""GrantRole / RevokeRole: the store's roles decide over the edge token's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from cadenza.metadata.v1 import metadata_pb2
from tests.helpers.errors import expect_error
from tests.metadata.support import ACTOR, new_user

if TYPE_CHECKING:
    import asyncpg

    from cadenza.metadata.v1.metadata_pb2_grpc import MetadataServiceAsyncStub

USER, ADMIN = metadata_pb2.ROLE_USER, metadata_pb2.ROLE_ADMIN


async def test_grant_and_revoke_create_the_user_and_are_audited(
    stub: MetadataServiceAsyncStub, pg: asyncpg.Pool
) -> None:
    user = new_user()
    # Revoking from a user the store never saw records it, with ROLE_USER only.
    revoked = await stub.RevokeRole(metadata_pb2.RevokeRoleRequest(user=user, role=ADMIN))
    assert revoked.user.name == user and list(revoked.user.roles) == [USER]
    granted = await stub.GrantRole(metadata_pb2.GrantRoleRequest(user=user, role=ADMIN))
    assert sorted(granted.user.roles) == [USER, ADMIN]
    again = await stub.GrantRole(metadata_pb2.GrantRoleRequest(user=user, role=ADMIN))
    assert sorted(again.user.roles) == [USER, ADMIN]  # idempotent
    fetched = await stub.GetUser(metadata_pb2.GetUserRequest(name=user))
    assert sorted(fetched.user.roles) == [USER, ADMIN]
    await stub.RevokeRole(metadata_pb2.RevokeRoleRequest(user=user, role=ADMIN))
    assert list((await stub.GetUser(metadata_pb2.GetUserRequest(name=user))).user.roles) == [USER]
    actions = await pg.fetch("SELECT action, actor FROM audit_logs WHERE resource = $1 ORDER BY id", user)
    assert [row["action"] for row in actions] == ["RevokeRole", "GrantRole", "GrantRole", "RevokeRole"]
    assert {row["actor"] for row in actions} == {ACTOR}


async def test_bad_role_requests_are_invalid_argument(stub: MetadataServiceAsyncStub) -> None:
    user = new_user()
    await expect_error(
        stub.RevokeRole(metadata_pb2.RevokeRoleRequest(user=user, role=USER)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await expect_error(
        stub.GrantRole(metadata_pb2.GrantRoleRequest(user=user)), grpc.StatusCode.INVALID_ARGUMENT
    )
    await expect_error(
        stub.GrantRole(metadata_pb2.GrantRoleRequest(user="people/x", role=ADMIN)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
