"""The backup manifest refuses every damaged backup before a restore touches anything (pure
file checks, no suite needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cadenza_suite.backup.manifest import MANIFEST, BackupError, Manifest, make_private, private_dir, verify


def _backup(root: Path) -> Path:
    (root / "postgres").mkdir(parents=True)
    (root / "postgres" / "base.tar.gz").write_bytes(b"base backup bytes" * 100)
    (root / "objects").mkdir()
    (root / "objects" / "one").write_bytes(b"an object")
    manifest = Manifest(created="2026-12-04T00:00:00+00:00", stores={"postgres": {}})
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        manifest.add_file(root, path)
    make_private(root)
    manifest.write(root)
    return root


def test_an_intact_backup_verifies_and_is_private(tmp_path: Path) -> None:
    root = _backup(tmp_path / "b")
    assert set(verify(root).files) == {"postgres/base.tar.gz", "objects/one"}
    for path in [root, *root.rglob("*")]:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda r: (r / "postgres/base.tar.gz").write_bytes(b"base"), "truncated"),
        (lambda r: (r / "objects/one").write_bytes(b"An object"), "corrupt"),
        (lambda r: (r / "objects/one").unlink(), "missing"),
        (lambda r: (r / MANIFEST).unlink(), "interrupted"),
        (lambda r: (r / MANIFEST).write_text((r / MANIFEST).read_text()[:40]), "corrupt or truncated"),
        (lambda r: (r / MANIFEST).write_text(json.dumps({"format": "other"})), "not a cadenza-backup/1"),
    ],
)
def test_a_damaged_backup_is_refused_with_the_reason(tmp_path: Path, damage: object, message: str) -> None:
    root = _backup(tmp_path / "b")
    damage(root)  # type: ignore[operator]
    with pytest.raises(BackupError, match=message):
        verify(root)


def test_a_manifest_naming_a_file_outside_the_backup_is_refused(tmp_path: Path) -> None:
    root = _backup(tmp_path / "b")
    (tmp_path / "secret").write_bytes(b"x")
    data = json.loads((root / MANIFEST).read_text())
    data["files"]["../secret"] = {"size": 1, "sha256": "0" * 64}
    (root / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(BackupError, match="outside the backup"):
        verify(root)


def test_private_dir_creates_private_parents_and_leaves_existing_ones_alone(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    private_dir(tmp_path / "a" / "b")
    assert tmp_path.stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "a" / "b").stat().st_mode & 0o777 == 0o700
