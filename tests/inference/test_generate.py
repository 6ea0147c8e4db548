"""Generate end to end: the stream's framing, one progress per step, a well-formed result, exact seeds."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from cadenza.common.v1 import types_pb2
from cadenza.inference.v1 import inference_pb2
from tests.inference.support import DEVICE, MAX_CHUNK, Outcome, generate, request, sha256, wav

if TYPE_CHECKING:
    from cadenza.inference.v1.inference_pb2_grpc import InferenceServiceAsyncStub as Stub

SAMPLE_RATE, CHANNELS, SAMPLES_PER_FRAME, EMBEDDING_DIM = 16000, 8, 640, 128


def assert_well_formed(outcome: Outcome, steps: int, frames: int) -> None:
    summary = outcome.summary
    # Accepted, exactly `steps` progress events, audio chunks, latent chunks, summary.
    audio_chunks = math.ceil(len(outcome.audio) / MAX_CHUNK)
    latent_chunks = math.ceil(len(outcome.latent) / MAX_CHUNK)
    assert outcome.kinds == ["accepted"] + ["progress"] * steps + ["chunk"] * (
        audio_chunks + latent_chunks
    ) + ["summary"]
    assert outcome.accepted.total_steps == steps
    assert outcome.accepted.model_version == summary.model_version
    assert outcome.accepted.seed == summary.seed
    assert [p.step for p in outcome.progress] == list(range(1, steps + 1))
    assert all(p.total_steps == steps for p in outcome.progress)
    sigmas = [p.sigma for p in outcome.progress]
    assert sigmas == sorted(sigmas, reverse=True) and sigmas[-1] == 0.0
    elapsed = [p.elapsed_seconds for p in outcome.progress]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    assert all(p.eta_seconds >= 0 for p in outcome.progress) and outcome.progress[-1].eta_seconds == 0
    assert all(p.batch_size >= 1 for p in outcome.progress)
    # The audio: a mono 16-bit WAV of exactly num_samples samples, checksummed.
    assert summary.audio_encoding == inference_pb2.AUDIO_ENCODING_WAV_PCM16
    channels, width, rate, pcm = wav(outcome.audio)
    assert (channels, width, rate) == (1, 2, SAMPLE_RATE) == (1, 2, summary.sample_rate)
    assert len(pcm) == 2 * summary.num_samples == 2 * frames * SAMPLES_PER_FRAME
    assert summary.duration_seconds == summary.num_samples / SAMPLE_RATE
    assert summary.audio_sha256 == sha256(outcome.audio)
    # The latent: raw float32 bytes of the declared shape, checksummed.
    assert list(summary.latent_shape) == [CHANNELS, frames]
    assert summary.latent_dtype == types_pb2.D_TYPE_FLOAT32
    assert len(outcome.latent) == CHANNELS * frames * 4
    assert summary.latent_sha256 == sha256(outcome.latent)
    assert torch.isfinite(outcome.latent_tensor()).all()
    # Both embeddings have the declared size and unit norm.
    for embedding in (summary.latent_embedding, summary.prompt_embedding):
        assert len(embedding) == EMBEDDING_DIM
        assert math.isclose(math.sqrt(sum(v * v for v in embedding)), 1.0, rel_tol=1e-4)
    assert summary.device == DEVICE
    timings = summary.timings
    assert timings.denoise_seconds > 0 and timings.decode_seconds > 0
    assert timings.total_seconds >= timings.queue_seconds + timings.denoise_seconds


async def test_stream_delivers_every_step_then_a_well_formed_result(stub: Stub) -> None:
    outcome = await generate(stub, request("well-formed", seconds=1.0, steps=6, seed=11))
    assert_well_formed(outcome, steps=6, frames=25)
    assert outcome.summary.seed == 11
    # The server default previews every 5 steps: a loudness envelope in dB on step 5 only.
    envelopes = {p.step: list(p.loudness_envelope) for p in outcome.progress if p.loudness_envelope}
    assert list(envelopes) == [5]
    assert len(envelopes[5]) == 32 and all(-100.0 <= level <= 0.0 for level in envelopes[5])


async def test_untrained_default_model_is_labelled_in_every_result(stub: Stub) -> None:
    outcome = await generate(stub, request(seed=2, steps=2))
    assert outcome.summary.untrained is True
    assert "untrained" in outcome.summary.model_version
    assert outcome.summary.model_version == outcome.accepted.model_version == "cadenza-untrained-0"


async def test_same_seed_gives_identical_bytes_and_other_seeds_differ(stub: Stub) -> None:
    first = await generate(stub, request(seed=42, steps=3))
    again = await generate(stub, request(seed=42, steps=3))
    other = await generate(stub, request(seed=43, steps=3))
    assert first.latent == again.latent and first.audio == again.audio
    assert first.summary.latent_sha256 == again.summary.latent_sha256
    assert first.summary.latent_embedding == again.summary.latent_embedding
    assert other.latent != first.latent
    assert other.summary.latent_sha256 != first.summary.latent_sha256
    # The prompt embedding depends on the prompt only.
    assert other.summary.prompt_embedding == first.summary.prompt_embedding


async def test_unset_seed_is_picked_reported_and_reproducible(stub: Stub) -> None:
    picked = await generate(stub, request(seed=None, steps=2))
    seed = picked.summary.seed
    assert picked.accepted.seed == seed and 0 <= seed < 2**63
    replay = await generate(stub, request(seed=seed, steps=2))
    assert replay.latent == picked.latent


async def test_raw_float32_audio_in_chunks_of_at_most_one_mib(stub: Stub) -> None:
    seconds = 20.0  # 320000 float32 samples: 1.28 MB, more than one chunk
    outcome = await generate(
        stub,
        request(seconds=seconds, steps=1, seed=3, audio_encoding=inference_pb2.AUDIO_ENCODING_RAW_FLOAT32),
    )
    summary = outcome.summary
    assert summary.audio_encoding == inference_pb2.AUDIO_ENCODING_RAW_FLOAT32
    assert summary.num_samples == 500 * SAMPLES_PER_FRAME and summary.duration_seconds == seconds
    assert len(outcome.audio) == 4 * summary.num_samples
    assert outcome.kinds.count("chunk") == 3  # two audio chunks, one latent chunk
    assert max(outcome.chunk_sizes) == MAX_CHUNK
    samples = torch.frombuffer(bytearray(outcome.audio), dtype=torch.float32)
    assert torch.isfinite(samples).all() and samples.abs().max() <= 1.0
    assert summary.audio_sha256 == sha256(outcome.audio)


async def test_preview_interval_every_step_or_never(stub: Stub) -> None:
    every = await generate(stub, request(seed=4, steps=3, preview_interval=1))
    assert all(len(p.loudness_envelope) == 32 for p in every.progress)
    never = await generate(stub, request(seed=4, steps=3, preview_interval=-1))
    assert not any(p.loudness_envelope for p in never.progress)
    assert never.latent == every.latent  # previews only observe


async def test_ddim_scheduler_and_explicit_guidance(stub: Stub) -> None:
    ddim = await generate(
        stub, request(seed=5, steps=4, scheduler=types_pb2.SCHEDULER_DDIM, guidance_scale=7.5)
    )
    assert_well_formed(ddim, steps=4, frames=15)  # 0.6 s rounds up to 15 frames of 40 ms
    flow = await generate(stub, request(seed=5, steps=4, guidance_scale=7.5))
    assert flow.latent != ddim.latent


async def test_explicit_defaults_equal_unset_fields(stub: Stub) -> None:
    """steps 0, guidance 0 and scheduler unspecified mean the model's defaults (30, 4.0, flow)."""
    unset = await generate(stub, request(seed=6, steps=0, seconds=0.2))
    explicit = await generate(
        stub,
        request(
            seed=6,
            steps=30,
            seconds=0.2,
            guidance_scale=4.0,
            scheduler=types_pb2.SCHEDULER_FLOW_MATCH_EULER,
        ),
    )
    assert unset.accepted.total_steps == 30 and len(unset.progress) == 30
    assert unset.latent == explicit.latent
