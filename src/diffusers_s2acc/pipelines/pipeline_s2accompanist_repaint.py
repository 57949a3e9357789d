"""`S2AccompanistRepaintPipeline`: regenerate a section of a piece, or extend it, keeping the rest."""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..audio import load_audio, match_channels, pcm_to_float, resample
from ..loaders import S2AccompanistLoraLoaderMixin
from ..models.autoencoder_semantic import SemanticAutoencoder
from ..models.transformer_s2dit import S2DiTTransformer
from ..music.lead_sheet import repeat_chart_to_length
from ..music.structure import Segment, crop_segments
from .input_utils import (
    LeadSheetArg,
    PromptEmbedsArg,
    S2AccompanistInputsMixin,
    SegmentsArg,
    _is_real,
    _plain,
    check_num_waveforms,
)
from .loading_utils import S2AccompanistLoadingMixin
from .pipeline_output import S2AccompanistPipelineOutput
from .repaint_windows import region_weights
from .sampling_utils import DEFAULT_CROSSFADE_IN_S, DEFAULT_WINDOW_CONTEXT_IN_S, FALLBACK_SETTINGS
from .windowed_sampler import S2AccompanistWindowedSamplerMixin


#: An array of more channels than this is taken for `(samples, channels)` audio and refused with a hint.
_MAX_AUDIO_CHANNELS = 8
#: When only a region is regenerated, segments may end this far past the source's end and still describe it: an
#: MP3's encoder delay and padding (up to about two 1152-sample frames, 52 ms at 44.1 kHz) or a trimmed file move
#: the end by that much. The output keeps the source's length; further out, extending must be asked for.
_SOURCE_END_TOLERANCE_S = 0.1

SourceAudioArg = str | os.PathLike | np.ndarray | torch.Tensor | None


def _given_order(segments: SegmentsArg) -> list[Segment] | None:
    """The first prompt's segments in the order the caller wrote them (`section` indexes them so), not sorted."""
    if not segments or isinstance(segments, (str, bytes)) or not isinstance(segments, Sequence):
        return None
    first = segments[0]
    if not isinstance(first, (Segment, Mapping)) and isinstance(first, Sequence):  # one list per prompt
        first_list = first
    else:
        first_list = segments
    return [Segment.from_dict(s) for s in first_list] if first_list else None


