"""What runs in the analytics worker process: read a snapshot from Neo4j, run one algorithm.

The process has its own (synchronous) Neo4j driver, so reading and decoding a large graph costs the
service's event loop nothing, and keeps the last snapshots it read: several analytics of one graph
version read it once.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neo4j import Driver, GraphDatabase, unit_of_work
from neo4j.exceptions import DriverError, Neo4jError

from cadenza_graph import queries
from cadenza_graph.analytics import algorithms, priority
from cadenza_graph.analytics.snapshot import Snapshot
from cadenza_runtime.config import Neo4jConfig
from cadenza_runtime.store_tls import neo4j_tls_kwargs

# Reading 100k tracks takes a few seconds on a busy machine; a larger graph gets longer still.
SNAPSHOT_TIMEOUT_SECONDS = 120.0
KEPT_SNAPSHOTS = 2


@dataclass(frozen=True)
class CommunityJob:
    kind: algorithms.Kind
    algorithm: algorithms.Algorithm
    resolution: float
    seed: int


@dataclass(frozen=True)
class CentralityJob:
    kind: algorithms.Kind
    method: algorithms.Method
    # Betweenness sources; 0 = every node up to exact_nodes, else default_samples.
    sample_size: int
    seed: int
    exact_nodes: int = 0
    default_samples: int = 0


@dataclass(frozen=True)
class Task:
    """One analytic of one graph: hashable, so it is also the cache key."""

    # Owners whose tracks form the graph, sorted; None = every track.
    users: tuple[str, ...] | None
    # The version of that graph (global counter, or one counter per user) when it was asked for.
    version: tuple[int, ...]
    job: CommunityJob | CentralityJob


class StoreFailure(Exception):
    """Neo4j failed in the worker; carries only a message, so it crosses the process boundary."""


_driver: Driver | None = None
_database = "neo4j"
_snapshots: OrderedDict[tuple[tuple[str, ...] | None, tuple[int, ...]], Snapshot] = OrderedDict()


def init(
    niceness: int,
    uri: str,
    user: str,
    password: str,
    database: str,
    encrypted: bool = False,
    ca_file: str | None = None,
) -> None:
    """Process initializer: the worker's own connection, at a lower CPU priority (graph.analytics_niceness)."""
    # Analytics are background work: where cores are scarce, the service's request handling and
    # Neo4j go first.
    priority.lower(niceness)
    _exit_with_parent()
    connect(uri, user, password, database, encrypted, ca_file)
    # The imported modules (igraph, numpy, the driver) stay for the process's life: out of the
    # collector's reach, full collections between analytics scan only what those made (each took
    # ~40 ms, several times a second while analytics ran back to back).
    gc.collect()
    gc.freeze()


def _exit_with_parent(interval_seconds: float = 1.0) -> None:
    """Ends this process once the graph service that started it is gone. A pool worker holds both
    ends of its task queue, so a service killed with SIGKILL never closes it: without this watch the
    worker would live on as an orphan, holding its Neo4j connections."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_seconds)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def connect(
    uri: str, user: str, password: str, database: str, encrypted: bool = False, ca_file: str | None = None
) -> None:
    """The TLS settings come as plain values: they cross the process boundary (initargs), where the
    driver's trust objects need not pickle."""
    global _driver, _database
    tls = neo4j_tls_kwargs(Neo4jConfig(encrypted=encrypted, ca_file=Path(ca_file) if ca_file else None))
    _driver = GraphDatabase.driver(uri, auth=(user, password), connection_timeout=5.0, **tls)
    _database = database


def run(task: Task) -> algorithms.Communities | algorithms.Ranking:
    snapshot = snapshot_of(task.users, task.version)
    job = task.job
    if isinstance(job, CommunityJob):
        return algorithms.communities(snapshot, job.kind, job.algorithm, job.resolution, job.seed)
    count = len(snapshot.tracks) if job.kind == "tracks" else len(snapshot.tags)
    sample_size = job.sample_size or (0 if count <= job.exact_nodes else job.default_samples)
    return algorithms.centrality(snapshot, job.kind, job.method, sample_size, job.seed)


def snapshot_of(users: tuple[str, ...] | None, version: tuple[int, ...]) -> Snapshot:
    key = (users, version)
    if key in _snapshots:
        _snapshots.move_to_end(key)
        return _snapshots[key]
    snapshot = read_snapshot(users)
    _snapshots[key] = snapshot
    while len(_snapshots) > KEPT_SNAPSHOTS:
        _snapshots.popitem(last=False)
    return snapshot


def read_snapshot(users: tuple[str, ...] | None) -> Snapshot:
    if _driver is None:
        raise RuntimeError("analytics worker used before init()")
    query = queries.SNAPSHOT_ALL if users is None else queries.SNAPSHOT_OF_USERS
    params: dict[str, Any] = {} if users is None else {"users": list(users)}
    try:
        with _driver.session(database=_database) as session:
            row = session.execute_read(_single, query, params)
    except (Neo4jError, DriverError) as exc:
        raise StoreFailure(f"reading the graph for analytics failed: {exc}") from None
    carriers = dict(zip(row["tags"], row["carriers"], strict=True))
    lineage = list(zip(row["children"], row["parents"], row["strengths"], strict=True))
    return Snapshot.build(list(row["ids"]), carriers, lineage)


@unit_of_work(timeout=SNAPSHOT_TIMEOUT_SECONDS)
def _single(tx: Any, query: str, params: dict[str, Any]) -> dict[str, Any]:
    record = tx.run(query, params).single(strict=True)
    return dict(zip(record.keys(), record.values(), strict=True))
