"""`S2AccompanistPipeline`: text- and structure-conditioned accompaniment generation."""

from __future__ import annotations

from typing import Any, Callable

import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from diffusers.utils import replace_example_docstring
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..loaders import S2AccompanistLoraLoaderMixin
from ..models.autoencoder_semantic import SemanticAutoencoder
from ..models.transformer_s2dit import S2DiTTransformer
from ..music.lead_sheet import LeadSheet, repeat_chart_to_length
from ..music.structure import Segment
from .input_utils import LeadSheetArg, PromptEmbedsArg, S2AccompanistInputsMixin, SegmentsArg, _plain
from .loading_utils import S2AccompanistLoadingMixin
from .pipeline_output import S2AccompanistPipelineOutput
from .sampling_utils import DEFAULT_CROSSFADE_IN_S, DEFAULT_WINDOW_CONTEXT_IN_S, FALLBACK_SETTINGS
from .windowed_sampler import S2AccompanistWindowedSamplerMixin


EXAMPLE_DOC_STRING = """
    Examples:
        ```py
        >>> import soundfile
        >>> import torch
        >>> from diffusers_s2acc import LeadSheet, S2AccompanistPipeline, Segment

        >>> pipe = S2AccompanistPipeline.from_pretrained("s2acc-demo")  # the shipped default, offline
        >>> segments = [
        ...     Segment(0.0, 4.8, "intro", "sparse felt piano and soft pads"),
        ...     Segment(4.8, 14.4, "verse", "fingerpicked acoustic guitar, brushed drums"),
        ... ]
        >>> lead_sheet = LeadSheet.from_chart("C | Am | F | G", bpm=100)
        >>> pipe.recommended_settings()  # steps and guidance the checkpoint was tuned for (model_index.json)
        {'num_inference_steps': 25, 'guidance_scale': 4.0, 'lead_sheet_guidance_scale': 3.5}
        >>> audio = pipe(
        ...     prompt="warm indie pop accompaniment",
        ...     segments=segments,
        ...     lead_sheet=lead_sheet,
        ...     generator=torch.Generator().manual_seed(0),
        ... ).audios[0]
        >>> soundfile.write("accompaniment.wav", audio.T, pipe.vae.config.sampling_rate)
        ```
"""

#: Duration used when neither `audio_length_in_s`, segments nor a lead sheet give one.
DEFAULT_AUDIO_LENGTH_IN_S = 10.0


