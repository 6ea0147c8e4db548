"""A tiny, randomly initialised AudioLDM2Pipeline saved in the diffusers layout, made offline.

Built from the pipeline's own component classes with the small configurations of diffusers' own
tests (tests/pipelines/audioldm2/test_audioldm2.py: tiny AudioLDM2 UNet, KL VAE over 8 mel bins,
CLAP, T5 encoder, GPT-2, projection model, SpeechT5 HiFi-GAN vocoder, DDIM), with a real (if tiny)
audio rate so that lengths mean something. Nothing comes from a hub: the RoBERTa tokenizer is made
from a vocab.json/merges.txt written here and the T5 tokenizer is a word-level one (as in
tiny_diffusers). The weights are untrained and the card says so (`untrained: true`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

from tests.inference.tiny_diffusers import _WORDS

SAMPLE_RATE = 1600
HOP = 4  # vocoder upsample rates (2, 2): samples per mel frame
VAE_SCALE = 2  # two VAE blocks: latent frames and mel bins are halved
MEL_BINS = 8
UNET_CHANNELS = 4
LATENT_CHANNELS = UNET_CHANNELS * MEL_BINS // VAE_SCALE  # the (C, T, F) latent stored as (C*F, T)
MAX_FRAMES = 32  # the UNet's sample_size: the pipeline's default length
SAMPLES_PER_FRAME = HOP * VAE_SCALE
MAX_SECONDS = MAX_FRAMES * SAMPLES_PER_FRAME / SAMPLE_RATE  # 0.16 s
# <pad> </s> <unk> first, as T5 numbers them, then each word with the leading-space mark.
_T5_VOCAB = [(w, 0.0) for w in _WORDS[:3]] + [("\u2581", -2.0)] + [("\u2581" + w, -1.0) for w in _WORDS[3:]]
LICENCE = "apache-2.0"
CARD = f"""---
license: {LICENCE}
untrained: true
description: tiny randomly initialised AudioLDM2Pipeline (untrained, for tests)
---
# tiny-audioldm2 (untrained)

Random weights in the shapes of diffusers' own AudioLDM2Pipeline tests. It makes noise, not music.
"""


def _roberta_tokenizer(directory: Path) -> object:
    """A byte-level BPE RobertaTokenizer over single characters plus a few merges, from local files."""
    from transformers import RobertaTokenizer

    symbols = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", "\u0120", *"abcdefghijklmnopqrstuvwxyz0123456789,"]
    merges = [("\u0120", "s"), ("\u0120s", "l"), ("o", "w"), ("\u0120p", "i"), ("a", "n")]
    for left, right in merges:
        symbols.append(left + right)
    symbols.append("\u0120p")
    merges.insert(3, ("\u0120", "p"))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps({s: i for i, s in enumerate(symbols)}))
    lines = ["#version: 0.2", *(f"{a} {b}" for a, b in merges)]
    (directory / "merges.txt").write_text("\n".join(lines) + "\n")
    return RobertaTokenizer.from_pretrained(str(directory), local_files_only=True, model_max_length=16)


def _t5_tokenizer() -> object:
    """A T5 tokenizer over tiny_diffusers' words (a Unigram vocabulary of whole words)."""
    from transformers import T5Tokenizer

    return T5Tokenizer(vocab=_T5_VOCAB, extra_ids=0, model_max_length=16)


def build_audioldm2(directory: Path, seed: int = 0) -> Path:
    """Writes the pipeline (and its card) to `directory`; returns it."""
    from diffusers import (
        AudioLDM2Pipeline,
        AudioLDM2ProjectionModel,
        AudioLDM2UNet2DConditionModel,
        AutoencoderKL,
        DDIMScheduler,
    )
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapTextConfig,
        GPT2Config,
        GPT2LMHeadModel,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
        T5Config,
        T5EncoderModel,
    )

    with tempfile.TemporaryDirectory() as source:
        tokenizer = _roberta_tokenizer(Path(source))
    torch.manual_seed(seed)
    unet = AudioLDM2UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=MAX_FRAMES,
        in_channels=UNET_CHANNELS,
        out_channels=UNET_CHANNELS,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 16, 32], [None, 16, 32]),
        norm_num_groups=32,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=1,
        out_channels=1,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=UNET_CHANNELS,
    )
    text_config = ClapTextConfig(
        bos_token_id=0,
        eos_token_id=2,
        hidden_size=16,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=2,
        num_hidden_layers=2,
        pad_token_id=1,
        vocab_size=64,
        projection_dim=16,
        max_position_embeddings=32,
    )
    audio_config = ClapAudioConfig(
        spec_size=64,
        window_size=4,
        num_mel_bins=64,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        depths=[2, 2],
        num_attention_heads=[2, 2],
        num_hidden_layers=2,
        hidden_size=192,
        projection_dim=16,
        patch_size=2,
        patch_stride=2,
        patch_embed_input_channels=4,
    )
    text_encoder = ClapModel(
        ClapConfig(text_config=text_config.to_dict(), audio_config=audio_config.to_dict(), projection_dim=16)
    )
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=len(_T5_VOCAB),
            d_model=32,
            d_ff=37,
            d_kv=8,
            num_heads=2,
            num_layers=2,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
    language_model = GPT2LMHeadModel(
        GPT2Config(
            n_embd=16,
            n_head=2,
            n_layer=2,
            vocab_size=64,
            n_ctx=99,
            n_positions=99,
            bos_token_id=0,
            eos_token_id=0,
        )
    )
    language_model.config.max_new_tokens = 8
    projection_model = AudioLDM2ProjectionModel(
        text_encoder_dim=16, text_encoder_1_dim=32, langauge_model_dim=16
    )
    vocoder = SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=MEL_BINS,
            sampling_rate=SAMPLE_RATE,
            upsample_initial_channel=16,
            upsample_rates=[2, 2],
            upsample_kernel_sizes=[4, 4],
            resblock_kernel_sizes=[3, 7],
            resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]],
            normalize_before=False,
        )
    )
    pipeline = AudioLDM2Pipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        projection_model=projection_model,
        language_model=language_model,
        tokenizer=tokenizer,
        tokenizer_2=_t5_tokenizer(),
        feature_extractor=ClapFeatureExtractor(hop_length=7900),
        unet=unet,
        scheduler=scheduler,
        vocoder=vocoder,
    )
    directory.mkdir(parents=True, exist_ok=True)
    pipeline.save_pretrained(directory)
    (directory / "README.md").write_text(CARD)
    return directory
