"""training.losses: the compressed complex STFT loss sees phase, which magnitude losses cannot."""

import math

import auraloss
import torch

from diffusers_s2acc.training.losses import CompressedComplexSTFTLoss


def test_identical_audio_scores_zero_and_a_phase_flip_does_not():
    t = torch.arange(16384) / 16000
    tone = torch.sin(2 * math.pi * 440 * t)[None, None]
    loss = CompressedComplexSTFTLoss(fft_sizes=(1024, 512))
    assert loss(tone, tone).item() == 0.0
    # The same magnitudes with the opposite phase: invisible to a magnitude loss, not to this one.
    magnitude_only = auraloss.freq.STFTLoss(fft_size=1024, hop_size=256, win_length=1024)
    assert magnitude_only(-tone, tone).item() < 1e-3
    assert loss(-tone, tone).item() > 0.5 * loss(torch.zeros_like(tone), tone).item()


def test_gradients_reach_the_reconstruction_and_stereo_is_scored_per_channel():
    target = torch.randn(2, 2, 8192) * 0.1
    reconstruction = (target + 0.05 * torch.randn_like(target)).requires_grad_()
    value = CompressedComplexSTFTLoss()(reconstruction, target)
    value.backward()
    assert value.item() > 0 and reconstruction.grad.abs().sum() > 0
    swapped = target.flip(1)  # left and right exchanged
    assert CompressedComplexSTFTLoss()(swapped, target).item() > value.item()
