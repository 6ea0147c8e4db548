"""Files and directories only their owner can read: the state directory, logs, config with secrets.

Created with their final mode in the open/mkdir call itself, never chmod-ed afterwards, so that
there is no moment in which another user could open them.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Creates the directory (and missing parents) 0700; an existing one loses group/other read
    and write (search permission a launcher granted for traversal is kept)."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o066:
        with contextlib.suppress(PermissionError):  # not ours: leave it to its owner
            path.chmod(mode & ~0o066)
    return path


def write_private(path: Path, text: str) -> None:
    """Replaces the file's content atomically; the new file is 0600 from its creation."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def open_private_log(path: Path) -> int:
    """A file descriptor appending to the log file, created 0600 (an older, wider one is narrowed)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    return fd
