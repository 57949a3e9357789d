"""STFT-domain encoder and decoder: the `architecture="spectral"` option of `SemanticAutoencoder`.

The decoder follows Vocos (Siuzdenko et al. 2023, "Vocos: Closing the gap between time-domain and Fourier-based
neural vocoders"): ConvNeXt blocks at the frame rate, a head that predicts log-magnitude and phase per STFT bin, and
an inverse STFT. The encoder mirrors it: the power-law compressed complex STFT in, ConvNeXt blocks, strided
convolutions down to the latent rate.

Why next to the Oobleck blocks: a waveform decoder spends most of its compute in its first and last blocks, which
run at the audio rate (44,100 steps per second and channel). Here every layer runs at the STFT frame rate or below
(86 frames/s for a 512-sample hop), so the same compute buys networks tens of times wider. On two CPU cores that is
what makes a 44.1 kHz stereo VAE trainable at all: in the run of 2026-12-03 a width-16 Oobleck VAE at hop 2048 still
decoded every clip to a near-stationary spectrum after 1,700 steps (see the model card, issue 19).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


# Adapted from vocos.modules.ConvNeXtBlock (MIT; no adaLN: the VAE has no conditioning)
class ConvNeXtBlock1d(nn.Module):
    """Depth-wise conv (kernel 7), LayerNorm, point-wise MLP (x3), layer-scaled residual."""

    def __init__(self, channels: int, expansion: int = 3, layer_scale: float = 1e-2):
        super().__init__()
        self.dwconv = nn.Conv1d(channels, channels, kernel_size=7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.pwconv1 = nn.Linear(channels, expansion * channels)
        self.pwconv2 = nn.Linear(expansion * channels, channels)
        self.gamma = nn.Parameter(torch.full((channels,), layer_scale))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.dwconv(hidden_states).transpose(1, 2)
        hidden_states = self.pwconv2(F.gelu(self.pwconv1(self.norm(hidden_states))))
        return residual + (self.gamma * hidden_states).transpose(1, 2)


def to_mid_side(audio: torch.Tensor) -> torch.Tensor:
    """Left/right `(B, 2, S)` -> mid/side: `M = (L + R) / 2`, `S = (L - R) / 2` (exactly inverted by
    `from_mid_side`)."""
    left, right = audio.unbind(1)
    return torch.stack([(left + right) / 2, (left - right) / 2], dim=1)


def from_mid_side(audio: torch.Tensor) -> torch.Tensor:
    """Mid/side `(B, 2, S)` -> left/right: `L = M + S`, `R = M - S`."""
    mid, side = audio.unbind(1)
    return torch.stack([mid + side, mid - side], dim=1)


def frame_phase_rotation(bins: int, frames: int, device=None) -> torch.Tensor:
    """`exp(2 pi i k t hop / n_fft)` for bin `k` and frame `t` with `n_fft = 4 hop`: the phase a stationary sinusoid
    at bin `k`'s centre frequency gains by frame `t` in the STFT's phase convention (time measured from the start
    of the signal). `(bins, frames)`, complex; the values are exact powers of `i`.

    The spectral encoder multiplies its STFT by the conjugate (phase demodulation) and the decoder's predicted
    spectrum is multiplied by this before the inverse STFT. Then a steady tone has a nearly constant phase from frame
    to frame, which a convolutional decoder can predict, instead of one that turns by `k` quarter turns per frame,
    which it cannot: a decoder predicting raw phases gave slowly varying ones, the inverse STFT of which is periodic
    in the hop, a buzz of harmonics of 43 Hz (hop 512 at 44.1 kHz) about 20 dB above the music and no readable
    chord (measured, 1,000 steps, 2026-12-04). Tiles start at whole latent frames (four STFT frames), so tiled and
    untiled results agree.
    """
    quarter_turns = (torch.arange(bins, device=device)[:, None] * torch.arange(frames, device=device)[None, :]) % 4
    return torch.polar(torch.ones(bins, frames, device=device), quarter_turns * (torch.pi / 2))


def _stages(channels: int, multiples: list[int]) -> list[int]:
    return [channels * m for m in multiples]


class SpectralEncoder(nn.Module):
    """Waveform `(B, audio_channels, S)` -> posterior parameters `(B, 2 * latent_channels, S / hop)`.

    `downsampling_ratios[0]` is the STFT hop (the window is four hops); each later ratio is a strided convolution.
    `channel_multiples[i]` sets the width of stage `i` (stage 0 runs at the STFT frame rate).
    """

    def __init__(
        self,
        hidden_size: int,
        audio_channels: int,
        latent_channels: int,
        downsampling_ratios: list[int],
        channel_multiples: list[int],
        num_blocks: int,
        compression: float = 0.3,
        mid_side: bool = False,
    ):
        super().__init__()
        self.mid_side = mid_side and audio_channels == 2
        if len(channel_multiples) != len(downsampling_ratios):
            raise ValueError(
                f"A spectral VAE needs one channel multiple per ratio, got {len(channel_multiples)} multiples for "
                f"{len(downsampling_ratios)} ratios {list(downsampling_ratios)}."
            )
        self.stft_hop = downsampling_ratios[0]
        self.n_fft = 4 * self.stft_hop
        self.compression = compression
        widths = _stages(hidden_size, channel_multiples)
        bins = self.n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        # Point-wise: the input is thousands of channels wide (3 x bins per audio channel), so a wider kernel would
        # multiply the largest weight of the model; the ConvNeXt blocks after it see time.
        self.conv1 = nn.Conv1d(3 * audio_channels * bins, widths[0], kernel_size=1)
        self.stages = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for i, width in enumerate(widths):
            self.stages.append(nn.Sequential(*(ConvNeXtBlock1d(width) for _ in range(num_blocks))))
            if i + 1 < len(widths):
                stride = downsampling_ratios[i + 1]
                self.downsample.append(
                    nn.Conv1d(width, widths[i + 1], kernel_size=2 * stride, stride=stride, padding=stride // 2)
                )
        self.norm = nn.LayerNorm(widths[-1], eps=1e-6)
        self.conv2 = nn.Conv1d(widths[-1], 2 * latent_channels, kernel_size=3, padding=1)

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """Power-law compressed STFT `(B, 3 * channels * bins, S / stft_hop)`: per channel the magnitude, then the real
        and imaginary parts of the phase-demodulated complex spectrum.

        The magnitude is given on its own because a linear layer cannot compute it from real and imaginary parts:
        fed those alone, the first (point-wise, linear) layer sums bins whose phases vary, the notes average out, and
        the trained VAE decoded every clip to a stationary spectrum with only its onsets (measured, 1,200 steps,
        2026-12-04)."""
        batch, channels, samples = audio.shape
        spec = torch.stft(
            audio.reshape(batch * channels, samples).float(),
            self.n_fft,
            self.stft_hop,
            window=self.window,
            center=True,
            return_complex=True,
        )[..., : samples // self.stft_hop]  # centred STFT has one frame more than hops: drop it, frames = S / hop
        spec = spec * frame_phase_rotation(spec.shape[-2], spec.shape[-1], spec.device).conj()
        magnitude = spec.abs().clamp_min(1e-7)
        spec = spec * magnitude.pow(self.compression - 1.0)
        features = torch.cat([magnitude.pow(self.compression), spec.real, spec.imag], dim=1)
        return features.reshape(batch, channels * features.shape[1], features.shape[-1]).to(audio.dtype)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if self.mid_side:
            audio = to_mid_side(audio)
        hidden_states = self.conv1(self.features(audio))
        for i, stage in enumerate(self.stages):
            hidden_states = stage(hidden_states)
            if i < len(self.downsample):
                hidden_states = self.downsample[i](hidden_states)
        hidden_states = self.norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        return self.conv2(hidden_states)


class SpectralDecoder(nn.Module):
    """Latents `(B, latent_channels, T)` -> waveform `(B, audio_channels, T * hop)` through an inverse STFT."""

    def __init__(
        self,
        hidden_size: int,
        latent_channels: int,
        audio_channels: int,
        downsampling_ratios: list[int],
        channel_multiples: list[int],
        num_blocks: int,
        mid_side: bool = False,
        phase: str = "frame",
    ):
        super().__init__()
        if phase not in ("frame", "integrated"):
            raise ValueError(f"phase must be 'frame' or 'integrated', got {phase!r}")
        self.audio_channels = audio_channels
        self.mid_side = mid_side and audio_channels == 2
        self.phase = phase
        self.stft_hop = downsampling_ratios[0]
        self.n_fft = 4 * self.stft_hop
        widths = _stages(hidden_size, channel_multiples)[::-1]
        strides = list(downsampling_ratios[1:])[::-1]
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.conv1 = nn.Conv1d(latent_channels, widths[0], kernel_size=7, padding=3)
        self.stages = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, width in enumerate(widths):
            self.stages.append(nn.Sequential(*(ConvNeXtBlock1d(width) for _ in range(num_blocks))))
            if i + 1 < len(widths):
                stride = strides[i]
                self.upsample.append(
                    nn.ConvTranspose1d(
                        width, widths[i + 1], kernel_size=2 * stride, stride=stride, padding=stride // 2
                    )
                )
        self.norm = nn.LayerNorm(widths[-1], eps=1e-6)
        # Log-magnitude and phase per bin and channel (Vocos' ISTFTHead).
        self.head = nn.Linear(widths[-1], audio_channels * (self.n_fft + 2))

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv1(latents)
        for i, stage in enumerate(self.stages):
            hidden_states = stage(hidden_states)
            if i < len(self.upsample):
                hidden_states = self.upsample[i](hidden_states)
        output = self.head(self.norm(hidden_states.transpose(1, 2))).float()  # (B, frames, C * (n_fft + 2))
        batch, frames = output.shape[:2]
        output = output.reshape(batch, frames, self.audio_channels, 2, self.n_fft // 2 + 1)
        # exp of the log-magnitude, capped as Vocos does so that an early, untrained step cannot overflow.
        magnitude = output[:, :, :, 0].exp().clamp_max(1e2)
        phase = output[:, :, :, 1]
        if self.phase == "integrated":
            # The head predicts each bin's phase advance over the bin-centre one (at most half a turn per frame,
            # the instantaneous frequency of GANSynth's IF representation) and the phase is its running sum: a
            # steady prediction is a steady partial whose frames add up in phase, not a drone on the bin centres.
            phase = torch.cumsum(torch.pi * torch.tanh(phase), dim=1)
        spec = torch.polar(magnitude, phase).permute(0, 2, 3, 1).reshape(batch * self.audio_channels, -1, frames)
        # A centred inverse STFT of `frames` frames covers (frames - 1) hops: repeat the last frame so that the
        # output is exactly frames * hop samples (the encoder dropped the same frame).
        spec = torch.cat([spec, spec[..., -1:]], dim=-1)
        spec = spec * frame_phase_rotation(spec.shape[-2], spec.shape[-1], spec.device)
        audio = torch.istft(
            spec, self.n_fft, self.stft_hop, window=self.window, center=True, length=frames * self.stft_hop
        )
        audio = audio.reshape(batch, self.audio_channels, -1)
        if self.mid_side:
            audio = from_mid_side(audio)
        return audio.to(latents.dtype)
