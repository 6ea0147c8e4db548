"""Tests of the pure-torch model package (CPU, a few seconds in total)."""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import wave
from pathlib import Path

import pytest
import torch

from cadenza_inference.model import (
    CheckpointFormatError,
    ChecksumMismatchError,
    DiffusionPipeline,
    Extend,
    GenerationRequest,
    ModelConfig,
    Repaint,
    SchedulerKind,
    Variation,
    WavFormatError,
    add_noise,
    checkpoint_bytes,
    linear_attention,
    load_checkpoint,
    make_scheduler,
    parse_wav,
    random_pipeline,
    save_checkpoint,
    to_pcm16_wav,
    training_target,
)
from cadenza_inference.model.denoiser import depthwise_conv3
from cadenza_inference.model.linear_attention import feature_map

STEPS = 4
SECONDS = 2.0


@pytest.fixture(scope="module")
def pipeline() -> DiffusionPipeline:
    return random_pipeline()


@pytest.fixture(scope="module")
def exact() -> DiffusionPipeline:
    """The same weights in batch-invariant mode: batched rows equal solo runs bit for bit."""
    return random_pipeline(batch_invariant=True)


def assert_rounding_close(batched: torch.Tensor, alone: torch.Tensor) -> None:
    """Default (shared-forward) mode: BLAS may pick other kernels for a batch (many-core CPU, CUDA)."""
    torch.testing.assert_close(batched, alone, rtol=1e-4, atol=1e-5)


def request(seed: int = 1, **kwargs: object) -> GenerationRequest:
    params: dict[str, object] = {
        "prompt": "warm analog synth pads",
        "tags": ("ambient", "90bpm"),
        "duration_seconds": SECONDS,
        "steps": STEPS,
        "seed": seed,
        "request_id": f"r{seed}",
    }
    params.update(kwargs)
    return GenerationRequest(**params)  # type: ignore[arg-type]


# Config and autoencoder.


def test_config_round_trip_and_lengths() -> None:
    cfg = ModelConfig.tiny()
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.frames_per_second == 25.0
    assert cfg.frames_for_duration(10.0) == 250
    assert cfg.frames_for_duration(0.001) == 1
    assert cfg.samples_for_frames(cfg.frames_for_duration(10.0)) == 160_000
    assert cfg.max_frames == 750
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})


@pytest.mark.parametrize("num_samples", [640, 1000, 16_000, 32_123])
def test_autoencoder_shapes_round_trip(pipeline: DiffusionPipeline, num_samples: int) -> None:
    cfg, ae = pipeline.config, pipeline.autoencoder
    with torch.inference_mode():
        latent = ae.encode(torch.randn(2, num_samples) * 0.1)
        frames = cfg.frames_for_samples(num_samples)
        assert latent.shape == (2, cfg.latent_channels, frames)
        audio = ae.decode(latent)
        assert audio.shape == (2, cfg.samples_for_frames(frames))
        embedding = ae.pooled_embedding(latent)
    assert embedding.shape == (2, cfg.latent_embedding_dim)
    torch.testing.assert_close(embedding.norm(dim=-1), torch.ones(2))


def test_spectral_path_is_invertible(pipeline: DiffusionPipeline) -> None:
    ae = pipeline.autoencoder
    audio = ae.pad_to_frames(torch.randn(1, 12_345) * 0.3)
    with torch.inference_mode():
        rebuilt = ae.features_to_audio(ae.spectral_features(audio))
    assert rebuilt.shape == audio.shape
    torch.testing.assert_close(rebuilt, audio, atol=1e-5, rtol=0)


def test_pipeline_audio_helpers(pipeline: DiffusionPipeline) -> None:
    latent = pipeline.encode_audio(torch.randn(8_000) * 0.1, 8_000)  # resampled to 16 kHz
    assert latent.shape == (pipeline.config.latent_channels, 25)
    audio = pipeline.decode(latent)
    assert audio.dtype == torch.float32 and audio.shape == (16_000,)
    assert float(audio.abs().max()) <= 1.0
    assert pipeline.latent_embedding(latent).shape == (pipeline.config.latent_embedding_dim,)


