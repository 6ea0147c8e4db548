"""`cadenza demo`: one generation end to end through the orchestrator of the running suite.

Submits a prompt as user "demo", prints every denoising step and saga phase as they stream in, then
fetches the track with its presigned audio URL, downloads the WAV and checks its SHA-256.
"""

from __future__ import annotations

import hashlib
import sys
import time
import uuid
from pathlib import Path

import aiohttp
from grpc import aio

from cadenza.common.v1 import types_pb2
from cadenza.orchestrator.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from cadenza_runtime.client import create_channel
from cadenza_runtime.config import CadenzaConfig
from cadenza_runtime.user_tokens import mint_token

DEMO_USER = "demo"


class DemoError(RuntimeError):
    pass


async def run_demo(config: CadenzaConfig, prompt: str, tags: list[str], seconds: float, steps: int) -> Path:
    token = mint_token(config.auth, DEMO_USER)
    metadata = (("authorization", f"Bearer {token}"),)
    channel = create_channel(config.services.orchestrator.address, config)
    stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
    params = types_pb2.GenerationParams(prompt=prompt, tags=tags, duration_seconds=seconds, steps=steps)
    request = orchestrator_pb2.GenerateRequest(request_id=f"demo-{uuid.uuid4()}", params=params)
    began = time.monotonic()
    job = types_pb2.Job()
    try:
        async for event in stub.Generate(request, metadata=metadata, timeout=600):
            kind = event.WhichOneof("event")
            if kind == "job":
                job = event.job
                print(f"job {job.name}: {types_pb2.JobState.Name(job.state)}")
            elif kind == "progress":
                p = event.progress
                print(
                    f"  step {p.step:3d}/{p.total_steps}  sigma {p.sigma:.3f}  eta {p.eta_seconds:5.1f}s",
                    flush=True,
                )
            elif kind == "phase":
                print(
                    f"  phase {orchestrator_pb2.Phase.Name(event.phase.phase)} {event.phase.message}".rstrip()
                )
        if job.state != types_pb2.JOB_STATE_SUCCEEDED:
            reason = types_pb2.FailureReason.Name(job.failure_reason)
            raise DemoError(
                f"job {job.name} ended {types_pb2.JobState.Name(job.state)}: {reason} {job.failure_message}"
            )
        track = await stub.GetTrack(orchestrator_pb2.GetTrackRequest(name=job.track), metadata=metadata)
    except aio.AioRpcError as exc:
        raise DemoError(f"orchestrator call failed: {exc.code().name}: {exc.details()}") from exc
    finally:
        await channel.close(None)
    async with aiohttp.ClientSession() as session, session.get(track.audio_url) as response:
        if response.status != 200:
            raise DemoError(f"downloading the audio from its presigned URL failed: HTTP {response.status}")
        audio = await response.read()
    if hashlib.sha256(audio).hexdigest() != track.track.audio_sha256:
        raise DemoError("downloaded audio does not match the track's SHA-256")
    out = config.state_dir / "demo" / f"{job.track.split('/')[-1]}.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(audio)
    print(
        f"track {track.track.name}: {track.track.duration_seconds:.1f}s at {track.track.sample_rate} Hz, "
        f"model {track.track.model_version}, seed {track.track.seed}, {len(audio)} bytes, "
        f"{time.monotonic() - began:.1f}s end to end\naudio saved to {out}",
        file=sys.stdout,
    )
    return out
