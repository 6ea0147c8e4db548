"""The two commands' front ends: where from/to, the summary they print, their exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from cadenza_runtime.config import CadenzaConfig
from cadenza_suite.backup import location
from cadenza_suite.backup.manifest import BackupError
from cadenza_suite.backup.run import BackupResult, RestoreResult, backup, parse_time, restore

EXIT_FAILED = 1


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _backup_summary(result: BackupResult, where: str) -> dict[str, Any]:
    stores = result.manifest.stores
    return {
        "backup": where,
        "bytes": result.manifest.total_bytes,
        "files": len(result.manifest.files),
        "objects": sum(len(objects) for objects in stores["minio"]["buckets"].values()),
        "postgres_end_time": stores["postgres"]["end_time"],
        "seconds": result.timings,
    }


async def _backup(config: CadenzaConfig, to: str | None) -> dict[str, Any]:
    target = location.parse(to) if to else config.state_dir / "backups"
    if isinstance(target, Path):
        result = await backup(config, target)
        return _backup_summary(result, str(result.path))
    staging = location.staging_dir(config, "upload")
    try:
        result = await backup(config, staging)
        uri = await location.upload(config, result.path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _backup_summary(result, uri)


def run_backup(config: CadenzaConfig, to: str | None, *, as_json: bool) -> int:
    # Whatever writes into the backup (pg_basebackup, downloads) creates files for us only.
    os.umask(0o077)
    try:
        summary = asyncio.run(_backup(config, to))
    except BackupError as exc:
        print(f"cadenza backup failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        took = summary["seconds"]
        print(
            f"backup {summary['backup']}: {summary['files']} files, {_mib(summary['bytes'])}, "
            f"{summary['objects']} objects, in {took['total']:.1f}s "
            f"(postgres {took['postgres']:.1f}s, minio {took['minio']:.1f}s)"
        )
    return 0


def _restore_summary(result: RestoreResult) -> dict[str, Any]:
    return {
        "backup_created": result.manifest.created,
        "bytes": result.manifest.total_bytes,
        "objects": result.objects,
        "tracks": result.rebuilt.tracks,
        "embeddings": result.rebuilt.embeddings,
        "graph_nodes": result.rebuilt.graph_nodes,
        "lineage_edges": result.rebuilt.lineage_edges,
        "removed_incomplete": result.rebuilt.removed,
        "seconds": result.timings,
    }


async def _restore(config: CadenzaConfig, source: str, at: str | None) -> dict[str, Any]:
    when = parse_time(at) if at else None
    where = location.parse(source)
    if isinstance(where, Path):
        return _restore_summary(await restore(config, where, when))
    local = await location.download(config, where)
    try:
        return _restore_summary(await restore(config, local, when))
    finally:
        shutil.rmtree(local, ignore_errors=True)


def run_restore(config: CadenzaConfig, source: str, at: str | None, *, as_json: bool) -> int:
    os.umask(0o077)
    try:
        summary = asyncio.run(_restore(config, source, at))
    except BackupError as exc:
        print(f"cadenza restore failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        took = summary["seconds"]
        print(
            f"restored {summary['tracks']} tracks ({summary['objects']['objects']} objects, "
            f"{summary['embeddings']} embeddings, {summary['graph_nodes']} graph nodes, "
            f"{summary['lineage_edges']} lineage edges) in {took['total']:.1f}s"
        )
        for track, reason in summary["removed_incomplete"].items():
            print(f"  deleted {track}: {reason}")
    return 0
