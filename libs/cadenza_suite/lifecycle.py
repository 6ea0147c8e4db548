"""Generic lifecycle of one component: bring it to ready (reusing a live instance), stop it,
and report its status. Knows nothing about any particular store or service."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from cadenza_suite.components import Component, Health, NotReady
from cadenza_suite.process import (
    describe_port_user,
    exit_status,
    pid_alive,
    port_listening,
    pss_bytes,
    read_pid,
    remove_pid,
    rss_bytes,
    spawn_detached,
    stop_process,
    tail,
    tree_pids,
    write_pid,
)

# Upper bound of one readiness probe; clients with their own retries must not stall `up`.
PROBE_LIMIT = 10.0
POLL_INTERVAL = 0.25
LOG_TAIL_LINES = 40


class ComponentError(RuntimeError):
    """A component failed to start; the message names it and quotes the end of its log."""

    def __init__(self, component: Component, reason: str, *, with_log: bool = True) -> None:
        self.component = component
        self.reason = reason
        message = f"{component.name}: {reason}"
        if with_log and component.managed:
            message += (
                f"\n--- last {LOG_TAIL_LINES} lines of {component.log_file} ---\n"
                f"{tail(component.log_file, LOG_TAIL_LINES)}\n--- end of {component.name} log ---"
            )
        super().__init__(message)


@dataclass(frozen=True)
class Outcome:
    name: str
    # "started", "already running", "checked" (external), "stopped", "killed", "not running"
    action: str
    pid: int | None = None
    seconds: float = 0.0


def running_pid(component: Component, *, clean: bool) -> int | None:
    """The pid from the pid file when that process is alive and is this component.

    With clean, a stale pid file (dead process or reused pid) is removed.
    """
    pid = read_pid(component.pid_file)
    if pid is None:
        return None
    if pid_alive(pid, component.cmd_marker):
        return pid
    if clean:
        remove_pid(component.pid_file)
    return None


async def _attempt(check: Component, phase: str) -> str | None:
    """Runs one probe phase; None when it passed, else why not."""
    probe = check.check_started if phase == "started" else check.check_ready
    try:
        await asyncio.wait_for(probe(), PROBE_LIMIT)
    except NotReady as exc:
        return str(exc)
    except TimeoutError:
        return f"probe did not answer within {PROBE_LIMIT:.0f}s"
    except Exception as exc:  # a probe bug or an odd client error must not hang `up`
        return f"{type(exc).__name__}: {exc}"
    return None


async def probe(component: Component) -> str | None:
    """None when the component is ready (real client / gRPC health), else the reason."""
    return await _attempt(component, "ready")


async def _until_ready(component: Component, pid: int | None, limit: float) -> None:
    """Polls check_started, runs after_start once, then polls check_ready, all within limit seconds.

    Fails early when the process dies, so that a crash is reported at once with its log.
    """
    deadline = time.monotonic() + limit
    last = "no answer yet"
    for phase in ("started", "ready"):
        while True:
            if pid is not None and not pid_alive(pid):
                remove_pid(component.pid_file)
                await asyncio.sleep(0.05)  # let the reaper thread record the exit status
                code = exit_status(pid)
                how = f"exited with status {code}" if code is not None else "exited"
                raise ComponentError(component, f"{how} during start-up (last {phase} check: {last})")
            failure = await _attempt(component, phase)
            if failure is None:
                break
            last = failure
            if time.monotonic() > deadline:
                raise ComponentError(component, f"not ready after {limit:.0f}s: {last}")
            await asyncio.sleep(POLL_INTERVAL)
        if phase == "started":
            try:
                await component.after_start()
            except Exception as exc:
                raise ComponentError(
                    component, f"set-up after start failed: {type(exc).__name__}: {exc}"
                ) from exc


async def ensure_running(component: Component) -> Outcome:
    """Leaves a ready instance alone; otherwise starts one (or waits for one that is starting)."""
    started = time.monotonic()
    missing = component.missing()
    if missing:
        raise ComponentError(component, missing, with_log=False)
    if not component.managed:
        await _until_ready(component, None, component.start_timeout)
        return Outcome(component.name, "checked", None, time.monotonic() - started)

    pid = running_pid(component, clean=True)
    if pid is not None:
        if await probe(component) is None:
            return Outcome(component.name, "already running", pid, time.monotonic() - started)
        # Alive but not ready: still starting (another `up`), or its set-up was interrupted.
        try:
            await _until_ready(component, pid, component.start_timeout)
        except ComponentError as exc:
            raise ComponentError(
                component,
                f"{exc.reason}; it runs as pid {pid} (pid file {component.pid_file}): if its "
                f"configuration changed since it started, run `cadenza down {component.name}` first",
            ) from None
        return Outcome(component.name, "already running", pid, time.monotonic() - started)

    for port in component.ports:
        if port_listening(port):
            raise ComponentError(
                component,
                f"port {port} is already in use by {describe_port_user(port)}, "
                "which `cadenza` did not start (no live pid file); stop it or change the port",
                with_log=False,
            )
    try:
        await asyncio.to_thread(component.prepare)
        launch = component.launch()
        pid = await asyncio.to_thread(spawn_detached, launch, component.log_file)
    except Exception as exc:
        raise ComponentError(component, f"could not be started: {type(exc).__name__}: {exc}") from exc
    write_pid(component.pid_file, pid)
    await _until_ready(component, pid, component.start_timeout)
    return Outcome(component.name, "started", pid, time.monotonic() - started)


def stop(component: Component) -> Outcome:
    """Stops the component's process tree; a no-op when it does not run."""
    started = time.monotonic()
    pid = read_pid(component.pid_file)
    if pid is None:
        return Outcome(component.name, "not running")
    if not pid_alive(pid, component.cmd_marker):
        remove_pid(component.pid_file)
        return Outcome(component.name, "not running")
    killed = stop_process(
        pid,
        timeout=component.stop_timeout,
        stop_signal=component.stop_signal,
        signal_group=component.signal_group,
    )
    remove_pid(component.pid_file)
    return Outcome(component.name, "killed" if killed else "stopped", pid, time.monotonic() - started)


