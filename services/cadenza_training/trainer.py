"""`cadenza train`: the autoencoder first, then the text encoder and denoiser on frozen latents.

Both stages draw batches from their own seeded torch.Generator, whose state is saved with the
weights and optimiser, so a resumed run continues exactly where the interrupted one stopped.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from cadenza_inference.model import (
    DiffusionPipeline,
    LatentAutoencoder,
    TextEncoder,
    add_noise,
    random_pipeline,
    sample_training_times,
    save_checkpoint,
    training_target,
)
from cadenza_inference.model.denoiser import Denoiser
from cadenza_training.data import ClipSet

from .config import StageConfig, TrainConfig
from .losses import magnitude_loss, multi_resolution_stft, spectral_feature_loss
from .losslog import LossLog
from .progress import Progress
from .state import TrainingState, snapshot

_log = logging.getLogger(__name__)

CONFIG_NAME = "train_config.json"
LOSSES_NAME = "losses.jsonl"
LATENTS_NAME = "latents.pt"
LOG_EVERY = 10
# Prompt variants seen in training: caption with tags, caption alone, tags alone.
TEXT_VARIANTS = (0.5, 0.3, 0.2)


class TrainingError(RuntimeError):
    """The run cannot start or continue; the message says what to change."""


class TrainingInterrupted(RuntimeError):
    """Raised after a save point when `Trainer.stop_at` says so (the state on disk is complete)."""


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    sha256: str
    pipeline: DiffusionPipeline
    seconds: dict[str, float]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def learning_rate(stage: StageConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < stage.warmup_steps:
        return stage.learning_rate * (step + 1) / stage.warmup_steps
    progress = (step - stage.warmup_steps) / max(1, stage.steps - stage.warmup_steps)
    return stage.learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


class _Averager:
    """Running mean of the losses between two log lines."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, **values: float) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.count += 1

    def pop(self) -> dict[str, float]:
        means = {k: v / max(1, self.count) for k, v in self.sums.items()}
        self.sums, self.count = {}, 0
        return means


