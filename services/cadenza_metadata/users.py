"""CreateUser, GetUser, ListUsers, UpdateUser (with a field mask), GrantRole and RevokeRole."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg

from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import audit, convert, validation
from cadenza_metadata.db import Connection
from cadenza_metadata.deps import Deps
from cadenza_metadata.keyset import Pager, Where
from cadenza_runtime.channels import ROLES_CHANGED
from cadenza_runtime.errors import AlreadyExists, InvalidArgument, NotFound
from cadenza_runtime.rules import names

_UPDATABLE = ("display_name", "email", "roles")


def _roles(values: Iterable[int], field: str) -> list[str]:
    roles = set()
    for i, value in enumerate(values):
        if value == metadata_pb2.ROLE_UNSPECIFIED or value not in metadata_pb2.Role.values():
            raise InvalidArgument(f"{field}[{i}] must be ROLE_USER or ROLE_ADMIN")
        roles.add(metadata_pb2.Role.Name(value).removeprefix("ROLE_"))  # type: ignore[arg-type]
    return sorted(roles)


async def _fetch(conn: Connection, user_id: str, *, lock: bool = False) -> metadata_pb2.User | None:
    row = await conn.fetchrow(f"SELECT * FROM users WHERE id = $1{' FOR UPDATE' if lock else ''}", user_id)
    if row is None:
        return None
    roles = await conn.fetch("SELECT role FROM user_roles WHERE user_id = $1", user_id)
    return convert.user(row, [r["role"] for r in roles])


def _email_taken(email: str) -> AlreadyExists:
    return AlreadyExists(f"the e-mail address {email!r} belongs to another user", reason="EMAIL_TAKEN")


async def create_user(
    deps: Deps, request: metadata_pb2.CreateUserRequest, actor: str
) -> metadata_pb2.CreateUserResponse:
    user_id = names.check_user_id(request.user_id, "user_id") if request.user_id else str(uuid.uuid4())
    user = request.user
    validation.text(user.display_name, "user.display_name", max_length=validation.MAX_DISPLAY_NAME)
    validation.email(user.email, "user.email")
    roles = _roles(user.roles, "user.roles") or ["USER"]

    async def work(conn: Connection) -> metadata_pb2.CreateUserResponse:
        row = await conn.fetchrow(
            "INSERT INTO users (id, display_name, email) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING *",
            user_id,
            user.display_name,
            user.email,
        )
        if row is None:
            raise AlreadyExists(
                f"{names.user_name(user_id)} already exists",
                reason="USER_EXISTS",
                metadata={"resource": names.user_name(user_id)},
            )
        await conn.executemany(
            "INSERT INTO user_roles (user_id, role) VALUES ($1, $2)", [(user_id, r) for r in roles]
        )
        await audit.record(conn, actor, "CreateUser", names.user_name(user_id), {"roles": roles})
        return metadata_pb2.CreateUserResponse(user=convert.user(row, roles))

    try:
        return await deps.db.write(work)
    except asyncpg.UniqueViolationError as exc:
        raise _email_taken(user.email) from exc


async def get_user(deps: Deps, request: metadata_pb2.GetUserRequest) -> metadata_pb2.GetUserResponse:
    user_id = names.parse_user(request.name)
    user = await deps.db.read(lambda conn: _fetch(conn, user_id))
    if user is None:
        raise NotFound(
            f"{names.user_name(user_id)} does not exist",
            reason="USER_NOT_FOUND",
            metadata={"resource": names.user_name(user_id)},
        )
    return metadata_pb2.GetUserResponse(user=user)


async def list_users(deps: Deps, request: metadata_pb2.ListUsersRequest) -> metadata_pb2.ListUsersResponse:
    pager = Pager(deps.codec, "ListUsers", {}, request.page_size, request.page_token)
    where = Where()
    if pager.cursor is not None:
        where.add("u.id > {}", pager.cursor_value("id", str))
    sql = f"""
        SELECT u.*, coalesce(array_agg(r.role) FILTER (WHERE r.role IS NOT NULL), '{{}}') AS roles
        FROM users u LEFT JOIN user_roles r ON r.user_id = u.id
        {where.sql} GROUP BY u.id ORDER BY u.id LIMIT {pager.size + 1}
    """
    rows = await deps.db.fetch(sql, *where.args, replica=True)
    page, token = pager.page(rows, lambda r: {"id": r["id"]})
    return metadata_pb2.ListUsersResponse(
        users=[convert.user(r, list(r["roles"])) for r in page], next_page_token=token
    )


def _mask_paths(request: metadata_pb2.UpdateUserRequest) -> list[str]:
    paths = list(request.update_mask.paths)
    if paths == ["*"]:
        return list(_UPDATABLE)
    if not paths:
        # AIP-134: no mask means every field the request populates.
        user = request.user
        return [
            p
            for p, present in zip(_UPDATABLE, (user.display_name, user.email, user.roles), strict=True)
            if present
        ]
    for path in paths:
        if path not in _UPDATABLE:
            raise InvalidArgument(f"update_mask path {path!r} is not updatable; use {', '.join(_UPDATABLE)}")
    return sorted(set(paths))


async def update_user(
    deps: Deps, request: metadata_pb2.UpdateUserRequest, actor: str
) -> metadata_pb2.UpdateUserResponse:
    user_id = names.parse_user(request.user.name, "user.name")
    paths = _mask_paths(request)
    if not paths:
        raise InvalidArgument(
            "nothing to update: set update_mask or the fields to change", reason="MISSING_FIELD"
        )
    wanted = request.user
    if "display_name" in paths:
        validation.text(wanted.display_name, "user.display_name", max_length=validation.MAX_DISPLAY_NAME)
    if "email" in paths:
        validation.email(wanted.email, "user.email")
    roles = _roles(wanted.roles, "user.roles") if "roles" in paths else None
    if roles == []:
        raise InvalidArgument("user.roles must not be empty: every user has at least ROLE_USER")

    async def work(conn: Connection) -> metadata_pb2.UpdateUserResponse:
        if await _fetch(conn, user_id, lock=True) is None:
            raise NotFound(
                f"{names.user_name(user_id)} does not exist",
                reason="USER_NOT_FOUND",
                metadata={"resource": names.user_name(user_id)},
            )
        await conn.execute(
            """
            UPDATE users SET display_name = CASE WHEN $2 THEN $3 ELSE display_name END,
                             email = CASE WHEN $4 THEN $5 ELSE email END, updated_at = now()
            WHERE id = $1
            """,
            user_id,
            "display_name" in paths,
            wanted.display_name,
            "email" in paths,
            wanted.email,
        )
        if roles is not None:
            await conn.execute("DELETE FROM user_roles WHERE user_id = $1", user_id)
            await conn.executemany(
                "INSERT INTO user_roles (user_id, role) VALUES ($1, $2)", [(user_id, r) for r in roles]
            )
        await audit.record(conn, actor, "UpdateUser", names.user_name(user_id), {"paths": paths})
        user = await _fetch(conn, user_id)
        assert user is not None
        return metadata_pb2.UpdateUserResponse(user=user)

    try:
        response = await deps.db.write(work)
    except asyncpg.UniqueViolationError as exc:
        raise _email_taken(wanted.email) from exc
    if roles is not None:
        await deps.cache.announce(ROLES_CHANGED, user_id)
    return response


async def change_role(
    deps: Deps,
    request: metadata_pb2.GrantRoleRequest | metadata_pb2.RevokeRoleRequest,
    grant: bool,
    actor: str,
) -> metadata_pb2.User:
    """Grants or revokes one role, creating the user (with ROLE_USER) when it is new here.

    Creating it matters for a revocation: from then on the store's roles, not the token's claim,
    decide what the user may do at the edge.
    """
    user_id = names.parse_user(request.user, "user")
    (role,) = _roles([request.role], "role") if request.role else [""]
    if not role:
        raise InvalidArgument("role must be ROLE_USER or ROLE_ADMIN", reason="MISSING_FIELD")
    if not grant and role == "USER":
        raise InvalidArgument("ROLE_USER cannot be revoked: every user has it")
    action = "GrantRole" if grant else "RevokeRole"

    async def work(conn: Connection) -> metadata_pb2.User:
        created = await conn.fetchval(
            "INSERT INTO users (id) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING true", user_id
        )
        if created:
            await conn.execute("INSERT INTO user_roles (user_id, role) VALUES ($1, 'USER')", user_id)
        await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
        if grant:
            await conn.execute(
                "INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING", user_id, role
            )
        else:
            await conn.execute("DELETE FROM user_roles WHERE user_id = $1 AND role = $2", user_id, role)
        await conn.execute("UPDATE users SET updated_at = now() WHERE id = $1", user_id)
        await audit.record(
            conn, actor, action, names.user_name(user_id), {"role": role, "created_user": bool(created)}
        )
        user = await _fetch(conn, user_id)
        assert user is not None
        return user

    user = await deps.db.write(work)
    await deps.cache.announce(ROLES_CHANGED, user_id)
    return user
