"""Denoiser over the latent sequence: linear-attention transformer blocks with AdaLN modulation.

It predicts the rectified-flow velocity (noise - x0) at flow time t in [0, 1]; samplers convert
other parameterisations to this one (see schedulers.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig
from .linear_attention import LinearCrossAttention, LinearSelfAttention
from .text_encoder import TextEncoding


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of t in [0, 1] (scaled to [0, 1000] as in DDPM-era models) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = (t.float() * 1000.0)[:, None] * freqs[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def position_features(frames: int, period: int, harmonics: int, device: torch.device) -> Tensor:
    """(frames, 2 * harmonics): cos and sin of 2 pi k n / period for frame n and k = 1..harmonics."""
    n = torch.arange(frames, device=device, dtype=torch.float32)
    k = torch.arange(1, harmonics + 1, device=device, dtype=torch.float32)
    angles = 2.0 * math.pi * (n[:, None] % period) * k[None, :] / period
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def _per_row(layer: nn.Module, x: Tensor) -> Tensor:
    """Apply `layer` to each row of a (B, D) batch separately.

    BLAS picks different kernels for tiny GEMMs depending on the row count, so projecting the
    per-request conditioning vectors as one (B, D) matrix would make a request's result depend on
    its batch mates. One row at a time keeps it bit-identical; the cost is negligible.
    """
    rows: list[Tensor] = [layer(x[i : i + 1]) for i in range(x.shape[0])]
    return torch.cat(rows)


def _modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1.0 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def depthwise_conv3(h: Tensor, conv: nn.Conv1d) -> Tensor:
    """`conv` (depthwise, kernel 3, padding 1) applied to frames-first h (B, N, C), as three shifted
    multiply-adds.

    Same result as conv(h.transpose(1, 2)).transpose(1, 2) up to float rounding, without the two
    layout copies; oneDNN's depthwise kernel is also slow on CPU and scales badly with the batch
    (4 x 10 s rows: ~2.8 ms against ~0.2 ms). Every output element depends on its own row only, so
    a request's result stays bit-identical whatever its batch mates.
    """
    weight = conv.weight.to(h.dtype)  # (C, 1, 3); under autocast, compute in h's dtype as conv would
    bias = conv.bias.to(h.dtype) if conv.bias is not None else torch.zeros((), dtype=h.dtype, device=h.device)
    out = torch.addcmul(bias, h, weight[:, 0, 1])
    out[:, 1:].addcmul_(h[:, :-1], weight[:, 0, 0])
    out[:, :-1].addcmul_(h[:, 1:], weight[:, 0, 2])
    return out


class ConvFeedForward(nn.Module):
    """GLU MLP with a depthwise convolution over frames: the block's only source of position information."""

    def __init__(self, width: int, mult: int) -> None:
        super().__init__()
        hidden = width * mult
        self.up = nn.Linear(width, 2 * hidden)
        # Holds the parameters (and the checkpoint's keys); the forward pass uses depthwise_conv3.
        self.depthwise = nn.Conv1d(hidden, hidden, 3, padding=1, groups=hidden)
        self.down = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = self.up(x).chunk(2, dim=-1)
        h = depthwise_conv3(value * F.silu(gate), self.depthwise)
        out: Tensor = self.down(F.silu(h))
        return out


