"""Pure logic of the SDK and CLI: error decoding, settings from the environment, conversions, the
sparkline. The ErrorInfo comes from the servers' own encoder, so both ends agree."""

from __future__ import annotations

import grpc
import pytest
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2
from cadenza_client import (
    CadenzaError,
    GenerationParams,
    Job,
    JobState,
    NotFound,
    Phase,
    PhaseChange,
    ResourceExhausted,
    Scheduler,
    Settings,
)
from cadenza_client.errors import from_rpc_error
from cadenza_client.types import event_from_proto
from cadenza_runtime import errors as server_errors
from cadenza_suite.client_view import event_json, sparkline


def _failed(error: server_errors.CadenzaError) -> aio.AioRpcError:
    return aio.AioRpcError(
        error.code, aio.Metadata(), aio.Metadata(*error.trailing_metadata()), error.message, None
    )


def test_errors_become_classes_carrying_error_info() -> None:
    exhausted = from_rpc_error(_failed(server_errors.ResourceExhausted("slow down", retry_after_seconds=2.5)))
    assert isinstance(exhausted, ResourceExhausted) and exhausted.retry_after == 2.5
    assert exhausted.domain == "cadenza.dev" and exhausted.reason == "RESOURCE_EXHAUSTED"
    missing = from_rpc_error(_failed(server_errors.NotFound("gone", metadata={"resource": "tracks/x"})))
    assert (
        isinstance(missing, NotFound)
        and missing.resource == "tracks/x"
        and str(missing).startswith("NOT_FOUND")
    )
    bare = from_rpc_error(
        aio.AioRpcError(grpc.StatusCode.DATA_LOSS, aio.Metadata(), aio.Metadata(), "lost", None)
    )
    assert type(bare) is CadenzaError and bare.code == grpc.StatusCode.DATA_LOSS and bare.reason == ""


def test_settings_from_arguments_then_environment() -> None:
    env = {"CADENZA_ADDRESS": "edge:443", "CADENZA_TOKEN": "t", "CADENZA_TLS": "true"}
    settings = Settings.resolve(env=env)
    assert (settings.address, settings.tls, settings.bearer()) == (
        "edge:443",
        True,
        (("authorization", "Bearer t"),),
    )
    explicit = Settings.resolve("here:1", token=lambda: "fresh", tls=False, env=env)
    assert (explicit.address, explicit.tls, explicit.bearer()[0][1]) == ("here:1", False, "Bearer fresh")
    assert Settings.resolve(env={}).bearer() == () and Settings.resolve(env={}).address == "127.0.0.1:50050"
    assert Settings.resolve(env={"CADENZA_TLS_CA_FILE": "/ca.pem"}).tls
    with pytest.raises(ValueError, match="cert_file and key_file"):
        Settings.resolve(cert_file="/c.pem", env={})


def test_conversions_keep_uint64_seeds_and_short_enum_names() -> None:
    params = GenerationParams(prompt="p", seed=2**64 - 1, scheduler=Scheduler.DDIM)
    wire = params.to_proto()
    assert wire.seed == 2**64 - 1 and wire.scheduler == types_pb2.SCHEDULER_DDIM
    assert GenerationParams.from_proto(wire) == params
    assert GenerationParams.from_proto(types_pb2.GenerationParams(prompt="p")).seed is None
    with pytest.raises(ValueError, match="seed"):
        GenerationParams(prompt="p", seed=-1).to_proto()
    job = Job.from_proto(types_pb2.Job(name="jobs/abc", state=types_pb2.JOB_STATE_FAILED, seed=2**63))
    assert job.state == JobState.FAILED and job.state.terminal and job.id == "abc" and job.seed == 2**63
    # An enum value this client does not know reads as UNSPECIFIED instead of failing.
    assert Job.from_proto(types_pb2.Job(state=99)).state == JobState.UNSPECIFIED  # type: ignore[arg-type]
    phase = event_from_proto(
        orchestrator_pb2.GenerateResponse(
            phase=orchestrator_pb2.PhaseEvent(phase=orchestrator_pb2.PHASE_DONE)
        )
    )
    assert isinstance(phase, PhaseChange) and phase.phase == Phase.DONE and phase.emit_time is None
    assert event_json(phase) == {"event": "phase", "phase": "DONE", "message": "", "emit_time": None}
    assert event_from_proto(orchestrator_pb2.GenerateResponse()) is None


def test_sparkline_scales_dbfs_to_blocks() -> None:
    assert sparkline([]) == ""
    assert sparkline([-100.0, -60.0, -30.0, 0.0]) == "▁▁▅█"
    assert len(sparkline([-20.0] * 100, width=10)) == 10
