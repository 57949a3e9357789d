"""Output of the S2Accompanist pipelines."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.pipelines.pipeline_utils import AudioPipelineOutput


@dataclass
class S2AccompanistPipelineOutput(AudioPipelineOutput):
    """
    Output of [`S2AccompanistPipeline`] and [`S2AccompanistRepaintPipeline`].

    Args:
        audios (`np.ndarray` or `torch.Tensor`): `(batch, audio_channels, samples)` float32 at the VAE's sampling
            rate, or the latents when `output_type="latent"`.
        latents (`torch.Tensor`): `(batch, latent_channels, frames)` float32, the denoised latents (scaled as the
            transformer sees them). Pass them back as `source_latents` to repaint or extend the piece exactly, with
            no re-encoding loss.
    """

    latents: torch.Tensor | None = None


__all__ = ["S2AccompanistPipelineOutput"]
