"""The `cadenza` client commands as a user runs them: JSON lines for machines, a WAV file saved."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.orchestrator.harness import REPO
from tests.sdk.conftest import PROMPT

# Needs only the services' gRPC endpoints: runs against a deployment with --suite.
pytestmark = pytest.mark.endpoints


async def _cadenza(address: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CADENZA_ADDRESS": address, "CADENZA_TOKEN": token, "COLUMNS": "120"}
    command = [sys.executable, "-m", "cadenza_suite.cli", *args]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=300, cwd=REPO, env=env
    )


def _lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


async def test_generate_json_lines_and_wav(address: str, token: str, tmp_path: Path) -> None:
    out = tmp_path / "song.wav"
    done = await _cadenza(
        address,
        token,
        "generate",
        PROMPT,
        "--seconds",
        "1",
        "--steps",
        "4",
        "--seed",
        "7",
        "--out",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    lines = _lines(done.stdout)
    kinds = [line["event"] for line in lines]
    assert kinds[0] == "job" and kinds[-1] == "track"
    assert [line["step"] for line in lines if line["event"] == "progress"] == [1, 2, 3, 4]
    assert [line["phase"] for line in lines if line["event"] == "phase"][-1] == "DONE"
    track = lines[-1]
    assert track["seed"] == 7 and track["path"] == str(out)
    data = out.read_bytes()
    assert data[:4] == b"RIFF" and hashlib.sha256(data).hexdigest() == track["audio_sha256"]

    listed = await _cadenza(address, token, "tracks", "--json")
    assert [line["name"] for line in _lines(listed.stdout)] == [track["name"]]
    jobs = await _cadenza(address, token, "jobs", "--json")
    assert [(line["name"], line["state"]) for line in _lines(jobs.stdout)] == [(track["job"], "SUCCEEDED")]
    again = tmp_path / "again.wav"
    fetched = await _cadenza(address, token, "tracks", track["name"], "--out", str(again))
    assert fetched.returncode == 0, fetched.stderr
    assert again.read_bytes() == data

    retake = await _cadenza(
        address,
        token,
        "variation",
        track["name"],
        "--op",
        "retake",
        "--steps",
        "2",
        "--no-download",
        "--json",
    )
    assert retake.returncode == 0, retake.stderr
    child = _lines(retake.stdout)[-1]
    assert (
        child["event"] == "track" and child["derivation"]["parent"] == track["name"] and child["path"] is None
    )
    lineage = await _cadenza(address, token, "lineage", child["name"], "--json")
    assert [(n["track"], n["op"]) for n in _lines(lineage.stdout)] == [(track["name"], "RETAKE")]
    similar = await _cadenza(address, token, "similar", track["name"], "--json")
    assert [m["name"] for m in _lines(similar.stdout)] == [child["name"]]


async def test_generate_for_people_shows_progress_and_saves(address: str, token: str, tmp_path: Path) -> None:
    out = tmp_path / "people.wav"
    done = await _cadenza(
        address, token, "generate", PROMPT, "--seconds", "1", "--steps", "5", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "5/5" in done.stderr and "DONE" in done.stderr  # the progress bar (on stderr)
    assert f"saved {out}" in done.stdout and "loudness " in done.stdout
    assert out.read_bytes()[:4] == b"RIFF"


async def test_errors_exit_non_zero_with_the_reason(address: str, token: str) -> None:
    missing = await _cadenza(address, token, "jobs", "jobs/00000000-0000-0000-0000-000000000000", "--json")
    assert missing.returncode == 1
    error = _lines(missing.stdout)[-1]
    assert error["code"] == "NOT_FOUND" and error["metadata"]["resource"].startswith("jobs/")
    anonymous = await _cadenza(address, "", "tracks")
    assert (
        anonymous.returncode == 1
        and "UNAUTHENTICATED" in anonymous.stderr
        and "CADENZA_TOKEN" in anonymous.stderr
    )