def test_text_embedding(pipeline: DiffusionPipeline) -> None:
    a = pipeline.embed_text("dreamy piano", ["lofi"])
    assert a.shape == (pipeline.config.prompt_embedding_dim,)
    assert math.isclose(float(a.norm()), 1.0, rel_tol=1e-5)
    assert torch.equal(a, pipeline.embed_text("Dreamy  PIANO", ["LoFi"]))
    assert not torch.equal(a, pipeline.embed_text("dreamy piano", ["techno"]))
    long = pipeline.encode_text("word " * 500, ["tag"] * 32)
    assert long.tokens.shape[1] == pipeline.config.max_text_tokens


# Linear attention.


def naive_kernel_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    scores = torch.einsum("bhnd,bhmd->bhnm", feature_map(q), feature_map(k))
    if mask is not None:
        scores = scores * mask[:, None, None, :]
    return torch.einsum("bhnm,bhmd->bhnd", scores / scores.sum(dim=-1, keepdim=True), v)


def test_linear_attention_matches_naive() -> None:
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, n, 8, generator=gen, dtype=torch.float64) for n in (7, 5, 5))
    torch.testing.assert_close(linear_attention(q, k, v, eps=0.0), naive_kernel_attention(q, k, v, None))
    mask = torch.tensor([[True, True, False, True, False], [True, False, False, False, False]])
    out = linear_attention(q, k, v, key_mask=mask, eps=0.0)
    torch.testing.assert_close(out, naive_kernel_attention(q, k, v, mask))
    # Masked keys and values have no influence at all.
    k2, v2 = k.clone(), v.clone()
    k2[~mask[:, None, :, None].expand_as(k)] = 1e3
    v2[~mask[:, None, :, None].expand_as(v)] = -1e3
    torch.testing.assert_close(linear_attention(q, k2, v2, key_mask=mask, eps=0.0), out)


def test_feature_map_is_elu_plus_one_with_its_gradient() -> None:
    x = torch.linspace(-30.0, 30.0, 2001, dtype=torch.float64).requires_grad_()
    expected = torch.nn.functional.elu(x) + 1.0
    phi = feature_map(x)
    torch.testing.assert_close(phi, expected)
    (grad,) = torch.autograd.grad(phi.sum(), x)
    (expected_grad,) = torch.autograd.grad(expected.sum(), x)
    torch.testing.assert_close(grad, expected_grad)
    edges = torch.tensor([-200.0, 0.0, 3.0])  # underflow to 0 like elu's -1 + 1, and the kink
    assert torch.equal(feature_map(edges), torch.nn.functional.elu(edges) + 1.0)


def test_depthwise_conv3_is_the_convolution_and_keeps_rows_independent() -> None:
    torch.manual_seed(4)
    conv = torch.nn.Conv1d(6, 6, 3, padding=1, groups=6)
    h = torch.randn(3, 11, 6, requires_grad=True)  # (batch, frames, channels)
    expected = conv(h.transpose(1, 2)).transpose(1, 2)
    out = depthwise_conv3(h, conv)
    torch.testing.assert_close(out, expected)
    assert conv.bias is not None
    inputs = (h, conv.weight, conv.bias)
    grads = torch.autograd.grad(out.square().sum(), inputs)
    expected_grads = torch.autograd.grad(expected.square().sum(), inputs)
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad)
    with torch.inference_mode():  # a row's output does not depend on its batch mates, bit for bit
        together = depthwise_conv3(h, conv)
        for row in range(3):
            assert torch.equal(depthwise_conv3(h[row : row + 1], conv)[0], together[row])
    single = depthwise_conv3(torch.randn(2, 1, 6), conv)  # one frame: only the centre tap
    assert single.shape == (2, 1, 6)


# Schedulers.


