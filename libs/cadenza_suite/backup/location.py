"""Where backups live: a local directory, or `s3://bucket/prefix` on the S3 endpoint of the
`backup` configuration section (CADENZA_BACKUP__S3_ENDPOINT, ..._S3_ACCESS_KEY, ..._S3_SECRET_KEY).

An S3 backup is written locally first (under the state directory, 0700) and uploaded file by
file, the manifest last, so an interrupted upload has no manifest and is refused; a restore
downloads it and verifies it like a local one before anything is touched.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.backup import s3
from cadenza_suite.backup.manifest import FILE_MODE, MANIFEST, BackupError, private_dir


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def key(self, relative: str) -> str:
        return f"{self.prefix.strip('/')}/{relative}" if self.prefix.strip("/") else relative


def parse(text: str) -> Path | S3Location:
    if not text.startswith("s3://"):
        return Path(text).expanduser().resolve()
    bucket, _, prefix = text[len("s3://") :].partition("/")
    if not bucket:
        raise BackupError(f"{text}: name a bucket, e.g. s3://backups/cadenza")
    return S3Location(bucket, prefix.strip("/"))


def staging_dir(config: CadenzaConfig, name: str) -> Path:
    return private_dir(config.state_dir / "backup-staging" / name)


async def upload(config: CadenzaConfig, local: Path, target: S3Location) -> str:
    """Uploads the backup directory `local` under target/<its name>/; returns its URI."""
    client = s3.backup_store(config)
    base = S3Location(target.bucket, f"{target.prefix}/{local.name}".strip("/"))
    try:
        if not await client.bucket_exists(target.bucket):
            await client.make_bucket(target.bucket)
        # The manifest goes last: without it the backup reads as interrupted.
        for path in sorted(_files(local), key=lambda p: p.name == MANIFEST):
            relative = path.relative_to(local).as_posix()
            await client.fput_object(target.bucket, base.key(relative), str(path))
    finally:
        await s3.close(client)
    return base.uri


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def download(config: CadenzaConfig, source: S3Location) -> Path:
    """Downloads the backup at source into a private local directory and returns it."""
    client = s3.backup_store(config)
    name = source.prefix.rstrip("/").rsplit("/", 1)[-1] or "backup"
    local = config.state_dir / "backup-staging" / f"download-{name}"
    shutil.rmtree(local, ignore_errors=True)
    private_dir(local)
    prefix = source.key("")
    found = 0
    try:
        async for obj in client.list_objects(source.bucket, prefix=prefix, recursive=True):
            key = obj.object_name or ""
            relative = key[len(prefix) :]
            path = (local / relative).resolve()
            if not relative or local.resolve() not in path.parents:
                raise BackupError(f"s3://{source.bucket}/{key}: not a file inside the backup")
            private_dir(path.parent)
            await client.fget_object(source.bucket, key, str(path))
            os.chmod(path, FILE_MODE)
            found += 1
    finally:
        await s3.close(client)
    if not found:
        raise BackupError(f"{source.uri} holds no backup")
    return local
