"""Neo4j 5.26 Community, embedded in the launcher of deploy/neo4j (run.sh HOME PORT, with the
password in CADENZA_NEO4J_PASSWORD; Bolt over TLS only with neo4j.tls_cert_file/tls_key_file)."""

from __future__ import annotations

import os

from cadenza_runtime.store_tls import neo4j_tls_kwargs
from cadenza_suite.components import Component, NotReady
from cadenza_suite.installers import InstallError, ensure_neo4j_launcher, neo4j_dir
from cadenza_suite.process import Launch

PROBE_TIMEOUT = 5.0
# Read by run.sh and the launcher: an environment is readable by its owner only, while a command
# line shows in every local user's `ps` and /proc/PID/cmdline.
PASSWORD_ENV = "CADENZA_NEO4J_PASSWORD"
# A configured password of "-" runs Neo4j without authentication (run.sh's third argument).
NO_AUTH = "-"


class Neo4j(Component):
    name = "neo4j"
    kind = "store"
    # A cold JVM plus store creation on first start.
    start_timeout = 180.0
    stop_timeout = 60.0
    client_modules = ("neo4j",)

    @property
    def address(self) -> str:
        return self.config.neo4j.uri

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.config.neo4j.bolt_port,)

    @property
    def cmd_marker(self) -> str:
        return "launcher.jar"

    def missing(self) -> str | None:
        cfg = self.config.neo4j
        if (cfg.tls_cert_file is None) != (cfg.tls_key_file is None):
            return "neo4j.tls_cert_file and neo4j.tls_key_file go together (Bolt over TLS needs both)"
        try:
            run = neo4j_dir() / "run.sh"
        except InstallError as exc:
            return str(exc)
        if not run.is_file():
            return f"{run} does not exist"
        if not (neo4j_dir() / "target" / "launcher.jar").is_file():
            return "the Neo4j launcher is not built (run `cadenza install`)"
        return None

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Rebuilds a jar that is stale against deploy/neo4j/src or pom.xml (build.sh compares
        # checksums; a no-op costs a few milliseconds). Here, not in run.sh: a Maven build must
        # not eat into start_timeout.
        ensure_neo4j_launcher()

    def launch(self) -> Launch:
        cfg = self.config.neo4j
        env = dict(os.environ)
        # Heap grows to the configured size; a small initial heap keeps the idle suite lean.
        env["NEO4J_HEAP_OPTS"] = f"-Xms128m -Xmx{cfg.heap}"
        # prepare() has just checked the build.
        env["NEO4J_SKIP_BUILD"] = "1"
        argv = ["bash", str(neo4j_dir() / "run.sh"), str(self.data_dir), str(cfg.bolt_port)]
        password = cfg.password.get_secret_value()
        if password == NO_AUTH:
            argv.append(NO_AUTH)
            env.pop(PASSWORD_ENV, None)
        else:
            env[PASSWORD_ENV] = password
        if cfg.tls_cert_file is not None and cfg.tls_key_file is not None:
            argv += ["--tls-cert", str(cfg.tls_cert_file), "--tls-key", str(cfg.tls_key_file)]
        return Launch(argv=argv, env=env, cwd=self.data_dir)

    async def check_ready(self) -> None:
        # Imported here: the driver takes ~0.7 s to import, which `down` and `install` skip.
        from neo4j import AsyncGraphDatabase
        from neo4j.exceptions import DriverError, Neo4jError

        cfg = self.config.neo4j
        driver = AsyncGraphDatabase.driver(
            cfg.uri,
            auth=(cfg.user, cfg.password.get_secret_value()),
            connection_timeout=PROBE_TIMEOUT,
            connection_acquisition_timeout=PROBE_TIMEOUT,
            **neo4j_tls_kwargs(cfg),
        )
        try:
            await driver.verify_connectivity()
        except (Neo4jError, DriverError, OSError) as exc:
            raise NotReady(f"{type(exc).__name__}: {exc}") from None
        finally:
            await driver.close()