@pytest.mark.parametrize("kind", list(SchedulerKind))
def test_scheduler_steps_and_noise_levels(pipeline: DiffusionPipeline, kind: SchedulerKind) -> None:
    state = pipeline.prepare([request(scheduler=kind, steps=7)])
    infos = list(pipeline.iterate(state))
    assert [i.step for i in infos] == list(range(1, 8))
    assert all(i.total_steps == 7 for i in infos) and infos[-1].done
    levels = [1.0] + [i.sigma for i in infos]
    assert all(a > b for a, b in itertools.pairwise(levels))
    assert infos[-1].sigma == 0.0
    timesteps = [i.timestep for i in infos]
    assert all(a > b for a, b in itertools.pairwise(timesteps))


@pytest.mark.parametrize("kind", list(SchedulerKind))
def test_scheduler_recovers_x0_with_exact_velocity(kind: SchedulerKind) -> None:
    """With the true velocity (noise - x0) every sampler lands on x0: the conversion is consistent."""
    gen = torch.Generator().manual_seed(3)
    x0, noise = torch.randn(2, 8, 16, generator=gen), torch.randn(2, 8, 16, generator=gen)
    scheduler = make_scheduler(kind, 10)
    x = scheduler.add_noise(x0, noise, 0)
    for index in range(10):
        x = scheduler.step(x, training_target(x0, noise), index)
    torch.testing.assert_close(x, x0, atol=1e-4, rtol=0)


def test_training_utilities() -> None:
    x0, noise, t = torch.randn(3, 8, 5), torch.randn(3, 8, 5), torch.tensor([0.0, 0.3, 1.0])
    x_t = add_noise(x0, noise, t)
    torch.testing.assert_close(x_t[0], x0[0])
    torch.testing.assert_close(x_t[2], noise[2])
    torch.testing.assert_close(x_t - t.view(-1, 1, 1) * training_target(x0, noise), x0)


# Determinism and batching.


def test_same_seed_is_exact_and_seeds_differ(pipeline: DiffusionPipeline) -> None:
    first = pipeline.generate([request(seed=7)])[0]
    assert first.shape == (pipeline.config.latent_channels, pipeline.config.frames_for_duration(SECONDS))
    assert torch.equal(first, pipeline.generate([request(seed=7)])[0])
    assert not torch.equal(first, pipeline.generate([request(seed=8)])[0])
    assert not torch.equal(first, pipeline.generate([request(seed=7, prompt="heavy drums")])[0])


@pytest.mark.parametrize("kind", list(SchedulerKind))
def test_batched_equals_alone(
    pipeline: DiffusionPipeline, exact: DiffusionPipeline, kind: SchedulerKind
) -> None:
    a = request(seed=1, scheduler=kind, guidance_scale=3.0)
    b = request(seed=2, scheduler=kind, prompt="a much longer prompt " * 5, tags=(), guidance_scale=6.0)
    batched = exact.generate([a, b])
    assert torch.equal(batched[0], exact.generate([a])[0])
    assert torch.equal(batched[1], exact.generate([b])[0])
    shared = pipeline.generate([a, b])
    assert_rounding_close(shared[0], batched[0])
    assert_rounding_close(shared[1], batched[1])


def test_batch_invariant_mode_matches(pipeline: DiffusionPipeline) -> None:
    looped = random_pipeline(batch_invariant=True)
    batched = looped.generate([request(seed=1), request(seed=2)])
    assert torch.equal(batched[0], pipeline.generate([request(seed=1)])[0])
    assert torch.equal(batched[1], pipeline.generate([request(seed=2)])[0])


@pytest.mark.parametrize("invariant", [True, False], ids=["batch-invariant", "shared-forward"])
def test_removing_a_request_mid_batch_leaves_others_unchanged(
    pipeline: DiffusionPipeline, exact: DiffusionPipeline, invariant: bool
) -> None:
    model = exact if invariant else pipeline
    alone = model.generate([request(seed=1)])[0]
    state = model.prepare([request(seed=1), request(seed=2), request(seed=3)])
    model.step(state)
    assert len(model.preview(state, "r1")) == 32
    state.remove("r2")
    infos = list(model.iterate(state))
    assert infos[-1].batch_size == 2 and infos[-1].request_ids == ("r1", "r3")
    if invariant:
        assert torch.equal(state.latent("r1"), alone)
    else:
        assert_rounding_close(state.latent("r1"), alone)
    with pytest.raises(KeyError):
        state.latent("r2")
    assert state.prompt_embedding("r3").shape == (model.config.prompt_embedding_dim,)


