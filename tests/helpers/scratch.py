"""Private room on the test stack's servers, for tests that must not share rows or objects.

A database is made as the launcher makes the real one (owned by the owner role, its public schema
too), so migrations and the service role's grants behave exactly as in `cadenza up`. Buckets are
made by the blob service itself when it starts with their names configured (or up front by
`scratch_buckets`, with the service's own code); Milvus collections by the vector service. Whatever a test makes here it removes again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from miniopy_async.error import S3Error

from cadenza_blob.store import close_minio, ensure_buckets, open_minio
from cadenza_metadata.migrations import migrate
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.milvus_client import open_milvus


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


def with_private_buckets(config: CadenzaConfig, prefix: str) -> CadenzaConfig:
    """`config` with every bucket of its own (`<prefix>-<random>-audio`, `...-latents`,
    `...-checkpoints`)."""
    stem = f"{prefix}-{uuid.uuid4().hex[:10]}"
    minio = config.minio.model_copy(
        update={
            "audio_bucket": f"{stem}-audio",
            "latent_bucket": f"{stem}-latents",
            "checkpoint_bucket": f"{stem}-checkpoints",
        }
    )
    return config.model_copy(update={"minio": minio})


@asynccontextmanager
async def scratch_buckets(config: CadenzaConfig, prefix: str) -> AsyncIterator[CadenzaConfig]:
    """`config` on audio, latent and checkpoint buckets of its own, emptied and removed afterwards.

    The buckets exist on entry (made as the blob service makes them), so a test may write to them
    directly as well as through a blob service started on the yielded config. Stop that service
    before leaving: its background sweep must not race the removal."""
    own = with_private_buckets(config, prefix)
    try:
        client = open_minio(own.minio)
        try:
            await ensure_buckets(client, own.minio)
        finally:
            await close_minio(client)
        yield own
    finally:
        await remove_buckets(config, *own.minio.buckets)


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


def with_private_collections(config: CadenzaConfig, prefix: str) -> CadenzaConfig:
    """`config` with latent and prompt collections of its own (`<prefix>_latent_<random>`, ...)."""
    suffix = uuid.uuid4().hex[:8]
    milvus = config.milvus.model_copy(
        update={
            "latent_collection": f"{prefix}_latent_{suffix}",
            "prompt_collection": f"{prefix}_prompt_{suffix}",
        }
    )
    return config.model_copy(update={"milvus": milvus})


def drop_collections(config: CadenzaConfig, *names: str) -> None:
    """Drops the named Milvus collections (a missing one is fine)."""
    client = open_milvus(config.milvus, 60)
    try:
        for name in names:
            client.drop_collection(name)
    finally:
        client.close()


@asynccontextmanager
async def scratch_suite_config(config: CadenzaConfig, prefix: str) -> AsyncIterator[CadenzaConfig]:
    """`config` on a migrated database, result buckets and Milvus collections of its own
    (`cadenza_<prefix>_...`, `<prefix>-...`, `<prefix>_latent_...`), removed afterwards: what a
    suite of services started by a test runs on, so that its replicas claim, recover and sweep only
    what its tests made. (Neo4j Community has one database: graph writes are keyed by job and user
    ids no other suite uses.)"""
    database = await create_database(config, f"cadenza_{prefix}")
    own = with_private_collections(with_private_result_buckets(database, prefix), prefix)
    try:
        await migrate(own)
        yield own
    finally:
        await drop_databases(config, own.postgres.database)
        await remove_buckets(config, own.minio.audio_bucket, own.minio.latent_bucket)
        await asyncio.to_thread(
            drop_collections, own, own.milvus.latent_collection, own.milvus.prompt_collection
        )
