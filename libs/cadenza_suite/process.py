"""Detached processes: spawning, pid files, liveness, stopping, ports and log tails.

Linux only (it reads /proc), which is what the local suite runs on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cadenza_runtime.private_files import open_private_log

# Popen objects of the children this process started; kept so that they are not garbage
# collected (which warns) and reaped by a waiter thread when they exit while we still live.
_CHILDREN: list[subprocess.Popen[bytes]] = []


@dataclass(frozen=True)
class Launch:
    """How to start one component's process."""

    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    # Unprivileged OS user to run as (PostgreSQL refuses to run as root).
    user: str | None = None
    # Values (passwords on a command line) replaced by *** in the log header.
    secrets: tuple[str, ...] = ()


def spawn_detached(launch: Launch, log_file: Path) -> int:
    """Starts argv in a new session with stdout/stderr appended to log_file; returns its pid.

    The new session makes the process outlive `cadenza up` and its terminal (no SIGHUP) and
    makes the pid its process-group id, so `stop_process` can reach its children as well.
    """
    with os.fdopen(open_private_log(log_file), "ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        shown = " ".join("***" if arg in launch.secrets else arg for arg in launch.argv)
        log.write(f"\n=== cadenza {stamp}: starting {shown}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            list(launch.argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(launch.env) if launch.env is not None else None,
            cwd=launch.cwd,
            start_new_session=True,
            close_fds=True,
            user=launch.user,
            group=_primary_group(launch.user) if launch.user else None,
            extra_groups=[] if launch.user else None,
        )
    _CHILDREN.append(proc)
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return proc.pid


def exit_status(pid: int) -> int | None:
    """The exit status of a child this process spawned, once it has exited and been reaped."""
    for proc in _CHILDREN:
        if proc.pid == pid:
            return proc.returncode
    return None


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


# --- pid files -------------------------------------------------------------------------------


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        return int(text.splitlines()[0])
    except (ValueError, IndexError):
        return None


def write_pid(pid_file: Path, pid: int) -> None:
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(pid_file)


def remove_pid(pid_file: Path) -> None:
    pid_file.unlink(missing_ok=True)


# --- liveness --------------------------------------------------------------------------------


def _proc_state(pid: int) -> str | None:
    """The one-letter state from /proc/<pid>/stat, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is parenthesised and may contain spaces: split after the last ')'.
    return stat.rsplit(")", 1)[1].split()[0]


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def pid_alive(pid: int, marker: str | None = None) -> bool:
    """True when pid runs (a zombie counts as dead) and, given a marker, its command line has it.

    The marker guards against pid reuse: after a reboot or a crash the number in a stale pid
    file may belong to an unrelated process, which must be neither trusted nor killed.
    """
    state = _proc_state(pid)
    if state is None or state in ("Z", "X"):
        return False
    return marker is None or marker in cmdline(pid)


def group_members(pgid: int) -> list[int]:
    """Live processes of one process group."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _send(pid: int, sig: int, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def stop_process(
    pid: int, *, timeout: float, stop_signal: int = signal.SIGTERM, signal_group: bool = True
) -> bool:
    """Sends stop_signal, waits up to timeout for the whole group to exit, then SIGKILLs it.

    Returns True when it had to SIGKILL. The process must have been started by spawn_detached
    (so that its pid is its process-group id).
    """
    _send(pid, stop_signal, signal_group)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid) and not group_members(pid):
            _reap(pid)
            return False
        time.sleep(0.1)
    _send(pid, signal.SIGKILL, True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (pid_alive(pid) or group_members(pid)):
        time.sleep(0.1)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    # Only our own children can be reaped; the waiter thread usually got there first.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# --- ports -----------------------------------------------------------------------------------


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on a TCP port on any address (IPv4 or IPv6)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(inode)
    return inodes


def port_listening(port: int) -> bool:
    """Whether anything listens on the port; unlike connecting, never waits."""
    return bool(_listening_inodes(port))


def port_owner(port: int) -> int | None:
    """Pid of a process listening on a TCP port, when /proc lets us see it."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not wanted:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        return int(entry.name)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return None


def describe_port_user(port: int) -> str:
    owner = port_owner(port)
    if owner is None:
        return "an unknown process"
    return f"pid {owner} ({' '.join(cmdline(owner).split())[:120] or '?'})"


# --- logs and memory -------------------------------------------------------------------------


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file (reads at most 64 KiB from its end)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            data = f.read().decode(errors="replace")
    except FileNotFoundError:
        return f"(no log file at {path})"
    return "\n".join(data.splitlines()[-lines:])


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (VmRSS), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size: shared pages divided among their sharers, so sums add up."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _parents() -> dict[int, int]:
    """pid -> parent pid of every live process."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
        if fields[0] not in ("Z", "X"):
            parents[int(entry.name)] = int(fields[1])
    return parents


def tree_pids(pid: int) -> set[int]:
    """A process, its descendants and the rest of its process group.

    Descendants matter because some servers (PostgreSQL) put each child in its own session.
    """
    if not pid_alive(pid):
        return set(group_members(pid))
    parents = _parents()
    members = {pid, *group_members(pid)}
    grew = True
    while grew:
        children = {child for child, parent in parents.items() if parent in members} - members
        members |= children
        grew = bool(children)
    return members
