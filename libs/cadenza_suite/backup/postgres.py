"""PostgreSQL: a base backup with `pg_basebackup`, and a restore that replays it (and the WAL
archive, for `--at`) in a staging directory before swapping it in.

Why pg_basebackup over pgBackRest: it ships with the Debian server packages the suite already
installs (nothing new to build or configure), a single-node dev/stage suite needs no parallel or
incremental backups, and PostgreSQL's own recovery (recovery_target_time over archived WAL) gives
point-in-time restore. pgBackRest would add retention and delta restores for large production
clusters; the archive layout here (one file per segment) is what its `archive-push` also takes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.store_tls import postgres_ssl
from cadenza_suite.backup.manifest import BackupError, private_dir
from cadenza_suite.installers import postgres_bindir
from cadenza_suite.stores.postgres import OS_USER, prepare_archive_dir, server_env, server_settings

_log = logging.getLogger("cadenza.suite")
SUBDIR = "postgres"
# Seconds the recovering server may take to reach its target.
RECOVERY_TIMEOUT = 600.0


async def _superuser(config: CadenzaConfig) -> Any:
    import asyncpg

    pg = config.postgres
    return await asyncpg.connect(pg.dsn("superuser", database="postgres"), timeout=10, ssl=postgres_ssl(pg))


def _libpq_env(config: CadenzaConfig) -> dict[str, str]:
    """pg_basebackup's password and TLS settings (libpq reads them from the environment)."""
    pg = config.postgres
    env = {**os.environ, "PGPASSWORD": pg.superuser_password.get_secret_value(), "PGSSLMODE": pg.ssl_mode}
    if pg.ssl_ca_file:
        env["PGSSLROOTCERT"] = str(pg.ssl_ca_file)
    return env


