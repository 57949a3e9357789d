"""Overlapping-tile application of a 1D convolutional stack along time, with cross-faded seams.

Used by the autoencoder for both directions: encode (samples -> frames) and decode (frames -> samples). Tiles are
whole units of the input grid (latent frames, or hops of samples), so every tile maps onto an exact span of the
output. Each tile is computed with `context` extra units on both sides, which are discarded: when `context` covers
the network's receptive field the kept part equals the untiled result up to float rounding. Neighbouring kept parts
then overlap by `overlap` units and are blended with complementary linear ramps, so no seam, click or gap remains
even for networks whose receptive field exceeds the context (e.g. after fine-tuning).

Peak activation memory depends on the window (`tile + 2 * context` units) only, never on the duration: every window
has that length, the edge tiles taking their missing context from the inside.
"""

from __future__ import annotations

from typing import Callable

import torch


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    *,
    unit: int,
    scale: float,
    tile: int,
    overlap: int,
    context: int,
) -> torch.Tensor:
    """Apply `fn` to `inputs` (B, C, L) in tiles along the last axis.

    Args:
        fn: Maps `(B, C, n * unit)` to `(B, C', round(n * unit * scale))`.
        unit: Input samples per tiling unit (the hop length when encoding audio, 1 when decoding latents).
        scale: Output length per input sample (`1 / hop` for encode, `hop` for decode).
        tile: Units kept per tile, overlap included.
        overlap: Units shared (cross-faded) by neighbouring tiles.
        context: Units of extra context computed on each side and discarded.
    """
    if not 0 <= overlap < tile:
        raise ValueError(f"Tile overlap ({overlap}) must be in [0, tile size {tile}).")
    if inputs.shape[-1] % unit:
        raise ValueError(f"Input length {inputs.shape[-1]} is not a multiple of the tiling unit {unit}.")
    total = inputs.shape[-1] // unit
    if total <= tile:
        return fn(inputs)

    out_per_unit = round(unit * scale)
    stride = tile - overlap
    starts = list(range(0, total - overlap, stride))
    # Every window has the same length (edge tiles take their missing context from the inside), so peak memory is
    # the same for every tile and for every duration longer than one window.
    window = min(tile + 2 * context, total)
    output = None
    for index, start in enumerate(starts):
        end = min(start + tile, total)
        lo = min(max(0, start - context), total - window)
        hi = lo + window
        piece = fn(inputs[..., lo * unit : hi * unit])
        piece = piece[..., (start - lo) * out_per_unit : (end - lo) * out_per_unit]
        if output is None:
            output = piece.new_zeros(*piece.shape[:-1], total * out_per_unit)
        # Fade in over the overlap shared with the previous tile; the previous tile faded out over the same span.
        if index > 0 and overlap > 0:
            fade = overlap * out_per_unit
            ramp = (torch.arange(fade, device=piece.device, dtype=piece.dtype) + 0.5) / fade
            piece = piece.clone()
            piece[..., :fade] *= ramp
            output[..., start * out_per_unit : start * out_per_unit + fade] *= 1.0 - ramp
        output[..., start * out_per_unit : end * out_per_unit] += piece
    return output
