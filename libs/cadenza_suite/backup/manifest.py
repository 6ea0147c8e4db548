"""The backup manifest: what a backup holds and the sha256 of every file, checked before a restore
touches anything.

A backup is written into `<name>.partial/` and renamed once its manifest is complete, so a backup
without `manifest.json` is an interrupted one and is refused like a corrupt one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FORMAT = "cadenza-backup/1"
_CHUNK = 1 << 20
# Backups hold every user's data: readable by their owner only.
DIR_MODE = 0o700
FILE_MODE = 0o600


class BackupError(RuntimeError):
    """A backup cannot be made, or is unusable; the message says which file and why."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def private_dir(path: Path) -> Path:
    """Creates path and any missing parents 0700; directories that already exist keep their mode
    (`--to /tmp` must not make /tmp private)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
        directory.chmod(DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def make_private(root: Path) -> None:
    """0700 on every directory and 0600 on every file under root (tools like pg_basebackup write
    with their own modes)."""
    for current, dirs, files in os.walk(root):
        Path(current).chmod(DIR_MODE)
        for name in dirs:
            (Path(current) / name).chmod(DIR_MODE)
        for name in files:
            (Path(current) / name).chmod(FILE_MODE)


@dataclass
class Manifest:
    created: str
    stores: dict[str, Any]
    # Relative path -> {"size": int, "sha256": str}.
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: str = FORMAT

    def add_file(self, root: Path, path: Path, sha256: str | None = None) -> None:
        relative = path.relative_to(root).as_posix()
        self.files[relative] = {"size": path.stat().st_size, "sha256": sha256 or sha256_file(path)}

    def write(self, root: Path) -> None:
        path = root / MANIFEST
        text = json.dumps(
            {"format": self.format, "created": self.created, "stores": self.stores, "files": self.files},
            indent=2,
            sort_keys=True,
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    @property
    def total_bytes(self) -> int:
        return sum(int(entry["size"]) for entry in self.files.values())


def read(root: Path) -> Manifest:
    """The manifest of the backup at root; BackupError when it is missing or unreadable."""
    path = root / MANIFEST
    if not root.is_dir():
        raise BackupError(f"{root} is not a backup directory")
    if not path.is_file():
        raise BackupError(f"{root} has no {MANIFEST}: not a backup, or one that was interrupted")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{path} is corrupt or truncated ({exc}): refusing to restore from it") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError(f"{path}: not a {FORMAT} manifest")
    files = data.get("files")
    if not isinstance(files, dict) or not isinstance(data.get("stores"), dict):
        raise BackupError(f"{path}: the files or stores section is missing")
    return Manifest(created=str(data.get("created", "")), stores=data["stores"], files=files)


def verify(root: Path) -> Manifest:
    """Checks every file the manifest names (present, size, sha256) and returns the manifest.

    Raises BackupError naming every bad file; the caller has changed nothing yet.
    """
    manifest = read(root)
    problems: list[str] = []
    for relative, entry in sorted(manifest.files.items()):
        path = (root / relative).resolve()
        if root.resolve() not in path.parents:
            problems.append(f"{relative}: outside the backup directory")
            continue
        if not path.is_file():
            problems.append(f"{relative}: missing")
            continue
        size = path.stat().st_size
        if size != entry.get("size"):
            problems.append(f"{relative}: {size} bytes, the manifest says {entry.get('size')} (truncated?)")
            continue
        if sha256_file(path) != entry.get("sha256"):
            problems.append(f"{relative}: sha256 differs from the manifest (corrupt)")
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise BackupError(f"backup {root} is damaged; nothing was restored:\n  {shown}{more}")
    return manifest
