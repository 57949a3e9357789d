"""The `s2acc` command line."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Sequence

from .presets import PRESETS
from .pretrained import DEFAULT_PIPELINE


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one clear line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """A problem with the user's arguments or files: reported as one line, exit code 2."""


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="s2acc", description="S2Accompanist: structure-aware accompaniment generation.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    gen = commands.add_parser("generate", help="generate accompaniment audio")
    gen.add_argument(
        "--pipeline",
        default=DEFAULT_PIPELINE,
        help=f"pipeline folder, Hub repo id (resolved from the local cache when offline), a shipped trained pipeline "
        f"(default: {DEFAULT_PIPELINE}), or a preset ({', '.join(PRESETS)}) for an untrained, randomly initialised one",
    )
    gen.add_argument("--prompt", default="", help="global description every section sees")
    gen.add_argument("--negative-prompt", default=None)
    gen.add_argument("--segments", type=Path, help="JSON file: a list of {start, end, label, caption}")
    gen.add_argument("--lead-sheet", help='one-line chord chart, e.g. "C | Am | F | G", or a lead-sheet JSON file')
    gen.add_argument("--bpm", type=float, default=120.0, help="tempo of --lead-sheet chart (default 120)")
    gen.add_argument("--meter", default="4/4", help="meter of --lead-sheet chart (default 4/4)")
    gen.add_argument("--duration", type=float, help="seconds (default: end of the last segment, else the chart)")
    gen.add_argument("--steps", type=int, default=50)
    gen.add_argument("--guidance", type=float, default=4.0)
    gen.add_argument(
        "--lead-sheet-guidance",
        type=float,
        default=1.0,
        help="lead-sheet guidance scale; > 1 pushes the audio further towards the chart (a third model pass)",
    )
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    gen.add_argument("--out", type=Path, required=True, help="output .wav (or .flac) path")
    gen.add_argument("--overwrite", action="store_true", help="replace --out if it exists")

    ev = commands.add_parser("evaluate", help="generate from a spec file and print every metric")
    ev.add_argument("--pipeline", default=DEFAULT_PIPELINE, help=f"as for generate (default: {DEFAULT_PIPELINE})")
    ev.add_argument("--specs", type=Path, required=True, help="JSON spec file (see diffusers_s2acc.evaluation.specs)")
    ev.add_argument("--steps", type=int, default=50)
    ev.add_argument("--guidance", type=float, default=4.0)
    ev.add_argument("--lead-sheet-guidance", type=float, default=1.0, help="as for generate")
    ev.add_argument("--seeds", type=int, default=1, help="takes per spec (seeds spec.seed + 1000 k); scores are means")
    ev.add_argument(
        "--no-lead-sheet-floor",
        action="store_true",
        help="add a no_lead_sheet column: the same takes with the lead sheet dropped, scored against the chart",
    )
    ev.add_argument("--limit", type=int, default=None, help="evaluate only the first N specs")
    ev.add_argument("--clap", default=None, help="local CLAP model folder: FAD and caption adherence use CLAP")
    ev.add_argument("--save-audio", type=Path, default=None, help="folder for the generated clips")
    ev.add_argument("--json", type=Path, default=None, help="write all scores (per spec and means) here")
    ev.add_argument(
        "--reconstruction",
        action="store_true",
        help="also score each reference after a VAE round trip: the ceiling the VAE sets for any transformer",
    )
    ev.add_argument("--device", default=None)

    specs = commands.add_parser("make-specs", help="evaluation specs from dataset_builder synth songs")
    specs.add_argument("--synth", type=Path, required=True, help="a `python -m dataset_builder synth` output folder")
    specs.add_argument("--duration", type=float, default=10.0, help="seconds per spec (the ATTM challenge scores 10 s)")
    specs.add_argument("--stem", default="accompaniment", help="reference stem: accompaniment or mix")
    specs.add_argument("--out", type=Path, required=True)
    specs.add_argument(
        "--windows",
        choices=["opening", "boundaries"],
        default="opening",
        help="opening: each song's first --duration s; boundaries: windows from inside songs, each crossing a section "
        "boundary",
    )
    specs.add_argument("--windows-per-song", type=int, default=1, help="with --windows boundaries")
    specs.add_argument(
        "--phrasing",
        choices=["train", "heldout"],
        default="train",
        help="heldout: prompt and caption wordings that no training caption uses (out-of-distribution set)",
    )
    specs.add_argument("--seed", type=int, default=0, help="draws windows and wordings")
    return parser


def _load_segments(path: Path | None) -> list | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--segments: no such file {path}") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"--segments: {path} is not valid JSON ({error.msg}, line {error.lineno})") from None
    if isinstance(data, dict) and "segments" in data:
        data = data["segments"]
    if not isinstance(data, list):
        raise UsageError(f"--segments: {path} must hold a list of segments")
    return data


