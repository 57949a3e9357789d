"""Rectified-flow training objective (as SD3): x_t = (1 - sigma) x0 + sigma * noise, target noise - x0."""

from __future__ import annotations

import torch
from diffusers.training_utils import compute_density_for_timestep_sampling

from ..music.frames import FrameConditioning


TIMESTEP_SCALE = 1000.0  # the transformer and FlowMatchEulerDiscreteScheduler use sigma * 1000


def sample_sigmas(
    batch_size: int,
    scheme: str,
    device: torch.device,
    logit_mean: float = 0.0,
    logit_std: float = 1.0,
    mode_scale: float = 1.29,
) -> torch.Tensor:
    """Noise levels in (0, 1): `uniform`, `logit_normal` (SD3's default) or `mode`."""
    if scheme not in ("uniform", "logit_normal", "mode"):
        raise ValueError(f"Unknown timestep sampling scheme {scheme!r}.")
    u = compute_density_for_timestep_sampling(
        weighting_scheme=scheme,
        batch_size=batch_size,
        logit_mean=logit_mean,
        logit_std=logit_std,
        mode_scale=mode_scale,
    )
    return u.clamp(1e-4, 1.0).to(device)


def flow_matching_pair(
    latents: torch.Tensor, noise: torch.Tensor, sigmas: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(noisy latents, velocity target)` for `sigmas` of shape `(batch,)`."""
    s = sigmas.view(-1, *([1] * (latents.ndim - 1)))
    return (1.0 - s) * latents + s * noise, noise - latents


def condition_dropout(
    batch_size: int, p_text: float, p_lead_sheet: float, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Independent per-sample flags that replace text / lead sheet by their learned null conditions."""
    return (torch.rand(batch_size) < p_text).to(device), (torch.rand(batch_size) < p_lead_sheet).to(device)


def drop_lead_sheet_parts(cond: FrameConditioning, p_part: float) -> FrameConditioning:
    """Hide chords, melody and beats independently per sample, so that any part may be absent at inference."""
    batch = cond.chord_ids.shape[0]
    keep = [(torch.rand(batch) >= p_part)[:, None] for _ in range(3)]
    return FrameConditioning(
        section_ids=cond.section_ids,
        section_position=cond.section_position,
        segment_ids=cond.segment_ids,
        chord_ids=cond.chord_ids * keep[0],
        pitch_classes=cond.pitch_classes * keep[0][..., None],
        melody_ids=cond.melody_ids * keep[1],
        beat_ids=cond.beat_ids * keep[2],
    )
