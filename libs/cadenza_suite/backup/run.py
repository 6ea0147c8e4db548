"""`cadenza backup` and `cadenza restore`: the order in which the stores are copied and brought
back, so that the restored suite is consistent.

Backup: PostgreSQL first, then MinIO. The saga writes blobs before the track row, so every track
in the base backup has its blobs in the later object copy (unless deleted in between, which the
restore then treats as deleted). Milvus and Neo4j are not copied (the orchestrator's rebuild,
cadenza_orchestrator.rebuild, refills them from metadata); Redis neither.

Restore, all or nothing up to the swap: the backup is verified file by file and PostgreSQL is
recovered in a staging directory first; any failure there leaves every store as it was (and
restarts what was running). Then: the other stores are emptied, the recovered data directory is
swapped in, the blobs that restored metadata still needs are uploaded (sha256 read back), the
suite starts, and vector and graph are rebuilt from metadata.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.rules.blob_keys import job_id_from_key
from cadenza_suite import suite
from cadenza_suite.backup import blobs, postgres
from cadenza_suite.backup.manifest import BackupError, Manifest, make_private, private_dir, verify
from cadenza_suite.backup.rebuild import RebuildReport, rebuild, wanted_job_ids
from cadenza_suite.components import Health
from cadenza_suite.services import SERVICE_NAMES

_log = logging.getLogger("cadenza.suite")
WIPED_STORES = ("redis", "minio", "milvus", "neo4j")

STORE_NOTES: dict[str, dict[str, Any]] = {
    "redis": {
        "backed_up": False,
        "restore": "started empty",
        "why": "cache entries, rate-limit windows, locks and pub/sub are derived or ephemeral; a cache "
        "copied at another instant than PostgreSQL would serve stale jobs and tracks",
    },
    "milvus": {
        "backed_up": False,
        "restore": "rebuilt from metadata",
        "why": "every embedding is recorded in its job (saga_stored); rebuilt exactly, without the "
        "model, consistent with metadata, independent of the Milvus mode's file format",
    },
    "neo4j": {
        "backed_up": False,
        "restore": "rebuilt from metadata",
        "why": "nodes, tags and lineage are a projection of the track rows; Community's dump/load "
        "is offline and the embedded launcher ships no neo4j-admin",
    },
}


@dataclass
class Timed:
    seconds: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str, since: float) -> float:
        now = time.monotonic()
        self.seconds[name] = round(now - since, 3)
        return now


@dataclass
class BackupResult:
    path: Path
    manifest: Manifest
    timings: dict[str, float]


@dataclass
class RestoreResult:
    manifest: Manifest
    timings: dict[str, float]
    objects: dict[str, int]
    rebuilt: RebuildReport


async def _require_serving(config: CadenzaConfig, names: list[str], what: str) -> None:
    statuses = await suite.status(config, names)
    down = [s.name for s in statuses if s.health is not Health.SERVING]
    if down:
        raise BackupError(f"{what} needs {', '.join(down)} running: start it with `cadenza up`")


def backup_name(now: datetime) -> str:
    return "cadenza-" + now.strftime("%Y%m%dT%H%M%S.%fZ")


async def backup(config: CadenzaConfig, dest: Path) -> BackupResult:
    """Writes a new backup directory under dest and returns it."""
    await _require_serving(config, ["postgres", "minio"], "a backup")
    created = datetime.now(UTC)
    private_dir(dest)
    final = dest / backup_name(created)
    partial = dest / f".{final.name}.partial"
    private_dir(partial)
    timed = Timed()
    began = mark = time.monotonic()
    try:
        stores: dict[str, Any] = {"postgres": await postgres.base_backup(config, partial)}
        mark = timed.mark("postgres", mark)
        stores["minio"] = await blobs.dump(config, partial)
        mark = timed.mark("minio", mark)
        stores.update(STORE_NOTES)
        manifest = Manifest(created=created.isoformat(), stores=stores)
        make_private(partial)
        objects = partial / blobs.SUBDIR
        for current, _, files in os.walk(partial):
            for name in files:
                path = Path(current) / name
                # Object files are named by the sha256 taken while they were copied.
                manifest.add_file(partial, path, name if path.parent == objects else None)
        manifest.write(partial)
        timed.mark("manifest", mark)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    timed.seconds["total"] = round(time.monotonic() - began, 3)
    return BackupResult(final, manifest, timed.seconds)


def parse_time(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise BackupError(f"--at {text!r} is not an ISO 8601 time, e.g. 2026-12-04T15:40:00Z") from None
    if at.tzinfo is None:
        raise BackupError(f"--at {text!r} has no time zone; add one, e.g. {text}Z or {text}+01:00")
    return at


def _check_managed(config: CadenzaConfig) -> None:
    if config.milvus.mode == "external":
        raise BackupError(
            "restore empties and rebuilds Milvus; with milvus.mode=external drop its "
            "collections yourself and restore with a suite-managed Milvus"
        )


async def _running(config: CadenzaConfig) -> list[str]:
    return [s.name for s in await suite.status(config) if s.health is not Health.DOWN]


async def restore(config: CadenzaConfig, root: Path, at: datetime | None) -> RestoreResult:
    """Replaces every store's data with the backup at root (PostgreSQL replayed to `at` when
    given); raises BackupError, with nothing changed, when the backup is unusable."""
    timed = Timed()
    began = mark = time.monotonic()
    manifest = verify(root)
    postgres.check_restorable(manifest.stores["postgres"], at)
    _check_managed(config)
    mark = timed.mark("verify", mark)
    was_running = await _running(config)
    await suite.down(config, [*SERVICE_NAMES, "postgres"])
    recovery = postgres.Recovery(config, root, at)
    try:
        await recovery.run()
    except BaseException:
        if was_running:
            await suite.up(config, was_running, install=False)
        raise
    mark = timed.mark("postgres", mark)
    # Past this point the old data goes: a failure below is repaired by running the restore again.
    await suite.down(config, list(WIPED_STORES))
    recovery.swap()
    everything = suite.components(config)
    for name in WIPED_STORES:
        shutil.rmtree(everything[name].data_dir, ignore_errors=True)
    await suite.up(config, ["metadata", "blob"], install=False)
    mark = timed.mark("start", mark)
    objects = await _load_blobs(config, root, manifest)
    mark = timed.mark("minio", mark)
    await suite.up(config, install=False)
    mark = timed.mark("services", mark)
    rebuilt = await rebuild()
    timed.mark("rebuild", mark)
    timed.seconds["total"] = round(time.monotonic() - began, 3)
    return RestoreResult(manifest, timed.seconds, objects, rebuilt)


async def _load_blobs(config: CadenzaConfig, root: Path, manifest: Manifest) -> dict[str, int]:
    wanted = await wanted_job_ids()
    results = {config.minio.audio_bucket, config.minio.latent_bucket}

    def keep(bucket: str, key: str) -> bool:
        # Results of jobs the restored metadata does not hold (or holds as failed or deleted)
        # would be orphans: they are not brought back.
        job_id = job_id_from_key(key) if bucket in results else None
        return job_id is None or job_id in wanted

    return await blobs.load(config, root, manifest.stores["minio"], keep)
