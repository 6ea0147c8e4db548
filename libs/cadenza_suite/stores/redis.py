"""Redis from Debian with its own config file: loopback only, append-only file, no daemonizing
(the suite detaches it itself and owns its pid)."""

from __future__ import annotations

import shutil
from pathlib import Path

from cadenza_runtime.private_files import private_dir, write_private
from cadenza_suite.components import Component, NotReady
from cadenza_suite.process import Launch

PROBE_TIMEOUT = 5.0


class Redis(Component):
    name = "redis"
    kind = "store"
    start_timeout = 30.0
    client_modules = ("redis.asyncio",)

    @property
    def address(self) -> str:
        return f"{self.config.redis.host}:{self.config.redis.port}"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.config.redis.port,)

    @property
    def cmd_marker(self) -> str:
        return "redis-server"

    @property
    def conf_file(self) -> Path:
        return self.data_dir / "redis.conf"

    def missing(self) -> str | None:
        return (
            None if shutil.which("redis-server") else "redis-server is not installed (run `cadenza install`)"
        )

    def prepare(self) -> None:
        cfg = self.config.redis
        private_dir(self.data_dir)
        lines = [
            f"bind {cfg.host}",
            f"port {cfg.port}",
            "protected-mode yes",
            "daemonize no",
            "supervised no",
            f'dir "{self.data_dir}"',
            'logfile ""',  # stdout, which is the component's log file
            "appendonly yes",
            'appendfilename "appendonly.aof"',
            "save 3600 1 300 100 60 10000",
        ]
        if cfg.password_value is not None:
            lines.append(f'requirepass "{cfg.password_value}"')
        # Rewritten at every start so that it follows the configuration; 0600 from its creation
        # as it holds the password.
        write_private(self.conf_file, "\n".join(lines) + "\n")

    def launch(self) -> Launch:
        return Launch(
            argv=[shutil.which("redis-server") or "redis-server", str(self.conf_file)], cwd=self.data_dir
        )

    async def check_ready(self) -> None:
        import redis.asyncio as aioredis  # late, like every client: keeps `down` quick
        from redis.exceptions import RedisError

        cfg = self.config.redis
        client = aioredis.Redis(
            host=cfg.host,
            port=cfg.port,
            db=cfg.db,
            password=cfg.password_value,
            socket_connect_timeout=PROBE_TIMEOUT,
            socket_timeout=PROBE_TIMEOUT,
        )
        try:
            if not await client.ping():
                raise NotReady("PING did not answer PONG")
        except (RedisError, OSError) as exc:
            raise NotReady(f"{type(exc).__name__}: {exc}") from None
        finally:
            await client.aclose()
