"""The PostgreSQL launcher's archive_command, run the way the server runs it (%p, %f and %%
substituted, through /bin/sh): it copies a segment into the archive, never overwrites one that
is there, and copes with spaces and '%' in the archive path."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cadenza_runtime.config import CadenzaConfig, PostgresConfig
from cadenza_suite.stores.postgres import server_settings


def _archive(command: str, data_dir: Path, segment: str) -> int:
    # PostgreSQL's substitution: %p (path relative to the data directory), %f, %% -> %.
    shell = command.replace("%p", f"pg_wal/{segment}").replace("%f", segment).replace("%%", "%")
    return subprocess.run(["sh", "-c", shell], cwd=data_dir, check=False).returncode


def test_archive_command_copies_once_and_never_overwrites(tmp_path: Path) -> None:
    archive = tmp_path / "wal archive 100%"
    archive.mkdir()
    config = CadenzaConfig(state_dir=tmp_path, postgres=PostgresConfig(wal_archive_dir=archive))
    data = tmp_path / "data"
    (data / "pg_wal").mkdir(parents=True)
    segment = "000000010000000000000003"
    (data / "pg_wal" / segment).write_bytes(b"first")
    settings = server_settings(config, data)
    assert (settings["wal_level"], settings["archive_mode"]) == ("replica", "on")
    assert settings["archive_timeout"] == "300"

    assert _archive(settings["archive_command"], data, segment) == 0
    assert (archive / segment).read_bytes() == b"first"
    assert not list(archive.glob("*.part"))

    (data / "pg_wal" / segment).write_bytes(b"second")
    assert _archive(settings["archive_command"], data, segment) != 0
    assert (archive / segment).read_bytes() == b"first"


def test_the_archive_defaults_to_the_state_directory(tmp_path: Path) -> None:
    assert CadenzaConfig(state_dir=tmp_path).wal_archive_dir == tmp_path / "postgres-wal-archive"
