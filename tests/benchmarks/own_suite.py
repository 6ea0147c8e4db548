"""The suite a client benchmark talks to: this checkout's services started by the orchestrator tests'
harness on free ports, over a metadata database and result buckets of the benchmark's own, so its
jobs and tracks never reach a developer's suite or another test run; all removed at the end."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cadenza_metadata.migrations import migrate
from cadenza_runtime.config import CadenzaConfig, load_config
from tests.helpers.scratch import create_database, drop_databases, remove_buckets, with_private_result_buckets
from tests.helpers.stores import stores_up
from tests.orchestrator.harness import BACKENDS, Suite


@asynccontextmanager
async def own_suite(name: str) -> AsyncIterator[tuple[str, CadenzaConfig]]:
    """The orchestrator's address and the configuration (its token signer: `auth`) of a fresh
    suite; `name` names its database and buckets."""
    config = load_config()
    await asyncio.to_thread(stores_up, "postgres", "redis", "minio", "milvus", "neo4j")
    own = with_private_result_buckets(await create_database(config, f"cadenza_{name}"), name)
    await migrate(own)
    suite = Suite(own, Path(tempfile.mkdtemp(prefix=f"{name}-")))
    try:
        await asyncio.gather(*(suite.start(backend) for backend in BACKENDS))
        orchestrator = await suite.start("orchestrator", module="cadenza_orchestrator")
        yield orchestrator.address, own
    finally:
        await suite.close()
        await drop_databases(config, own.postgres.database)
        await remove_buckets(config, own.minio.audio_bucket, own.minio.latent_bucket)
