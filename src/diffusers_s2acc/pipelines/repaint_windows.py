"""Repainting: which latent frames a generation keeps, which it regenerates, and the windows it does it in.

One mechanism serves three uses of [`S2AccompanistPipeline`]: regenerating a region of a piece (the other frames
are known), extending a piece (the frames past its end are new), and generating a piece longer than the
transformer's maximum length (each window continues the previous one, whose last frames it is given as known).

A per-frame weight says what happens to a frame: 0 keeps its known latent exactly, 1 generates it, a value in
between blends the two at every denoising step (the cross-fade). [`region_weights`] builds the weights of a
request; [`plan_windows`] cuts them into windows of at most the transformer's length. Both are pure functions of
frame counts, so the plan is known before any model runs (benchmarks and tests read it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass
class RepaintWindow:
    """One transformer pass: latent frames `[start, end)` of the piece and their weights.

    Attributes:
        start (`int`): First frame of the window in the piece.
        end (`int`): End frame (exclusive).
        weights (`torch.Tensor`): `(end - start,)` float32; 0 keeps the known latent (the source's, or what an
            earlier window generated), 1 generates the frame, values in between cross-fade the two.
    """

    start: int
    end: int
    weights: torch.Tensor

    @property
    def generates_everything(self) -> bool:
        return bool((self.weights == 1).all())


def _ramp(length: int) -> torch.Tensor:
    """`length` values rising linearly strictly between 0 and 1."""
    return torch.arange(1, length + 1, dtype=torch.float32) / (length + 1)


def region_weights(
    num_frames: int, regions: Sequence[tuple[int, int]], known_frames: int, crossfade_frames: int
) -> torch.Tensor:
    """
    Weights of a repaint or extension request.

    Args:
        num_frames (`int`): Frames of the output piece.
        regions (`list[tuple[int, int]]`): Frame spans `[start, end)` to regenerate.
        known_frames (`int`): Frames `[0, known_frames)` have known latents (the source); later frames are
            generated (an extension).
        crossfade_frames (`int`): Inside each region, the first and last `crossfade_frames` frames rise from the
            known latent to the generated one, where the known side of that border exists; the frames outside
            every region keep weight 0, so they come out bit-exact.

    Returns:
        `(num_frames,)` float32 weights.
    """
    weights = torch.zeros(num_frames, dtype=torch.float32)
    weights[known_frames:] = 1.0
    for start, end in regions:
        weights[start:end] = 1.0
    for start, end in regions:
        ramp_length = min(crossfade_frames, (end - start) // 2)
        if ramp_length <= 0:
            continue
        ramp = _ramp(ramp_length)
        if start > 0 and weights[start - 1] == 0:
            weights[start : start + ramp_length] = torch.minimum(weights[start : start + ramp_length], ramp)
        if end < min(known_frames, num_frames) and weights[end] == 0:
            weights[end - ramp_length : end] = torch.minimum(weights[end - ramp_length : end], ramp.flip(0))
    return weights


def plan_windows(
    weights: torch.Tensor, max_frames: int, context_frames: int, crossfade_frames: int
) -> list[RepaintWindow]:
    """
    Cut a generation into windows of at most `max_frames` frames, processed in order.

    A piece that fits is one window. Otherwise every window holds `max_frames` frames (so every window costs the
    same and peak memory does not grow with the piece): a stretch of frames to generate that fits in one window
    with `context_frames` of known frames before it is centred in its window, known frames on both sides; a longer
    stretch is generated left to right, each window starting `context_frames` before its first new frame. There,
    the last `crossfade_frames` frames the previous window generated (without any context to their right) are
    generated again with rising weights, so consecutive windows cross-fade instead of meeting at a hard seam.

    Args:
        weights (`torch.Tensor`): `(frames,)` from [`region_weights`] (all ones for a new piece).
        max_frames (`int`): The transformer's maximum length.
        context_frames (`int`): Known frames each continuing window starts with.
        crossfade_frames (`int`): Frames two consecutive windows cross-fade over.

    Raises:
        ValueError: when `context_frames + crossfade_frames` exceeds half of `max_frames` (windows would advance
            by less than they repeat).
    """
    if context_frames < 0 or crossfade_frames < 0 or context_frames + crossfade_frames > max_frames // 2:
        raise ValueError(
            f"window context ({context_frames} frames) plus cross-fade ({crossfade_frames}) must be >= 0 and at "
            f"most half the window ({max_frames // 2} frames)."
        )
    weights = weights.detach().to(torch.float32).cpu().clone()
    total = weights.shape[0]
    generated = torch.zeros(total, dtype=torch.bool)
    windows: list[RepaintWindow] = []
    while (weights > 0).any():
        pending = weights > 0
        first = int(pending.nonzero()[0])
        if total <= max_frames:
            start, end = 0, total
        else:
            rest = (~pending[first:]).nonzero()
            run_end = first + int(rest[0]) if len(rest) else total
            left = min(context_frames, first)
            if run_end - first + left <= max_frames:
                # Fits: centre it, with at least `left` known frames before it, for context on both sides.
                slack = max_frames - (run_end - first)
                start = max(min(first - slack // 2, first - left), run_end - max_frames)
            else:
                start = first - left
            start = min(max(start, 0), total - max_frames)
            end = start + max_frames
        windows.append(RepaintWindow(start, end, weights[start:end].clone()))
        generated[start:end] |= pending[start:end]
        weights[start:end] = 0.0
        if end < total and weights[end] > 0 and crossfade_frames > 0:
            span = slice(end - crossfade_frames, end)
            weights[span] = torch.where(generated[span], _ramp(crossfade_frames), weights[span])
    return windows
