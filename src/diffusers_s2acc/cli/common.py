"""What every `s2acc` command shares: the one-line usage error, the pipeline's argument names as flags, reading
the input files, checking and writing the outputs, and loading the pipeline on the asked device.

Every command module of `cli` (`generate`, `evaluate`, `accompany`, `space`) imports this module and none imports
another: the flags they share are declared here once, and the commands sit on top of it, side by side.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..devices import DTYPES, resolve_device


class UsageError(Exception):
    """A problem with the user's arguments or files: reported as one line, exit code 2."""


#: The seeds `torch.Generator.manual_seed` accepts.
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1

# Pipeline argument names -> the flags that set them, so that an error raised by the pipeline names what the user
# typed. Backquoted, as the pipeline writes them, so `guidance_scale` never matches inside `lead_sheet_guidance_scale`.
_GENERATE_FLAGS = {
    "`audio_length_in_s`": "--duration",
    "`num_inference_steps`": "--steps",
    "`guidance_scale`": "--guidance",
    "`lead_sheet_guidance_scale`": "--lead-sheet-guidance",
    "`negative_prompt`": "--negative-prompt",
    "`segments`": "--segments",
    "`lead_sheet`": "--lead-sheet",
    "`prompt`": "--prompt",
    "`crossfade_in_s`": "--crossfade",
    "`source_audio`": "--audio",
    "`source_latents`": "--latents",
    "`region_start_in_s`": "--start",
    "`region_end_in_s`": "--end",
    "`repaint_strength`": "--strength",
    "`section`": "--section",
    "`window_context_in_s`": "the window context",
    "`guidance_interval`": "--guidance-interval",
    "`sampler`": "--sampler",
}


def _name_flags(message: str, flags: dict[str, str]) -> str:
    for argument, flag in flags.items():
        message = message.replace(argument, flag)
    return message


def _read_input_text(flag: str, path: Path) -> str:
    """The text of a file named by `flag`, or a one-line `UsageError` saying why it cannot be read."""
    if path.is_dir():
        raise UsageError(f"{flag}: {path} is a folder, not a file")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{flag}: no such file {path}") from None
    except UnicodeDecodeError as error:
        raise UsageError(f"{flag}: {path} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except OSError as error:
        raise UsageError(f"{flag}: cannot read {path}: {error.strerror or error}") from None


def _check_output(flag: str, path: Path | None, overwrite: bool, **kwargs) -> None:
    """Refuse an output that cannot be written, before any work is done (generation can take minutes); see
    [`diffusers_s2acc.audio.check_output_path`]."""
    from ..audio import check_output_path

    if path is None:
        return
    try:
        check_output_path(path, overwrite, **kwargs)
    except ValueError as error:
        raise UsageError(f"{flag}: {error}") from None


def _resolve_device(name: str | None) -> str:
    """`--device`, checked against this torch build (a one-line error instead of a traceback deep inside)."""
    try:
        return resolve_device(name)
    except ValueError as error:
        raise UsageError(f"--device {error}") from None


def _load_segments(path: Path | None) -> list | None:
    if path is None:
        return None
    try:
        data = json.loads(_read_input_text("--segments", path))
    except json.JSONDecodeError as error:
        raise UsageError(f"--segments: {path} is not valid JSON ({error.msg}, line {error.lineno})") from None
    except RecursionError:
        raise UsageError(f"--segments: {path} is nested too deeply to be a list of segments") from None
    if isinstance(data, dict) and "segments" in data:
        data = data["segments"]
    if not isinstance(data, list):
        raise UsageError(f"--segments: {path} must hold a list of segments")
    return data


def _load_pipeline(name: str, device: str, dtype: str = "auto"):
    """`--pipeline` on `device` in `--dtype` (`DTYPES`: "bfloat16" runs the transformer and text encoder in
    bfloat16, about twice as fast on CPUs with native bf16, e.g. AMD Zen 4, see bench/bench_generate.py)."""
    from .. import pretrained

    try:
        return pretrained.load_pipeline_on(name, device, dtype)
    except ValueError as error:
        raise UsageError(f"--pipeline: {error}") from None


def _write_audio(path: Path, audio, sampling_rate: int) -> None:
    from ..audio import write_audio

    try:
        write_audio(path, audio, sampling_rate)
    except (OSError, ValueError) as error:
        raise UsageError(f"--out: cannot write {path}: {getattr(error, 'strerror', None) or error}") from None


#: Where the sampling flags' defaults come from.
_RECOMMENDED_HELP = "the model's recommended value, from its model_index.json: pipe.recommended_settings()"


def _add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """--steps, --guidance, --lead-sheet-guidance, --sampler and --guidance-interval: declared once for every command
    that samples (generate, repaint, extend, evaluate, accompany), so their names, checks and help agree."""
    from ..pipelines.sampling_utils import REFERENCE_SAMPLER, SAMPLERS

    parser.add_argument("--steps", type=int, default=None, help=f"denoising steps (default: {_RECOMMENDED_HELP})")
    parser.add_argument(
        "--guidance",
        type=float,
        default=None,
        help=f"text guidance scale; 1 turns guidance off (default: {_RECOMMENDED_HELP})",
    )
    parser.add_argument(
        "--lead-sheet-guidance",
        type=float,
        default=None,
        help="lead-sheet guidance scale; > 1 pushes the audio further towards the chart at the cost of a third model "
        f"pass per guided step; 1 turns it off (default: {_RECOMMENDED_HELP})",
    )
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default="recommended",
        help="recommended (default): the model folder's scheduler, steps and guidance interval (for s2acc-demo the "
        f"fast sampler in its model card); reference: Euler, {REFERENCE_SAMPLER['num_inference_steps']} steps, "
        "guidance on every step, the slower sampler the model is trained for (--steps and --guidance-interval "
        "still win)",
    )
    parser.add_argument(
        "--guidance-interval",
        type=float,
        nargs=2,
        default=None,
        metavar=("START", "STOP"),
        help="guide only the steps i with START <= i / steps < STOP (fractions); the others take one model pass "
        "instead of two or three (default: the sampler's; 0 1 guides every step)",
    )


