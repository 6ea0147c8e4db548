"""A tiny, randomly initialised StableAudioPipeline saved in the diffusers layout, made offline.

Built from the pipeline's own component classes with the small configurations diffusers' own tests
use (tests/pipelines/stable_audio/test_stable_audio.py: tiny DiT, tiny Oobleck VAE, tiny T5 encoder,
projection model), with a longer window and a real (if tiny) audio rate so that lengths mean
something. Nothing comes from a hub: the tokenizer is a word-level one built here with the
`tokenizers` library. The weights are untrained and the card says so (`untrained: true`), so every
result the service returns from it is labelled untrained; no test pretends it makes music.
"""

from __future__ import annotations

from pathlib import Path

import torch

SAMPLE_RATE = 800
HOP = 4  # Oobleck downsampling ratios (2, 2)
WINDOW_FRAMES = 32  # the DiT's sample_size: 32 frames x 4 samples / 800 Hz = 0.16 s
LATENT_CHANNELS = 3
TEXT_WIDTH = 8
MAX_SECONDS = WINDOW_FRAMES * HOP / SAMPLE_RATE
LICENCE = "apache-2.0"
CARD = f"""---
license: {LICENCE}
untrained: true
description: tiny randomly initialised StableAudioPipeline (untrained, for tests)
---
# tiny-stable-audio (untrained)

Random weights in the shapes of diffusers' own StableAudioPipeline tests. It makes noise, not music.
"""
_WORDS = (
    "<pad> </s> <unk> warm analog synth pads over a slow beat ambient 90bpm drums piano fast soft loud "
    "with and in at bpm"
).split()


def _tokenizer() -> object:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(_WORDS)}, unk_token="<unk>"))
    words.normalizer = normalizers.Lowercase()
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=words, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=16
    )


def build_stable_audio(
    directory: Path, seed: int = 0, *, window_frames: int = WINDOW_FRAMES, layers: int = 2, heads: int = 2
) -> Path:
    """Writes the pipeline (and its card) to `directory`; returns it. The tests use the defaults; the
    benchmark also a larger DiT (more `layers`, `heads` of width 64 beyond 2, a longer window)."""
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = StableAudioDiTModel(
        sample_size=window_frames,
        in_channels=LATENT_CHANNELS,
        num_layers=layers,
        attention_head_dim=4 if heads <= 2 else 64,
        num_attention_heads=heads,
        num_key_value_attention_heads=2,
        out_channels=LATENT_CHANNELS,
        cross_attention_dim=4,
        time_proj_dim=8,
        global_states_input_dim=8,
        cross_attention_input_dim=4,
    )
    # Stable Audio Open's own scheduler (an SDE solver: its noise comes from the request's seed).
    scheduler = CosineDPMSolverMultistepScheduler(
        solver_order=2, prediction_type="v_prediction", sigma_data=1.0, sigma_schedule="exponential"
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=6,
        downsampling_ratios=[2, 2],
        decoder_channels=3,
        decoder_input_channels=LATENT_CHANNELS,
        audio_channels=2,
        channel_multiples=[2, 4],
        sampling_rate=SAMPLE_RATE,
    )
    text_encoder = T5EncoderModel(
        T5Config(
            vocab_size=len(_WORDS),
            d_model=TEXT_WIDTH,
            d_kv=4,
            d_ff=16,
            num_layers=1,
            num_heads=2,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
    projection = StableAudioProjectionModel(
        text_encoder_dim=TEXT_WIDTH, conditioning_dim=4, min_value=0, max_value=32
    )
    pipeline = StableAudioPipeline(
        vae=vae,
        text_encoder=text_encoder,
        projection_model=projection,
        tokenizer=_tokenizer(),
        transformer=transformer,
        scheduler=scheduler,
    )
    directory.mkdir(parents=True, exist_ok=True)
    pipeline.save_pretrained(directory)
    (directory / "README.md").write_text(CARD)
    return directory
