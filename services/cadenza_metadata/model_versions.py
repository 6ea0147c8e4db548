"""RegisterModelVersion (idempotent), GetModelVersion, ListModelVersions (newest first)."""

from __future__ import annotations

from typing import Any

from cadenza.metadata.v1 import metadata_pb2
from cadenza_metadata import audit, convert, validation
from cadenza_metadata.db import Connection
from cadenza_metadata.deps import Deps
from cadenza_metadata.keyset import Pager, Where
from cadenza_runtime.errors import AlreadyExists, InvalidArgument, NotFound
from cadenza_runtime.rules import models, names
from cadenza_runtime.rules.audio import check_sample_rate
from cadenza_runtime.rules.limits import MAX_DURATION_SECONDS

MAX_DESCRIPTION = 2000
MAX_CONFIG_BYTES = 64 * 1024
MAX_PATH = 1024
MAX_FILES = 10_000
MAX_LICENCE = 200
# "" when the model's adapter is not recorded.
ADAPTERS = ("", *models.ADAPTERS)
TASKS = tuple(models.Task)


def _same(a: metadata_pb2.ModelVersion, b: metadata_pb2.ModelVersion) -> bool:
    left, right = metadata_pb2.ModelVersion(), metadata_pb2.ModelVersion()
    left.CopyFrom(a)
    right.CopyFrom(b)
    for side in (left, right):
        side.ClearField("create_time")
        if not side.source.ListFields():  # an empty source is no source
            side.ClearField("source")
    return left == right


async def register_model_version(
    deps: Deps, request: metadata_pb2.RegisterModelVersionRequest, actor: str
) -> metadata_pb2.RegisterModelVersionResponse:
    model = request.model_version
    version = names.parse_model_version_name(model.name, "model_version.name")
    validation.text(
        model.description, "model_version.description", max_length=MAX_DESCRIPTION, single_line=False
    )
    validation.text(model.checkpoint_uri, "model_version.checkpoint_uri", max_length=validation.MAX_URI)
    validation.sha256_hex(model.checkpoint_sha256, "model_version.checkpoint_sha256")
    config = validation.struct_to_dict(model.config, "model_version.config", max_bytes=MAX_CONFIG_BYTES)
    provenance = _provenance(model)

    async def work(conn: Connection) -> metadata_pb2.RegisterModelVersionResponse:
        row = await conn.fetchrow(
            """
            INSERT INTO model_versions (id, description, checkpoint_uri, checkpoint_sha256, config, untrained,
                adapter, source, files, licence, sample_rate, max_duration_seconds, tasks)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            ON CONFLICT (id) DO NOTHING RETURNING *
            """,
            version,
            model.description,
            model.checkpoint_uri,
            model.checkpoint_sha256,
            config,
            model.untrained,
            *provenance,
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


def _provenance(model: metadata_pb2.ModelVersion) -> tuple[Any, ...]:
    """Validated (adapter, source, files, licence, sample_rate, max_duration_seconds, tasks) columns."""
    if model.adapter not in ADAPTERS:
        raise InvalidArgument(
            f"model_version.adapter must be one of {', '.join(repr(a) for a in ADAPTERS)}, got {model.adapter!r}"
        )
    source = model.source
    validation.text(source.local_path, "model_version.source.local_path", max_length=validation.MAX_URI)
    validation.text(source.repository, "model_version.source.repository", max_length=validation.MAX_URI)
    validation.text(source.revision, "model_version.source.revision", max_length=200)
    if len(model.files) > MAX_FILES:
        raise InvalidArgument(f"model_version.files has {len(model.files)} entries; the limit is {MAX_FILES}")
    files, seen = [], set()
    for i, file in enumerate(model.files):
        field = f"model_version.files[{i}]"
        validation.text(file.path, f"{field}.path", max_length=MAX_PATH, required=True)
        if file.path in seen:
            raise InvalidArgument(f"{field}.path {file.path!r} is listed twice")
        seen.add(file.path)
        validation.text(file.sha256, f"{field}.sha256", max_length=64, required=True)
        validation.sha256_hex(file.sha256, f"{field}.sha256")
        if file.size_bytes < 0:
            raise InvalidArgument(f"{field}.size_bytes must be >= 0, got {file.size_bytes}")
        files.append({"path": file.path, "sha256": file.sha256, "size_bytes": file.size_bytes})
    validation.text(model.licence, "model_version.licence", max_length=MAX_LICENCE)
    check_sample_rate(model.sample_rate, "model_version.sample_rate", unknown_allowed=True)
    # 0 when not known; a model cannot promise more than any job or track may last.
    validation.finite(
        model.max_duration_seconds, "model_version.max_duration_seconds", low=0.0, high=MAX_DURATION_SECONDS
    )
    unknown = [t for t in model.tasks if t not in TASKS]
    if unknown or len(set(model.tasks)) != len(model.tasks):
        raise InvalidArgument(
            f"model_version.tasks must be distinct names among {', '.join(TASKS)}, got {list(model.tasks)}"
        )
    source_json = {
        "local_path": source.local_path,
        "repository": source.repository,
        "revision": source.revision,
    }
    return (
        model.adapter,
        source_json,
        files,
        model.licence,
        model.sample_rate,
        model.max_duration_seconds,
        list(model.tasks),
    )


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