class S2AccompanistPipeline(
    S2AccompanistLoadingMixin,
    DiffusionPipeline,
    S2AccompanistLoraLoaderMixin,
    S2AccompanistInputsMixin,
    S2AccompanistWindowedSamplerMixin,
):
    r"""
    Pipeline for instrumental accompaniment generation with per-section captions and optional lead sheets.

    Args:
        vae ([`SemanticAutoencoder`]): Waveform autoencoder; its latents are what the transformer denoises.
        text_encoder ([`~transformers.PreTrainedModel`], *optional*): Any transformers text encoder; its last hidden
            states are the caption tokens. Without it (None, with the tokenizer), the pipeline is called with
            `prompt_embeds` from [`~S2AccompanistPipeline.encode_prompt`] of a pipeline that has one, and with
            sections without captions; a prompt or caption to encode is refused with a `ValueError`.
        tokenizer ([`~transformers.PreTrainedTokenizerBase`], *optional*): The text encoder's tokenizer.
        transformer ([`S2DiTTransformer`]): The flow-matching transformer.
        scheduler ([`~diffusers.FlowMatchEulerDiscreteScheduler`] or [`~diffusers.UniPCMultistepScheduler`]): The
            sampler: Euler (the training scheduler), or a multistep solver with flow sigmas
            (`use_flow_sigmas=True, prediction_type="flow_prediction"`), which needs fewer steps.
    """

    model_cpu_offload_seq = "text_encoder->transformer->vae"
    # As diffusers' PixArt pipelines: without a text encoder and tokenizer the pipeline takes precomputed
    # `prompt_embeds`, and a pipeline saved without them loads again with both None.
    _optional_components = ["tokenizer", "text_encoder"]
    _callback_tensor_inputs = ["latents", "encoder_hidden_states"]

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

    def _default_duration(self, segments: list[list[Segment] | None], sheets: list[LeadSheet | None]) -> float:
        ends = [s.end for segs in segments for s in segs or []]
        if ends:
            return max(ends)
        lengths = [sheet.duration for sheet in sheets if sheet is not None and sheet.duration > 0]
        return max(lengths) if lengths else min(DEFAULT_AUDIO_LENGTH_IN_S, self.max_audio_length_in_s)

    # ------------------------------------------------------------------ call

    # ------------------------------------------------------------------ call

    @torch.no_grad()
    @replace_example_docstring(EXAMPLE_DOC_STRING)
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        segments: SegmentsArg = None,
        lead_sheet: LeadSheetArg = None,
        audio_length_in_s: float | None = None,
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
        Generate accompaniment.

        A piece longer than the transformer's window (`pipe.max_audio_length_in_s`) is generated window by window in
        this one call: every window has the model's full length, starts with the last `window_context_in_s` seconds
        of what is already generated as known latents (see [`~pipelines.repaint_windows.plan_windows`]) and
        cross-fades with it over `crossfade_in_s`; sections and lead sheet are cropped to each window, and the
        latents are decoded in tiles, so peak memory does not grow with the length.

        Args:
            prompt (`str` or `list[str]`, *optional*): Global description(s), seen by every frame.
            segments (`list[Segment | dict]` or one such list per prompt, *optional*): Sections with start and end in
                seconds, a label (intro, verse, pre-chorus, chorus, bridge, solo, outro, other) and a caption that
                only that section's frames attend to.
            lead_sheet (`LeadSheet`, `dict`, chord chart `str`, or one per prompt, *optional*): Tempo, meter, chords
                and melody. `"C | Am | F | G"` is a chart at 120 BPM; use `LeadSheet.from_chart(..., bpm=...)` for
                another tempo. A chart shorter than the audio repeats as a form (with a logged notice).
            audio_length_in_s (`float`, *optional*): Duration, up to [`MAX_PIECE_LENGTH_IN_S`]. Defaults to the end
                of the last segment, else the lead sheet's length, else 10 s (or the model's window if shorter).
            num_inference_steps (`int`, *optional*): Denoising steps. Defaults to the checkpoint's recommended value
                ([`~S2AccompanistPipeline.recommended_settings`], from `model_index.json`; 50 where it names none).
            guidance_scale (`float`, *optional*): Classifier-free guidance on the text (captions and structure); 1
                disables it. Defaults to the checkpoint's recommended value (4.0 where it names none).
            lead_sheet_guidance_scale (`float`, *optional*): Extra guidance towards the lead sheet (a third model
                evaluation per step when not 1); a finite number >= 0. Defaults to the checkpoint's recommended
                value (1.0, no third pass, where it names none).
            negative_prompt (`str` or `list[str]`, *optional*): Replaces the learned null caption in guidance.
            num_waveforms_per_prompt (`int`, defaults to 1): Samples per prompt.
            generator (`torch.Generator` or `list[torch.Generator]`, *optional*): For deterministic sampling; a
                list holds one generator per sample (prompts x `num_waveforms_per_prompt`).
            latents (`torch.Tensor`, *optional*): Initial noise `(batch * num_waveforms_per_prompt,
                latent_channels, frames)` for the whole piece.
            prompt_embeds (`torch.Tensor` or `tuple`, *optional*): Precomputed global caption token states
                `(batch, tokens, text_embed_dim)`, or the pair returned by [`~S2AccompanistPipeline.encode_prompt`],
                instead of `prompt`.
            output_type (`str`, defaults to `"np"`): `"np"`, `"pt"` or `"latent"`.
            return_dict (`bool`, defaults to `True`): Return an [`S2AccompanistPipelineOutput`] instead of a tuple.
            attention_kwargs (`dict`, *optional*): Passed to the transformer; `{"scale": s}` scales LoRA.
            callback_on_step_end (`Callable`, *optional*): Called as `callback(pipe, step, timestep, kwargs)` after
                every step (of every window) with the tensors named in `callback_on_step_end_tensor_inputs`, the
                window's latents; returns a dict, possibly with replacements. `step` counts across windows, from 0
                to `len(windows) * num_inference_steps - 1` (a progress bar rises once). As in diffusers' pipelines,
                the guidance scales are read at every step: a callback may set `pipe._guidance_scale` and
                `pipe._lead_sheet_guidance_scale` for the steps after it, and `pipe._guidance_scale = 1.0` switches
                guidance off (one transformer pass per step from then on). The guidance branches are chosen when
                the call starts, so guidance the call started without cannot be added (a warning says so).
            window_context_in_s (`float`, defaults to 3.0): For pieces longer than one window: seconds of the
                previous window each window starts from.
            crossfade_in_s (`float`, defaults to 0.25): For pieces longer than one window: seconds over which
                consecutive windows cross-fade (in latent space, at every denoising step).
            negative_prompt_embeds (`torch.Tensor` or `tuple`, *optional*): Precomputed tokens of the negative
                prompt (e.g. `pipe.encode_prompt("noise")`), instead of `negative_prompt`: with `prompt_embeds`, no
                text encoder is needed.
            guidance_interval (`tuple[float, float]`, *optional*): `(start, stop)`, fractions of the steps: guidance
                (text and lead sheet) is applied on the steps `i` with `start <= i / num_inference_steps < stop`, as
                diffusers' guiders' `start`/`stop` do; the other steps run the full condition alone (one transformer
                pass instead of two or three). Defaults to the checkpoint's recommended value ((0, 1): every step
                where it names none).
            sampler (`str`, *optional*): `"recommended"` (the default): the pipeline's scheduler with the
                checkpoint's recommended steps and guidance interval. `"reference"`: Euler, 25 steps, guidance on
                every step ([`REFERENCE_SAMPLER`]), the slower sampler the model is trained for; steps and interval
                given explicitly still win.

        Examples:

        Returns:
            [`S2AccompanistPipelineOutput`] with `audios` of shape `(batch, audio_channels, samples)`, float32, at
            `pipe.vae.config.sampling_rate`, and `latents`; a tuple `(audios,)` when `return_dict` is False.
        """
        # 1. Default settings: those given, else the sampler's and the checkpoint's (`recommended_settings()`)
        num_inference_steps, guidance_scale, lead_sheet_guidance_scale = self.sampling_settings(
            num_inference_steps, guidance_scale, lead_sheet_guidance_scale, sampler=sampler
        )
        audio_length_in_s, num_inference_steps, guidance_scale, lead_sheet_guidance_scale = map(
            _plain, (audio_length_in_s, num_inference_steps, guidance_scale, lead_sheet_guidance_scale)
        )
        guidance_interval = self.resolve_guidance_interval(guidance_interval, sampler)
        num_waveforms_per_prompt, window_context_in_s, crossfade_in_s = map(
            _plain, (num_waveforms_per_prompt, window_context_in_s, crossfade_in_s)
        )

        # 2. Define call parameters: the batch, each prompt's sections and lead sheet, and the duration
        prompt, batch_size, segment_lists, sheets = self._resolve_batch(prompt, prompt_embeds, segments, lead_sheet)
        if audio_length_in_s is None:
            audio_length_in_s = self._default_duration(segment_lists, sheets)

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

        # 4. Prepare the lead sheets: a chart shorter than the piece repeats as a form to its end
        sheets = [repeat_chart_to_length(sheet, audio_length_in_s) for sheet in sheets]

        # 5. Prepare the scheduler of the sampler
        scheduler = self.sampling_scheduler(sampler)

        # 6. Denoising loop, window by window (`_sample`): each window of the piece (all of it when it fits the
        # transformer) gets its captions encoded and its sections and lead sheet cropped to it (`_window_inputs`),
        # then runs the loop over the timesteps with guidance (`_denoise_window`).
        latents = self._sample(
            prompt,
            prompt_embeds,
            segment_lists,
            sheets,
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
            negative_prompt_embeds=negative_prompt_embeds,
            guidance_interval=guidance_interval,
            scheduler=scheduler,
        )

        # 7. Decode (in tiles when long)
        audio = latents if output_type == "latent" else self._decode_latents(latents, audio_length_in_s, output_type)

        # 8. Offload all models
        self.maybe_free_model_hooks()

        if not return_dict:
            return (audio,)
        return S2AccompanistPipelineOutput(audios=audio, latents=latents)
