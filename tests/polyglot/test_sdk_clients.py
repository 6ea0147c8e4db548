"""The Go, TypeScript and Java SDKs (libs/sdk) against the running suite, each through its test
client (tests/polyglot/clients.py): health, the ErrorInfo of a NOT_FOUND, UNAUTHENTICATED without
a token, a streamed Generate with every step and every phase once in order, and the track downloaded
from its presigned URL with its SHA-256 checked. The seed is above 2**63, so a signed 64-bit or float64 seed fails."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_runtime.errors import ERROR_DOMAIN
from cadenza_runtime.user_tokens import mint_token
from tests.polyglot import clients
from tests.suite.harness import RunningSuite

STEPS = 4
SECONDS = 2.0
SEED = 2**64 - 59  # not representable as a Java long or a JS number
PHASES = [
    orchestrator_pb2.PHASE_QUEUED,
    orchestrator_pb2.PHASE_DIFFUSING,
    orchestrator_pb2.PHASE_STORING_AUDIO,
    orchestrator_pb2.PHASE_INDEXING,
    orchestrator_pb2.PHASE_LINKING,
    orchestrator_pb2.PHASE_DONE,
]


def _only(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["event"] == kind]


@pytest.mark.parametrize("language", clients.LANGUAGES)
def test_sdk_client_against_the_suite(running_suite: RunningSuite, tmp_path: Path, language: str) -> None:
    client = clients.build(language, tmp_path)
    missing = f"tracks/{uuid.uuid4()}"
    out = tmp_path / "track.wav"
    token = mint_token(running_suite.config.auth, f"polyglot-{language}")
    events = client.run(
        token,
        "--mode=smoke",
        f"--orchestrator={running_suite.address('orchestrator')}",
        f"--missing-track={missing}",
        f"--request-id=polyglot-{language}-{uuid.uuid4()}",
        f"--seconds={SECONDS}",
        f"--steps={STEPS}",
        f"--seed={SEED}",
        f"--out={out}",
    )

    assert _only(events, "health") == [
        {"event": "health", "service": "", "status": "SERVING"},
        {"event": "health", "service": "cadenza.orchestrator.v1.OrchestratorService", "status": "SERVING"},
    ]

    [not_found] = _only(events, "not_found")
    assert not_found["code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert (not_found["reason"], not_found["domain"]) == ("NOT_FOUND", ERROR_DOMAIN)
    assert missing in not_found["message"]
    assert not_found["metadata"].get("resource") == missing

    [anonymous] = _only(events, "unauthenticated")
    assert anonymous["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert anonymous["domain"] == ERROR_DOMAIN and anonymous["reason"], anonymous

    # Every step once, in order, while diffusing; each phase announced once, in order.
    progress = _only(events, "progress")
    assert [(p["step"], p["total_steps"]) for p in progress] == [(s, STEPS) for s in range(1, STEPS + 1)]
    stream = [e for e in events if e["event"] in ("job", "progress", "phase")]
    assert [e["phase"] for e in _only(stream, "phase")] == PHASES, stream
    steps_at = [i for i, e in enumerate(stream) if e["event"] == "progress"]
    diffusing = stream.index({"event": "phase", "phase": orchestrator_pb2.PHASE_DIFFUSING})
    storing = stream.index({"event": "phase", "phase": orchestrator_pb2.PHASE_STORING_AUDIO})
    assert diffusing < steps_at[0] and steps_at[-1] < storing, stream
    assert stream[-1] == {"event": "job", "name": stream[0]["name"], "state": types_pb2.JOB_STATE_SUCCEEDED}

    [final] = _only(events, "final")
    assert final["state"] == types_pb2.JOB_STATE_SUCCEEDED and final["track"].startswith("tracks/")
    assert final["seed"] == str(SEED)
    [track] = _only(events, "track")
    assert (track["name"], track["job"], track["seed"]) == (final["track"], final["name"], str(SEED))
    assert track["duration_seconds"] == pytest.approx(SECONDS, abs=0.1) and track["sample_rate"] > 0

    [download] = _only(events, "download")
    data = out.read_bytes()
    assert download["bytes"] == len(data) > 44 and data[:4] == b"RIFF"
    assert download["sha256"] == hashlib.sha256(data).hexdigest() == track["audio_sha256"]
    [timing] = _only(events, "timing")
    assert 0 < timing["first_step_ms"] <= timing["total_ms"]
