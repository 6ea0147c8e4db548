"""The whole suite: which components exist, in which order they start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import Iterable, Iterator

from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.private_files import private_dir
from cadenza_suite import installers, lifecycle
from cadenza_suite.components import Component, preload_clients
from cadenza_suite.lifecycle import ComponentError, Outcome, Status
from cadenza_suite.migrate import run_migrations
from cadenza_suite.services import SERVICE_NAMES, Service
from cadenza_suite.stores.milvus import Milvus
from cadenza_suite.stores.minio import Minio
from cadenza_suite.stores.neo4j import Neo4j
from cadenza_suite.stores.postgres import Postgres
from cadenza_suite.stores.redis import Redis

log = logging.getLogger("cadenza.suite")

STORE_NAMES = ("postgres", "redis", "minio", "milvus", "neo4j")
COMPONENT_NAMES = (*STORE_NAMES, *SERVICE_NAMES)


class UnknownComponentError(ValueError):
    pass


class SuiteError(RuntimeError):
    """One or more components failed; str() holds every failure with its log tail."""

    def __init__(self, failures: list[ComponentError]) -> None:
        self.failures = failures
        super().__init__("\n\n".join(str(f) for f in failures))


def components(config: CadenzaConfig) -> dict[str, Component]:
    """Every component, in start order."""
    stores: list[Component] = [Postgres(config), Redis(config), Minio(config), Milvus(config), Neo4j(config)]
    services: list[Component] = [Service(name, config) for name in SERVICE_NAMES]
    return {c.name: c for c in [*stores, *services]}


def resolve(names: Iterable[str], all_components: dict[str, Component]) -> list[str]:
    """The named components plus everything they depend on, in start order."""
    wanted: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in all_components:
            raise UnknownComponentError(f"unknown component {name!r}; known: {', '.join(all_components)}")
        if name not in wanted:
            wanted.add(name)
            pending.extend(all_components[name].depends_on)
    return [n for n in all_components if n in wanted]


def _check_names(names: list[str], all_components: dict[str, Component]) -> None:
    unknown = [n for n in names if n not in all_components]
    if unknown:
        raise UnknownComponentError(
            f"unknown component(s) {', '.join(unknown)}; known: {', '.join(all_components)}"
        )


@contextlib.contextmanager
def suite_lock(config: CadenzaConfig) -> Iterator[None]:
    """Serialises `up` and `down` runs, so that two of them never start the same store twice."""
    path = config.state_dir / "run" / "suite.lock"
    private_dir(path.parent)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another `cadenza up/down` to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _report(outcome: Outcome) -> None:
    pid = f" (pid {outcome.pid})" if outcome.pid else ""
    took = f" in {outcome.seconds:.1f}s" if outcome.seconds >= 0.05 else ""
    log.info("%-12s %s%s%s", outcome.name, outcome.action, pid, took)


async def _start_all(group: list[Component]) -> list[ComponentError]:
    """Starts a group concurrently; returns the failures (the others keep running)."""
    results = await asyncio.gather(*(lifecycle.ensure_running(c) for c in group), return_exceptions=True)
    failures: list[ComponentError] = []
    for component, result in zip(group, results, strict=True):
        if isinstance(result, Outcome):
            _report(result)
        elif isinstance(result, ComponentError):
            failures.append(result)
        elif isinstance(result, BaseException):
            failures.append(ComponentError(component, f"{type(result).__name__}: {result}"))
    return failures


async def up(
    config: CadenzaConfig,
    only: Iterable[str] | None = None,
    *,
    services: bool = True,
    install: bool = True,
) -> None:
    """Installs what is missing, starts stores, migrates, starts services; raises SuiteError."""
    everything = components(config)
    names = resolve(only, everything) if only else list(everything)
    if not services:
        names = [n for n in names if everything[n].kind == "store"]
    selected = [everything[n] for n in names]
    private_dir(config.state_dir)
    preload_clients(selected)
    with suite_lock(config):
        if install:
            await asyncio.to_thread(installers.install, [c.name for c in selected], config.milvus.mode)
        failures = await _start_all([c for c in selected if c.kind == "store"])
        if failures:
            raise SuiteError(failures)
        if any(c.name == "postgres" for c in selected):
            await run_migrations()
        backends = [c for c in selected if c.kind == "service" and c.name != "orchestrator"]
        failures = await _start_all(backends)
        if not failures:
            failures = await _start_all([c for c in selected if c.name == "orchestrator"])
        if failures:
            raise SuiteError(failures)


async def down(config: CadenzaConfig, names: Iterable[str] | None = None) -> None:
    """Stops the named components (default: all): orchestrator, other services, then stores."""
    everything = components(config)
    chosen = list(names) if names else list(everything)
    _check_names(chosen, everything)
    waves = [
        [everything[n] for n in chosen if n == "orchestrator"],
        [everything[n] for n in chosen if everything[n].kind == "service" and n != "orchestrator"],
        [everything[n] for n in chosen if everything[n].kind == "store"],
    ]
    with suite_lock(config):
        for wave in waves:
            results = await asyncio.gather(*(asyncio.to_thread(lifecycle.stop, c) for c in wave))
            for outcome in results:
                if outcome.action != "not running":
                    _report(outcome)


async def status(config: CadenzaConfig, names: Iterable[str] | None = None) -> list[Status]:
    everything = components(config)
    wanted = list(names) if names else list(everything)
    _check_names(wanted, everything)
    chosen = [everything[n] for n in wanted]
    preload_clients(chosen)
    return list(await asyncio.gather(*(lifecycle.status(c) for c in chosen)))
