"""The sampler both S2Accompanist pipelines share: windowed flow-matching sampling with repainting.

[`S2AccompanistWindowedSamplerMixin`] denoises a whole piece window by window (`_sample`): a piece longer than the
transformer's window, a region to regenerate and an extension are the same request, frames whose latents are kept
(weight 0), generated (1) or cross-faded (see [`~pipelines.repaint_windows`]). It is shared by
[`S2AccompanistPipeline`] and [`S2AccompanistRepaintPipeline`] as a mixin, as diffusers shares AnimateDiff's FreeNoise
sampling, and also holds the settings that choose the sampler (`recommended_settings`, `sampling_settings`,
`sampling_scheduler`) and the state the denoising loop exposes (`guidance_scale`, `lead_sheet_guidance_scale`,
`do_classifier_free_guidance`, `num_timesteps`, `interrupt`). As in diffusers' pipelines, the loop reads the guidance
properties at every step, so a `callback_on_step_end` that sets `pipe._guidance_scale` (or
`pipe._lead_sheet_guidance_scale`) changes the steps after it; `pipe._guidance_scale = 1.0` switches guidance off.

The pipeline using it provides `vae`, `transformer`, `scheduler`, `encode_prompt`, `progress_bar` and
`_execution_device` (`DiffusionPipeline` and [`~pipelines.input_utils.S2AccompanistInputsMixin`]).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import logging
from diffusers.utils.torch_utils import randn_tensor

from ..models.transformer_s2dit import PADDING_SEGMENT
from ..music.frames import FrameConditioning
from ..music.lead_sheet import LeadSheet
from ..music.structure import Segment, crop_segments
from .input_utils import PromptEmbedsArg, check_generator
from .repaint_windows import RepaintWindow, plan_windows
from .sampling_utils import (
    FALLBACK_SETTINGS,
    REFERENCE_SAMPLER,
    check_guidance_interval,
    check_sampler,
    make_flow_scheduler,
    retrieve_timesteps,
)


logger = logging.get_logger(__name__)

# Per-frame fields that describe sections: a negative prompt is a global caption, so its branch has none.
_SECTION_FIELDS = ("section_ids", "section_position", "segment_ids")


def _guidance_branches(
    do_classifier_free_guidance: bool, has_lead_sheet: bool, lead_sheet_guidance_scale: float
) -> list[tuple[bool, bool]]:
    """The `(drop_text, drop_lead_sheet)` condition of every guidance branch, in the order the transformer inputs
    stack them: [unconditional, text only (with lead-sheet guidance), full condition]."""
    full = [(False, False)]
    if not do_classifier_free_guidance:
        return full
    lead_sheet_guidance = has_lead_sheet and lead_sheet_guidance_scale != 1.0
    return [(True, lead_sheet_guidance)] + ([(False, True)] if lead_sheet_guidance else []) + full


class S2AccompanistWindowedSamplerMixin:
    """The windowed/repaint sampler of the S2Accompanist pipelines, and the settings that choose it."""

    # ------------------------------------------------------------------ settings

    def _register_recommended_settings(
        self,
        default_num_inference_steps: int,
        default_guidance_scale: float,
        default_lead_sheet_guidance_scale: float,
        default_guidance_interval: tuple[float, float] | list[float],
    ) -> None:
        """Store the pipeline's `__init__` settings in its config, for `recommended_settings`."""
        # The settings the checkpoint was tuned for live in its model_index.json (as diffusers keeps
        # `requires_safety_checker` there), so Python, the CLI, the Space and evaluation agree on one default.
        self.register_to_config(
            default_num_inference_steps=int(default_num_inference_steps),
            default_guidance_scale=float(default_guidance_scale),
            default_lead_sheet_guidance_scale=float(default_lead_sheet_guidance_scale),
            default_guidance_interval=list(check_guidance_interval(default_guidance_interval)),
        )

    def recommended_settings(self) -> dict[str, float | int]:
        """
        The sampling settings this pipeline's checkpoint recommends (from its `model_index.json`): what `__call__`
        uses for `num_inference_steps`, `guidance_scale`, `lead_sheet_guidance_scale` and `guidance_interval` when
        they are not given.
        Change them for a pipeline with `pipe.register_to_config(default_lead_sheet_guidance_scale=2.5)`; they are
        saved by `save_pretrained`.
        """
        return {
            "num_inference_steps": self.config.default_num_inference_steps,
            "guidance_scale": self.config.default_guidance_scale,
            "lead_sheet_guidance_scale": self.config.default_lead_sheet_guidance_scale,
            "guidance_interval": tuple(self.config.default_guidance_interval),
        }

    def resolve_guidance_interval(
        self, guidance_interval: Any = None, sampler: str | None = None
    ) -> tuple[float, float]:
        """`guidance_interval` as `__call__` will use it: checked, or the `sampler`'s default when it is None (the
        recommended one, or the reference sampler's), as `sampling_settings` does for the steps and scales."""
        if guidance_interval is None:
            if check_sampler(sampler) == "reference":
                guidance_interval = REFERENCE_SAMPLER["guidance_interval"]
            else:
                guidance_interval = self.recommended_settings()["guidance_interval"]
        return check_guidance_interval(guidance_interval)

    def sampling_scheduler(self, sampler: str | None = None) -> SchedulerMixin:
        """
        The scheduler `__call__` denoises with for `sampler`: the pipeline's own (`"recommended"`, the default), or
        for `"reference"` a [`~diffusers.FlowMatchEulerDiscreteScheduler`] with the same flow shift and training
        timesteps, built from the pipeline's scheduler config (the pipeline's scheduler is not replaced).
        """
        if check_sampler(sampler) == "recommended" or type(self.scheduler) is FlowMatchEulerDiscreteScheduler:
            return self.scheduler
        return make_flow_scheduler("euler", self.scheduler.config)

    def sampling_settings(
        self,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        lead_sheet_guidance_scale: float | None = None,
        sampler: str | None = None,
    ) -> tuple[int, float, float]:
        """`(num_inference_steps, guidance_scale, lead_sheet_guidance_scale)` as `__call__` will use them: the
        values given, and for those left as None `recommended_settings()` (the reference sampler's 25 steps for
        `sampler="reference"`)."""
        settings = self.recommended_settings()
        if check_sampler(sampler) == "reference":
            settings["num_inference_steps"] = REFERENCE_SAMPLER["num_inference_steps"]
        return (
            settings["num_inference_steps"] if num_inference_steps is None else num_inference_steps,
            settings["guidance_scale"] if guidance_scale is None else guidance_scale,
            settings["lead_sheet_guidance_scale"] if lead_sheet_guidance_scale is None else lead_sheet_guidance_scale,
        )

    # ------------------------------------------------------------------ properties

    @property
    def sampling_rate(self) -> int:
        return self.vae.config.sampling_rate

    @property
    def max_audio_length_in_s(self) -> float:
        return self.transformer.config.max_frames / self.vae.frame_rate

    @property
    def guidance_scale(self) -> float:
        return self._guidance_scale

    @property
    def lead_sheet_guidance_scale(self) -> float:
        """The lead-sheet guidance scale of the current call (see `guidance_scale`); read at every step."""
        return self._lead_sheet_guidance_scale

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self._guidance_scale > 1.0

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    @property
    def num_windows(self) -> int:
        """Transformer windows of the current call: a whole song runs `num_windows * num_timesteps` steps, the range
        of the step index `callback_on_step_end` receives (it counts on across windows)."""
        return getattr(self, "_num_windows", 1)

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    # ------------------------------------------------------------------ latents

    def _to_frames(self, *seconds: float) -> tuple[int, ...]:
        """Durations in seconds as whole latent frames (rounded)."""
        return tuple(int(round(value * self.vae.frame_rate)) for value in seconds)

    def latent_shape(self, batch_size: int, audio_length_in_s: float) -> tuple[int, int, int]:
        """Shape of the latents for `batch_size` clips of `audio_length_in_s` seconds (derived, never a fixed max)."""
        frames = math.ceil(audio_length_in_s * self.vae.frame_rate - 1e-6)
        return (batch_size, self.transformer.config.in_channels, frames)

    def prepare_latents(
        self,
        shape: tuple[int, int, int],
        device: torch.device,
        generator: torch.Generator | list[torch.Generator] | None,
        latents: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # Latents stay in float32 whatever the transformer's dtype: the Euler updates accumulate small differences.
        check_generator(generator, shape[0])
        if latents is None:
            return randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)
        return latents.to(device=device, dtype=torch.float32)

    # ------------------------------------------------------------------ sampling

    def _sample(
        self,
        prompt: str | list[str] | None,
        prompt_embeds: PromptEmbedsArg,
        segment_lists: list[list[Segment] | None],
        sheets: list[LeadSheet | None],
        negative_prompt: str | list[str] | None,
        audio_length_in_s: float,
        batch_size: int,
        num_waveforms_per_prompt: int,
        num_inference_steps: int,
        guidance_scale: float,
        lead_sheet_guidance_scale: float,
        generator: torch.Generator | list[torch.Generator] | None,
        latents: torch.Tensor | None,
        attention_kwargs: dict[str, Any] | None,
        callback_on_step_end: Callable | None,
        callback_on_step_end_tensor_inputs: list[str],
        window_context_in_s: float,
        crossfade_in_s: float,
        source_latents: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
        repaint_strength: float = 1.0,
        negative_prompt_embeds: PromptEmbedsArg = None,
        guidance_interval: tuple[float, float] = FALLBACK_SETTINGS["guidance_interval"],
        scheduler: SchedulerMixin | None = None,
    ) -> torch.Tensor:
        """
        Denoise a whole piece, window by window, and return its latents `(batch * num_waveforms_per_prompt,
        latent_channels, frames)`: the one sampler behind plain, long, repainted and extended generation.

        `source_latents` (broadcastable to the output's shape) are the known latents and `weights` `(frames,)` say
        per frame how much is generated (see [`~pipelines.repaint_windows.region_weights`]); by default everything
        is. After every Euler step, the latents of a frame with weight `w` become `w * x + (1 - w) * x_known`, where
        `x_known = (1 - sigma) * source + sigma * noise` is the known latent brought to the step's noise level with
        the same noise the sample started from; at the last step `sigma = 0`, so frames of weight 0 come out as the
        source exactly. With `repaint_strength < 1` sampling starts from the source noised to that level instead of
        pure noise (fewer steps, more of the source kept where it is regenerated). `guidance_interval` as in
        `__call__`; `scheduler` (see `sampling_scheduler`) defaults to the pipeline's.
        """
        # 1. Prepare latent variables: the noise of the whole piece, and the canvas of known latents
        device = self._execution_device
        shape = self.latent_shape(batch_size * num_waveforms_per_prompt, audio_length_in_s)
        noise = self.prepare_latents(shape, device, generator, latents)
        canvas = torch.zeros_like(noise)
        if source_latents is not None:
            canvas[..., : source_latents.shape[-1]] = source_latents.to(device=device, dtype=canvas.dtype)

        # 2. Plan the windows (one when the piece fits the transformer) and the steps each runs
        weights = torch.ones(shape[2]) if weights is None else weights
        plan = plan_windows(
            weights, self.transformer.config.max_frames, *self._to_frames(window_context_in_s, crossfade_in_s)
        )
        self._guidance_scale = guidance_scale
        self._lead_sheet_guidance_scale = lead_sheet_guidance_scale
        self._interrupt = False
        self._warned_unprepared_guidance = False
        self._num_windows = len(plan)
        prompts = [prompt] * batch_size if isinstance(prompt, str) else prompt
        first_step = num_inference_steps - max(
            1, min(int(num_inference_steps * repaint_strength), num_inference_steps)
        )
        self._num_timesteps = num_inference_steps - first_step
        has_lead_sheet = any(sheet is not None for sheet in sheets)
        # The guidance branches every window evaluates are chosen here, once: a step callback can then lower the
        # scales or switch guidance off (the loop reads them at every step), but not add a branch mid-piece.
        do_classifier_free_guidance = self.do_classifier_free_guidance
        if has_lead_sheet and lead_sheet_guidance_scale != 1.0 and not do_classifier_free_guidance:
            logger.warning(
                f"`lead_sheet_guidance_scale`={lead_sheet_guidance_scale:g} has no effect: `guidance_scale`="
                f"{guidance_scale:g} <= 1 turns guidance off, lead-sheet guidance included. Set `guidance_scale` > 1 "
                "to use it, or `lead_sheet_guidance_scale`=1."
            )

        # 3. Denoising loop, window by window: each window's conditioning, then its loop over the timesteps
        with self.progress_bar(total=len(plan) * self._num_timesteps) as progress_bar:
            for window_index, window in enumerate(plan):
                transformer_inputs, num_branches = self._window_inputs(
                    window,
                    shape[2],
                    prompts,
                    prompt_embeds,
                    segment_lists,
                    sheets,
                    negative_prompt,
                    lead_sheet_guidance_scale,
                    batch_size,
                    num_waveforms_per_prompt,
                    device,
                    negative_prompt_embeds,
                    do_classifier_free_guidance=do_classifier_free_guidance,
                )
                span = slice(window.start, window.end)
                canvas[..., span] = self._denoise_window(
                    noise[..., span],
                    canvas[..., span],
                    window.weights.to(device),
                    transformer_inputs,
                    num_branches,
                    num_inference_steps,
                    first_step,
                    attention_kwargs,
                    callback_on_step_end,
                    callback_on_step_end_tensor_inputs,
                    progress_bar,
                    step_offset=window_index * self._num_timesteps,
                    guidance_interval=guidance_interval,
                    scheduler=self.scheduler if scheduler is None else scheduler,
                    has_lead_sheet=has_lead_sheet,
                )
        return canvas

    def _window_inputs(
        self,
        window: RepaintWindow,
        num_frames: int,
        prompts: list[str] | None,
        prompt_embeds: PromptEmbedsArg,
        segment_lists: list[list[Segment] | None],
        sheets: list[LeadSheet | None],
        negative_prompt: str | list[str] | None,
        lead_sheet_guidance_scale: float,
        batch_size: int,
        num_waveforms_per_prompt: int,
        device: torch.device,
        negative_prompt_embeds: PromptEmbedsArg = None,
        do_classifier_free_guidance: bool | None = None,
    ) -> tuple[dict[str, torch.Tensor], int]:
        """Transformer inputs of one window: its sections and lead sheet cropped to it (as training clips are), for
        the guidance branches of `_guidance_inputs`."""
        frame_rate = self.vae.frame_rate
        window_segments, window_sheets = segment_lists, sheets
        if (window.start, window.end) != (0, num_frames):
            start, end = window.start / frame_rate, window.end / frame_rate
            window_segments = [(crop_segments(segs, start, end) or None) if segs else None for segs in segment_lists]
            window_sheets = [sheet.crop(start, end) if sheet is not None else None for sheet in sheets]
        encoder_states, encoder_ids = self.encode_prompt(prompts, window_segments, device, prompt_embeds)
        frames = window.end - window.start
        conditioning = FrameConditioning.stack(
            [
                FrameConditioning.build(frames, frame_rate, segs, sheet)
                for segs, sheet in zip(window_segments, window_sheets)
            ]
        ).to(device)
        # Whether the piece has a lead sheet, not the window: every window then takes the same guidance branches.
        has_lead_sheet = any(sheet is not None for sheet in sheets)
        return self._guidance_inputs(
            encoder_states,
            encoder_ids,
            conditioning,
            has_lead_sheet,
            lead_sheet_guidance_scale,
            negative_prompt,
            batch_size,
            num_waveforms_per_prompt,
            device,
            negative_prompt_embeds,
            do_classifier_free_guidance=do_classifier_free_guidance,
        )

    def _denoise_window(
        self,
        noise: torch.Tensor,
        known: torch.Tensor,
        weights: torch.Tensor,
        transformer_inputs: dict[str, torch.Tensor],
        num_branches: int,
        num_inference_steps: int,
        first_step: int,
        attention_kwargs: dict[str, Any] | None,
        callback_on_step_end: Callable | None,
        callback_on_step_end_tensor_inputs: list[str],
        progress_bar,
        step_offset: int = 0,
        guidance_interval: tuple[float, float] = FALLBACK_SETTINGS["guidance_interval"],
        scheduler: SchedulerMixin | None = None,
        has_lead_sheet: bool = False,
    ) -> torch.Tensor:
        """The denoising loop of one window with `scheduler` (the pipeline's by default: Euler, or a multistep
        solver with flow sigmas), keeping the frames of weight < 1 on the known latents' path (see `_sample`).

        The guidance scales are the pipeline's properties (`guidance_scale`, `lead_sheet_guidance_scale`,
        `do_classifier_free_guidance`), read at every step as diffusers' pipelines do, so that a step callback can
        change them; `num_branches` are the branches `transformer_inputs` hold (see `_guidance_inputs`)."""
        scheduler = self.scheduler if scheduler is None else scheduler
        sigmas = np.linspace(1.0, 1.0 / num_inference_steps, num_inference_steps)
        timesteps, _ = retrieve_timesteps(scheduler, num_inference_steps, noise.device, sigmas=sigmas)
        sigmas = scheduler.sigmas.tolist()  # as the scheduler shifted them, ending with 0
        timesteps = timesteps[first_step:]
        if first_step:
            scheduler.set_begin_index(first_step)
        repaint = not bool((weights == 1).all())
        weights = weights.view(1, 1, -1)

        def known_at(sigma: float) -> torch.Tensor:
            return (1.0 - sigma) * known + sigma * noise

        # Adapted from diffusers.guiders.ClassifierFreeGuidance._is_cfg_enabled: the step range of the interval.
        guided_steps = range(
            int(guidance_interval[0] * num_inference_steps), int(guidance_interval[1] * num_inference_steps)
        )
        latents = noise if first_step == 0 else known_at(sigmas[first_step])
        for i, t in enumerate(timesteps):
            if self.interrupt:
                continue
            self._warn_unprepared_guidance(num_branches, has_lead_sheet)
            if num_branches > 1 and not (self.do_classifier_free_guidance and first_step + i in guided_steps):
                # Outside the interval, or with guidance switched off by a callback, only the full condition is
                # evaluated: its rows are the last of every input (also of `encoder_hidden_states` cut by a callback
                # to its last chunk, as diffusers' callbacks that switch guidance off do with `prompt_embeds`).
                rows = latents.shape[0]
                full_inputs = {name: value[-rows:] for name, value in transformer_inputs.items()}
                velocity = self.transformer(
                    latents, t.expand(rows), attention_kwargs=attention_kwargs, **full_inputs
                ).sample.float()
            else:
                model_input = latents.repeat(num_branches, 1, 1)
                velocity = self.transformer(
                    model_input,
                    t.expand(model_input.shape[0]),
                    attention_kwargs=attention_kwargs,
                    **transformer_inputs,
                ).sample.float()
                velocity = self._guide(
                    velocity.chunk(num_branches), self.guidance_scale, self.lead_sheet_guidance_scale
                )
            latents = scheduler.step(velocity, t, latents, return_dict=False)[0]
            if repaint:
                target = known_at(sigmas[first_step + i + 1])
                latents = target + weights * (latents - target)

            if callback_on_step_end is not None:
                tensors = {"latents": latents, "encoder_hidden_states": transformer_inputs["encoder_hidden_states"]}
                outputs = callback_on_step_end(
                    self, step_offset + i, t, {k: tensors[k] for k in callback_on_step_end_tensor_inputs}
                )
                if not isinstance(outputs, dict):
                    raise ValueError(
                        f"`callback_on_step_end` must return a dict (`{{}}` to change nothing), got "
                        f"{type(outputs).__name__}."
                    )
                latents = outputs.pop("latents", latents)
                if "encoder_hidden_states" in outputs:
                    transformer_inputs["encoder_hidden_states"] = outputs.pop("encoder_hidden_states")
            progress_bar.update()
        # Kept frames are the known latents bit for bit (the last step already lands there; this states it).
        return torch.where(weights == 0, known, latents) if repaint else latents

    def _decode_latents(
        self, latents: torch.Tensor, audio_length_in_s: float, output_type: str
    ) -> np.ndarray | torch.Tensor:
        """Latents to `(batch, channels, samples)` audio of `audio_length_in_s`. Anything longer than one VAE tile
        window is decoded in tiles (as `vae.enable_tiling()` does), so that decoding memory does not grow with the
        piece's length."""
        vae = self.vae
        tile = not vae.use_tiling and latents.shape[-1] > vae.tile_latent_frames + 2 * vae.tile_context_frames
        vae.use_tiling = vae.use_tiling or tile
        try:
            audio = vae.decode(latents / vae.config.scaling_factor).sample.float()
        finally:
            vae.use_tiling = vae.use_tiling and not tile
        audio = audio[..., : int(round(audio_length_in_s * self.sampling_rate))]
        return audio.cpu().numpy() if output_type == "np" else audio

    def _guidance_inputs(
        self,
        encoder_states: torch.Tensor,
        encoder_ids: torch.Tensor,
        conditioning: FrameConditioning,
        has_lead_sheet: bool,
        lead_sheet_guidance_scale: float,
        negative_prompt: str | list[str] | None,
        batch_size: int,
        num_waveforms_per_prompt: int,
        device: torch.device,
        negative_prompt_embeds: PromptEmbedsArg = None,
        do_classifier_free_guidance: bool | None = None,
    ) -> tuple[dict[str, torch.Tensor], int]:
        """
        Transformer inputs for every guidance branch, stacked along the batch in the order [unconditional,
        (text only,) full], each branch holding every prompt's `num_waveforms_per_prompt` samples in turn.

        The unconditional branch uses the learned null caption (or `negative_prompt`, a global caption without
        sections) and, when lead-sheet guidance is on, the null lead sheet; the text-only branch drops the lead sheet.
        `do_classifier_free_guidance` (the pipeline's property by default) says whether there is guidance at all.
        """
        if do_classifier_free_guidance is None:
            do_classifier_free_guidance = self.do_classifier_free_guidance
        branches = _guidance_branches(do_classifier_free_guidance, has_lead_sheet, lead_sheet_guidance_scale)
        states, ids = [encoder_states] * len(branches), [encoder_ids] * len(branches)
        frames = [conditioning] * len(branches)
        if do_classifier_free_guidance and (negative_prompt is not None or negative_prompt_embeds is not None):
            if negative_prompt_embeds is not None:  # precomputed: no text encoder needed
                states[0], ids[0] = self.encode_prompt(None, None, device, prompt_embeds=negative_prompt_embeds)
            else:
                negatives = [negative_prompt] * batch_size if isinstance(negative_prompt, str) else negative_prompt
                states[0], ids[0] = self.encode_prompt(negatives, [None] * batch_size, device)
            branches[0] = (False, branches[0][1])
            frames[0] = FrameConditioning(
                **{**vars(conditioning), **{k: torch.zeros_like(getattr(conditioning, k)) for k in _SECTION_FIELDS}}
            )
        n, total = num_waveforms_per_prompt, batch_size * num_waveforms_per_prompt
        encoder_hidden_states, encoder_segment_ids = _pad_and_cat(states, ids)
        inputs = FrameConditioning.cat(frames).repeat_interleave(n).transformer_kwargs()
        inputs.update(
            encoder_hidden_states=encoder_hidden_states.repeat_interleave(n, dim=0),
            encoder_segment_ids=encoder_segment_ids.repeat_interleave(n, dim=0),
            drop_text=torch.tensor([d for d, _ in branches], device=device).repeat_interleave(total),
            drop_lead_sheet=torch.tensor([d for _, d in branches], device=device).repeat_interleave(total),
        )
        return inputs, len(branches)

    def _warn_unprepared_guidance(self, num_branches: int, has_lead_sheet: bool) -> None:
        """Warn once per call when a step callback asks for guidance the call's branches cannot give: guidance
        switched on (it was off when the call started), or lead-sheet guidance switched on without its branch."""
        if self._warned_unprepared_guidance:
            return
        wanted = _guidance_branches(self.do_classifier_free_guidance, has_lead_sheet, self.lead_sheet_guidance_scale)
        if len(wanted) > num_branches:
            self._warned_unprepared_guidance = True
            logger.warning(
                f"`guidance_scale`={self.guidance_scale:g} and `lead_sheet_guidance_scale`="
                f"{self.lead_sheet_guidance_scale:g}, set during sampling, ask for guidance this call did not prepare "
                "when it started: it is not applied. A step callback can change the scales or switch guidance off "
                "(`pipe._guidance_scale = 1.0`), not add guidance a call started without; to guide only later "
                "steps, pass `guidance_interval`."
            )

    def _guide(self, velocities: tuple[torch.Tensor, ...], text_scale: float, lead_sheet_scale: float) -> torch.Tensor:
        if len(velocities) == 1:
            return velocities[0]
        if len(velocities) == 2:
            unconditional, conditional = velocities
            return unconditional + text_scale * (conditional - unconditional)
        unconditional, text_only, full = velocities
        return unconditional + text_scale * (text_only - unconditional) + lead_sheet_scale * (full - text_only)


def _pad_and_cat(states: list[torch.Tensor], ids: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate caption token batches of different lengths along the batch, padding with id -1."""
    length = max(s.shape[1] for s in states)
    padded_states, padded_ids = [], []
    for s, i in zip(states, ids):
        extra = length - s.shape[1]
        padded_states.append(torch.nn.functional.pad(s, (0, 0, 0, extra)))
        padded_ids.append(torch.nn.functional.pad(i, (0, extra), value=PADDING_SEGMENT))
    return torch.cat(padded_states), torch.cat(padded_ids)
