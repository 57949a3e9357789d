"""Multi-resolution STFT discriminator (EnCodec-style) with hinge and feature-matching losses, for VAE training."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class STFTDiscriminator(nn.Module):
    """2D convolutions over one complex STFT (real and imaginary parts as channels, per audio channel)."""

    def __init__(self, audio_channels: int, n_fft: int, width: int = 32):
        super().__init__()
        self.n_fft, self.hop = n_fft, n_fft // 4
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        channels = [2 * audio_channels, width, width, width, width]
        self.convs = nn.ModuleList(
            nn.utils.parametrizations.weight_norm(
                nn.Conv2d(c_in, c_out, kernel_size=(3, 9), stride=(1, 2) if i else (1, 1), padding=(1, 4))
            )
            for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:]))
        )
        self.out = nn.utils.parametrizations.weight_norm(nn.Conv2d(width, 1, kernel_size=(3, 3), padding=1))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, channels, samples = audio.shape
        spec = torch.stft(audio.reshape(-1, samples), self.n_fft, self.hop, window=self.window, return_complex=True)
        spec = torch.view_as_real(spec).reshape(batch, channels, *spec.shape[-2:], 2)
        hidden = spec.permute(0, 1, 4, 3, 2).reshape(batch, 2 * channels, spec.shape[-2], spec.shape[-3])
        features = []
        for conv in self.convs:
            hidden = F.leaky_relu(conv(hidden), 0.2)
            features.append(hidden)
        return self.out(hidden), features


class MultiResolutionDiscriminator(nn.Module):
    def __init__(self, audio_channels: int, n_ffts: tuple[int, ...] = (2048, 1024, 512)):
        super().__init__()
        self.discriminators = nn.ModuleList(STFTDiscriminator(audio_channels, n) for n in n_ffts)

    def forward(self, audio: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [d(audio) for d in self.discriminators]


def discriminator_hinge_loss(real: list, fake: list) -> torch.Tensor:
    return sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for (r, _), (f, _) in zip(real, fake)) / len(real)


def generator_adversarial_loss(fake: list) -> torch.Tensor:
    return sum(F.relu(1 - f).mean() for f, _ in fake) / len(fake)


def feature_matching_loss(real: list, fake: list) -> torch.Tensor:
    """L1 between discriminator features of real and generated audio, relative to the real features' scale."""
    losses = [
        F.l1_loss(f, r.detach()) / (r.detach().abs().mean() + 1e-5)
        for (_, real_features), (_, fake_features) in zip(real, fake)
        for r, f in zip(real_features, fake_features)
    ]
    return sum(losses) / len(losses)
