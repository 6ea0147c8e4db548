"""PostgreSQL from Debian, run as the `postgres` OS user on loopback with its data under the
state directory; bootstraps the database, the owner role and the least-privilege service role."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.private_files import open_private_log
from cadenza_suite.components import Component, NotReady
from cadenza_suite.installers import postgres_bindir
from cadenza_suite.process import Launch

if TYPE_CHECKING:
    import asyncpg

OS_USER = "postgres"
PROBE_TIMEOUT = 5.0


class Postgres(Component):
    name = "postgres"
    kind = "store"
    start_timeout = 60.0
    stop_timeout = 30.0
    # SIGINT is PostgreSQL's "fast" shutdown: SIGTERM ("smart") would wait for every client
    # (a forgotten psql, a test pool) to disconnect. Backends are reached by the postmaster,
    # never signalled directly.
    stop_signal = signal.SIGINT
    signal_group = False
    client_modules = ("asyncpg",)

    @property
    def address(self) -> str:
        pg = self.config.postgres
        return f"{pg.host}:{pg.port}"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.config.postgres.port,)

    @property
    def cmd_marker(self) -> str:
        return "postgres"

    def missing(self) -> str | None:
        try:
            postgres_bindir()
        except RuntimeError as exc:
            return str(exc)
        return None

    # --- first-time set-up -----------------------------------------------------------------

    def prepare(self) -> None:
        data = self.data_dir
        user = pwd.getpwnam(OS_USER)
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(data, user.pw_uid, user.pw_gid)
        data.chmod(0o700)  # PostgreSQL refuses a data directory others can read
        _grant_traversal(data, OS_USER)
        prepare_archive_dir(self.config.wal_archive_dir)
        if (data / "PG_VERSION").exists():
            return
        if any(data.iterdir()):
            raise RuntimeError(f"{data} is neither empty nor a PostgreSQL data directory; move it away")
        pg = self.config.postgres
        as_root = os.geteuid() == 0
        # initdb reads the superuser password from a file it must be able to open as postgres
        # (a root-owned stdin pipe is not): a private temporary file, removed right after.
        fd, pwfile = tempfile.mkstemp(prefix="cadenza-initdb-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(pg.superuser_password.get_secret_value() + "\n")
            if as_root:
                os.chown(pwfile, user.pw_uid, user.pw_gid)
            result = subprocess.run(
                [
                    str(postgres_bindir() / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    pg.superuser,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                capture_output=True,
                text=True,
                user=OS_USER if as_root else None,
                group=user.pw_gid if as_root else None,
                extra_groups=[] if as_root else None,
                cwd="/",
                check=False,
            )
        finally:
            os.unlink(pwfile)
        with os.fdopen(open_private_log(self.log_file), "a") as log:
            log.write(result.stdout + result.stderr)
        if result.returncode != 0:
            # Leave an empty directory behind so that the next attempt can initdb again.
            for child in data.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            raise RuntimeError(f"initdb failed: {result.stderr.strip()[-500:]}")

    def launch(self) -> Launch:
        argv = [str(postgres_bindir() / "postgres"), "-D", str(self.data_dir)]
        for key, value in server_settings(self.config, self.data_dir).items():
            argv += ["-c", f"{key}={value}"]
        return Launch(argv=argv, env=server_env(), cwd=Path("/"), user=OS_USER if os.geteuid() == 0 else None)

    # --- readiness -------------------------------------------------------------------------

    async def check_started(self) -> None:
        conn = await _connect(self.config.postgres.dsn("superuser", database="postgres"))
        await conn.close()

    async def after_start(self) -> None:
        await bootstrap(self)

    async def check_ready(self) -> None:
        conn = await _connect(self.config.postgres.dsn("service"))
        try:
            if await conn.fetchval("SELECT 1") != 1:
                raise NotReady("SELECT 1 did not return 1")
        finally:
            await conn.close()


async def _connect(dsn: str) -> asyncpg.Connection:
    import asyncpg  # late, like every client: keeps `down` quick

    try:
        return await asyncpg.connect(dsn, timeout=PROBE_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise NotReady(f"{type(exc).__name__}: {exc}") from None


async def bootstrap(component: Postgres) -> None:
    """Creates or updates the two roles and the database; safe to run at every `up`.

    Passwords are re-set each time so that the configuration stays the source of truth.
    """
    pg = component.config.postgres
    owner, service = pg.owner_user, pg.service_user
    conn = await _connect(pg.dsn("superuser", database="postgres"))
    try:
        for role, password in ((owner, pg.owner_password), (service, pg.service_password)):
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await conn.execute(await conn.fetchval("SELECT format('CREATE ROLE %I', $1::text)", role))
            # Least privilege for both: only the superuser can create roles or databases.
            sql = await conn.fetchval(
                "SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                "NOREPLICATION NOBYPASSRLS PASSWORD %L', $1::text, $2::text)",
                role,
                password.get_secret_value(),
            )
            await conn.execute(sql)
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", pg.database):
            # CREATE DATABASE cannot run in a transaction; asyncpg's execute() without
            # arguments sends a simple query outside one.
            await conn.execute(
                await conn.fetchval(
                    "SELECT format('CREATE DATABASE %I OWNER %I', $1::text, $2::text)", pg.database, owner
                )
            )
        else:
            await conn.execute(
                await conn.fetchval(
                    "SELECT format('ALTER DATABASE %I OWNER TO %I', $1::text, $2::text)", pg.database, owner
                )
            )
        await conn.execute(
            await conn.fetchval(
                "SELECT format('REVOKE ALL ON DATABASE %1$I FROM PUBLIC; "
                "GRANT CONNECT, TEMPORARY ON DATABASE %1$I TO %2$I, %3$I', $1::text, $2::text, $3::text)",
                pg.database,
                owner,
                service,
            )
        )
    finally:
        await conn.close()
    conn = await _connect(pg.dsn("superuser"))
    try:
        # The owner owns the schema (migrations create tables there and grant the service role
        # what it needs); nobody else may create objects in it.
        await conn.execute(
            await conn.fetchval(
                "SELECT format('ALTER SCHEMA public OWNER TO %1$I; "
                "REVOKE CREATE ON SCHEMA public FROM PUBLIC; "
                "REVOKE CREATE ON SCHEMA public FROM %2$I; "
                "GRANT USAGE ON SCHEMA public TO %2$I', $1::text, $2::text)",
                owner,
                service,
            )
        )
    finally:
        await conn.close()


def _grant_traversal(path: Path, user: str) -> None:
    """Lets `user` reach path through parents it may not enter (a state dir under /root).

    Only the search (x) bit is granted, with an ACL entry for that one user when setfacl is
    present, else for everyone (chmod o+x): directory listings stay private either way.
    """
    uid = pwd.getpwnam(user).pw_uid
    if os.geteuid() != 0 or os.getuid() == uid:
        return
    for parent in reversed(path.parents):
        st = parent.stat()
        if st.st_uid == uid or st.st_mode & stat.S_IXOTH:
            continue
        if shutil.which("setfacl"):
            subprocess.run(["setfacl", "-m", f"u:{user}:x", str(parent)], check=True, capture_output=True)
        else:
            parent.chmod(st.st_mode | stat.S_IXOTH)


def server_settings(config: CadenzaConfig, data_dir: Path) -> dict[str, str]:
    """Settings on the command line (not in postgresql.conf) so that a changed port or host in the
    configuration applies at the next start without rewriting files.

    Every WAL segment is archived (into config.wal_archive_dir) so that `cadenza restore --at`
    can replay the base backup forward to any instant the archive covers.
    """
    pg = config.postgres
    # Copy under a temporary name, then rename: a half-copied segment never looks archived, and
    # an existing one is never overwritten (PostgreSQL retries a failed archive_command).
    archive = shlex.quote(str(config.wal_archive_dir)).replace("%", "%%")
    return {
        "listen_addresses": pg.host,
        "port": str(pg.port),
        "unix_socket_directories": str(data_dir),
        "password_encryption": "scram-sha-256",
        "shared_buffers": "128MB",
        "max_connections": "100",
        "logging_collector": "off",
        "log_line_prefix": "%m [%p] %q%u@%d ",
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": f"test ! -f {archive}/%f && cp %p {archive}/%f.part && mv {archive}/%f.part {archive}/%f",
        "archive_timeout": str(pg.archive_timeout_seconds),
    }


def server_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C.UTF-8",
        "HOME": "/var/lib/postgresql",
    }


def prepare_archive_dir(path: Path) -> None:
    """The WAL archive: written by the server's OS user, readable by nobody else."""
    user = pwd.getpwnam(OS_USER)
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(0o700)
    _grant_traversal(path, OS_USER)
