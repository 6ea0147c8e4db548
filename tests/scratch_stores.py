"""Private room on the suite's own servers, for tests that must not share rows or objects.

A database is made as the launcher makes the real one (owned by the owner role, its public schema
too), so migrations and the service role's grants behave exactly as in `cadenza up`. Buckets are
made by the blob service itself when it starts with their names configured.
"""

from __future__ import annotations

import uuid

import asyncpg
from miniopy_async.error import S3Error

from cadenza_blob.store import close_minio, open_minio
from cadenza_runtime.config import CadenzaConfig


async def create_database(config: CadenzaConfig, prefix: str) -> CadenzaConfig:
    """Creates `<prefix>_<random>` and returns `config` pointed at it (schema not yet migrated)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    owner = config.postgres.owner_user
    conn = await asyncpg.connect(config.postgres.dsn("superuser", database="postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(config.postgres.dsn("superuser", database=name))
    try:
        await conn.execute(f'ALTER SCHEMA public OWNER TO "{owner}"')
    finally:
        await conn.close()
    return config.model_copy(update={"postgres": config.postgres.model_copy(update={"database": name})})


async def drop_databases(config: CadenzaConfig, *names: str) -> None:
    """Drops the named databases, closing any connection still open to them."""
    conn = await asyncpg.connect(config.postgres.dsn("superuser", database="postgres"))
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def with_private_result_buckets(config: CadenzaConfig, prefix: str) -> CadenzaConfig:
    """`config` with audio and latent buckets of its own (`<prefix>-<random>-audio`, `...-latents`)."""
    stem = f"{prefix}-{uuid.uuid4().hex[:10]}"
    minio = config.minio.model_copy(
        update={"audio_bucket": f"{stem}-audio", "latent_bucket": f"{stem}-latents"}
    )
    return config.model_copy(update={"minio": minio})


async def remove_buckets(config: CadenzaConfig, *buckets: str) -> None:
    """Empties and removes the named buckets (a missing one is fine)."""
    client = open_minio(config.minio)
    try:
        for bucket in buckets:
            if not await client.bucket_exists(bucket):
                continue
            async for obj in client.list_objects(bucket, recursive=True):
                if obj.object_name:
                    await client.remove_object(bucket, obj.object_name)
            try:
                await client.remove_bucket(bucket)
            except S3Error as error:
                if error.code != "NoSuchBucket":
                    raise
    finally:
        await close_minio(client)
