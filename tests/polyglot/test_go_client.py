"""A Go client, compiled from Go code that buf generates from protos/ at test time, against the
running suite: health, an anonymous call to an internal service refused, a metadata error status
with its google.rpc.ErrorInfo for the operator's credential, and one streamed orchestrator
generation through to its track."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest

from cadenza_metadata import job_rows
from cadenza_metadata.names import job_name
from cadenza_orchestrator.auth import mint_token
from cadenza_runtime.errors import ERROR_DOMAIN
from tests.polyglot import goclient
from tests.suite.harness import RunningSuite

STEPS = 4
SECONDS = 2.0


def _only(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["event"] == kind]


def test_go_client_generated_from_protos_calls_the_suite(running_suite: RunningSuite, tmp_path: Path) -> None:
    binary = goclient.build(tmp_path)
    missing = uuid.uuid4()
    token = mint_token(running_suite.config.auth, "polyglot-go")
    operator = running_suite.cadenza("token", "--operator", "--audience", "metadata", timeout=60)
    assert operator.returncode == 0, operator.stderr
    events = goclient.run(
        binary,
        token,
        operator.stdout.strip(),
        f"-orchestrator={running_suite.address('orchestrator')}",
        f"-metadata={running_suite.address('metadata')}",
        f"-missing-job={job_name(missing)}",
        f"-request-id=polyglot-go-{uuid.uuid4()}",
        f"-seconds={SECONDS}",
        f"-steps={STEPS}",
    )

    # Health of the server and of the service named by the generated descriptor.
    assert _only(events, "health") == [
        {"event": "health", "service": "", "status": "SERVING"},
        {"event": "health", "service": "cadenza.orchestrator.v1.OrchestratorService", "status": "SERVING"},
    ]

    # Internal services refuse anonymous callers, whatever their language.
    [anonymous] = _only(events, "get_job_anonymous")
    assert (anonymous["code"], anonymous["reason"]) == ("Unauthenticated", "SERVICE_TOKEN_MISSING")

    # The status the Python metadata service gives for a missing job, decoded by Go's errdetails.
    expected = job_rows.not_found(missing)
    [got] = _only(events, "get_job")
    assert (got["code"], got["code_number"]) == ("NotFound", grpc.StatusCode.NOT_FOUND.value[0])
    assert (got["reason"], got["domain"], got["message"]) == (expected.reason, ERROR_DOMAIN, expected.message)

    # The generation: one progress event per step, in order, then SUCCEEDED with a track.
    progress = _only(events, "progress")
    assert [(p["step"], p["total_steps"]) for p in progress] == [(s, STEPS) for s in range(1, STEPS + 1)]
    [final] = _only(events, "final")
    assert final["state"] == "JOB_STATE_SUCCEEDED", final
    assert final["track"].startswith("tracks/")
    assert "PHASE_DONE" in [p["phase"] for p in _only(events, "phase")]
    [track] = _only(events, "track")
    assert track["name"] == final["track"] and track["job"] == final["name"]
    assert track["duration_seconds"] == pytest.approx(SECONDS, abs=0.1) and track["sample_rate"] > 0
    assert len(track["audio_sha256"]) == 64 and track["has_audio_url"]