def _add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """--device and --dtype, declared once for every command that loads a pipeline."""
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default="auto",
        help="bfloat16: transformer and text encoder in bf16 (faster where the hardware has bf16); int8 (CPU): the "
        "transformer's linear layers quantised to dynamic int8, the rest float32; auto (default): int8 on CPUs (the "
        "fastest measured there, with or without native bf16, at equal quality), bfloat16 on CUDA devices that "
        "support it, else float32",
    )


def _apply_recommended(args: argparse.Namespace, pipe, kwargs: dict | None = None) -> None:
    """Fill --steps, --guidance, --lead-sheet-guidance and --guidance-interval left unset from the loaded
    pipeline's settings for --sampler (the same defaults Python, the Space and evaluate use), then check the
    combination."""
    sampler = getattr(args, "sampler", None)
    args.steps, args.guidance, args.lead_sheet_guidance = pipe.sampling_settings(
        args.steps, args.guidance, args.lead_sheet_guidance, sampler=sampler
    )
    try:
        args.guidance_interval = pipe.resolve_guidance_interval(getattr(args, "guidance_interval", None), sampler)
    except ValueError as error:
        raise UsageError(_name_flags(str(error), _GENERATE_FLAGS)) from None
    if args.steps < 1:
        raise UsageError("--steps must be >= 1")
    if args.guidance <= 1 and getattr(args, "lead_sheet", True) is not None and args.lead_sheet_guidance != 1:
        raise UsageError(
            f"--guidance {args.guidance:g} turns guidance off, and with it --lead-sheet-guidance "
            f"{args.lead_sheet_guidance:g}: pass --guidance > 1, or --lead-sheet-guidance 1 as well"
        )
    if kwargs is not None:
        kwargs.update(
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            lead_sheet_guidance_scale=args.lead_sheet_guidance,
            guidance_interval=args.guidance_interval,
            sampler=sampler,
        )
