"""Oobleck-family waveform encoder and decoder (the VAE architecture of Stable Audio Open and DiffRhythm).

Weight normalisation is written out explicitly (`weight_g`, `weight_v` parameters) instead of using
`torch.nn.utils.weight_norm`: the deprecated hook and its `parametrizations` replacement name their state-dict keys
differently, and the keys of this module end up in every published checkpoint. The names chosen here are the ones
diffusers' `AutoencoderOobleck` checkpoints already use, so converting them is a plain copy.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# Adapted from diffusers.models.autoencoders.autoencoder_oobleck.Snake1d (the same parameters and formula)
class Snake1d(nn.Module):
    """Snake activation `x + 1/beta * sin(alpha * x)^2` with per-channel log-scale `alpha`, `beta`."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(1, channels, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        alpha = torch.exp(self.alpha)
        beta = torch.exp(self.beta)
        return hidden_states + (beta + 1e-9).reciprocal() * torch.sin(alpha * hidden_states).pow(2)


class _WeightNormMixin:
    """Weight normalisation over all dims but the first: `weight = g * v / ||v||`."""

    def _init_weight_norm(self) -> None:
        weight = self.weight.detach()
        del self.weight
        self.weight_v = nn.Parameter(weight.clone())
        self.weight_g = nn.Parameter(torch.linalg.vector_norm(weight, dim=tuple(range(1, weight.dim())), keepdim=True))

    def normalized_weight(self) -> torch.Tensor:
        return torch._weight_norm(self.weight_v, self.weight_g, 0)


class WNConv1d(_WeightNormMixin, nn.Conv1d):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_weight_norm()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(hidden_states, self.normalized_weight(), self.bias)


class WNConvTranspose1d(_WeightNormMixin, nn.ConvTranspose1d):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_weight_norm()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose1d(
            hidden_states, self.normalized_weight(), self.bias, self.stride, self.padding, self.output_padding
        )


# Adapted from diffusers.models.autoencoders.autoencoder_oobleck.OobleckResidualUnit (weight norm written out)
class OobleckResidualUnit(nn.Module):
    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.snake1 = Snake1d(channels)
        self.conv1 = WNConv1d(channels, channels, kernel_size=7, dilation=dilation, padding=3 * dilation)
        self.snake2 = Snake1d(channels)
        self.conv2 = WNConv1d(channels, channels, kernel_size=1)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states + self.conv2(self.snake2(self.conv1(self.snake1(hidden_states))))


# Adapted from diffusers.models.autoencoders.autoencoder_oobleck.OobleckEncoderBlock (weight norm written out)
class OobleckEncoderBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.res_unit1 = OobleckResidualUnit(in_channels, dilation=1)
        self.res_unit2 = OobleckResidualUnit(in_channels, dilation=3)
        self.res_unit3 = OobleckResidualUnit(in_channels, dilation=9)
        self.snake1 = Snake1d(in_channels)
        self.conv1 = WNConv1d(
            in_channels, out_channels, kernel_size=2 * stride, stride=stride, padding=math.ceil(stride / 2)
        )

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.res_unit3(self.res_unit2(self.res_unit1(hidden_states)))
        return self.conv1(self.snake1(hidden_states))


# Adapted from diffusers.models.autoencoders.autoencoder_oobleck.OobleckDecoderBlock (weight norm written out)
class OobleckDecoderBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.snake1 = Snake1d(in_channels)
        self.conv_t1 = WNConvTranspose1d(
            in_channels, out_channels, kernel_size=2 * stride, stride=stride, padding=math.ceil(stride / 2)
        )
        self.res_unit1 = OobleckResidualUnit(out_channels, dilation=1)
        self.res_unit2 = OobleckResidualUnit(out_channels, dilation=3)
        self.res_unit3 = OobleckResidualUnit(out_channels, dilation=9)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv_t1(self.snake1(hidden_states))
        return self.res_unit3(self.res_unit2(self.res_unit1(hidden_states)))


# Adapted from diffusers.models.autoencoders.autoencoder_oobleck.OobleckEncoder (weight norm written out)
class OobleckEncoder(nn.Module):
    """Waveform `(B, audio_channels, S)` -> posterior parameters `(B, 2 * latent_channels, S / hop)`."""

    def __init__(
        self,
        hidden_size: int,
        audio_channels: int,
        latent_channels: int,
        downsampling_ratios: list[int],
        channel_multiples: list[int],
    ):
        super().__init__()
        multiples = [1] + list(channel_multiples)
        self.conv1 = WNConv1d(audio_channels, hidden_size, kernel_size=7, padding=3)
        self.block = nn.ModuleList(
            OobleckEncoderBlock(hidden_size * multiples[i], hidden_size * multiples[i + 1], stride)
            for i, stride in enumerate(downsampling_ratios)
        )
        width = hidden_size * multiples[-1]
        self.snake1 = Snake1d(width)
        self.conv2 = WNConv1d(width, 2 * latent_channels, kernel_size=3, padding=1)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv1(hidden_states)
        for block in self.block:
            hidden_states = block(hidden_states)
        return self.conv2(self.snake1(hidden_states))


# Adapted from diffusers.models.autoencoders.autoencoder_oobleck.OobleckDecoder (weight norm written out)
class OobleckDecoder(nn.Module):
    """Latents `(B, latent_channels, T)` -> waveform `(B, audio_channels, T * hop)`."""

    def __init__(
        self,
        hidden_size: int,
        latent_channels: int,
        audio_channels: int,
        upsampling_ratios: list[int],
        channel_multiples: list[int],
    ):
        super().__init__()
        multiples = [1] + list(channel_multiples)
        n = len(upsampling_ratios)
        self.conv1 = WNConv1d(latent_channels, hidden_size * multiples[-1], kernel_size=7, padding=3)
        self.block = nn.ModuleList(
            OobleckDecoderBlock(hidden_size * multiples[n - i], hidden_size * multiples[n - i - 1], stride)
            for i, stride in enumerate(upsampling_ratios)
        )
        self.snake1 = Snake1d(hidden_size)
        self.conv2 = WNConv1d(hidden_size, audio_channels, kernel_size=7, padding=3, bias=False)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv1(hidden_states)
        for block in self.block:
            hidden_states = block(hidden_states)
        return self.conv2(self.snake1(hidden_states))
