"""`SemanticAutoencoder`: an Oobleck waveform VAE whose latent is trained to also carry lead-sheet structure."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.models.autoencoders.autoencoder_oobleck import OobleckDiagonalGaussianDistribution
from diffusers.models.autoencoders.vae import AutoencoderMixin, DecoderOutput
from diffusers.models.modeling_outputs import AutoencoderKLOutput
from diffusers.utils import logging
from diffusers.utils.accelerate_utils import apply_forward_hook

from ..music.chords import NUM_CHORD_CLASSES
from ..music.frames import IGNORE_INDEX, NUM_BEAT_IDS, NUM_MELODY_IDS
from .oobleck_blocks import OobleckDecoder, OobleckEncoder
from .spectral_blocks import SpectralDecoder, SpectralEncoder
from .tiling import tiled_apply


logger = logging.get_logger(__name__)  # pylint: disable=invalid-name


class SemanticHead(nn.Module):
    """Per-frame lead-sheet predictions from latents: chord, pitch classes, melody pitch, beat/downbeat."""

    def __init__(self, latent_channels: int, hidden_size: int, num_layers: int, num_chord_classes: int):
        super().__init__()
        layers: list[nn.Module] = []
        width = latent_channels
        for _ in range(num_layers):
            layers += [nn.Conv1d(width, hidden_size, kernel_size=3, padding=1), nn.GELU()]
            width = hidden_size
        self.trunk = nn.Sequential(*layers)
        self.chord = nn.Conv1d(width, num_chord_classes, kernel_size=1)
        self.pitch_classes = nn.Conv1d(width, 12, kernel_size=1)
        # Targets drop the "absent" id: melody = rest + 128 pitches, beat = none / beat / downbeat.
        self.melody = nn.Conv1d(width, NUM_MELODY_IDS - 1, kernel_size=1)
        self.beat = nn.Conv1d(width, NUM_BEAT_IDS - 1, kernel_size=1)

    def forward(self, latents: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden = self.trunk(latents)
        return {name: getattr(self, name)(hidden) for name in ("chord", "pitch_classes", "melody", "beat")}


# softplus(-5) + 1e-4 = 0.0068: the initial posterior std of a fresh encoder.
_INITIAL_SCALE_BIAS = -5.0


class SemanticAutoencoder(ModelMixin, AutoencoderMixin, ConfigMixin):
    r"""
    A waveform VAE of the Oobleck family with a lead-sheet semantic head.

    The encoder maps audio `(batch, audio_channels, samples)` to a diagonal Gaussian over latents
    `(batch, latent_channels, samples / hop_length)`; the decoder maps latents back to audio. The semantic head reads
    the latent and predicts, per latent frame, the chord (root x quality or no chord), the active pitch classes, the
    melody pitch (or rest) and beat/downbeat. Training with [`~SemanticAutoencoder.semantic_loss`] distils that
    structure into the latent, which is the paper's semantic-aware VAE fine-tuning.

    Parameters:
        encoder_hidden_size (`int`, defaults to 128): Base width of the encoder.
        decoder_channels (`int`, defaults to 128): Base width of the decoder.
        latent_channels (`int`, defaults to 64): Channels of the latent.
        downsampling_ratios (`list[int]`, defaults to `[2, 4, 4, 8, 8]`): Encoder strides (reversed in the decoder).
        channel_multiples (`list[int]`, defaults to `[1, 2, 4, 8, 16]`): Width multiples per stage.
        audio_channels (`int`, defaults to 2): 1 for mono, 2 for stereo.
        sampling_rate (`int`, defaults to 44100): Audio sampling rate in Hz.
        semantic_hidden_size (`int`, defaults to 256): Width of the semantic head.
        semantic_layers (`int`, defaults to 2): Convolutions in the semantic head's trunk.
        num_chord_classes (`int`, defaults to `NUM_CHORD_CLASSES`): Chord classes the semantic head predicts per
            latent frame: "no chord" (class 0) plus 12 roots x the chord qualities of `diffusers_s2acc.music.chords`
            (see `chord_to_index`). The targets come from that vocabulary, so only change it together with it.
        scaling_factor (`float`, defaults to 1.0): Latents are multiplied by this before diffusion.
        force_upcast (`bool`, defaults to `True`): As diffusers' `AutoencoderKL`: the model may be stored in half
            precision (`from_pretrained(..., dtype=torch.bfloat16)` gives it that dtype, and `vae.dtype` reports
            it), but `encode`, `decode` and `semantic_logits` compute in float32 and return the caller's dtype.
            Snake activations and weight norm lose too much in half precision (audible noise, NaN on CPU).
        architecture (`str`, defaults to `"oobleck"`): `"oobleck"`, the waveform encoder and decoder of Stable
            Audio Open, or `"spectral"`, STFT-domain ConvNeXt stacks with an inverse-STFT decoder head (Vocos-style;
            see `spectral_blocks`). For `"spectral"`, `downsampling_ratios[0]` is the STFT hop (window four hops),
            the later ratios are strided convolutions, and `channel_multiples` has one width multiple per ratio.
        spectral_blocks (`int`, defaults to 4): ConvNeXt blocks per stage of the spectral architecture.
        mid_side (`bool`, defaults to `False`): Spectral stereo only: encode and decode mid and side
            (`(L + R) / 2`, `(L - R) / 2`) instead of left and right. The decoder predicts a phase per bin and
            channel; predicted for left and right independently, the two phases disagree, the image turns wide and
            hollow and a mono down-mix cancels (measured: inter-channel correlation -0.1 against the reference's 0.4
            and no chord readable after the round trip, 400 steps). With mid/side both channels share the mid's
            phase and the down-mix is the mid exactly.
        spectral_phase (`str`, defaults to `"frame"`): Spectral only: what the decoder's phase output is. `"frame"`:
            each frame's phase, demodulated by the bin-centre advance (`spectral_blocks.frame_phase_rotation`).
            `"integrated"`: each frame's phase advance over the bin-centre one (an instantaneous frequency), summed
            over the frames, so that a decoder predicting the same value from frame to frame makes a steady
            partial, not a drone on the bin centres. Integrated phases restart at each tile of a tiled decode.
    """

    _supports_gradient_checkpointing = False

    @register_to_config
    def __init__(
        self,
        encoder_hidden_size: int = 128,
        decoder_channels: int = 128,
        latent_channels: int = 64,
        downsampling_ratios: list[int] = [2, 4, 4, 8, 8],
        channel_multiples: list[int] = [1, 2, 4, 8, 16],
        audio_channels: int = 2,
        sampling_rate: int = 44100,
        semantic_hidden_size: int = 256,
        semantic_layers: int = 2,
        num_chord_classes: int = NUM_CHORD_CLASSES,
        scaling_factor: float = 1.0,
        force_upcast: bool = True,
        architecture: str = "oobleck",
        spectral_blocks: int = 4,
        mid_side: bool = False,
        spectral_phase: str = "frame",
    ):
        super().__init__()
        if architecture == "oobleck":
            self.encoder = OobleckEncoder(
                encoder_hidden_size, audio_channels, latent_channels, downsampling_ratios, channel_multiples
            )
            self.decoder = OobleckDecoder(
                decoder_channels, latent_channels, audio_channels, downsampling_ratios[::-1], channel_multiples
            )
        elif architecture == "spectral":
            self.encoder = SpectralEncoder(
                encoder_hidden_size,
                audio_channels,
                latent_channels,
                downsampling_ratios,
                channel_multiples,
                spectral_blocks,
                mid_side=mid_side,
            )
            self.decoder = SpectralDecoder(
                decoder_channels,
                latent_channels,
                audio_channels,
                downsampling_ratios,
                channel_multiples,
                spectral_blocks,
                mid_side=mid_side,
                phase=spectral_phase,
            )
        else:
            raise ValueError(f"architecture must be 'oobleck' or 'spectral', got {architecture!r}.")
        self.semantic_head = SemanticHead(latent_channels, semantic_hidden_size, semantic_layers, num_chord_classes)
        # A fresh encoder starts nearly deterministic. With a zero bias the posterior std starts at softplus(0) = 0.69,
        # far above the spread of the initial means: the sampled latent is almost pure noise, the decoder learns to
        # ignore it and the encoder never learns to transmit (measured: after 1,600 demo steps the means varied by
        # 0.016 over time against a posterior std of 0.48, and every clip decoded to the same noise). Loaded
        # weights (from_pretrained, from_oobleck) replace this.
        with torch.no_grad():
            self.encoder.conv2.bias[latent_channels:].fill_(_INITIAL_SCALE_BIAS)

        self.use_slicing = False
        self.use_tiling = False
        # Tile sizes in latent frames. The context of 16 frames covers the decoder's receptive field (about 10
        # frames each side for the default strides), so tiled and untiled results agree to float rounding. Peak
        # memory is set by the window, tile + 2 * context = 160 frames (7.4 s at 44.1 kHz and hop 2048): every clip
        # longer than that decodes with the same peak (bench/bench_models.py measures it).
        self.tile_latent_frames = 128
        self.tile_overlap_frames = 8
        self.tile_context_frames = 16

    @property
    def hop_length(self) -> int:
        return int(np.prod(self.config.downsampling_ratios))

    @property
    def frame_rate(self) -> float:
        """Latent frames per second."""
        return self.config.sampling_rate / self.hop_length

    @contextmanager
    def _compute_dtype(self) -> Iterator[torch.dtype]:
        """The dtype to compute in: float32 while `force_upcast` holds for a half-precision model (its weights are
        upcast for the call and restored after, losslessly: fp16/bf16 -> fp32 -> fp16/bf16 is exact)."""
        dtype = self.dtype
        if not (self.config.force_upcast and dtype in (torch.float16, torch.bfloat16)):
            yield dtype
            return
        self.to(torch.float32)
        try:
            yield torch.float32
        finally:
            self.to(dtype)

    def _tiling(self) -> dict[str, int]:
        return {
            "tile": self.tile_latent_frames,
            "overlap": self.tile_overlap_frames,
            "context": self.tile_context_frames,
        }

    def _encode(self, audio: torch.Tensor) -> torch.Tensor:
        remainder = audio.shape[-1] % self.hop_length
        if remainder:
            audio = F.pad(audio, (0, self.hop_length - remainder))
        if self.use_tiling:
            return tiled_apply(self.encoder, audio, unit=self.hop_length, scale=1 / self.hop_length, **self._tiling())
        return self.encoder(audio)

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        if self.use_tiling:
            return tiled_apply(self.decoder, latents, unit=1, scale=self.hop_length, **self._tiling())
        return self.decoder(latents)

    def _check_audio(self, audio: torch.Tensor) -> None:
        if audio.ndim != 3 or audio.shape[1] != self.config.audio_channels:
            raise ValueError(
                f"Expected audio of shape (batch, {self.config.audio_channels}, samples), got {tuple(audio.shape)}."
            )

    @apply_forward_hook
    def encode(self, audio: torch.Tensor, return_dict: bool = True) -> AutoencoderKLOutput | tuple:
        """
        Encode audio into a latent distribution.

        Args:
            audio (`torch.Tensor` of shape `(batch, audio_channels, samples)`): Waveforms. Samples are right-padded
                with zeros to a multiple of `hop_length`.
            return_dict (`bool`, defaults to `True`): Return an [`AutoencoderKLOutput`] instead of a tuple.

        Returns:
            [`AutoencoderKLOutput`] whose `latent_dist` is a diagonal Gaussian over `(batch, latent_channels,
            ceil(samples / hop_length))` latents.
        """
        self._check_audio(audio)
        out_dtype = audio.dtype if audio.is_floating_point() else self.dtype
        with self._compute_dtype() as dtype:
            audio = audio.to(dtype)
            if self.use_slicing and audio.shape[0] > 1:
                parameters = torch.cat([self._encode(item) for item in audio.split(1)])
            else:
                parameters = self._encode(audio)
        parameters = parameters.to(out_dtype)
        posterior = OobleckDiagonalGaussianDistribution(parameters)
        if not return_dict:
            return (posterior,)
        return AutoencoderKLOutput(latent_dist=posterior)

    @apply_forward_hook
    def decode(self, latents: torch.Tensor, return_dict: bool = True) -> DecoderOutput | tuple:
        """
        Decode latents `(batch, latent_channels, frames)` into audio `(batch, audio_channels, frames * hop_length)`.

        Args:
            latents (`torch.Tensor` of shape `(batch, latent_channels, frames)`): Latents (unscaled: divide by
                `config.scaling_factor` first when they come from the diffusion model).
            return_dict (`bool`, defaults to `True`): Return a [`~models.autoencoders.vae.DecoderOutput`] instead of
                a tuple.

        Returns:
            [`~models.autoencoders.vae.DecoderOutput`] whose `sample` is the audio, or `(audio,)` when `return_dict`
            is False.
        """
        if latents.ndim != 3 or latents.shape[1] != self.config.latent_channels:
            raise ValueError(
                f"Expected latents of shape (batch, {self.config.latent_channels}, frames), got {tuple(latents.shape)}."
            )
        out_dtype = latents.dtype if latents.is_floating_point() else self.dtype
        with self._compute_dtype() as dtype:
            latents = latents.to(dtype)
            if self.use_slicing and latents.shape[0] > 1:
                audio = torch.cat([self._decode(item) for item in latents.split(1)])
            else:
                audio = self._decode(latents)
        audio = audio.to(out_dtype)
        if not return_dict:
            return (audio,)
        return DecoderOutput(sample=audio)

    def forward(
        self,
        sample: torch.Tensor,
        sample_posterior: bool = False,
        return_dict: bool = True,
        generator: torch.Generator | None = None,
    ) -> DecoderOutput | tuple:
        """
        Encode then decode `sample`.

        Args:
            sample (`torch.Tensor` of shape `(batch, audio_channels, samples)`): Input audio.
            sample_posterior (`bool`, defaults to `False`): Decode a sample of the posterior instead of its mode.
            return_dict (`bool`, defaults to `True`): Return a [`~models.autoencoders.vae.DecoderOutput`] instead of
                a tuple.
            generator (`torch.Generator`, *optional*): For the posterior sample.

        Returns:
            [`~models.autoencoders.vae.DecoderOutput`] (diffusers' VAE output class, as `AutoencoderOobleck` and
            `AutoencoderKL` return) whose `sample` is the reconstructed audio `(batch, audio_channels, samples')`,
            or `(audio,)` when `return_dict` is False.
        """
        posterior = self.encode(sample).latent_dist
        latents = posterior.sample(generator=generator) if sample_posterior else posterior.mode()
        audio = self.decode(latents).sample
        if not return_dict:
            return (audio,)
        return DecoderOutput(sample=audio)

    def semantic_logits(self, latents: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-frame logits `(batch, classes, frames)` for `chord`, `pitch_classes`, `melody` and `beat`."""
        with self._compute_dtype() as dtype:
            return self.semantic_head(latents.to(dtype))

    def semantic_loss(self, latents: torch.Tensor, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """
        Lead-sheet losses of the semantic head on `latents`, one per target.

        Args:
            latents (`torch.Tensor` of shape `(batch, latent_channels, frames)`): Usually the posterior sample, so
                that the gradient shapes the encoder.
            targets (`dict`): As built by [`FrameConditioning.semantic_targets`] for the same frames: `chord`,
                `melody`, `beat` are `(batch, frames)` class ids with `-100` where unknown; `pitch_classes` is
                `(batch, frames, 12)` with an optional boolean `pitch_classes_mask` `(batch, frames)`.

        Returns:
            `dict[str, torch.Tensor]` with scalar losses `chord`, `pitch_classes`, `melody`, `beat`. A target that
            is unknown on every frame contributes a zero loss (never NaN).
        """
        logits = self.semantic_logits(latents)
        frames = latents.shape[-1]
        losses = {}
        for name in ("chord", "melody", "beat"):
            target = targets[name].to(latents.device).long()
            if target.shape != (latents.shape[0], frames):
                raise ValueError(
                    f"Target {name!r} has shape {tuple(target.shape)}, expected {(latents.shape[0], frames)}."
                )
            if (target != IGNORE_INDEX).any():
                losses[name] = F.cross_entropy(logits[name].float(), target, ignore_index=IGNORE_INDEX)
            else:
                losses[name] = logits[name].sum() * 0.0
        pitch_target = targets["pitch_classes"].to(latents.device).float().transpose(1, 2)
        mask = targets.get("pitch_classes_mask")
        mask = (
            torch.ones(pitch_target.shape[0], frames, dtype=torch.bool, device=latents.device)
            if mask is None
            else mask
        )
        mask = mask.to(latents.device)[:, None, :].expand_as(pitch_target).float()
        per_element = F.binary_cross_entropy_with_logits(
            logits["pitch_classes"].float(), pitch_target, reduction="none"
        )
        losses["pitch_classes"] = (per_element * mask).sum() / mask.sum().clamp_min(1.0)
        return losses

    @classmethod
    def from_oobleck(cls, vae: nn.Module, **semantic_head_kwargs) -> "SemanticAutoencoder":
        """
        Convert diffusers' `AutoencoderOobleck` (e.g. the `vae/` of stable-audio-open) into a `SemanticAutoencoder`.

        Encoder and decoder weights are copied exactly, so encode and decode equal the source model's; the semantic
        head is freshly initialised (it is what fine-tuning trains). Both weight-norm parametrisations are accepted:
        the deprecated hook (`weight_g`/`weight_v`) and `torch.nn.utils.parametrizations.weight_norm`
        (`parametrizations.weight.original0/1`).
        """
        config = vae.config
        if config.encoder_hidden_size != 2 * config.decoder_input_channels:
            raise ValueError(
                "AutoencoderOobleck's encoder must output 2 * decoder_input_channels channels "
                f"(got encoder_hidden_size={config.encoder_hidden_size}, "
                f"decoder_input_channels={config.decoder_input_channels})."
            )
        model = cls(
            encoder_hidden_size=config.encoder_hidden_size,
            decoder_channels=config.decoder_channels,
            latent_channels=config.decoder_input_channels,
            downsampling_ratios=list(config.downsampling_ratios),
            channel_multiples=list(config.channel_multiples),
            audio_channels=config.audio_channels,
            sampling_rate=config.sampling_rate,
            **semantic_head_kwargs,
        )
        state_dict = {}
        for key, value in vae.state_dict().items():
            key = key.replace("parametrizations.weight.original0", "weight_g")
            key = key.replace("parametrizations.weight.original1", "weight_v")
            state_dict[key] = value
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
        missing = [k for k in missing if not k.startswith("semantic_head.")]
        if missing or unexpected:
            raise ValueError(f"Cannot convert AutoencoderOobleck: missing {missing[:5]}, unexpected {unexpected[:5]}.")
        return model


def latent_length(num_samples: int, hop_length: int) -> int:
    """Latent frames that cover `num_samples` audio samples."""
    return math.ceil(num_samples / hop_length)