class Trainer:
    def __init__(self, config: TrainConfig, clips: ClipSet, out_dir: Path, *, device: str = "auto") -> None:
        if abs(clips.seconds - config.clip_seconds) > 1e-6 or clips.sample_rate != config.model.sample_rate:
            raise TrainingError("the clips do not match the configured clip length and sample rate")
        self.config = config
        self.clips = clips
        self.out_dir = out_dir
        self.device = resolve_device(device)
        self.log = LossLog(out_dir / LOSSES_NAME)
        # Weights start from a seeded random pipeline (the same init on every machine).
        self.pipeline = random_pipeline(config.model, version=config.version, seed=config.seed)
        self.autoencoder: LatentAutoencoder = self.pipeline.autoencoder.to(self.device)
        text_encoder = self.pipeline.text_encoder
        assert isinstance(text_encoder, TextEncoder)
        self.text_encoder: TextEncoder = text_encoder.to(self.device)
        self.denoiser: Denoiser = self.pipeline.denoiser.to(self.device)
        self.state = TrainingState()
        # Called after every save point with (stage, step); True stops the run there, as a crash
        # right after the save would (used to test --resume).
        self.stop_at: Callable[[str, int], bool] | None = None

    # Run control.

    def prepare(self, resume: bool) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.out_dir / CONFIG_NAME
        wanted = self.config.to_dict()
        existing = TrainingState.load(self.out_dir)
        if existing is not None and not resume:
            raise TrainingError(
                f"{self.out_dir} already holds a run; pass --resume to continue it or choose another --out"
            )
        if existing is not None:
            saved = json.loads(config_path.read_text(encoding="utf-8"))
            if saved != wanted:
                raise TrainingError(
                    f"{self.out_dir} was started with another configuration; resume with the same options "
                    f"(see {config_path}) or choose another --out"
                )
            self.state = existing
            self.log.truncate_after(existing.stage, existing.step)
            _log.info("resuming %s at stage %s step %d", self.out_dir, existing.stage, existing.step)
        else:
            config_path.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")

    def run(self, resume: bool = False) -> TrainResult:
        self.prepare(resume)
        threads = torch.get_num_threads()
        if self.config.threads > 0:
            torch.set_num_threads(self.config.threads)
        try:
            torch.manual_seed(self.config.seed)
            if self.state.stage == "autoencoder":
                self._train_autoencoder()
            latents = self._latents()
            if self.state.stage == "denoiser":
                self._train_denoiser(latents)
            return self._finish()
        finally:
            torch.set_num_threads(threads)

    # Stage 1: the autoencoder.

    def _generator(self, stage: str) -> torch.Generator:
        generator = torch.Generator().manual_seed(
            self.config.seed * 1000 + (1 if stage == "autoencoder" else 2)
        )
        if self.state.generator is not None and self.state.stage == stage:
            generator.set_state(self.state.generator)
        return generator

    def _audio_batch(self, generator: torch.Generator) -> Tensor:
        cfg = self.config
        spf = cfg.model.samples_per_frame
        count, samples = self.clips.audio.shape
        crop = min(cfg.crop_frames * spf, samples - samples % spf)
        index = torch.randint(count, (cfg.autoencoder.batch_size,), generator=generator)
        starts = (
            torch.randint((samples - crop) // spf + 1, (cfg.autoencoder.batch_size,), generator=generator)
            * spf
        )
        gains = torch.exp(torch.empty(cfg.autoencoder.batch_size).uniform_(-0.7, 0.35, generator=generator))
        rows = [
            torch.from_numpy(self.clips.audio[int(i), int(s) : int(s) + crop])
            for i, s in zip(index, starts, strict=True)
        ]
        return (torch.stack(rows) * gains[:, None]).clamp(-1.0, 1.0).to(self.device)

    def _train_autoencoder(self) -> None:
        cfg, stage = self.config, self.config.autoencoder
        ae = self.autoencoder.train()
        params = [p for name, p in ae.named_parameters() if not name.startswith("pool_proj")]
        optimizer = torch.optim.AdamW(params, lr=stage.learning_rate, weight_decay=stage.weight_decay)
        if self.state.step > 0:
            ae.load_state_dict(self.state.modules["autoencoder"])
            optimizer.load_state_dict(self.state.optimizer)
        generator = self._generator("autoencoder")
        progress = Progress("autoencoder", stage.steps, self.state.step)
        average = _Averager()
        started = time.monotonic()
        for step in range(self.state.step, stage.steps):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(stage, step)
            audio = self._audio_batch(generator)
            target = ae.spectral_features(audio)
            latent = ae.encoder(target)
            noise = torch.randn(latent.shape, generator=generator).to(self.device)
            noisy = latent + cfg.latent_noise * latent.detach().std() * noise
            prediction = ae.decoder(noisy)
            if ae.magnitude_only:
                # Griffin-Lim is not part of the graph: the loss stays on the magnitudes.
                spectral = magnitude_loss(prediction, target, cfg.model.spectral_compression)
                stft = torch.zeros(())
            else:
                spectral = spectral_feature_loss(prediction, target)
                stft = multi_resolution_stft(ae.features_to_audio(prediction), audio)
            loss = spectral + stft
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(params, stage.grad_clip)
            optimizer.step()
            average.add(loss=loss.item(), spectral=spectral.item(), stft=stft.item())
            done = step + 1
            if done % LOG_EVERY == 0 or done == stage.steps:
                means = average.pop()
                self.log.write("autoencoder", done, lr=learning_rate(stage, step), **means)
                progress.update(done, **means)
            if done % cfg.save_every == 0 or done == stage.steps:
                self._save(
                    "autoencoder",
                    done,
                    {"autoencoder": snapshot(ae)},
                    optimizer.state_dict(),
                    generator,
                    started,
                )
                started = time.monotonic()
        ae.eval()
        self.state.stage, self.state.step, self.state.generator = "denoiser", 0, None
        self.state.optimizer, self.state.ema = {}, {}
        self.state.save(self.out_dir)

    def _save(
        self,
        stage: str,
        step: int,
        modules: dict[str, dict[str, Tensor]],
        optimizer: dict[str, object],
        generator: torch.Generator,
        started: float,
        ema: dict[str, Tensor] | None = None,
    ) -> None:
        state = self.state
        state.seconds[stage] = state.seconds.get(stage, 0.0) + time.monotonic() - started
        state.stage, state.step, state.generator = stage, step, generator.get_state()
        state.modules = {**state.modules, **modules}
        state.optimizer = dict(optimizer)
        state.ema = ema or {}
        state.save(self.out_dir)
        if self.stop_at is not None and self.stop_at(stage, step):
            raise TrainingInterrupted(f"stopped after {stage} step {step}")

    # Between the stages: latent statistics and the cached latents of every clip.

    @torch.no_grad()
    def _latents(self) -> Tensor:
        ae = self.autoencoder
        ae.load_state_dict(self.state.modules["autoencoder"])
        ae.eval()
        path = self.out_dir / LATENTS_NAME
        if path.exists():
            cached = torch.load(path, map_location="cpu", weights_only=True)
            ae.latent_mean.copy_(cached["mean"])
            ae.latent_std.copy_(cached["std"])
            latents: Tensor = cached["latents"]
            return latents
        raw = []
        for start in range(0, len(self.clips), 64):
            audio = torch.from_numpy(self.clips.audio[start : start + 64]).to(self.device)
            raw.append(ae.encoder(ae.spectral_features(ae.pad_to_frames(audio))).cpu())
        stacked = torch.cat(raw)
        mean = stacked.mean(dim=(0, 2))
        std = stacked.std(dim=(0, 2)).clamp_min(1e-4)
        ae.latent_mean.copy_(mean)
        ae.latent_std.copy_(std)
        latents = (stacked - mean.view(1, -1, 1)) / std.view(1, -1, 1)
        torch.save({"mean": mean, "std": std, "latents": latents}, path)
        self.state.modules["autoencoder"] = snapshot(ae)
        self.state.save(self.out_dir)
        return latents

    # Stage 2: the text encoder and the denoiser.

    def _tokens(self) -> tuple[Tensor, Tensor]:
        """ids (clips, variants, T, 1 + ngrams) and segments (clips, variants, T), tokenised once."""
        tokenizer = self.text_encoder.tokenizer
        ids, segments = [], []
        for caption, tags in zip(self.clips.captions, self.clips.tags, strict=True):
            variants = [
                tokenizer.tokenize(caption, tags),
                tokenizer.tokenize(caption, []),
                tokenizer.tokenize("", tags),
            ]
            ids.append(torch.stack([v[0] for v in variants]))
            segments.append(torch.stack([v[1] for v in variants]))
        return torch.stack(ids), torch.stack(segments)

    def _trainable(self) -> Iterator[tuple[str, torch.nn.Parameter]]:
        for prefix, module in (("text_encoder", self.text_encoder), ("denoiser", self.denoiser)):
            for name, param in module.named_parameters():
                yield f"{prefix}.{name}", param

    def _train_denoiser(self, latents: Tensor) -> None:
        cfg, stage = self.config, self.config.denoiser
        text, denoiser = self.text_encoder.train(), self.denoiser.train()
        named = dict(self._trainable())
        optimizer = torch.optim.AdamW(named.values(), lr=stage.learning_rate, weight_decay=stage.weight_decay)
        ema = {name: p.detach().clone() for name, p in named.items()}
        if self.state.step > 0:
            text.load_state_dict(self.state.modules["text_encoder"])
            denoiser.load_state_dict(self.state.modules["denoiser"])
            optimizer.load_state_dict(self.state.optimizer)
            ema = {k: v.to(self.device) for k, v in self.state.ema.items()}
        generator = self._generator("denoiser")
        ids, segments = self._tokens()
        variant_weights = torch.tensor(TEXT_VARIANTS)
        progress = Progress("denoiser", stage.steps, self.state.step)
        average = _Averager()
        started = time.monotonic()
        for step in range(self.state.step, stage.steps):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(stage, step)
            index = torch.randint(len(latents), (stage.batch_size,), generator=generator)
            variant = torch.multinomial(
                variant_weights, stage.batch_size, replacement=True, generator=generator
            )
            x0 = latents[index].to(self.device)
            encoding = text(ids[index, variant].to(self.device), segments[index, variant].to(self.device))
            drop = (torch.rand(stage.batch_size, generator=generator) < cfg.cfg_dropout).to(self.device)
            encoding = denoiser.drop_condition(encoding, drop)
            t = sample_training_times(stage.batch_size, generator).to(self.device)
            noise = torch.randn(x0.shape, generator=generator).to(self.device)
            prediction = denoiser(add_noise(x0, noise, t), t, encoding)
            loss = F.mse_loss(prediction, training_target(x0, noise))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(list(named.values()), stage.grad_clip)
            optimizer.step()
            # The EMA starts after warm-up, when the weights have left their random start.
            decay = cfg.ema_decay if step >= stage.warmup_steps else 0.0
            with torch.no_grad():
                for name, param in named.items():
                    ema[name].lerp_(param.detach(), 1.0 - decay)
            average.add(loss=loss.item())
            done = step + 1
            if done % LOG_EVERY == 0 or done == stage.steps:
                means = average.pop()
                self.log.write("denoiser", done, lr=learning_rate(stage, step), **means)
                progress.update(done, **means)
            if done % cfg.save_every == 0 or done == stage.steps:
                modules = {"text_encoder": snapshot(text), "denoiser": snapshot(denoiser)}
                self._save(
                    "denoiser",
                    done,
                    modules,
                    optimizer.state_dict(),
                    generator,
                    started,
                    ema={k: v.cpu().clone() for k, v in ema.items()},
                )
                started = time.monotonic()
        self.state.stage = "done"
        self.state.save(self.out_dir)

    # The result.

    def _finish(self) -> TrainResult:
        state = self.state
        self.autoencoder.load_state_dict(state.modules["autoencoder"])
        self.text_encoder.load_state_dict(state.modules["text_encoder"])
        self.denoiser.load_state_dict(state.modules["denoiser"])
        # The checkpoint carries the EMA weights (smoother samples than the last step's).
        with torch.no_grad():
            for name, param in self._trainable():
                param.copy_(state.ema[name].to(param.device))
        pipeline = DiffusionPipeline(
            self.config.model,
            self.autoencoder.cpu(),
            self.text_encoder.cpu(),
            self.denoiser.cpu(),
            version=self.config.version,
            untrained=False,
            description=(
                f"{self.config.version}: trained by `cadenza train` on {len(self.clips)} clips of "
                f"{self.config.clip_seconds:g} s"
            ),
        )
        path = self.out_dir / f"{self.config.version}.ckpt"
        metadata = {"train_config": json.dumps(self.config.to_dict(), sort_keys=True)}
        digest = save_checkpoint(pipeline, path, metadata)
        pipeline.checkpoint_sha256 = digest
        return TrainResult(path, digest, pipeline, dict(state.seconds))
