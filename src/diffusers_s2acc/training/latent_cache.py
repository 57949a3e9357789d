"""Encode a corpus once into latents, so that DiT training never runs the VAE encoder."""

from __future__ import annotations

import json

import torch

from ..models.autoencoder_semantic import SemanticAutoencoder
from .corpus import match_channels, resample, song_from_row


@torch.no_grad()
def cache_latents(vae: SemanticAutoencoder, corpus, device: torch.device | str = "cpu", sample_posterior: bool = False):
    """
    Encode every song of `corpus` with `vae` (tiled, so song length does not matter).

    Returns:
        A `datasets.Dataset` with `latents` (float32 `(frames, latent_channels)`, already multiplied by the VAE's
        `scaling_factor`), `frame_rate`, `caption`, `segments` and `lead_sheet` (JSON), and `source_index`.
    """
    import datasets
    from tqdm.auto import tqdm

    vae = vae.to(device).eval()
    vae.enable_tiling()
    rows = {"latents": [], "frame_rate": [], "caption": [], "segments": [], "lead_sheet": [], "source_index": []}
    for index in tqdm(range(len(corpus)), desc="Encoding latents"):
        song = song_from_row(corpus[index])
        audio = resample(match_channels(song.audio, vae.config.audio_channels), song.sampling_rate, vae.config.sampling_rate)
        posterior = vae.encode(torch.from_numpy(audio)[None].to(device)).latent_dist
        latents = posterior.sample() if sample_posterior else posterior.mode()
        # Stored frames-first: `datasets` arrays may only vary in their first dimension.
        rows["latents"].append((latents[0] * vae.config.scaling_factor).float().cpu().numpy().T)
        rows["frame_rate"].append(vae.frame_rate)
        rows["caption"].append(song.caption)
        rows["segments"].append(json.dumps([s.to_dict() for s in song.segments]))
        rows["lead_sheet"].append(json.dumps(song.lead_sheet.to_dict()) if song.lead_sheet else None)
        rows["source_index"].append(index)
    features = datasets.Features(
        {
            "latents": datasets.Array2D(shape=(None, vae.config.latent_channels), dtype="float32"),
            "frame_rate": datasets.Value("float64"),
            "caption": datasets.Value("string"),
            "segments": datasets.Value("string"),
            "lead_sheet": datasets.Value("string"),
            "source_index": datasets.Value("int64"),
        }
    )
    return datasets.Dataset.from_dict(rows, features=features)