def test_removing_everyone_finishes_the_batch(pipeline: DiffusionPipeline) -> None:
    state = pipeline.prepare([request(seed=1)])
    state.remove("r1")
    assert state.done and list(pipeline.iterate(state)) == []


def test_incompatible_requests_are_rejected(pipeline: DiffusionPipeline) -> None:
    assert pipeline.batch_key(request()) != pipeline.batch_key(request(steps=STEPS + 1))
    with pytest.raises(ValueError, match="share"):
        pipeline.prepare([request(seed=1), request(seed=2, duration_seconds=3.0)])
    with pytest.raises(ValueError, match="unique"):
        pipeline.prepare([request(seed=1), request(seed=1)])
    with pytest.raises(ValueError, match="duration"):
        pipeline.batch_key(request(duration_seconds=31.0))


# Derivations.


@pytest.fixture(scope="module")
def parent(pipeline: DiffusionPipeline) -> torch.Tensor:
    return pipeline.generate([request(seed=11)])[0]


def test_variation_runs_the_tail_of_the_schedule(pipeline: DiffusionPipeline, parent: torch.Tensor) -> None:
    req = request(seed=12, steps=10, derivation=Variation(parent, 0.3))
    assert pipeline.batch_key(req).total_steps == 3
    state = pipeline.prepare([req])
    assert len(list(pipeline.iterate(state))) == 3
    out = state.latent("r12")
    assert out.shape == parent.shape and not torch.equal(out, parent)
    # Strength 1 starts from pure noise: identical to a fresh generation with the same seed.
    full = pipeline.generate([request(seed=12, steps=10, derivation=Variation(parent, 1.0))])[0]
    assert torch.equal(full, pipeline.generate([request(seed=12, steps=10)])[0])


def test_extend_keeps_the_parent_and_appends(pipeline: DiffusionPipeline, parent: torch.Tensor) -> None:
    out = pipeline.generate([request(seed=13, derivation=Extend(parent, 1.0))])[0]
    frames = parent.shape[-1]
    assert out.shape == (parent.shape[0], frames + pipeline.config.frames_for_duration(1.0))
    assert torch.equal(out[:, :frames], parent)
    with pytest.raises(ValueError, match="exceeds"):
        pipeline.batch_key(request(derivation=Extend(parent, 29.0)))


def test_repaint_regenerates_only_the_range(pipeline: DiffusionPipeline, parent: torch.Tensor) -> None:
    fps = pipeline.config.frames_per_second
    out = pipeline.generate([request(seed=14, derivation=Repaint(parent, 0.52, 1.0))])[0]
    start, end = math.floor(0.52 * fps), math.ceil(1.0 * fps)
    assert out.shape == parent.shape
    assert torch.equal(out[:, :start], parent[:, :start])
    assert torch.equal(out[:, end:], parent[:, end:])
    assert not torch.equal(out[:, start:end], parent[:, start:end])
    with pytest.raises(ValueError, match="repaint range"):
        pipeline.batch_key(request(derivation=Repaint(parent, 1.0, 0.5)))


def test_mixed_derivations_batch_like_alone(
    pipeline: DiffusionPipeline, exact: DiffusionPipeline, parent: torch.Tensor
) -> None:
    plain, repaint = request(seed=21), request(seed=22, derivation=Repaint(parent, 0.0, 0.5))
    batched = exact.generate([plain, repaint])
    assert torch.equal(batched[0], exact.generate([plain])[0])
    assert torch.equal(batched[1], exact.generate([repaint])[0])
    shared = pipeline.generate([plain, repaint])
    assert_rounding_close(shared[0], batched[0])
    assert_rounding_close(shared[1], batched[1])