def _load_lead_sheet(chart: str | None, bpm: float, meter: str):
    from .music.lead_sheet import LeadSheet

    if chart is None:
        return None
    try:
        if chart.endswith(".json") or os.path.isfile(chart):
            return LeadSheet.from_json(chart)
        return LeadSheet.from_chart(chart, bpm=bpm, meter=meter)
    except (ValueError, OSError, json.JSONDecodeError) as error:
        raise UsageError(f"--lead-sheet: {error}") from None


def _load_pipeline(name: str, device: str):
    import torch
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()  # loading bars; the generation bar stays

    from .pipelines.pipeline_s2accompanist import S2AccompanistPipeline
    from .presets import build_pipeline

    if name in PRESETS and not os.path.isdir(name):
        print(f"s2acc: warning: preset {name!r} has UNTRAINED random weights; its audio is noise.", file=sys.stderr)
        pipe = build_pipeline(name)
    else:
        try:
            pipe = S2AccompanistPipeline.from_pretrained(name)
        except Exception as error:  # any loading failure is the user's path/repo: say which and why, in one line
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UsageError(f"--pipeline: cannot load {name!r}: {first_line}") from None
    return pipe.to(torch.device(device))


def _write_audio(path: Path, audio, sampling_rate: int) -> None:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target, then rename: an interrupted run never leaves a truncated file under the real name.
    partial = path.with_name(f".{path.name}.partial")
    soundfile.write(partial, audio.T, sampling_rate, subtype="FLOAT", format=path.suffix.lstrip(".").upper())
    os.replace(partial, path)


def generate(args: argparse.Namespace) -> int:
    import torch

    if args.out.suffix.lower() not in (".wav", ".flac"):
        raise UsageError(f"--out: unsupported extension {args.out.suffix!r}; use .wav or .flac")
    if args.out.exists() and not args.overwrite:
        raise UsageError(f"--out: {args.out} exists; pass --overwrite to replace it")
    if not math.isfinite(args.lead_sheet_guidance):
        raise UsageError(f"--lead-sheet-guidance must be a finite number, got {args.lead_sheet_guidance}")
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise UsageError(f"--duration must be a positive number of seconds, got {args.duration}")
    segments = _load_segments(args.segments)
    lead_sheet = _load_lead_sheet(args.lead_sheet, args.bpm, args.meter)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    pipe = _load_pipeline(args.pipeline, device)
    try:
        audio = pipe(
            prompt=args.prompt,
            segments=segments,
            lead_sheet=lead_sheet,
            audio_length_in_s=args.duration,
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            lead_sheet_guidance_scale=args.lead_sheet_guidance,
            negative_prompt=args.negative_prompt,
            generator=torch.Generator(device=device).manual_seed(args.seed),
        ).audios[0]
    except ValueError as error:
        raise UsageError(str(error)) from None
    sampling_rate = pipe.vae.config.sampling_rate
    _write_audio(args.out, audio, sampling_rate)
    seconds = audio.shape[-1] / sampling_rate
    print(f"Wrote {seconds:.2f} s of audio ({audio.shape[0]} ch, {sampling_rate} Hz) to {args.out.resolve()}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    import torch

    from .evaluation.run import evaluate_specs, format_report
    from .evaluation.specs import load_specs

    try:
        specs = load_specs(args.specs)[: args.limit]
    except ValueError as error:
        raise UsageError(f"--specs: {error}") from None
    if args.steps < 1:
        raise UsageError("--steps must be >= 1")
    if args.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {args.seeds}")
    if not math.isfinite(args.lead_sheet_guidance):
        raise UsageError(f"--lead-sheet-guidance must be a finite number, got {args.lead_sheet_guidance}")
    embedding = agreement = None
    if args.clap is not None:
        from dataset_builder.stages.grading import ClapAgreement

        from .evaluation.embeddings import ClapEmbedding

        embedding, agreement = ClapEmbedding(args.clap), ClapAgreement(args.clap)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    pipe = _load_pipeline(args.pipeline, device)
    pipe.set_progress_bar_config(disable=True)
    try:
        result = evaluate_specs(
            pipe,
            specs,
            args.steps,
            args.guidance,
            embedding,
            agreement,
            args.save_audio,
            args.reconstruction,
            num_seeds=args.seeds,
            lead_sheet_guidance_scale=args.lead_sheet_guidance,
            lead_sheet_floor=args.no_lead_sheet_floor,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(format_report(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


def make_specs(args: argparse.Namespace) -> int:
    from .evaluation.specs import specs_from_synth

    if args.duration <= 0:
        raise UsageError("--duration must be positive")
    try:
        specs = specs_from_synth(
            args.synth,
            args.duration,
            args.stem,
            windows=args.windows,
            windows_per_song=args.windows_per_song,
            phrasing=args.phrasing,
            seed=args.seed,
        )
    except (ValueError, KeyError) as error:
        raise UsageError(f"--synth: {error}") from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(specs, indent=1))
    print(f"Wrote {len(specs)} specs to {args.out.resolve()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return {"generate": generate, "evaluate": evaluate, "make-specs": make_specs}[args.command](args)
    except UsageError as error:
        print(f"s2acc {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