class S2AccompanistRepaintPipeline(
    S2AccompanistLoadingMixin,
    DiffusionPipeline,
    S2AccompanistLoraLoaderMixin,
    S2AccompanistInputsMixin,
    S2AccompanistWindowedSamplerMixin,
):
    r"""
    Regenerate part of an existing piece (a section, or a span in seconds) with new captions, a new chart or a new
    seed, and/or extend the piece past its end, keeping everything else.

    It takes the same components and settings as [`S2AccompanistPipeline`], and shares its sampler
    ([`~pipelines.windowed_sampler.S2AccompanistWindowedSamplerMixin`]) and input handling (load it with
    `S2AccompanistRepaintPipeline.from_pipe(pipe)`, which shares `pipe`'s components, or `.from_pretrained(...)`). Repainting is training-free: at every
    flow-matching step the latents outside the region are replaced by the source's latents noised to the step's
    level, so the transformer generates the region in the context of what surrounds it (same tempo, beat phase and
    sound) and the kept frames end exactly on the source. Regions longer than the transformer's window, and pieces
    longer than it, are generated window by window (see [`~pipelines.repaint_windows.plan_windows`]).

    Cross-fade (`crossfade_in_s`, 0.25 s by default), documented: inside the region, its first and last
    `crossfade_in_s` seconds rise linearly from the kept latents to the new ones (at every step, in latent space);
    frames outside the region are untouched. When the source is audio, the output is the source audio itself
    outside the region (bit-exact, after the one resampling and channel matching the source needs) and the decoded
    new audio inside it, cross-faded over the same spans; an extension starts where the source ends, with the
    source's last `crossfade_in_s` seconds blended into their VAE reconstruction so that no click marks the join.
    When the source is latents (a previous output's `latents`), the output latents equal them bit for bit outside
    the region; the decoded audio then differs from the source's decoding only within the decoder's receptive field
    (a few latent frames) of the region's borders.
    """

    model_cpu_offload_seq = "text_encoder->transformer->vae"
    # As diffusers' PixArt pipelines: without a text encoder and tokenizer the pipeline takes precomputed
    # `prompt_embeds`, and a pipeline saved without them loads again with both None.
    _optional_components = ["tokenizer", "text_encoder"]
    _callback_tensor_inputs = ["latents", "encoder_hidden_states"]

    # Copied from diffusers_s2acc.pipelines.pipeline_s2accompanist.S2AccompanistPipeline.__init__
    def __init__(
        self,
        vae: SemanticAutoencoder,
        text_encoder: PreTrainedModel | None,
        tokenizer: PreTrainedTokenizerBase | None,
        transformer: S2DiTTransformer,
        scheduler: FlowMatchEulerDiscreteScheduler | UniPCMultistepScheduler,
        default_num_inference_steps: int = FALLBACK_SETTINGS["num_inference_steps"],
        default_guidance_scale: float = FALLBACK_SETTINGS["guidance_scale"],
        default_lead_sheet_guidance_scale: float = FALLBACK_SETTINGS["lead_sheet_guidance_scale"],
        default_guidance_interval: tuple[float, float] | list[float] = FALLBACK_SETTINGS["guidance_interval"],
    ):
        # The same components and settings as `S2AccompanistPipeline`, so that `from_pipe` goes both ways.
        super().__init__()
        self.register_modules(
            vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer, scheduler=scheduler
        )
        self._register_recommended_settings(
            default_num_inference_steps,
            default_guidance_scale,
            default_lead_sheet_guidance_scale,
            default_guidance_interval,
        )

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        segments: SegmentsArg = None,
        lead_sheet: LeadSheetArg = None,
        source_audio: SourceAudioArg = None,
        source_sampling_rate: int | None = None,
        source_latents: torch.Tensor | None = None,
        section: int | Sequence[int] | None = None,
        region_start_in_s: float | None = None,
        region_end_in_s: float | None = None,
        audio_length_in_s: float | None = None,
        repaint_strength: float = 1.0,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        lead_sheet_guidance_scale: float | None = None,
        negative_prompt: str | list[str] | None = None,
        num_waveforms_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        prompt_embeds: torch.Tensor | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        attention_kwargs: dict[str, Any] | None = None,
        callback_on_step_end: Callable[[DiffusionPipeline, int, torch.Tensor, dict], dict] | None = None,
        callback_on_step_end_tensor_inputs: list[str] = ["latents"],
        window_context_in_s: float = DEFAULT_WINDOW_CONTEXT_IN_S,
        crossfade_in_s: float = DEFAULT_CROSSFADE_IN_S,
        negative_prompt_embeds: PromptEmbedsArg = None,
        guidance_interval: tuple[float, float] | None = None,
        sampler: str | None = None,
    ) -> S2AccompanistPipelineOutput | tuple:
        r"""
        Regenerate a region of the source piece and/or extend it.

        Args:
            prompt, segments, lead_sheet, negative_prompt, num_inference_steps, guidance_scale,
            lead_sheet_guidance_scale (defaults: the checkpoint's `recommended_settings()`), num_waveforms_per_prompt, generator, latents, prompt_embeds, output_type,
            attention_kwargs, callback_on_step_end, callback_on_step_end_tensor_inputs, window_context_in_s,
            negative_prompt_embeds, guidance_interval, sampler:
                As for [`S2AccompanistPipeline.__call__`]; `segments` and `lead_sheet` describe the whole output
                piece (old sections and new), in its time.
            source_audio (`str`, `os.PathLike`, `np.ndarray` or `torch.Tensor`, *optional*): The piece to edit: an
                audio file (any rate, mono or stereo) or an array `(channels, samples)` / `(samples,)`, float or
                integer PCM (scaled by its full scale, as `scipy.io.wavfile.read` returns it). It is resampled to
                the VAE's rate and matched to its channels once, with [`diffusers_s2acc.audio`].
            source_sampling_rate (`int`, *optional*): Rate of an array `source_audio`; defaults to the VAE's.
            source_latents (`torch.Tensor`, *optional*): The piece to edit as latents `(1 or batch,
                latent_channels, frames)`, e.g. a previous output's `latents`: used exactly, with no re-encoding.
                Give this, `source_audio`, or both: a previous edit's `latents` and `audios` together keep the
                original audio outside the region through a chain of edits (the latents are used as they are,
                the audio is spliced back as for `source_audio`).
            section (`int` or `list[int]`, *optional*): Index (0-based) into `segments`, in the order given (not
                sorted by time), of the section(s) to regenerate.
            region_start_in_s, region_end_in_s (`float`, *optional*): Or the region to regenerate in seconds
                (defaults: the start and the end of the source). Regions snap to the nearest latent frames.
            audio_length_in_s (`float`, *optional*): Length of the output; anything past the source's end is
                generated (an extension). Defaults, when a region is given, to the source's length (segments may end
                up to 0.1 s later, as trimmed or MP3 files do; further out, pass `audio_length_in_s` to extend as
                well); without a region (an extension), to the end of the last segment.
            repaint_strength (`float`, defaults to 1.0): In `(0, 1]`. 1 generates the region from pure noise; lower
                values start from the source's latents noised to that level and skip the first steps, keeping
                more of the source's content in the region. Below 1 it needs a source under the whole region (no
                extension).
            crossfade_in_s (`float`, defaults to 0.25): Length of the cross-fades described in the class docstring.

        Returns:
            [`S2AccompanistPipelineOutput`] with the whole piece's `audios` and `latents`.
        """
        # 1. Default settings: those given, else the sampler's and the checkpoint's (`recommended_settings()`)
        num_inference_steps, guidance_scale, lead_sheet_guidance_scale = self.sampling_settings(
            num_inference_steps, guidance_scale, lead_sheet_guidance_scale, sampler=sampler
        )
        audio_length_in_s, num_inference_steps, guidance_scale, lead_sheet_guidance_scale = map(
            _plain, (audio_length_in_s, num_inference_steps, guidance_scale, lead_sheet_guidance_scale)
        )
        num_waveforms_per_prompt, window_context_in_s, crossfade_in_s = map(
            _plain, (num_waveforms_per_prompt, window_context_in_s, crossfade_in_s)
        )
        guidance_interval = self.resolve_guidance_interval(guidance_interval, sampler)
        region_start_in_s, region_end_in_s, repaint_strength, section = map(
            _plain, (region_start_in_s, region_end_in_s, repaint_strength, section)
        )

        # 2. Define call parameters: the batch, each prompt's sections and lead sheet, the source, the duration
        prompt, batch_size, segment_lists, sheets = self._resolve_batch(prompt, prompt_embeds, segments, lead_sheet)
        check_num_waveforms(num_waveforms_per_prompt)
        total_batch = batch_size * num_waveforms_per_prompt
        source, audio, source_seconds = self._prepare_source(
            source_audio, source_sampling_rate, source_latents, total_batch
        )
        ends = [s.end for segs in segment_lists for s in segs or []]
        has_region = section is not None or region_start_in_s is not None or region_end_in_s is not None
        if audio_length_in_s is None and has_region:
            # Repainting keeps the source's length: growing it is an extension, and must be asked for.
            if max(ends, default=0.0) > source_seconds + _SOURCE_END_TOLERANCE_S:
                raise ValueError(
                    f"`segments` end at {max(ends):g} s, after the source's end ({source_seconds:.3f} s): pass "
                    "`audio_length_in_s` to extend the piece as well, or end the segments with the source."
                )
            audio_length_in_s = source_seconds
            segment_lists = [
                crop_segments(segs, 0.0, source_seconds) or None if segs else segs for segs in segment_lists
            ]
        elif audio_length_in_s is None:
            audio_length_in_s = max([source_seconds] + ends)

        # 3. Check inputs. Raise error if not correct
        self.check_inputs(
            prompt,
            negative_prompt,
            audio_length_in_s,
            segment_lists,
            num_inference_steps,
            guidance_scale,
            num_waveforms_per_prompt,
            latents,
            batch_size,
            prompt_embeds,
            output_type,
            callback_on_step_end_tensor_inputs,
            lead_sheet_guidance_scale,
            window_context_in_s,
            crossfade_in_s,
            negative_prompt_embeds=negative_prompt_embeds,
            generator=generator,
        )
        if audio_length_in_s < source_seconds - 1e-6:
            raise ValueError(
                f"`audio_length_in_s`={audio_length_in_s:g} is shorter than the source ({source_seconds:.3f} s); "
                "cut the source instead."
            )

        # 4. Prepare the per-frame weights: 0 keeps the source's latent, 1 regenerates the frame, a ramp cross-fades
        regions, spans = self._regions(
            section, region_start_in_s, region_end_in_s, _given_order(segments), source_seconds, audio_length_in_s
        )
        num_frames = self.latent_shape(1, audio_length_in_s)[2]
        # When extending, a last, partly filled frame of source audio is generated again: its latent encodes padding.
        known_frames = min(source.shape[-1], num_frames)
        if audio is not None and num_frames > known_frames and audio.shape[-1] % self.vae.hop_length:
            known_frames = audio.shape[-1] // self.vae.hop_length
        if not regions and num_frames <= known_frames:
            raise ValueError(
                "Nothing to generate: give `section` or `region_start_in_s`/`region_end_in_s` to regenerate, or make "
                "`audio_length_in_s` (or the end of the last of the `segments`) reach past the source's end "
                f"({source_seconds:.3f} s) to extend it."
            )
        if not _is_real(repaint_strength) or not 0 < repaint_strength <= 1:
            raise ValueError(f"`repaint_strength` must be in (0, 1], got {repaint_strength!r}.")
        if repaint_strength < 1 and num_frames > known_frames:
            raise ValueError(
                "`repaint_strength` below 1 starts from the source's latents, and an extension has none: use 1.0."
            )
        (crossfade_frames,) = self._to_frames(crossfade_in_s)
        weights = region_weights(num_frames, regions, known_frames, crossfade_frames)

        # 5. Denoising loop, window by window, keeping the source where the weights are 0 (`_sample`, as in
        # `S2AccompanistPipeline.__call__`; the lead sheets repeat as forms to the piece's end)
        latents = self._sample(
            prompt,
            prompt_embeds,
            segment_lists,
            [repeat_chart_to_length(sheet, audio_length_in_s) for sheet in sheets],
            negative_prompt,
            audio_length_in_s,
            batch_size,
            num_waveforms_per_prompt,
            num_inference_steps,
            guidance_scale,
            lead_sheet_guidance_scale,
            generator,
            latents,
            attention_kwargs,
            callback_on_step_end,
            callback_on_step_end_tensor_inputs,
            window_context_in_s,
            crossfade_in_s,
            source_latents=source[..., :num_frames],
            weights=weights,
            repaint_strength=repaint_strength,
            negative_prompt_embeds=negative_prompt_embeds,
            guidance_interval=guidance_interval,
            scheduler=self.sampling_scheduler(sampler),
        )

        # 6. Decode, and splice the new audio into the source audio
        if output_type == "latent":
            output = latents
        else:
            output = self._decode_latents(latents, audio_length_in_s, "pt")
            if audio is not None:
                output = self._splice_source_audio(output, audio, spans, crossfade_in_s)
            output = output.cpu().numpy() if output_type == "np" else output

        # 7. Offload all models
        self.maybe_free_model_hooks()
        if not return_dict:
            return (output,)
        return S2AccompanistPipelineOutput(audios=output, latents=latents)

    # ------------------------------------------------------------------ source

    def _prepare_source(
        self,
        source_audio: SourceAudioArg,
        source_sampling_rate: int | None,
        source_latents: torch.Tensor | None,
        total_batch: int,
    ) -> tuple[torch.Tensor, np.ndarray | None, float]:
        """`(latents, audio or None, seconds)` of the source: audio at the VAE's rate and channels, encoded once."""
        if source_audio is None and source_latents is None:
            raise ValueError("Give the piece to edit as `source_audio` or `source_latents` (or both, from an edit).")
        if source_audio is not None and source_latents is not None:
            latents = self._check_source_latents(source_latents, total_batch)
            audio = self._load_source_audio(source_audio, source_sampling_rate)
            frames = math.ceil(audio.shape[-1] / self.vae.hop_length)
            if latents.shape[-1] != frames:
                raise ValueError(
                    f"`source_latents` has {latents.shape[-1]} frames but `source_audio` "
                    f"({audio.shape[-1] / self.sampling_rate:.3f} s) has {frames}: give the latents and audio of the "
                    "same take."
                )
            return latents, audio, audio.shape[-1] / self.sampling_rate
        if source_latents is not None:
            if source_sampling_rate is not None:
                raise ValueError("`source_sampling_rate` describes `source_audio`; latents have the VAE's frame rate.")
            return (
                self._check_source_latents(source_latents, total_batch),
                None,
                source_latents.shape[-1] / self.vae.frame_rate,
            )
        audio = self._load_source_audio(source_audio, source_sampling_rate)
        return self._encode_source(audio), audio, audio.shape[-1] / self.sampling_rate

    def _check_source_latents(self, source_latents: torch.Tensor, total_batch: int) -> torch.Tensor:
        channels = self.transformer.config.in_channels
        if not isinstance(source_latents, torch.Tensor) or not source_latents.is_floating_point():
            raise ValueError(f"`source_latents` must be a float tensor, got {type(source_latents).__name__}.")
        if (
            source_latents.ndim != 3
            or source_latents.shape[1] != channels
            or source_latents.shape[0] not in (1, total_batch)
            or source_latents.shape[2] < 1
        ):
            raise ValueError(
                f"`source_latents` must have shape (1 or {total_batch}, {channels}, frames), got "
                f"{tuple(source_latents.shape)}."
            )
        if not torch.isfinite(source_latents).all():
            raise ValueError("`source_latents` contains NaN or infinite values.")
        return source_latents.to(device=self._execution_device, dtype=torch.float32)

    def _load_source_audio(self, source_audio: SourceAudioArg, source_sampling_rate: int | None) -> np.ndarray:
        """`(channels, samples)` float32 at the VAE's rate and channel count, through `diffusers_s2acc.audio`."""
        rate, channels = self.sampling_rate, self.vae.config.audio_channels
        if isinstance(source_audio, (str, os.PathLike)):
            if source_sampling_rate is not None:
                raise ValueError("`source_sampling_rate` is for arrays; an audio file states its own rate.")
            try:
                audio, _ = load_audio(source_audio, sampling_rate=rate, channels=channels)
            except ValueError as error:
                raise ValueError(f"`source_audio`: {error}") from None
        else:
            if isinstance(source_audio, torch.Tensor):
                # Integer PCM stays integer, so that pcm_to_float scales it (a .float() first would not).
                source_audio = source_audio.detach().cpu()
                source_audio = (source_audio.float() if source_audio.is_floating_point() else source_audio).numpy()
            if not isinstance(source_audio, np.ndarray) or source_audio.dtype.kind not in "fiu":
                raise ValueError(
                    "`source_audio` must be an audio file path or a numeric array (channels, samples), got "
                    f"{type(source_audio).__name__}."
                )
            audio = pcm_to_float(source_audio)
            audio = audio[None] if audio.ndim == 1 else audio[0] if audio.ndim == 3 and audio.shape[0] == 1 else audio
            if audio.ndim != 2 or audio.shape[0] > _MAX_AUDIO_CHANNELS:
                raise ValueError(
                    f"`source_audio` must be (channels, samples) or (samples,), got shape {source_audio.shape}"
                    + ("; transpose (samples, channels) audio." if audio.ndim == 2 else ".")
                )
            source_rate = rate if source_sampling_rate is None else source_sampling_rate
            source_rate = _plain(source_rate)
            if isinstance(source_rate, bool) or not isinstance(source_rate, int) or source_rate <= 0:
                raise ValueError(
                    f"`source_sampling_rate` must be a positive integer (Hz), got {source_sampling_rate!r}."
                )
            try:
                audio = resample(match_channels(audio, channels), int(source_rate), rate)
            except ValueError as error:
                raise ValueError(f"`source_audio`: {error}") from None
        if audio.shape[-1] == 0:
            raise ValueError("`source_audio` is empty.")
        if not np.isfinite(audio).all():
            raise ValueError("`source_audio` contains NaN or infinite samples.")
        return np.ascontiguousarray(audio, dtype=np.float32)

    def _encode_source(self, audio: np.ndarray) -> torch.Tensor:
        """Scaled latents `(1, latent_channels, ceil(samples / hop))` of the source (posterior mode; tiled when long)."""
        vae = self.vae
        waveform = torch.from_numpy(audio)[None].to(device=self._execution_device, dtype=vae.dtype)
        tile = (
            not vae.use_tiling
            and waveform.shape[-1] > (vae.tile_latent_frames + 2 * vae.tile_context_frames) * vae.hop_length
        )
        vae.use_tiling = vae.use_tiling or tile
        try:
            latents = vae.encode(waveform).latent_dist.mode()
        finally:
            vae.use_tiling = vae.use_tiling and not tile
        return latents.float() * vae.config.scaling_factor

    # ------------------------------------------------------------------ region

    def _regions(
        self,
        section: int | Sequence[int] | None,
        region_start_in_s: float | None,
        region_end_in_s: float | None,
        given_sections: list[Segment] | None,
        source_seconds: float,
        audio_length_in_s: float,
    ) -> tuple[list[tuple[int, int]], list[tuple[float, float]]]:
        """The latent-frame spans to regenerate and the same spans in seconds, as asked (the audio splice keeps every
        sample outside those, even where they fall inside a frame); a `ValueError` names the argument that puts one
        outside the piece or empty."""
        spans: list[tuple[float, float, str]] = []
        if section is not None:
            if region_start_in_s is not None or region_end_in_s is not None:
                raise ValueError("Give the region as `section` or as `region_start_in_s`/`region_end_in_s`, not both.")
            sections = given_sections or []
            if not sections:
                raise ValueError("`section` indexes `segments`, and no segments were given.")
            indices = (
                [section] if isinstance(section, (int, np.integer)) and not isinstance(section, bool) else section
            )
            if isinstance(indices, (str, bytes)) or not isinstance(indices, Sequence) or not indices:
                raise ValueError(f"`section` must be a section index or a non-empty list of them, got {section!r}.")
            for index in indices:
                if (
                    isinstance(index, bool)
                    or not isinstance(index, (int, np.integer))
                    or not 0 <= index < len(sections)
                ):
                    raise ValueError(f"`section` {index!r} is not an index of the {len(sections)} segments.")
                spans.append((sections[index].start, sections[index].end, "section"))
        elif region_start_in_s is not None or region_end_in_s is not None:
            start = 0.0 if region_start_in_s is None else region_start_in_s
            end = source_seconds if region_end_in_s is None else region_end_in_s
            for name, value in (("region_start_in_s", start), ("region_end_in_s", end)):
                if not _is_real(value) or not math.isfinite(value):
                    raise ValueError(f"`{name}` must be a finite number of seconds, got {value!r}.")
            if start < 0:
                raise ValueError(f"`region_start_in_s`={start:g} is before the start of the audio.")
            if end > audio_length_in_s + 1e-6:
                raise ValueError(
                    f"`region_end_in_s`={end:g} is past the end of the audio ({audio_length_in_s:g} s); to add music "
                    "after the end, extend the piece first."
                )
            if end <= start:
                raise ValueError(f"The region is empty: `region_end_in_s`={end:g} <= `region_start_in_s`={start:g}.")
            spans.append((float(start), float(end), "region_start_in_s"))
        regions = []
        for start, end, name in spans:
            if start >= source_seconds - 1e-6:
                raise ValueError(
                    f"`{name}`: the region [{start:g}, {end:g}) s lies after the source's end ({source_seconds:.3f} s); "
                    "to add music there, extend the piece first."
                )
            first, last = (int(round(t * self.vae.frame_rate)) for t in (start, end))
            if last <= first:
                raise ValueError(f"`{name}`: the region [{start:g}, {end:g}) s is shorter than one latent frame.")
            regions.append((first, last))
        return regions, [(start, end) for start, end, _ in spans]

    def _splice_source_audio(
        self, decoded: torch.Tensor, source: np.ndarray, spans: list[tuple[float, float]], crossfade_in_s: float
    ) -> torch.Tensor:
        """The source audio outside the regions (`spans`, in seconds), the decoded audio inside them and after the
        source's end, cross-faded over `crossfade_in_s` inside each region border (see the class docstring)."""
        total, rate = decoded.shape[-1], self.sampling_rate
        known = min(source.shape[-1], total)
        fade = int(round(crossfade_in_s * rate))
        # The asked times in samples, not the latent frames they round to: a border inside a frame (0.5 s is 62.5
        # frames of the tiny preset) would otherwise let up to half a frame of new audio in outside the region.
        sample_regions = [(int(round(start * rate)), min(int(round(end * rate)), total)) for start, end in spans]
        weights = region_weights(total, sample_regions, known, fade)
        if known < total and fade > 0:  # extension: the source's end blends into its reconstruction
            span = slice(max(0, known - fade), known)
            ramp = torch.arange(1, span.stop - span.start + 1, dtype=torch.float32) / (span.stop - span.start + 1)
            weights[span] = torch.maximum(weights[span], ramp)
        weights = weights.to(decoded.device).view(1, 1, -1)
        padded = torch.zeros_like(decoded[:1])
        padded[..., :known] = torch.from_numpy(source[:, :known]).to(decoded.device)
        mixed = padded + weights * (decoded - padded)
        return torch.where(weights == 0, padded, mixed)
