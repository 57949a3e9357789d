"""The samplers the S2Accompanist pipelines offer: their names and settings, the flow schedulers they build, and the
checks of the settings that choose them.

One home for what the pipelines, the CLI, the Space, the benchmarks and the shipping recipe all mean by "the
recommended sampler" and "the reference sampler"; it imports nothing from the package.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Mapping, Sequence

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin


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

#: Known frames each window of a long piece starts with (the end of the previous window), in seconds.
DEFAULT_WINDOW_CONTEXT_IN_S = 3.0
#: Length of the cross-fade at every border between kept and regenerated latents, in seconds.
DEFAULT_CROSSFADE_IN_S = 0.25


def check_sampler(sampler: Any) -> str:
    """`sampler` as one of `SAMPLERS` (None is `"recommended"`), or a ValueError naming it."""
    if sampler is None:
        return "recommended"
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise ValueError(f"`sampler` must be one of {', '.join(map(repr, SAMPLERS))} or None, got {sampler!r}.")
    return sampler


def check_guidance_interval(guidance_interval: Any) -> tuple[float, float]:
    """`guidance_interval` as a `(start, stop)` tuple of floats with `0 <= start < stop <= 1`, or a ValueError."""
    try:
        # `float` takes numpy scalars (np.float32(0.5), what array arithmetic returns) as the numbers they hold.
        start, stop = (float(value) for value in guidance_interval)
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
