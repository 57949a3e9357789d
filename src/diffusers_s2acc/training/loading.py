"""The models a training run starts from: the same names the `s2acc` command line loads (a preset with random
weights, the shipped `s2acc-demo`, a folder or a Hub repo id; see [`diffusers_s2acc.pretrained.load_pipeline`])."""

from __future__ import annotations

import os


def load_starting_pipeline(name_or_path: str):
    """A preset name builds a fresh pipeline; a shipped name, a folder or a Hub repo id loads a trained one."""
    from ..pretrained import load_pipeline

    return load_pipeline(name_or_path)


def load_starting_vae(name_or_path: str, oobleck_path: str | None = None) -> "SemanticAutoencoder":  # noqa: F821
    """A converted Oobleck, a preset (random), a `config.json` (random, any size: how new sizes are tried, as
    transformers' `--config_name`), a pipeline's `vae/`, a VAE folder, or a Hub repo's `vae/`."""
    from ..models.autoencoder_semantic import SemanticAutoencoder
    from ..presets import vae_config
    from ..pretrained import SHIPPED_PIPELINES, is_preset, shipped_pipeline_path

    if oobleck_path is not None:
        from diffusers import AutoencoderOobleck

        subfolder = "vae" if os.path.isdir(os.path.join(oobleck_path, "vae")) else None
        return SemanticAutoencoder.from_oobleck(AutoencoderOobleck.from_pretrained(oobleck_path, subfolder=subfolder))
    if is_preset(name_or_path):
        return SemanticAutoencoder(**vae_config(name_or_path))
    if str(name_or_path).endswith(".json"):
        if not os.path.isfile(name_or_path):
            raise FileNotFoundError(f"VAE config {name_or_path} does not exist.")
        return SemanticAutoencoder.from_config(SemanticAutoencoder.load_config(name_or_path))
    if not os.path.isdir(name_or_path) and name_or_path in SHIPPED_PIPELINES:
        name_or_path = shipped_pipeline_path(name_or_path)
    if os.path.isdir(name_or_path) and not os.path.isdir(os.path.join(name_or_path, "vae")):
        return SemanticAutoencoder.from_pretrained(name_or_path)
    return SemanticAutoencoder.from_pretrained(name_or_path, subfolder="vae")
