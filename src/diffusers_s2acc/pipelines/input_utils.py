"""What the S2Accompanist pipelines accept: the argument types, their checks, and the caption encoding.

[`S2AccompanistInputsMixin`] holds what [`S2AccompanistPipeline`] and [`S2AccompanistRepaintPipeline`] share about
their inputs: `encode_prompt`, `check_inputs`, and resolving the prompts, sections and lead sheets of a batch (the
music is coerced by `diffusers_s2acc.music`). The pipeline using it provides `vae`, `transformer`, `tokenizer`,
`text_encoder`, `_callback_tensor_inputs`, `latent_shape`, `_to_frames` and `max_audio_length_in_s` (see
[`~pipelines.windowed_sampler.S2AccompanistWindowedSamplerMixin`]).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..models.transformer_s2dit import GLOBAL_SEGMENT, PADDING_SEGMENT
from ..music.lead_sheet import LeadSheet, lead_sheets_per_prompt
from ..music.structure import Segment, segments_per_prompt
from .caption_encoding import encode_captions
from .sampling_utils import DEFAULT_CROSSFADE_IN_S, DEFAULT_WINDOW_CONTEXT_IN_S


# Segments may end this far past the requested duration (rounding of times written by hand).
_SEGMENT_TOLERANCE_S = 1e-3
#: Longest piece one call generates (window by window). Not a model limit: it catches a unit slip (milliseconds or
#: samples given as seconds) before hours of work.
MAX_PIECE_LENGTH_IN_S = 1800.0

SegmentsArg = Sequence[Segment | Mapping[str, Any]] | Sequence[Sequence[Segment | Mapping[str, Any]]] | None
LeadSheetArg = LeadSheet | Mapping[str, Any] | str | Sequence[LeadSheet | Mapping[str, Any] | str | None] | None
#: Precomputed caption tokens: a `(batch, tokens, dim)` tensor, or the `(states, segment_ids)` pair `encode_prompt`
#: returns (its padding, segment id -1, is then dropped).
PromptEmbedsArg = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


def _plain(value: Any) -> Any:
    """A numpy scalar (`np.float32(2.0)`, `np.int64(10)`, what array arithmetic returns) as the Python number it
    holds, so that every numeric argument accepts it; anything else unchanged (and checked by `check_inputs`)."""
    return value.item() if isinstance(value, np.generic) and value.dtype.kind in "iuf" else value


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_num_waveforms(num_waveforms_per_prompt: Any) -> None:
    if (
        isinstance(num_waveforms_per_prompt, bool)
        or not isinstance(num_waveforms_per_prompt, int)
        or num_waveforms_per_prompt < 1
    ):
        raise ValueError(f"`num_waveforms_per_prompt` must be a positive integer, got {num_waveforms_per_prompt!r}.")


def check_generator(generator: Any, batch_size: int) -> None:
    """`generator`: `None`, a `torch.Generator`, or a list of exactly `batch_size` of them (one per sample)."""
    if generator is None or isinstance(generator, torch.Generator):
        return
    if isinstance(generator, (list, tuple)) and all(isinstance(g, torch.Generator) for g in generator):
        if len(generator) != batch_size:
            raise ValueError(
                f"`generator` is a list of {len(generator)} generators, but the batch has {batch_size} samples "
                "(prompts x `num_waveforms_per_prompt`): give one per sample, or a single generator."
            )
        return
    raise ValueError(
        f"`generator` must be a torch.Generator (e.g. torch.Generator().manual_seed(0)) or a list of them, got "
        f"{type(generator).__name__}."
    )


def _has_captions(segment_lists: Sequence[Sequence[Segment] | None]) -> bool:
    """Whether any section of any prompt has a caption (which the text encoder must encode)."""
    return any(segment.caption for segs in segment_lists for segment in segs or [])


def _embeds_tensor(prompt_embeds: PromptEmbedsArg) -> torch.Tensor:
    """The `(batch, tokens, dim)` states of `prompt_embeds`, whichever of its two accepted forms it has."""
    return prompt_embeds[0] if isinstance(prompt_embeds, (tuple, list)) else prompt_embeds


class S2AccompanistInputsMixin:
    """The inputs of the S2Accompanist pipelines: caption encoding, checks, and a batch's structure."""

    def encode_prompt(
        self,
        prompt: str | list[str] | None = None,
        segments: SegmentsArg = None,
        device: torch.device | None = None,
        prompt_embeds: PromptEmbedsArg = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Caption tokens of each sample, tagged by segment: see [`~pipelines.caption_encoding.encode_captions`].

        Called alone (`pipe.encode_prompt("warm jazz trio")`), it encodes the global prompt once; pass the result
        back as `pipe(prompt_embeds=...)` (the pair, or its first element) to reuse it for many generations.

        Args:
            prompt (`str` or `list[str]`, *optional*): Global description(s); defaults to `""`.
            segments (*optional*): As for [`~S2AccompanistPipeline.__call__`]: their captions are appended.
            device (`torch.device`, *optional*): Defaults to the pipeline's execution device.
            prompt_embeds (*optional*): Precomputed global caption tokens, instead of `prompt`.

        Returns:
            `(encoder_hidden_states, encoder_segment_ids)` of shapes `(batch, tokens, dim)` and `(batch, tokens)`.
        """
        device = self._execution_device if device is None else device
        if prompt_embeds is None:
            prompt = "" if prompt is None else prompt
            prompt = [prompt] if isinstance(prompt, str) else list(prompt)
            batch_size = len(prompt)
        else:
            batch_size = _embeds_tensor(prompt_embeds).shape[0]
        segment_lists = self._resolve_structure(segments, None, batch_size)[0]
        if prompt_embeds is None:
            self._check_text_encoder("`prompt`")
        if _has_captions(segment_lists):
            self._check_text_encoder("the sections' captions")
        prompt_embeds, prompt_segment_ids = encode_captions(
            self.tokenizer, self.text_encoder, prompt, segment_lists, device, prompt_embeds
        )
        # Returned by name, as diffusers' pipelines do: its tooling (`ReturnNameVisitor`, which its test suite's
        # `test_encode_prompt_works_in_isolation` uses) reads these names to know which `__call__` argument takes
        # each output, here `prompt_embeds` for the caption states.
        return prompt_embeds, prompt_segment_ids

    def _check_text_encoder(self, what: str) -> None:
        """Raise a `ValueError` saying what needs the text encoder when the pipeline has none (an optional
        component, None) or no tokenizer; `what` names the text to encode."""
        missing = [name for name in ("text_encoder", "tokenizer") if getattr(self, name, None) is None]
        if missing:
            raise ValueError(
                f"{what} must be encoded, but this pipeline has no {' and no '.join(f'`{m}`' for m in missing)}. "
                "Pass `prompt_embeds` (and `negative_prompt_embeds`) computed with `encode_prompt` by a pipeline "
                "that has a text encoder, and sections without captions, or load the pipeline with its text encoder "
                "and tokenizer."
            )

    # ------------------------------------------------------------------ inputs

    def check_inputs(
        self,
        prompt: str | list[str] | None,
        negative_prompt: str | list[str] | None,
        audio_length_in_s: float,
        segments: list[list[Segment] | None],
        num_inference_steps: int,
        guidance_scale: float,
        num_waveforms_per_prompt: int,
        latents: torch.Tensor | None,
        batch_size: int,
        prompt_embeds: PromptEmbedsArg,
        output_type: str,
        callback_on_step_end_tensor_inputs: list[str] | None,
        lead_sheet_guidance_scale: float = 1.0,
        window_context_in_s: float = DEFAULT_WINDOW_CONTEXT_IN_S,
        crossfade_in_s: float = DEFAULT_CROSSFADE_IN_S,
        negative_prompt_embeds: PromptEmbedsArg = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
    ) -> None:
        """Raise a `ValueError` naming the first bad argument."""
        if prompt is not None and prompt_embeds is not None:
            raise ValueError("Pass either `prompt` or `prompt_embeds`, not both.")
        if prompt is not None and not (
            isinstance(prompt, str)
            or (isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt))
        ):
            raise ValueError(f"`prompt` must be a string or a non-empty list of strings, got {type(prompt).__name__}.")
        if isinstance(prompt_embeds, (tuple, list)):
            if len(prompt_embeds) != 2 or not all(isinstance(t, torch.Tensor) for t in prompt_embeds):
                raise ValueError(
                    "`prompt_embeds` must be a tensor or the (states, segment_ids) pair from encode_prompt."
                )
            states, ids = prompt_embeds
            if ids.shape != states.shape[:2]:
                raise ValueError(
                    f"`prompt_embeds` segment ids {tuple(ids.shape)} do not match states {tuple(states.shape)}."
                )
            if ((ids != GLOBAL_SEGMENT) & (ids != PADDING_SEGMENT)).any():
                raise ValueError(
                    "`prompt_embeds` holds section captions (encode_prompt was given segments): encode the prompt "
                    "alone and pass `segments` to the pipeline."
                )
        if prompt_embeds is not None:
            prompt_embeds = _embeds_tensor(prompt_embeds)
            if prompt_embeds.ndim != 3 or prompt_embeds.shape[-1] != self.transformer.config.text_embed_dim:
                raise ValueError(
                    f"`prompt_embeds` must have shape (batch, tokens, {self.transformer.config.text_embed_dim}), "
                    f"got {tuple(prompt_embeds.shape)}."
                )
            if not torch.isfinite(prompt_embeds).all():
                raise ValueError("`prompt_embeds` contains NaN or infinite values.")
        if negative_prompt_embeds is not None:
            if negative_prompt is not None:
                raise ValueError("Pass either `negative_prompt` or `negative_prompt_embeds`, not both.")
            if isinstance(negative_prompt_embeds, (tuple, list)):
                if len(negative_prompt_embeds) != 2 or not all(
                    isinstance(t, torch.Tensor) for t in negative_prompt_embeds
                ):
                    raise ValueError(
                        "`negative_prompt_embeds` must be a tensor or the (states, segment_ids) pair from encode_prompt."
                    )
            elif not isinstance(negative_prompt_embeds, torch.Tensor):
                raise ValueError(
                    f"`negative_prompt_embeds` must be a tensor, got {type(negative_prompt_embeds).__name__}."
                )
            negative = _embeds_tensor(negative_prompt_embeds)
            batch = 1 if isinstance(prompt, str) or prompt is None else len(prompt)
            if prompt_embeds is not None:
                batch = _embeds_tensor(prompt_embeds).shape[0]
            dim = self.transformer.config.text_embed_dim
            if negative.ndim != 3 or negative.shape[0] != batch or negative.shape[-1] != dim:
                raise ValueError(
                    f"`negative_prompt_embeds` must have shape ({batch}, tokens, {dim}), one per prompt, got "
                    f"{tuple(negative.shape)}."
                )
            if not torch.isfinite(negative).all():
                raise ValueError("`negative_prompt_embeds` contains NaN or infinite values.")
        if negative_prompt is not None:
            if not isinstance(negative_prompt, (str, list)):
                raise ValueError("`negative_prompt` must be a string or a list of strings.")
            batch = 1 if isinstance(prompt, str) or prompt is None else len(prompt)
            if prompt_embeds is not None:
                batch = _embeds_tensor(prompt_embeds).shape[0]
            if isinstance(negative_prompt, list) and len(negative_prompt) != batch:
                raise ValueError(
                    f"`negative_prompt` has {len(negative_prompt)} entries but `prompt` has {batch}: they must match."
                )
        if not _is_real(audio_length_in_s):
            raise ValueError(f"`audio_length_in_s` must be a number of seconds, got {audio_length_in_s!r}.")
        if not math.isfinite(audio_length_in_s) or audio_length_in_s <= 0:
            raise ValueError(f"`audio_length_in_s` must be a positive finite number, got {audio_length_in_s}.")
        if audio_length_in_s * self.vae.frame_rate < 1 - 1e-6:
            # Shorter than one latent frame decodes to (almost) no samples: an empty file, not a piece.
            raise ValueError(
                f"`audio_length_in_s`={audio_length_in_s:g} is shorter than one latent frame "
                f"({1 / self.vae.frame_rate:.4f} s); is it in seconds?"
            )
        if audio_length_in_s > MAX_PIECE_LENGTH_IN_S:
            raise ValueError(
                f"`audio_length_in_s`={audio_length_in_s:g} exceeds the longest piece one call generates "
                f"({MAX_PIECE_LENGTH_IN_S:g} s); is it in seconds?"
            )
        for name, value in (("window_context_in_s", window_context_in_s), ("crossfade_in_s", crossfade_in_s)):
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                raise ValueError(f"`{name}` must be a finite number of seconds >= 0, got {value!r}.")
        # Checked for every piece, in seconds: the window planner refuses the same (in frames) even for one window.
        if sum(self._to_frames(window_context_in_s, crossfade_in_s)) > self.transformer.config.max_frames // 2:
            raise ValueError(
                f"`crossfade_in_s` ({crossfade_in_s:g} s) plus `window_context_in_s` ({window_context_in_s:g} s) "
                f"must be at most half of the model's window ({self.max_audio_length_in_s / 2:.2f} s)."
            )
        for segs in segments:
            for segment in segs or []:
                if segment.end > audio_length_in_s + _SEGMENT_TOLERANCE_S:
                    raise ValueError(
                        f"`segments`: segment [{segment.start:g}, {segment.end:g}) ends after the audio "
                        f"({audio_length_in_s:g} s)."
                    )
        if (
            isinstance(num_inference_steps, bool)
            or not isinstance(num_inference_steps, int)
            or num_inference_steps < 1
        ):
            raise ValueError(f"`num_inference_steps` must be a positive integer, got {num_inference_steps!r}.")
        if not _is_real(guidance_scale) or not math.isfinite(guidance_scale) or guidance_scale < 0:
            raise ValueError(f"`guidance_scale` must be a finite number >= 0, got {guidance_scale!r}.")
        # Same rule as `guidance_scale`: NaN or inf would turn every sample NaN, a negative scale inverts the chart.
        if (
            not _is_real(lead_sheet_guidance_scale)
            or not math.isfinite(lead_sheet_guidance_scale)
            or lead_sheet_guidance_scale < 0
        ):
            raise ValueError(
                f"`lead_sheet_guidance_scale` must be a finite number >= 0, got {lead_sheet_guidance_scale!r}."
            )
        check_num_waveforms(num_waveforms_per_prompt)
        check_generator(generator, batch_size * num_waveforms_per_prompt)
        if latents is not None:
            if not isinstance(latents, torch.Tensor):
                raise ValueError(
                    f"`latents` must be a torch.Tensor (torch.from_numpy(array) for an array), got "
                    f"{type(latents).__name__}."
                )
            latent_shape = self.latent_shape(batch_size * num_waveforms_per_prompt, audio_length_in_s)
            if tuple(latents.shape) != latent_shape:
                raise ValueError(f"`latents` must have shape {latent_shape}, got {tuple(latents.shape)}.")
            if not torch.isfinite(latents).all():
                raise ValueError("`latents` contains NaN or infinite values.")
        if output_type not in ("np", "pt", "latent"):
            raise ValueError(f"`output_type` must be 'np', 'pt' or 'latent', got {output_type!r}.")
        if callback_on_step_end_tensor_inputs is not None and not set(callback_on_step_end_tensor_inputs) <= set(
            self._callback_tensor_inputs
        ):
            raise ValueError(
                f"`callback_on_step_end_tensor_inputs` must be a subset of {self._callback_tensor_inputs}, "
                f"got {callback_on_step_end_tensor_inputs}."
            )
        # Without a text encoder (an optional component), only precomputed embeddings work: say so before any
        # sampling, instead of failing inside the encoding. The negative prompt is only encoded under guidance.
        if prompt_embeds is None:
            self._check_text_encoder("`prompt` (or the empty prompt, when neither it nor `prompt_embeds` is given)")
        if negative_prompt is not None and guidance_scale > 1.0:
            self._check_text_encoder("`negative_prompt`")
        if _has_captions(segments):
            self._check_text_encoder("the sections' captions")

    def _resolve_batch(
        self,
        prompt: str | list[str] | None,
        prompt_embeds: PromptEmbedsArg,
        segments: SegmentsArg,
        lead_sheet: LeadSheetArg,
    ) -> tuple[str | list[str] | None, int, list[list[Segment] | None], list[LeadSheet | None]]:
        """`(prompt, batch_size, segments per prompt, lead sheet per prompt)`; no prompt at all is the empty prompt."""
        if prompt is None and prompt_embeds is None:
            prompt = ""
        if prompt_embeds is not None:
            batch_size = _embeds_tensor(prompt_embeds).shape[0]
        else:
            batch_size = 1 if isinstance(prompt, str) else len(prompt) if isinstance(prompt, list) else 1
        return (prompt, batch_size, *self._resolve_structure(segments, lead_sheet, batch_size))

    def _resolve_structure(
        self, segments: SegmentsArg, lead_sheet: LeadSheetArg, batch_size: int
    ) -> tuple[list[list[Segment] | None], list[LeadSheet | None]]:
        """The sections and the lead sheet of each prompt, coerced (see `diffusers_s2acc.music`)."""
        try:
            segment_lists = segments_per_prompt(segments, batch_size)
        except ValueError as error:
            raise ValueError(f"`segments`: {error}") from None
        try:
            sheets = lead_sheets_per_prompt(lead_sheet, batch_size)
        except (ValueError, TypeError) as error:
            raise ValueError(f"`lead_sheet`: {error}") from None
        return segment_lists, sheets
