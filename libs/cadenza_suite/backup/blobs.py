"""MinIO: a copy of every object of every bucket, sha256-checked on the way out and on the way back.

Objects are stored content-addressed (minio/objects/<sha256>), so a key with any characters
maps to a safe file name and identical objects are stored once; the manifest maps bucket and
key to the file, with content type and user metadata (the blob service's x-amz-meta-sha256
among them).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from miniopy_async.api import Minio

from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.backup import s3
from cadenza_suite.backup.manifest import FILE_MODE, BackupError, private_dir

SUBDIR = "minio/objects"
_META_PREFIX = "x-amz-meta-"
_CHUNK = 1 << 20


def _user_metadata(headers: Any) -> dict[str, str]:
    pairs = headers.items() if headers is not None else ()
    return {
        str(name).lower(): str(value) for name, value in pairs if str(name).lower().startswith(_META_PREFIX)
    }


async def _download(client: Minio, bucket: str, key: str, into: Path) -> tuple[str, int]:
    """Streams one object to a temporary file, renamed to its sha256; returns (sha256, size)."""
    digest = hashlib.sha256()
    size = 0
    partial = into / f".part-{os.getpid()}"
    response = await client.get_object(bucket, key)
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            async for chunk in response.content.iter_chunked(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
    finally:
        response.release()
        response.close()
    sha256 = digest.hexdigest()
    partial.replace(into / sha256)
    return sha256, size


async def dump(config: CadenzaConfig, root: Path) -> dict[str, Any]:
    """Copies every object of every bucket; returns the manifest section (buckets -> objects)."""
    into = private_dir(root / SUBDIR)
    client = s3.suite_minio(config)
    buckets: dict[str, list[dict[str, Any]]] = {}
    try:
        for bucket in sorted(b.name for b in await client.list_buckets()):
            objects: list[dict[str, Any]] = []
            async for listed in client.list_objects(bucket, recursive=True):
                key = listed.object_name
                if not key or listed.is_dir:
                    continue
                stat = await client.stat_object(bucket, key)
                sha256, size = await _download(client, bucket, key, into)
                metadata = _user_metadata(stat.metadata)
                recorded = metadata.get(_META_PREFIX + "sha256")
                if recorded and recorded != sha256:
                    raise BackupError(
                        f"{bucket}/{key} in MinIO does not match its recorded sha256 ({recorded}); "
                        "the stored object is damaged"
                    )
                if size != stat.size:
                    raise BackupError(f"{bucket}/{key} changed while it was copied; run the backup again")
                objects.append(
                    {
                        "key": key,
                        "sha256": sha256,
                        "size": size,
                        "content_type": stat.content_type or "application/octet-stream",
                        "metadata": metadata,
                    }
                )
            buckets[bucket] = objects
    finally:
        await s3.close(client)
    return {"buckets": buckets}


async def load(
    config: CadenzaConfig, root: Path, section: dict[str, Any], keep: Callable[[str, str], bool]
) -> dict[str, int]:
    """Creates every bucket and uploads the objects `keep(bucket, key)` accepts, each read back and
    checked against its sha256; returns counts."""
    source = root / SUBDIR
    client = s3.suite_minio(config)
    counts = {"objects": 0, "bytes": 0, "skipped": 0}
    try:
        for bucket, objects in sorted(section["buckets"].items()):
            if not await client.bucket_exists(bucket):
                await client.make_bucket(bucket)
            for obj in objects:
                if not keep(bucket, obj["key"]):
                    counts["skipped"] += 1
                    continue
                await client.fput_object(
                    bucket,
                    obj["key"],
                    str(source / obj["sha256"]),
                    content_type=obj["content_type"],
                    metadata=dict(obj["metadata"]),
                )
                await _verify(client, bucket, obj)
                counts["objects"] += 1
                counts["bytes"] += int(obj["size"])
    finally:
        await s3.close(client)
    return counts


async def _verify(client: Minio, bucket: str, obj: dict[str, Any]) -> None:
    digest = hashlib.sha256()
    response = await client.get_object(bucket, obj["key"])
    try:
        async for chunk in response.content.iter_chunked(_CHUNK):
            digest.update(chunk)
    finally:
        response.release()
        response.close()
    if digest.hexdigest() != obj["sha256"]:
        raise BackupError(f"{bucket}/{obj['key']} reads back with another sha256 than the backup's")
