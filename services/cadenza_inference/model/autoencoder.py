"""Latent autoencoder: audio <-> a short sequence of latent frames, through the complex STFT.

The decoder predicts the (power-law compressed) complex spectrum, so `torch.istft` gives an exact,
phase-aware path back to audio without a vocoder. Everything is convolutional and non-normalising
over time, so a frame's latent depends only on nearby audio and the model trains quickly on CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig

_EPS = 1e-7


def unit_phase(z: Tensor) -> Tensor:
    """z / (|z| + eps) of a complex tensor: its phase on the unit circle (0 where z is 0).

    Computed on the real and imaginary parts: PyTorch's complex abs and complex division are its
    slowest kernels on CPU, and this takes about half their time in Griffin-Lim's loop."""
    parts = torch.view_as_real(z)
    real, imag = parts[..., 0], parts[..., 1]
    scale = torch.addcmul(real * real, imag, imag).sqrt_().add_(_EPS).unsqueeze(-1)
    return torch.view_as_complex(parts / scale)


class _ResBlock(nn.Module):
    """Pre-activation residual block of two dilated convolutions."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(width, width, 1)

    def forward(self, x: Tensor) -> Tensor:
        h: Tensor = self.conv1(F.gelu(x))
        h = self.conv2(F.gelu(h))
        return x + h


class LatentAutoencoder(nn.Module):
    """Audio (B, samples) <-> latent (B, latent_channels, frames) at `config.frames_per_second`."""

    window: Tensor
    latent_mean: Tensor
    latent_std: Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        width, bins, levels = (
            config.autoencoder_width,
            config.n_freq_bins,
            int(math.log2(config.latent_downsample)),
        )
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        channels = bins if config.autoencoder_input == "magnitude" else 2 * bins
        # Per-channel statistics that map encoder outputs to roughly unit variance for diffusion;
        # set by training, identity for a fresh model.
        self.register_buffer("latent_mean", torch.zeros(config.latent_channels))
        self.register_buffer("latent_std", torch.ones(config.latent_channels))

        down: list[nn.Module] = [nn.Conv1d(channels, width, 3, padding=1)]
        for level in range(levels):
            down += [
                _ResBlock(width, 1),
                _ResBlock(width, 3 ** (level % 2)),
                nn.Conv1d(width, width, 4, 2, 1),
            ]
        down += [_ResBlock(width, 1), nn.GELU(), nn.Conv1d(width, config.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*down)

        up: list[nn.Module] = [nn.Conv1d(config.latent_channels, width, 3, padding=1), _ResBlock(width, 1)]
        for level in range(levels):
            up += [
                nn.ConvTranspose1d(width, width, 4, 2, 1),
                _ResBlock(width, 1),
                _ResBlock(width, 3 ** (level % 2)),
            ]
        up += [nn.GELU(), nn.Conv1d(width, channels, 3, padding=1)]
        self.decoder = nn.Sequential(*up)

        self.pool_proj = nn.Linear(2 * config.latent_channels, config.latent_embedding_dim)

    # Length helpers (delegating to the config so callers can use either).

    def frames_for_duration(self, seconds: float) -> int:
        return self.config.frames_for_duration(seconds)

    def samples_for_frames(self, frames: int) -> int:
        return self.config.samples_for_frames(frames)

    # Spectral front end (public so training can put losses on the spectrum).

    def pad_to_frames(self, audio: Tensor) -> Tensor:
        """Zero-pad audio (B, samples) up to whole latent frames."""
        frames = self.config.frames_for_samples(audio.shape[-1])
        return F.pad(audio, (0, self.config.samples_for_frames(frames) - audio.shape[-1]))

    @property
    def magnitude_only(self) -> bool:
        return self.config.autoencoder_input == "magnitude"

    def _stft(self, audio: Tensor) -> Tensor:
        cfg = self.config
        return torch.stft(
            audio.float(),
            cfg.n_fft,
            cfg.hop_length,
            window=self.window,
            center=True,
            normalized=True,
            return_complex=True,
        )

    def _istft(self, spec: Tensor, length: int) -> Tensor:
        cfg = self.config
        return torch.istft(
            spec,
            cfg.n_fft,
            cfg.hop_length,
            window=self.window,
            center=True,
            normalized=True,
            length=length,
        )

    def spectral_features(self, audio: Tensor) -> Tensor:
        """Audio (B, frames * samples_per_frame) -> compressed complex STFT as real features
        (B, 2 * bins, frames * latent_downsample), or the compressed magnitude (B, bins, ...) with
        autoencoder_input="magnitude": what the encoder reads and the decoder predicts."""
        cfg = self.config
        if audio.dim() != 2 or audio.shape[-1] % cfg.samples_per_frame:
            raise ValueError("audio must be (batch, samples) with whole latent frames; see pad_to_frames")
        frames = audio.shape[-1] // cfg.samples_per_frame
        # center=True yields one frame more than frames * downsample; the last one is dropped.
        spec = self._stft(audio)[..., : frames * cfg.latent_downsample]
        if self.magnitude_only:
            return spec.abs().pow(cfg.spectral_compression)
        spec = spec * (spec.abs() + _EPS).pow(cfg.spectral_compression - 1.0)
        return torch.cat([spec.real, spec.imag], dim=1)

    def features_to_audio(self, features: Tensor) -> Tensor:
        """Inverse of spectral_features (exact up to float error for complex features; magnitudes get
        their phase from Griffin-Lim): features -> audio (B, samples).

        Row by row: the CPU FFT groups the transforms of a batch into SIMD lanes, so istft of a
        batch can differ from istft of one row in the last bit (seen with torch 2.15 on AVX-512),
        and a clip must decode to the same bytes alone or batched with others."""
        return torch.cat([self._row_to_audio(row.unsqueeze(0)) for row in features])

    def _row_to_audio(self, features: Tensor) -> Tensor:
        cfg = self.config
        frames = features.shape[-1] // cfg.latent_downsample
        if self.magnitude_only:
            magnitude = F.relu(features.float()).pow(1.0 / cfg.spectral_compression)
            return self._griffin_lim(magnitude, cfg.samples_for_frames(frames))
        real, imag = features.float().chunk(2, dim=1)
        spec = torch.complex(real, imag)
        spec = spec * (spec.abs() + _EPS).pow(1.0 / cfg.spectral_compression - 1.0)
        # Repeat the last STFT frame so istft covers exactly frames * samples_per_frame samples.
        spec = torch.cat([spec, spec[..., -1:]], dim=-1)
        return self._istft(spec, cfg.samples_for_frames(frames))

    def _griffin_lim(self, magnitude: Tensor, length: int, momentum: float = 0.99) -> Tensor:
        """Fast Griffin-Lim (Perraudin et al. 2013) from zero phase: deterministic.

        The loop keeps its spectra frames-first (B, frames, bins), the layout the FFTs read and
        write, so no step transposes a spectrum, and normalises the phase with unit_phase; the
        result is bit-identical to the same loop written with torch.stft / torch.istft on spectra in
        torch.stft's own memory layout (tested; with AVX-512 the FFT's last bits follow the layout)."""
        magnitude = torch.cat([magnitude, magnitude[..., -1:]], dim=-1)
        stft_frames = magnitude.shape[-1]
        # Cast once: every product below would otherwise promote the real magnitude to complex anew.
        spectrum = magnitude.transpose(1, 2).to(torch.complex64).contiguous()
        envelope = self._istft_envelope(stft_frames, length)
        angles = torch.ones_like(spectrum)
        previous = torch.zeros_like(angles)
        for _ in range(self.config.griffin_lim_iterations):
            rebuilt = self._stft_frames(self._overlap_add(spectrum * angles, envelope))[:, :stft_frames]
            accelerated = rebuilt - previous * (momentum / (1.0 + momentum))
            angles = unit_phase(accelerated)
            previous = rebuilt
        return self._overlap_add(spectrum * angles, envelope)

    def _stft_frames(self, audio: Tensor) -> Tensor:
        """_stft(audio) frames-first, (B, frames, bins): the same operations as torch.stft (centred,
        reflect-padded, normalised), so the values are bit-identical (tested), minus its transpose."""
        n_fft = self.config.n_fft
        padded = F.pad(audio.unsqueeze(1), (n_fft // 2, n_fft // 2), mode="reflect").squeeze(1)
        frames = padded.unfold(-1, n_fft, self.config.hop_length)
        spectrum: Tensor = torch.fft.rfft(frames * self.window, dim=-1, norm="ortho")
        return spectrum

    def _istft_envelope(self, stft_frames: int, length: int) -> Tensor:
        """torch.istft's window envelope (1, length), computed once per Griffin-Lim decode instead of
        once per inverse STFT; it depends only on the frame count."""
        cfg = self.config
        squared = self.window.pow(2).expand(1, stft_frames, cfg.n_fft)
        signal = cfg.n_fft + cfg.hop_length * (stft_frames - 1)
        envelope: Tensor = torch.ops.aten.unfold_backward(squared, [1, signal], 1, cfg.n_fft, cfg.hop_length)
        envelope = envelope[:, cfg.n_fft // 2 : cfg.n_fft // 2 + length]
        if bool(envelope.abs().min() < 1e-11):
            raise ValueError("the STFT window does not satisfy the overlap-add constraint")
        return envelope

    def _overlap_add(self, spec: Tensor, envelope: Tensor) -> Tensor:
        """_istft(spec.transpose(1, 2), length) of a frames-first spectrum (B, frames, bins), with a
        precomputed envelope: the same operations as torch.istft (centred, normalised), so the
        samples are bit-identical (tested)."""
        cfg = self.config
        frames = torch.fft.irfft(spec, n=cfg.n_fft, dim=-1, norm="ortho")
        signal = cfg.n_fft + cfg.hop_length * (spec.shape[1] - 1)
        added: Tensor = torch.ops.aten.unfold_backward(
            frames * self.window.view(1, 1, cfg.n_fft),
            [frames.shape[0], signal],
            1,
            cfg.n_fft,
            cfg.hop_length,
        )
        start = cfg.n_fft // 2
        return added[:, start : start + envelope.shape[-1]] / envelope

    # Public API.

    def encode(self, audio: Tensor) -> Tensor:
        """Audio (B, samples) -> normalised latent (B, C, frames); audio is zero-padded to whole frames."""
        if audio.dim() != 2:
            raise ValueError(f"expected audio of shape (batch, samples), got {tuple(audio.shape)}")
        latent: Tensor = self.encoder(self.spectral_features(self.pad_to_frames(audio)))
        return (latent - self._stat(self.latent_mean)) / self._stat(self.latent_std)

    def decode(self, latent: Tensor) -> Tensor:
        """Normalised latent (B, C, frames) -> audio (B, frames * samples_per_frame), not clipped."""
        if latent.dim() != 3 or latent.shape[1] != self.config.latent_channels:
            raise ValueError(
                f"expected latent (batch, {self.config.latent_channels}, frames), got {tuple(latent.shape)}"
            )
        return self.features_to_audio(self._decoded_features(latent))

    def frame_power(self, latent: Tensor) -> Tensor:
        """Normalised latent (B, C, frames) -> mean square of the decoded audio around each STFT frame
        (B, frames * latent_downsample), from a magnitude autoencoder's decoded spectrum alone
        (Parseval: the STFT is normalised, so a frame's energy over all bins is that of its windowed
        samples). No phase is needed, so Griffin-Lim is skipped: some 15x cheaper than decode()
        (measured: ~9 ms against ~130 ms for 10 s of cadenza-tiny-1 on 2 CPU threads). For
        previews: within a dB or two of the decoded audio's level, not equal to it.

        Complex features are refused: decode() is one istft there (cheap and exact), and an
        untrained model's spectra are not consistent, so their energy does not survive overlap-add."""
        if not self.magnitude_only:
            raise ValueError("frame_power needs a magnitude autoencoder; decode() complex features")
        cfg = self.config
        magnitude = F.relu(self._decoded_features(latent).float()).pow(1.0 / cfg.spectral_compression)
        power = magnitude.square()
        # One-sided spectrum: every bin but DC (and Nyquist, for an even n_fft) stands for two.
        energy = 2.0 * power.sum(dim=1) - power[:, 0]
        if cfg.n_fft % 2 == 0:
            energy = energy - power[:, -1]
        return energy / self.window.square().sum()

    def pooled_embedding(self, latent: Tensor) -> Tensor:
        """Latent (B, C, frames) -> L2-normalised (B, latent_embedding_dim) via mean+std pooling."""
        latent = latent.float()
        stats = torch.cat([latent.mean(dim=-1), latent.std(dim=-1, correction=0)], dim=-1)
        projected: Tensor = self.pool_proj(stats)
        return F.normalize(projected, dim=-1)

    def _decoded_features(self, latent: Tensor) -> Tensor:
        """Normalised latent -> the decoder's spectral features (what features_to_audio turns into audio)."""
        raw = latent * self._stat(self.latent_std) + self._stat(self.latent_mean)
        features: Tensor = self.decoder(raw)
        return features

    def _stat(self, buffer: Tensor) -> Tensor:
        return buffer.view(1, -1, 1)