@pytest.mark.parametrize(
    "bad",
    [
        torch.zeros(4, 50),  # wrong channels
        torch.zeros(8, 50, dtype=torch.int32),
        torch.zeros(8, 50, dtype=torch.float64),
        torch.full((8, 50), float("nan")),
        torch.zeros(2, 8, 50),  # batch of two
        torch.zeros(8, 0),
        torch.zeros(8, 751),  # longer than the model's maximum
    ],
)
def test_invalid_parent_latents_raise(pipeline: DiffusionPipeline, bad: torch.Tensor) -> None:
    with pytest.raises(ValueError):
        pipeline.prepare([request(derivation=Variation(bad, 0.5))])


def test_parent_latent_in_half_precision_is_accepted(
    pipeline: DiffusionPipeline, parent: torch.Tensor
) -> None:
    out = pipeline.generate(
        [request(seed=5, derivation=Repaint(parent.to(torch.bfloat16).unsqueeze(0), 0.0, 0.5))]
    )
    assert out[0].dtype == torch.float32 and out[0].shape == parent.shape


# Checkpoints.


def test_checkpoint_round_trip(tmp_path: Path, pipeline: DiffusionPipeline) -> None:
    path = tmp_path / "tiny.pt"
    digest = save_checkpoint(pipeline, path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() == pipeline.checkpoint_sha256
    loaded = load_checkpoint(path, expected_sha256=digest.upper(), version="cadenza-test-1")
    assert (loaded.version, loaded.untrained, loaded.checkpoint_sha256) == ("cadenza-test-1", True, digest)
    assert loaded.config == pipeline.config
    assert torch.equal(loaded.generate([request(seed=4)])[0], pipeline.generate([request(seed=4)])[0])
    data = path.read_bytes()
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    assert load_checkpoint(iter(chunks), expected_sha256=digest).version == pipeline.version
    assert load_checkpoint(io.BytesIO(data)).checkpoint_sha256 == digest


def test_checkpoint_checksum_mismatch_and_garbage(pipeline: DiffusionPipeline) -> None:
    data = checkpoint_bytes(pipeline)
    with pytest.raises(ChecksumMismatchError):
        load_checkpoint(data, expected_sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError):
        load_checkpoint(data[:-1] + bytes([data[-1] ^ 1]), expected_sha256=pipeline.checkpoint_sha256)
    with pytest.raises(CheckpointFormatError):
        load_checkpoint(b"not a checkpoint")


def test_random_pipeline_is_deterministic() -> None:
    small = ModelConfig(denoiser_depth=1, text_depth=1)
    a, b = random_pipeline(small, seed=3), random_pipeline(small, seed=3)
    assert a.untrained and a.checkpoint_sha256 == b.checkpoint_sha256
    assert a.checkpoint_sha256 != random_pipeline(small, seed=4).checkpoint_sha256


# Audio helpers.


def test_wav_round_trip() -> None:
    samples = torch.sin(torch.linspace(0, 200, 16_000)) * 0.8
    data = to_pcm16_wav(samples, 16_000)
    decoded, rate = parse_wav(data)
    assert rate == 16_000 and decoded.shape == samples.shape and decoded.dtype == torch.float32
    assert float((decoded - samples).abs().max()) <= 0.5 / 32768 + 1e-7
    clipped, _ = parse_wav(to_pcm16_wav(torch.tensor([2.0, -2.0, float("nan")]), 8_000))
    assert clipped.tolist() == pytest.approx([32767 / 32768, -1.0, 0.0])


def test_parse_stereo_24_bit_wav() -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(3)
        out.setframerate(22_050)
        # Left = +0.5, right = -0.25 full scale, little-endian 24-bit.
        out.writeframes(
            ((1 << 22).to_bytes(3, "little") + (-(1 << 21) % (1 << 24)).to_bytes(3, "little")) * 10
        )
    samples, rate = parse_wav(buffer.getvalue())
    assert rate == 22_050 and samples.shape == (10,)
    torch.testing.assert_close(samples, torch.full((10,), 0.125))
    stereo, _ = parse_wav(buffer.getvalue(), mono=False)
    assert stereo.shape == (2, 10)


def test_parse_wav_rejects_garbage() -> None:
    with pytest.raises(WavFormatError):
        parse_wav(b"RIFF1234WAVEjunk")
