"""`s2acc generate`, `s2acc repaint` and `s2acc extend`: a piece from segments and a lead sheet, then edits of it
(one section or span regenerated, sections appended), written as audio and, on request, as latents."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ..pipelines.sampling_utils import DEFAULT_CROSSFADE_IN_S
from ..presets import PRESETS
from ..pretrained import DEFAULT_PIPELINE
from .common import (
    _GENERATE_FLAGS,
    SEED_MAX,
    SEED_MIN,
    UsageError,
    _add_device_arguments,
    _add_sampling_arguments,
    _apply_recommended,
    _check_output,
    _load_pipeline,
    _load_segments,
    _name_flags,
    _resolve_device,
    _write_audio,
)


def add_generation_parsers(commands) -> None:
    """Register `generate`, `repaint` and `extend` on the `s2acc` sub-command parser."""
    gen = commands.add_parser("generate", help="generate accompaniment audio (any length: window by window)")
    _add_generation_arguments(gen, duration_help="seconds (default: end of the last segment, else the chart)")

    rep = commands.add_parser("repaint", help="regenerate one section (or a span) of a piece, keeping the rest")
    _add_generation_arguments(
        rep, duration_help="seconds of the output (default: the source's length, or the end of the last segment)"
    )
    _add_source_arguments(rep)
    rep.add_argument(
        "--section",
        type=int,
        default=None,
        help="regenerate the N-th section of --segments, counted in the file's order (1 = first)",
    )
    rep.add_argument("--start", type=float, default=None, help="or regenerate from this time (s; default 0)")
    rep.add_argument("--end", type=float, default=None, help="... to this time (s; default the source's end)")
    rep.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help="repaint strength in (0, 1]: 1 regenerates the region from noise, lower keeps more of it (default 1)",
    )

    ext = commands.add_parser("extend", help="append sections after the end of a piece, continuing it")
    _add_generation_arguments(
        ext,
        duration_help="seconds of the whole output (default: the end of the last segment, which must lie past "
        "the source's end)",
    )
    _add_source_arguments(ext)


def _add_generation_arguments(parser: argparse.ArgumentParser, duration_help: str) -> None:
    """The flags `generate`, `repaint` and `extend` share: what to generate, how, and where to write it."""
    parser.add_argument(
        "--pipeline",
        default=DEFAULT_PIPELINE,
        help=f"pipeline folder, Hub repo id (resolved from the local cache when offline), a shipped trained pipeline "
        f"(default: {DEFAULT_PIPELINE}), or a preset ({', '.join(PRESETS)}) for an untrained, randomly initialised one",
    )
    parser.add_argument("--prompt", default="", help="global description every section sees (optional)")
    parser.add_argument("--negative-prompt", default=None)
    parser.add_argument("--segments", type=Path, help="JSON file: a list of {start, end, label, caption}")
    parser.add_argument("--lead-sheet", help='one-line chord chart, e.g. "C | Am | F | G", or a lead-sheet JSON file')
    parser.add_argument(
        "--bpm",
        type=float,
        default=None,
        help="tempo of a --lead-sheet chart (default 120): quarter notes per minute, dotted quarters in 6/8, 9/8, 12/8",
    )
    parser.add_argument("--meter", default=None, help="meter of a --lead-sheet chart (default 4/4)")
    parser.add_argument("--duration", type=float, help=duration_help)
    _add_sampling_arguments(parser)
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"random seed, in [{SEED_MIN}, {SEED_MAX}] (generate: default 0; repaint and extend: default a new "
        "seed, printed, so that the region is not the source's own take again)",
    )
    _add_device_arguments(parser)
    parser.add_argument(
        "--crossfade",
        type=float,
        default=DEFAULT_CROSSFADE_IN_S,
        help=f"seconds (not frames) of cross-fade where kept and new audio (or consecutive windows) meet (default "
        f"{DEFAULT_CROSSFADE_IN_S:g})",
    )
    parser.add_argument("--out", type=Path, required=True, help="output .wav (or .flac) path")
    parser.add_argument("--overwrite", action="store_true", help="replace --out (and --save-latents) if it exists")
    parser.add_argument(
        "--save-latents",
        type=Path,
        default=None,
        help="also write the output's latents (.safetensors): `repaint`/`extend --latents` then edit the piece exactly",
    )


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--audio", type=Path, help="the piece to edit: an audio file (any rate, mono or stereo)")
    source.add_argument("--latents", type=Path, help="or its latents, from --save-latents (exact, no re-encoding)")


# What each editing command says instead of the Python API's wording (flags it has, the command that does it).
_REPAINT_WORDING = {"extend the piece first": "extend the piece first (s2acc extend)"}
_EXTEND_WORDING = {
    "Nothing to generate: give `section` or `region_start_in_s`/`region_end_in_s` to regenerate, or make "
    "`audio_length_in_s` (or the end of the last of the `segments`) reach past": "Nothing to generate: make "
    "--duration (or the end of the last of --segments) reach past",
}


def _load_lead_sheet(chart: str | None, bpm: float | None, meter: str | None):
    """`--lead-sheet` as a chart or a JSON file. `--bpm`/`--meter` only describe a chart: given without one they
    would be silently ignored, so they are refused with the reason instead."""
    from ..music.lead_sheet import LeadSheet

    timing = " and ".join(flag for flag, value in (("--bpm", bpm), ("--meter", meter)) if value is not None)
    if chart is None:
        if timing:
            raise UsageError(f"{timing}: set the tempo/meter of a --lead-sheet chart, and no --lead-sheet was given")
        return None
    is_file = chart.endswith(".json") or os.path.isfile(chart) or os.path.isdir(chart)
    if is_file and timing:
        raise UsageError(f"{timing}: apply to a chart; the lead-sheet file {chart} sets its own tempo and meter")
    try:
        if is_file:
            return LeadSheet.from_json(chart)
        return LeadSheet.from_chart(chart, bpm=120.0 if bpm is None else bpm, meter="4/4" if meter is None else meter)
    except (ValueError, OSError) as error:
        raise UsageError(f"--lead-sheet: {error}") from None


def _prepare_generation(args: argparse.Namespace) -> tuple[dict, str]:
    """Check the shared flags (before any model loads) and return the pipeline keyword arguments and the device."""
    import torch

    from ..audio import WRITE_EXTENSIONS

    inputs = [p for p in (args.segments, getattr(args, "audio", None), getattr(args, "latents", None)) if p]
    _check_output("--out", args.out, args.overwrite, extensions=WRITE_EXTENSIONS, protect=tuple(inputs))
    _check_output(
        "--save-latents", args.save_latents, args.overwrite, extensions=(".safetensors",), protect=tuple(inputs)
    )
    if args.save_latents is not None and args.save_latents.resolve() == args.out.resolve():
        raise UsageError("--save-latents: name another file than --out")
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise UsageError(f"--duration must be a positive number of seconds, got {args.duration}")
    if args.seed is None:
        if args.command == "generate":
            args.seed = 0
        else:
            # An edit with the source's own seed (0 by default) would draw the same take for the region again.
            import secrets

            args.seed = secrets.randbelow(2**31)
            print(f"s2acc {args.command}: seed {args.seed} (pass --seed {args.seed} to repeat this take)")
    if not SEED_MIN <= args.seed <= SEED_MAX:
        raise UsageError(f"--seed must be an integer in [{SEED_MIN}, {SEED_MAX}], got {args.seed}")
    if args.steps is not None and args.steps < 1:  # before loading; the rest once the defaults are known
        raise UsageError("--steps must be >= 1")
    device = _resolve_device(args.device)
    kwargs = dict(
        prompt=args.prompt,
        segments=_load_segments(args.segments),
        lead_sheet=_load_lead_sheet(args.lead_sheet, args.bpm, args.meter),
        audio_length_in_s=args.duration,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        lead_sheet_guidance_scale=args.lead_sheet_guidance,
        negative_prompt=args.negative_prompt,
        crossfade_in_s=args.crossfade,
        generator=torch.Generator(device=device).manual_seed(args.seed),
    )
    return kwargs, device


def _generate_and_write(pipe, args: argparse.Namespace, kwargs: dict, wording: dict | None = None) -> int:
    """Run `pipe`, write `--out` (and `--save-latents`) and say where; pipeline errors name the flags."""
    _apply_recommended(args, pipe, kwargs)
    try:
        output = pipe(**kwargs)
    except ValueError as error:
        raise UsageError(_name_flags(_name_flags(str(error), wording or {}), _GENERATE_FLAGS)) from None
    audio = output.audios[0]
    sampling_rate = pipe.vae.config.sampling_rate
    _write_audio(args.out, audio, sampling_rate)
    seconds = audio.shape[-1] / sampling_rate
    print(f"Wrote {seconds:.2f} s of audio ({audio.shape[0]} ch, {sampling_rate} Hz) to {args.out.resolve()}")
    if args.save_latents is not None:
        import torch
        from safetensors.torch import save_file

        tensors = {"latents": output.latents[:1].float().cpu().contiguous()}
        if "source_audio" in kwargs:
            # The output audio is the source's own outside the region, not the decoding of these latents: keep it,
            # so that `--latents` edits of this take keep the original audio too (chained edits lose nothing).
            tensors["audio"] = torch.from_numpy(audio).float().contiguous()
        from ..audio import write_atomically

        try:
            write_atomically(
                args.save_latents,
                lambda partial: save_file(tensors, str(partial), metadata={"sampling_rate": str(sampling_rate)}),
            )
        except OSError as error:
            raise UsageError(
                f"--save-latents: cannot write {args.save_latents}: {error.strerror or error} (the audio is in "
                f"{args.out})"
            ) from None
        print(f"Wrote its latents to {args.save_latents.resolve()}")
    return 0


def generate(args: argparse.Namespace) -> int:
    kwargs, device = _prepare_generation(args)
    pipe = _load_pipeline(args.pipeline, device, args.dtype)
    return _generate_and_write(pipe, args, kwargs)


def _load_source(args: argparse.Namespace) -> dict:
    """`--audio` (read by the pipeline through `diffusers_s2acc.audio`) or `--latents` (a --save-latents file)."""
    if args.audio is not None:
        if args.audio.is_dir():
            raise UsageError(f"--audio: {args.audio} is a folder, not an audio file")
        if not args.audio.is_file():
            raise UsageError(f"--audio: no such file {args.audio}")
        return {"source_audio": str(args.audio)}
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not args.latents.is_file():
        raise UsageError(f"--latents: no such file {args.latents}")
    try:
        tensors = load_file(str(args.latents))
        from safetensors import safe_open

        with safe_open(str(args.latents), "pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise UsageError(f"--latents: {args.latents} is not a --save-latents file ({error})") from None
    if set(tensors) not in ({"latents"}, {"latents", "audio"}):
        raise UsageError(f"--latents: {args.latents} holds {sorted(tensors)}, not the tensor 'latents'")
    source = {"source_latents": tensors["latents"]}
    if "audio" in tensors:  # an edit of an audio file: its audio outside the region is kept exactly
        try:
            rate = int(metadata["sampling_rate"])
        except (KeyError, ValueError):
            raise UsageError(f"--latents: {args.latents} holds audio without its sampling rate") from None
        source.update(source_audio=tensors["audio"].numpy(), source_sampling_rate=rate)
    return source


def _repaint_pipeline(args: argparse.Namespace, device: str):
    from ..pipelines.pipeline_s2accompanist_repaint import S2AccompanistRepaintPipeline

    return S2AccompanistRepaintPipeline.from_pipe(_load_pipeline(args.pipeline, device, args.dtype))


def repaint(args: argparse.Namespace) -> int:
    kwargs, device = _prepare_generation(args)
    if args.section is not None:
        if args.start is not None or args.end is not None:
            raise UsageError("--section: give the region as --section or as --start/--end, not both")
        if kwargs["segments"] is None:
            raise UsageError("--section: numbers a section of --segments, and no --segments file was given")
        if not 1 <= args.section <= len(kwargs["segments"]):
            raise UsageError(
                f"--section {args.section}: the --segments file has {len(kwargs['segments'])} section(s), numbered "
                f"from 1"
            )
        kwargs["section"] = args.section - 1
    elif args.start is None and args.end is None:
        raise UsageError("give the region to regenerate: --section N, or --start and/or --end in seconds")
    else:
        kwargs.update(region_start_in_s=args.start, region_end_in_s=args.end)
    if not (math.isfinite(args.strength) and 0 < args.strength <= 1):
        raise UsageError(f"--strength must be in (0, 1], got {args.strength}")
    kwargs.update(_load_source(args), repaint_strength=args.strength)
    return _generate_and_write(_repaint_pipeline(args, device), args, kwargs, _REPAINT_WORDING)


def extend(args: argparse.Namespace) -> int:
    kwargs, device = _prepare_generation(args)
    kwargs.update(_load_source(args))
    return _generate_and_write(_repaint_pipeline(args, device), args, kwargs, _EXTEND_WORDING)