async def base_backup(config: CadenzaConfig, root: Path) -> dict[str, Any]:
    """Writes base.tar.gz, pg_wal.tar.gz and backup_manifest under root/postgres."""
    pg = config.postgres
    target = root / SUBDIR
    conn = await _superuser(config)
    try:
        archive_mode = await conn.fetchval("SHOW archive_mode")
        version = int(await conn.fetchval("SHOW server_version_num"))
        started = await conn.fetchval("SELECT now()")
        argv = [
            str(postgres_bindir() / "pg_basebackup"),
            f"--host={pg.host}",
            f"--port={pg.port}",
            f"--username={pg.superuser}",
            "--no-password",
            f"--pgdata={target}",
            "--format=tar",
            "--gzip",
            # The WAL the backup needs to be consistent travels with it: restorable on its own.
            "--wal-method=stream",
            "--checkpoint=fast",
            f"--label=cadenza backup {started.isoformat()}",
        ]
        result = await asyncio.to_thread(
            subprocess.run, argv, env=_libpq_env(config), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise BackupError(f"pg_basebackup failed: {result.stderr.strip()[-800:]}")
        finished = await conn.fetchval("SELECT now()")
        if archive_mode != "on":
            _log.warning(
                "PostgreSQL is not archiving WAL (archive_mode=%s): this backup restores to its own "
                "end only; restart PostgreSQL (`cadenza down postgres && cadenza up`) for --at",
                archive_mode,
            )
        else:
            # Archive the segment holding the backup's end now rather than at archive_timeout.
            await conn.execute("SELECT pg_switch_wal()")
    finally:
        await conn.close()
    return {
        "method": "pg_basebackup",
        "server_version_num": version,
        "start_time": started.isoformat(),
        "end_time": finished.isoformat(),
        "archive_mode": archive_mode,
        "wal_archive_dir": str(config.wal_archive_dir),
    }


def _local_major() -> int:
    output = subprocess.run(
        [str(postgres_bindir() / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    return int(output.split()[-1].split(".")[0])


def check_restorable(info: dict[str, Any], at: datetime | None) -> None:
    """Refuses, before anything is touched, a backup this machine's server cannot run, or a
    target time the backup cannot reach."""
    major = int(info["server_version_num"]) // 10000
    local = _local_major()
    if major != local:
        raise BackupError(f"the backup is of PostgreSQL {major}; this machine runs PostgreSQL {local}")
    if at is None:
        return
    end = datetime.fromisoformat(info["end_time"])
    if at > datetime.now(UTC):
        raise BackupError(f"--at {at.isoformat()} is in the future")
    if at < end:
        raise BackupError(
            f"--at {at.isoformat()} is before this backup finished ({end.isoformat()}): "
            "restore from an older backup"
        )
    if info.get("archive_mode") != "on":
        raise BackupError("the server did not archive WAL when this backup was taken: --at is not possible")


class Recovery:
    """Restores the base backup into <state>/postgres.restore and replays it to the target with
    a server that listens on its unix socket only; the live data directory is untouched until
    `swap()`."""

    def __init__(self, config: CadenzaConfig, root: Path, at: datetime | None) -> None:
        self.config = config
        self.source = root / SUBDIR
        self.at = at
        self.data = config.service_dir("postgres")
        self.staging = config.state_dir / "postgres.restore"
        self.log_file = config.log_file("postgres-restore")

    def _as_postgres(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        user = pwd.getpwnam(OS_USER)
        return {"user": OS_USER, "group": user.pw_gid, "extra_groups": []}

    def _chown_tree(self, path: Path) -> None:
        if os.geteuid() != 0:
            return
        user = pwd.getpwnam(OS_USER)
        for current, dirs, files in os.walk(path):
            os.chown(current, user.pw_uid, user.pw_gid)
            for name in [*dirs, *files]:
                os.lchown(os.path.join(current, name), user.pw_uid, user.pw_gid)

    def _extract(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        private_dir(self.staging)
        for archive, into in (("base.tar.gz", self.staging), ("pg_wal.tar.gz", self.staging / "pg_wal")):
            into.mkdir(exist_ok=True, mode=0o700)
            result = subprocess.run(
                ["tar", "-xzf", str(self.source / archive), "-C", str(into)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise BackupError(f"cannot unpack {archive}: {result.stderr.strip()[-500:]}")
        # The launcher keeps its unix socket in the data directory, so the base backup carries the
        # socket's lock file, naming the pid of the postmaster at backup time: a live process
        # with that (reused) pid would make the recovering server refuse to start.
        for stale in [*self.staging.glob(".s.PGSQL.*"), self.staging / "postmaster.pid"]:
            stale.unlink(missing_ok=True)
        (self.staging / "recovery.signal").touch()
        # Lost with the rest of the machine, perhaps: the recovered server archives into it.
        prepare_archive_dir(self.config.wal_archive_dir)
        self._chown_tree(self.staging)
        self.staging.chmod(0o700)

    def _settings(self) -> dict[str, str]:
        settings = server_settings(self.config, self.staging)
        archive = str(self.config.wal_archive_dir).replace("'", "")
        settings.update(
            {
                # No TCP: nothing can connect to a half-recovered database but this restore.
                "listen_addresses": "",
                "restore_command": f"cp '{archive}/%f' '%p'",
                # The backup's own timeline, even if a later restore forked a newer one.
                "recovery_target_timeline": "current",
                "recovery_target_action": "promote",
            }
        )
        if self.at is None:
            settings["recovery_target"] = "immediate"
        else:
            settings["recovery_target_time"] = self.at.isoformat(sep=" ")
            settings["recovery_target_inclusive"] = "true"
        return settings

    async def run(self) -> float:
        """Extracts and recovers; returns seconds taken. Raises BackupError, leaving no staging."""
        started = time.monotonic()
        try:
            await asyncio.to_thread(self._extract)
            await self._recover()
        except BaseException:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise
        return time.monotonic() - started

    async def _recover(self) -> None:
        argv = [str(postgres_bindir() / "postgres"), "-D", str(self.staging)]
        for key, value in self._settings().items():
            argv += ["-c", f"{key}={value}"]
        proc = self._spawn(argv)
        try:
            await self._until_promoted(proc)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # fast shutdown, with a checkpoint
                try:
                    await asyncio.to_thread(proc.wait, 60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    await asyncio.to_thread(proc.wait)

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=server_env(),
                cwd="/",
                start_new_session=True,
                **self._as_postgres(),
            )

    async def _until_promoted(self, proc: subprocess.Popen[bytes]) -> None:
        import asyncpg

        pg = self.config.postgres
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BackupError(
                    f"PostgreSQL recovery stopped (exit {proc.returncode}); the live data directory "
                    f"is untouched. Its log, {self.log_file}, ends with:\n{self._log_tail()}"
                )
            try:
                conn = await asyncpg.connect(
                    host=str(self.staging),
                    port=pg.port,
                    user=pg.superuser,
                    password=pg.superuser_password.get_secret_value(),
                    database="postgres",
                    timeout=5,
                )
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(0.5)
                continue
            try:
                if not await conn.fetchval("SELECT pg_is_in_recovery()"):
                    return
            finally:
                await conn.close()
            await asyncio.sleep(0.5)
        raise BackupError(
            f"PostgreSQL recovery did not finish in {RECOVERY_TIMEOUT:.0f}s; see {self.log_file}"
        )

    def _log_tail(self, lines: int = 8) -> str:
        """The server's FATAL/PANIC lines (the reason), then the last few lines."""
        try:
            text = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        run = text[max((i for i, line in enumerate(text) if "starting PostgreSQL" in line), default=0) :]
        reasons = [line for line in run if "FATAL:" in line or "PANIC:" in line]
        return "\n".join(dict.fromkeys([*reasons, *run[-lines:]]))

    def swap(self) -> None:
        """Puts the recovered directory in place of the live one (both on the same file system)."""
        replaced = self.data.with_name("postgres.replaced")
        shutil.rmtree(replaced, ignore_errors=True)
        if self.data.exists():
            self.data.rename(replaced)
        self.staging.rename(self.data)
        shutil.rmtree(replaced, ignore_errors=True)
