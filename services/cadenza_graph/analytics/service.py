"""Graph analytics as the servicer sees them: validated parameters in, results with their run out."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from cadenza_graph import validation
from cadenza_graph.analytics import worker
from cadenza_graph.analytics.algorithms import Algorithm, Communities, Kind, Method, Ranking
from cadenza_graph.analytics.runner import AnalyticsRunner
from cadenza_graph.analytics.worker import CentralityJob, CommunityJob, Task
from cadenza_graph.store import GraphStore
from cadenza_runtime.config import GraphConfig, Neo4jConfig
from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.rules.limits import MAX_ANALYSIS_USERS as MAX_USERS
from cadenza_runtime.rules.limits import MAX_MEMBERS, MAX_RESOLUTION, MAX_SAMPLE_SIZE


@dataclass(frozen=True)
class Run:
    version: tuple[int, ...]
    cached: bool
    node_count: int
    sample_size: int
    exact: bool


class Analytics:
    def __init__(self, store: GraphStore, runner: AnalyticsRunner[Task, Any], settings: GraphConfig):
        self._store = store
        self._runner = runner
        self._settings = settings

    @classmethod
    def create(cls, store: GraphStore, settings: GraphConfig, neo4j: Neo4jConfig) -> Analytics:
        runner: AnalyticsRunner[Task, Any] = AnalyticsRunner(
            worker.run,
            workers=settings.analytics_workers,
            queue_size=settings.analytics_queue_size,
            cache_entries=settings.analytics_cache_entries,
            initializer=worker.init,
            initargs=(
                settings.analytics_niceness,
                neo4j.uri,
                neo4j.user,
                neo4j.password.get_secret_value(),
                neo4j.database,
                neo4j.encrypted,
                str(neo4j.ca_file) if neo4j.ca_file else None,
            ),
        )
        return cls(store, runner, settings)

    @property
    def runner(self) -> AnalyticsRunner[Task, Any]:
        return self._runner

    async def close(self) -> None:
        await self._runner.close()

    async def communities(
        self,
        users: tuple[str, ...] | None,
        kind: Kind,
        algorithm: Algorithm,
        resolution: float,
        seed: int,
        remaining: float | None,
    ) -> tuple[Communities, Run]:
        job = CommunityJob(kind=kind, algorithm=algorithm, resolution=resolution, seed=seed)
        result, run = await self._run(users, job, remaining)
        assert isinstance(result, Communities)
        return result, Run(run[0], run[1], len(result.members), 0, True)

    async def centrality(
        self,
        users: tuple[str, ...] | None,
        kind: Kind,
        method: Method,
        sample_size: int,
        seed: int,
        remaining: float | None,
    ) -> tuple[Ranking, Run]:
        job = CentralityJob(
            kind=kind,
            method=method,
            sample_size=sample_size,
            seed=seed,
            exact_nodes=self._settings.betweenness_exact_nodes,
            default_samples=self._settings.betweenness_samples,
        )
        result, run = await self._run(users, job, remaining)
        assert isinstance(result, Ranking)
        return result, Run(run[0], run[1], result.node_count, result.sample_size, result.exact)

    async def _run(
        self, users: tuple[str, ...] | None, job: CommunityJob | CentralityJob, remaining: float | None
    ) -> tuple[Any, tuple[tuple[int, ...], bool]]:
        loop = asyncio.get_running_loop()
        deadline = None if remaining is None else loop.time() + remaining
        # The version is read before the graph: a write in between makes the next call recompute.
        version = await self._store.analytics_version(users)
        task = Task(users=users, version=version, job=job)
        result, cached = await self._runner.run(task, deadline)
        return result, (version, cached)


# --- request fields -----------------------------------------------------------------------------


def users(values: list[str], field: str = "users") -> tuple[str, ...] | None:
    """Sorted, de-duplicated owners; None (every track) when empty."""
    if len(values) > MAX_USERS:
        raise InvalidArgument(
            f"{field} names {len(values)} users; at most {MAX_USERS} are allowed", metadata={"field": field}
        )
    if not values:
        return None
    return tuple(sorted({validation.user_name(value, f"{field}[{i}]") for i, value in enumerate(values)}))


def resolution(value: float, field: str = "resolution") -> float:
    if value == 0.0:
        return 1.0
    if not math.isfinite(value) or not 0.0 < value <= MAX_RESOLUTION:
        raise InvalidArgument(
            f"{field} must be in (0, {MAX_RESOLUTION:g}] (0 means 1), got {value}", metadata={"field": field}
        )
    return value


def sample_size(value: int, field: str = "sample_size") -> int:
    if not 0 <= value <= MAX_SAMPLE_SIZE:
        raise InvalidArgument(
            f"{field} must be in 0..{MAX_SAMPLE_SIZE} (0 lets the service choose), got {value}",
            metadata={"field": field},
        )
    return value


def members(values: list[str], kind: Kind, field: str = "members") -> list[str]:
    if len(values) > MAX_MEMBERS:
        raise InvalidArgument(
            f"{field} names {len(values)} members; at most {MAX_MEMBERS} are allowed",
            metadata={"field": field},
        )
    if kind == "tracks":
        return [validation.track_name(value, f"{field}[{i}]") for i, value in enumerate(values)]
    return [validation.tag(value, f"{field}[{i}]") for i, value in enumerate(values)]