@dataclass(frozen=True)
class Status:
    name: str
    kind: str
    address: str
    pid: int | None
    health: Health
    detail: str
    log_file: str
    data_dir: str
    rss_bytes: int
    pss_bytes: int

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "address": self.address,
            "pid": self.pid,
            "health": self.health.value,
            "detail": self.detail,
            "log_file": self.log_file,
            "data_dir": self.data_dir,
            "rss_bytes": self.rss_bytes,
            "pss_bytes": self.pss_bytes,
        }


async def status(component: Component) -> Status:
    """Health from the real client; DOWN without probing when nothing runs or listens."""
    pid = running_pid(component, clean=False) if component.managed else None
    listening = any(port_listening(port) for port in component.ports)
    missing = component.missing()
    if component.managed and pid is None and not listening:
        health, detail = Health.DOWN, missing or "not running"
    else:
        reason = await probe(component)
        if reason is None:
            health, detail = Health.SERVING, ""
        elif pid is not None or listening:
            health, detail = Health.NOT_SERVING, reason
        else:
            health, detail = Health.DOWN, reason
        if pid is None and listening and component.managed:
            detail = (detail + "; " if detail else "") + "listening, but not started by cadenza"
    pids = tree_pids(pid) if pid is not None else set()
    return Status(
        name=component.name,
        kind=component.kind,
        address=component.address,
        pid=pid,
        health=health,
        detail=detail,
        log_file=str(component.log_file) if component.managed else "",
        # Services keep no data; only show directories that exist.
        data_dir=str(component.data_dir) if component.managed and component.data_dir.is_dir() else "",
        rss_bytes=sum(rss_bytes(p) for p in pids),
        pss_bytes=sum(pss_bytes(p) for p in pids),
    )
