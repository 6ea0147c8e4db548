"""RegisterModelVersion (idempotent), GetModelVersion, ListModelVersions (newest first)."""

from __future__ import annotations

from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import audit, convert, names, validation
from cadenza_metadata.db import Connection
from cadenza_metadata.deps import Deps
from cadenza_metadata.keyset import Pager, Where
from cadenza_runtime.errors import AlreadyExists, NotFound

MAX_DESCRIPTION = 2000
MAX_URI = 2048
MAX_CONFIG_BYTES = 64 * 1024


def _same(a: metadata_pb2.ModelVersion, b: metadata_pb2.ModelVersion) -> bool:
    left, right = metadata_pb2.ModelVersion(), metadata_pb2.ModelVersion()
    left.CopyFrom(a)
    right.CopyFrom(b)
    left.ClearField("create_time")
    right.ClearField("create_time")
    return left == right


async def register_model_version(
    deps: Deps, request: metadata_pb2.RegisterModelVersionRequest, actor: str
) -> metadata_pb2.RegisterModelVersionResponse:
    model = request.model_version
    version = names.parse_model_version_name(model.name, "model_version.name")
    validation.text(
        model.description, "model_version.description", max_length=MAX_DESCRIPTION, single_line=False
    )
    validation.text(model.checkpoint_uri, "model_version.checkpoint_uri", max_length=MAX_URI)
    validation.sha256_hex(model.checkpoint_sha256, "model_version.checkpoint_sha256")
    config = validation.struct_to_dict(model.config, "model_version.config", max_bytes=MAX_CONFIG_BYTES)

    async def work(conn: Connection) -> metadata_pb2.RegisterModelVersionResponse:
        row = await conn.fetchrow(
            """
            INSERT INTO model_versions (id, description, checkpoint_uri, checkpoint_sha256, config, untrained)
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING *
            """,
            version,
            model.description,
            model.checkpoint_uri,
            model.checkpoint_sha256,
            config,
            model.untrained,
        )
        if row is not None:
            await audit.record(conn, actor, "RegisterModelVersion", names.model_version_name(version), {})
            return metadata_pb2.RegisterModelVersionResponse(model_version=convert.model_version(row))
        current = await conn.fetchrow("SELECT * FROM model_versions WHERE id = $1", version)
        assert current is not None  # ON CONFLICT found it and versions are never removed
        existing = convert.model_version(current)
        # Registering the same version again is a no-op; a different one under the same name is not.
        wanted = metadata_pb2.ModelVersion()
        wanted.CopyFrom(model)
        wanted.name = names.model_version_name(version)
        wanted.config.Clear()
        wanted.config.update(config)
        if not _same(existing, wanted):
            raise AlreadyExists(
                f"{names.model_version_name(version)} is already registered with different content; "
                "register a new version name instead",
                reason="MODEL_VERSION_EXISTS",
                metadata={"resource": names.model_version_name(version)},
            )
        return metadata_pb2.RegisterModelVersionResponse(model_version=existing)

    return await deps.db.write(work)


async def get_model_version(
    deps: Deps, request: metadata_pb2.GetModelVersionRequest
) -> metadata_pb2.GetModelVersionResponse:
    version = names.parse_model_version_name(request.name)
    row = await deps.db.fetchrow("SELECT * FROM model_versions WHERE id = $1", version)
    if row is None:
        raise NotFound(
            f"{names.model_version_name(version)} is not registered",
            reason="MODEL_VERSION_NOT_FOUND",
            metadata={"resource": names.model_version_name(version)},
        )
    return metadata_pb2.GetModelVersionResponse(model_version=convert.model_version(row))


async def list_model_versions(
    deps: Deps, request: metadata_pb2.ListModelVersionsRequest
) -> metadata_pb2.ListModelVersionsResponse:
    pager = Pager(deps.codec, "ListModelVersions", {}, request.page_size, request.page_token)
    page, token = await convert.newest_first(deps.db, "model_versions", "*", Where(), pager, str)
    return metadata_pb2.ListModelVersionsResponse(
        model_versions=[convert.model_version(r) for r in page], next_page_token=token
    )
