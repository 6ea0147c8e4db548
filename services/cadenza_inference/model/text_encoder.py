"""Built-in prompt/tag encoder: a deterministic hashing tokenizer and a small transformer.

The denoiser only depends on the `TextConditioner` protocol, so a stronger pretrained encoder can
replace this one as long as it produces token embeddings of the same width.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig

PAD_ID = 0
CLS_ID = 1
_RESERVED = 2
_WORD_RE = re.compile(r"\w+")
# Segment ids: which part of the input a token came from.
_SEGMENT_CLS, _SEGMENT_TAG, _SEGMENT_PROMPT = 0, 1, 2


@dataclass(frozen=True)
class TextEncoding:
    """Conditioning for a batch: token embeddings, their validity mask and the pooled embedding."""

    tokens: Tensor  # (B, T, text_width)
    mask: Tensor  # (B, T) bool, True where a token is real
    pooled: Tensor  # (B, prompt_embedding_dim), L2-normalised

    @staticmethod
    def cat(parts: Sequence[TextEncoding]) -> TextEncoding:
        return TextEncoding(
            torch.cat([p.tokens for p in parts]),
            torch.cat([p.mask for p in parts]),
            torch.cat([p.pooled for p in parts]),
        )

    def select(self, index: Tensor) -> TextEncoding:
        return TextEncoding(self.tokens[index], self.mask[index], self.pooled[index])


@runtime_checkable
class TextConditioner(Protocol):
    """What the pipeline needs from a text encoder."""

    @property
    def width(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def encode(
        self, prompts: Sequence[str], tags: Sequence[Sequence[str]], device: torch.device
    ) -> TextEncoding:
        """Encode prompts with their tags; always pads to `max_tokens` so shapes do not depend on the text."""
        ...


def _hash(text: str, buckets: int) -> int:
    # blake2b, unlike hash(), is stable across processes and Python versions.
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return _RESERVED + int.from_bytes(digest, "little") % (buckets - _RESERVED)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().strip()


@dataclass(frozen=True)
class HashingTokenizer:
    """Maps a prompt and tags to (max_tokens, 1 + ngrams) ids: a word id plus its character n-gram ids.

    Order is [CLS] tags... prompt words..., truncated to `max_tokens`, so tags (at most 32) survive
    long prompts. A tag is one token ("tag:lo-fi"); its n-grams are shared with prompt words.
    """

    vocab_size: int
    max_tokens: int
    ngrams_per_token: int

    def tokenize(self, prompt: str, tags: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Returns ids (max_tokens, 1 + ngrams_per_token) and segment ids (max_tokens,); 0 is padding."""
        entries: list[tuple[str, str, int]] = []
        for tag in tags:
            if clean := normalise(tag):
                entries.append((f"tag:{clean}", clean, _SEGMENT_TAG))
        for word in _WORD_RE.findall(normalise(prompt)):
            entries.append((f"w:{word}", word, _SEGMENT_PROMPT))
        entries = entries[: self.max_tokens - 1]
        ids = torch.full((self.max_tokens, 1 + self.ngrams_per_token), PAD_ID, dtype=torch.long)
        segments = torch.zeros(self.max_tokens, dtype=torch.long)
        ids[0, 0] = CLS_ID
        for position, (key, surface, segment) in enumerate(entries, start=1):
            ids[position, 0] = _hash(key, self.vocab_size)
            for j, gram in enumerate(self._ngrams(surface)[: self.ngrams_per_token], start=1):
                ids[position, j] = _hash(f"g:{gram}", self.vocab_size)
            segments[position] = segment
        return ids, segments

    @staticmethod
    def _ngrams(word: str) -> list[str]:
        padded = f"<{word}>"
        return [padded[i : i + 3] for i in range(max(1, len(padded) - 2))]


class TextEncoder(nn.Module):
    """Small transformer over hashed tokens; softmax attention is fine here (at most 64 tokens)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = HashingTokenizer(
            config.text_vocab_size, config.max_text_tokens, config.text_ngrams_per_token
        )
        self.embed = nn.Embedding(config.text_vocab_size, config.text_width, padding_idx=PAD_ID)
        self.segment = nn.Embedding(3, config.text_width)
        self.position = nn.Parameter(torch.randn(config.max_text_tokens, config.text_width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            config.text_width,
            config.text_heads,
            4 * config.text_width,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.layers = nn.TransformerEncoder(layer, config.text_depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.text_width)
        self.pool_proj = nn.Linear(config.text_width, config.prompt_embedding_dim)

    @property
    def width(self) -> int:
        return self.config.text_width

    @property
    def max_tokens(self) -> int:
        return self.config.max_text_tokens

    def forward(self, ids: Tensor, segments: Tensor) -> TextEncoding:
        """ids (B, T, 1 + ngrams), segments (B, T) -> TextEncoding."""
        mask = ids[..., 0] != PAD_ID
        x = self.embed(ids).sum(dim=2) + self.segment(segments) + self.position[: ids.shape[1]]
        x = self.layers(x, src_key_padding_mask=~mask)
        tokens: Tensor = self.norm(x) * mask.unsqueeze(-1)
        weights = mask.unsqueeze(-1).to(tokens.dtype)
        mean = (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
        pooled = F.normalize(self.pool_proj(mean).float(), dim=-1)
        return TextEncoding(tokens, mask, pooled)

    def encode(
        self, prompts: Sequence[str], tags: Sequence[Sequence[str]], device: torch.device
    ) -> TextEncoding:
        if len(prompts) != len(tags):
            raise ValueError("prompts and tags must have the same length")
        pairs = [self.tokenizer.tokenize(p, t) for p, t in zip(prompts, tags, strict=True)]
        ids = torch.stack([p[0] for p in pairs]).to(device)
        segments = torch.stack([p[1] for p in pairs]).to(device)
        encoding: TextEncoding = self(ids, segments)
        return encoding
