"""Where the suite's own files are: the source checkout, the venv, the child environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def repo_root() -> Path | None:
    """The source checkout this package runs from, or CADENZA_REPO_ROOT; None when installed
    from a wheel without one (deploy/ then has to be named by CADENZA_REPO_ROOT)."""
    explicit = os.environ.get("CADENZA_REPO_ROOT")
    if explicit:
        return Path(explicit).resolve()
    candidate = Path(__file__).resolve().parents[2]
    return candidate if (candidate / "pyproject.toml").is_file() and (candidate / "libs").is_dir() else None


def source_paths() -> list[Path]:
    """libs/ and services/ of the checkout: what PYTHONPATH needs when nothing is installed."""
    root = repo_root()
    if root is None:
        return []
    return [p for p in (root / "libs", root / "services") if p.is_dir()]


def venv_bin() -> Path:
    """The directory of the running interpreter's scripts (the venv's bin/)."""
    return Path(sys.executable).parent


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for started processes: ours, plus the source paths and unbuffered output.

    CADENZA_CONFIG is made absolute because children run in another working directory.
    """
    env = dict(os.environ)
    paths = [str(p) for p in source_paths()]
    existing = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if paths or existing:
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*paths, *existing]))
    env["PYTHONUNBUFFERED"] = "1"
    if env.get("CADENZA_CONFIG"):
        env["CADENZA_CONFIG"] = str(Path(env["CADENZA_CONFIG"]).resolve())
    if extra:
        env.update(extra)
    return env
