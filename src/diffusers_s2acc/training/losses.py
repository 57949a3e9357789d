"""Reconstruction losses of VAE training that the maintained libraries do not provide."""

from __future__ import annotations

import torch
import torch.nn as nn


class CompressedComplexSTFTLoss(nn.Module):
    """Multi-resolution L1 distance of power-law compressed complex STFTs: `|X|^p e^{i angle X}`, `p = 0.3`.

    The magnitude losses (MR-STFT, log-mel) are blind to phase. A waveform decoder gets its phase from the waveform
    L1 loss; an inverse-STFT decoder predicts a phase per bin and frame, and with magnitude losses alone learns
    phases that do not agree from frame to frame (its output is noisy and blurred: chords were no longer readable
    after the round trip of a spectral VAE at 400 steps, measured 2026-12-04). This loss compares real and imaginary
    parts, so the phase is trained where the magnitude makes it matter; the compression (as in speech enhancement's
    compressed complex losses) keeps quiet bins from vanishing beside loud ones. auraloss' `w_phs` compares raw
    angles by MSE, which wraps at +-pi and weighs the phase of silence like that of a note.
    """

    def __init__(
        self,
        fft_sizes: tuple[int, ...] = (2048, 1024, 512),
        compression: float = 0.3,
    ):
        super().__init__()
        self.fft_sizes = tuple(fft_sizes)
        self.compression = compression
        for size in self.fft_sizes:
            self.register_buffer(f"window_{size}", torch.hann_window(size), persistent=False)

    def _spectrum(self, audio: torch.Tensor, size: int) -> torch.Tensor:
        spec = torch.stft(
            audio.reshape(-1, audio.shape[-1]).float(),
            size,
            size // 4,
            window=getattr(self, f"window_{size}"),
            return_complex=True,
        )
        return spec * spec.abs().clamp_min(1e-7).pow(self.compression - 1.0)

    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        losses = [
            (self._spectrum(reconstruction, size) - self._spectrum(target, size)).abs().mean()
            for size in self.fft_sizes
        ]
        return torch.stack(losses).mean()