class DenoiserBlock(nn.Module):
    """[modulated linear self-attention, linear cross-attention to text, modulated conv feed-forward]."""

    def __init__(self, width: int, heads: int, context_width: int, ff_mult: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.self_attn = LinearSelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.cross_attn = LinearCrossAttention(width, context_width, heads)
        self.norm3 = nn.LayerNorm(width, elementwise_affine=False)
        self.ff = ConvFeedForward(width, ff_mult)
        self.modulation = nn.Linear(width, 6 * width)

    def forward(self, x: Tensor, cond: Tensor, context: Tensor, context_mask: Tensor) -> Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = _per_row(self.modulation, F.silu(cond)).chunk(
            6, dim=-1
        )
        x = x + gate1.unsqueeze(1) * self.self_attn(_modulate(self.norm1(x), shift1, scale1))
        x = x + self.cross_attn(self.norm2(x), context, context_mask)
        x = x + gate2.unsqueeze(1) * self.ff(_modulate(self.norm3(x), shift2, scale2))
        return x


class Denoiser(nn.Module):
    """Velocity model v(x_t, t, text) over latents (B, C, frames)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        width = config.denoiser_width
        self.in_proj = nn.Linear(config.latent_channels, width)
        self.position_proj = (
            nn.Linear(2 * config.position_harmonics, width, bias=False) if config.position_harmonics else None
        )
        self.time_mlp = nn.Sequential(
            nn.Linear(config.timestep_embedding_dim, width), nn.SiLU(), nn.Linear(width, width)
        )
        self.pooled_proj = nn.Linear(config.prompt_embedding_dim, width)
        self.blocks = nn.ModuleList(
            DenoiserBlock(width, config.denoiser_heads, config.text_width, config.denoiser_ff_mult)
            for _ in range(config.denoiser_depth)
        )
        self.final_norm = nn.LayerNorm(width, elementwise_affine=False)
        self.final_modulation = nn.Linear(width, 2 * width)
        self.out_proj = nn.Linear(width, config.latent_channels)
        # Learned "no prompt" conditioning for classifier-free guidance: one token plus a pooled vector.
        self.null_token = nn.Parameter(torch.randn(config.text_width) * 0.02)
        self.null_pooled = nn.Parameter(torch.randn(config.prompt_embedding_dim) * 0.02)

    def forward(self, x: Tensor, t: Tensor, text: TextEncoding) -> Tensor:
        """x (B, C, frames), t (B,) flow time in [0, 1] -> velocity (B, C, frames)."""
        cond = _per_row(self.time_mlp, timestep_embedding(t, self.config.timestep_embedding_dim).to(x.dtype))
        cond = cond + _per_row(self.pooled_proj, text.pooled.to(cond.dtype))
        h = self.in_proj(x.transpose(1, 2))
        if self.position_proj is not None:
            cfg = self.config
            features = position_features(
                x.shape[-1], cfg.position_period_frames, cfg.position_harmonics, x.device
            )
            h = h + self.position_proj(features.to(h.dtype))
        for block in self.blocks:
            h = block(h, cond, text.tokens, text.mask)
        shift, scale = _per_row(self.final_modulation, F.silu(cond)).chunk(2, dim=-1)
        out: Tensor = self.out_proj(_modulate(self.final_norm(h), shift, scale))
        return out.transpose(1, 2)

    def null_condition(self, like: TextEncoding) -> TextEncoding:
        """The unconditional encoding, shaped like `like` (a single valid token, the rest padding)."""
        batch = like.tokens.shape[0]
        tokens = torch.zeros_like(like.tokens)
        tokens[:, 0] = self.null_token.to(tokens.dtype)
        mask = torch.zeros_like(like.mask)
        mask[:, 0] = True
        pooled = self.null_pooled.to(like.pooled.dtype).expand(batch, -1)
        return TextEncoding(tokens, mask, pooled)

    def drop_condition(self, text: TextEncoding, drop: Tensor) -> TextEncoding:
        """Training helper: replace the rows where `drop` (B,) is True by the null conditioning."""
        null = self.null_condition(text)
        row = drop.view(-1, 1, 1)
        return TextEncoding(
            torch.where(row, null.tokens, text.tokens),
            torch.where(drop.view(-1, 1), null.mask, text.mask),
            torch.where(drop.view(-1, 1), null.pooled, text.pooled),
        )

    def guided_velocity(self, x: Tensor, t: Tensor, text: TextEncoding, guidance: Tensor) -> Tensor:
        """Classifier-free guidance in one batched forward: v_u + g * (v_c - v_u), per-row scale g (B,)."""
        both = TextEncoding.cat([text, self.null_condition(text)])
        velocity: Tensor = self(torch.cat([x, x]), torch.cat([t, t]), both)
        cond, uncond = velocity.float().chunk(2)
        return uncond + guidance.view(-1, 1, 1).float() * (cond - uncond)
