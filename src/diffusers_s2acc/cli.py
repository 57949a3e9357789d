"""The `s2acc` command line."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Sequence

from .cli_common import (
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
    _read_input_text,
    _resolve_device,
    _write_audio,
)
from .pipelines.sampling_utils import DEFAULT_CROSSFADE_IN_S
from .presets import PRESETS
from .pretrained import DEFAULT_PIPELINE


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one clear line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="s2acc", description="S2Accompanist: structure-aware accompaniment generation.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
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

    ev = commands.add_parser("evaluate", help="generate from a spec file and print every metric")
    ev.add_argument("--pipeline", default=DEFAULT_PIPELINE, help=f"as for generate (default: {DEFAULT_PIPELINE})")
    ev.add_argument("--specs", type=Path, required=True, help="JSON spec file (see diffusers_s2acc.evaluation.specs)")
    _add_sampling_arguments(ev)
    ev.add_argument("--seeds", type=int, default=1, help="takes per spec (seeds spec.seed + 1000 k); scores are means")
    ev.add_argument(
        "--no-lead-sheet-floor",
        action="store_true",
        help="add a no_lead_sheet column: the same takes with the lead sheet dropped, scored against the chart",
    )
    ev.add_argument("--limit", type=int, default=None, help="evaluate only the first N specs (N >= 1)")
    ev.add_argument("--clap", default=None, help="local CLAP model folder: FAD and caption adherence use CLAP")
    ev.add_argument("--save-audio", type=Path, default=None, help="folder for the generated clips")
    ev.add_argument("--json", type=Path, default=None, help="write all scores (per spec and means) here")
    ev.add_argument("--overwrite", action="store_true", help="replace an existing --json file and --save-audio clips")
    ev.add_argument(
        "--reconstruction",
        action="store_true",
        help="also score each reference after a VAE round trip: the ceiling the VAE sets for any transformer",
    )
    _add_device_arguments(ev)

    specs = commands.add_parser("make-specs", help="evaluation specs from dataset_builder synth songs")
    specs.add_argument("--synth", type=Path, required=True, help="a `python -m dataset_builder synth` output folder")
    specs.add_argument(
        "--duration", type=float, default=10.0, help="seconds per spec (the ATTM challenge scores 10 s)"
    )
    specs.add_argument("--stem", default="accompaniment", help="reference stem: accompaniment or mix")
    specs.add_argument("--out", type=Path, required=True, help="the spec file to write (.json)")
    specs.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
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
    specs.add_argument(
        "--lead-sheet-parts",
        choices=["chords", "melody", "chords+melody"],
        default="chords",
        help="what the takes are given besides tempo and meter; with 'melody' they are still scored against the "
        "song's chart (songs without a melody are skipped)",
    )
    specs.add_argument("--seed", type=int, default=0, help="draws windows and wordings")

    probe = commands.add_parser(
        "probe-vae", help="how much lead sheet a VAE's latent carries: semantic-head and linear-probe accuracies"
    )
    probe.add_argument(
        "--vae",
        default=DEFAULT_PIPELINE,
        help="a pipeline (shipped name or folder with vae/), a VAE folder, or a preset (random weights: the chance floor)",
    )
    probe.add_argument(
        "--fit-data", type=Path, required=True, help="corpus (dataset_builder build) to fit the probe on"
    )
    probe.add_argument("--eval-data", type=Path, required=True, help="held-out corpus to score on")
    probe.add_argument("--max-songs", type=int, default=None, help="at most this many songs from each corpus")
    probe.add_argument("--seconds", type=float, default=60.0, help="seconds from the start of each song")
    probe.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    probe.add_argument("--overwrite", action="store_true", help="replace --json if it exists")

    from .cli_accompany import add_accompany_parser

    add_accompany_parser(commands)

    from .space.app import add_arguments as add_space_arguments

    space_parser = commands.add_parser("space", help="start the Gradio Space (the section-by-section editor) locally")
    add_space_arguments(space_parser)
    return parser


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


_EVALUATE_FLAGS = {
    key: _GENERATE_FLAGS[key] for key in ("`num_inference_steps`", "`guidance_scale`", "`lead_sheet_guidance_scale`")
}
# What each editing command says instead of the Python API's wording (flags it has, the command that does it).
_REPAINT_WORDING = {"extend the piece first": "extend the piece first (s2acc extend)"}
_EXTEND_WORDING = {
    "Nothing to generate: give `section` or `region_start_in_s`/`region_end_in_s` to regenerate, or make "
    "`audio_length_in_s` (or the end of the last of the `segments`) reach past": "Nothing to generate: make "
    "--duration (or the end of the last of --segments) reach past",
}


def _write_json(flag: str, path: Path, data) -> None:
    """Write JSON text through the package's atomic writer (beside the target, then renamed); strict JSON (no NaN)."""
    from .audio import write_atomically

    text = json.dumps(data, indent=1, allow_nan=False)
    try:
        write_atomically(path, lambda partial: partial.write_text(text))
    except OSError as error:
        raise UsageError(f"{flag}: cannot write {path}: {error.strerror or error}") from None


def _load_lead_sheet(chart: str | None, bpm: float | None, meter: str | None):
    """`--lead-sheet` as a chart or a JSON file. `--bpm`/`--meter` only describe a chart: given without one they
    would be silently ignored, so they are refused with the reason instead."""
    from .music.lead_sheet import LeadSheet

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

    from .audio import WRITE_EXTENSIONS

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
        from .audio import write_atomically

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
    from .pipelines.pipeline_s2accompanist_repaint import S2AccompanistRepaintPipeline

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


def evaluate(args: argparse.Namespace) -> int:
    from .evaluation.run import evaluate_specs, format_report, take_file_names
    from .evaluation.specs import load_specs

    _read_input_text("--specs", args.specs)  # a folder, a missing or non-UTF-8 file: one line, before any work
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be >= 1 (the number of specs to evaluate), got {args.limit}")
    try:
        specs = load_specs(args.specs)[: args.limit]
    except ValueError as error:
        raise UsageError(f"--specs: {error}") from None
    # Every output is checked before the first take: the spec file itself is never an output.
    protect = (args.specs,)
    _check_output("--json", args.json, args.overwrite, extensions=(".json",), protect=protect)
    _check_output("--save-audio", args.save_audio, args.overwrite, folder=True, protect=protect)
    if args.save_audio is not None:
        try:
            names = take_file_names(specs, args.seeds, args.no_lead_sheet_floor)
        except ValueError as error:
            raise UsageError(f"--save-audio: {error}") from None
        for name in names:
            _check_output("--save-audio", args.save_audio / name, args.overwrite, protect=protect)
    if args.steps is not None and args.steps < 1:
        raise UsageError("--steps must be >= 1")
    if args.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {args.seeds}")
    embedding = agreement = None
    if args.clap is not None:
        from .evaluation.agreement import ClapAgreement
        from .evaluation.embeddings import ClapEmbedding

        try:
            embedding, agreement = ClapEmbedding(args.clap), ClapAgreement(args.clap)
        except OSError as error:  # a missing folder or one that holds no CLAP model
            raise UsageError(f"--clap: {str(error).strip().splitlines()[0]}") from None
    device = _resolve_device(args.device)
    pipe = _load_pipeline(args.pipeline, device, args.dtype)
    pipe.set_progress_bar_config(disable=True)
    _apply_recommended(args, pipe)
    done: list[dict] = []

    def keep(row: dict) -> None:
        # Each spec's scores go to --json as soon as they exist: a run interrupted or failing on a later spec keeps
        # every score made so far (marked partial); the complete result replaces them at the end.
        done.append(row)
        _write_json("--json", args.json, _finite_json({"partial": f"{len(done)} of {len(specs)} specs", "rows": done}))

    def kept() -> str:
        return f" (the scores of the {len(done)} spec(s) done are in {args.json})" if done else ""

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
            guidance_interval=args.guidance_interval,
            sampler=args.sampler,
            on_row=keep if args.json is not None else None,
        )
    except ValueError as error:
        raise UsageError(_name_flags(str(error), _EVALUATE_FLAGS) + kept()) from None
    except KeyboardInterrupt:
        print(f"s2acc evaluate: interrupted after {len(done)} of {len(specs)} specs{kept()}", file=sys.stderr)
        return 130
    if args.json is not None:  # first: the scores are the run's result, the table only shows them
        _write_json("--json", args.json, _finite_json(result))
    print(format_report(result))
    return 0


def _finite_json(value):
    """`value` with NaN/inf floats as None: strict JSON, which every reader accepts."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(item) for item in value]
    return value


def make_specs(args: argparse.Namespace) -> int:
    from .evaluation.specs import specs_from_synth

    if not (math.isfinite(args.duration) and args.duration > 0):
        raise UsageError(f"--duration must be a positive number of seconds, got {args.duration}")
    _check_output("--out", args.out, args.overwrite, extensions=(".json",))
    try:
        specs = specs_from_synth(
            args.synth,
            args.duration,
            args.stem,
            windows=args.windows,
            windows_per_song=args.windows_per_song,
            phrasing=args.phrasing,
            seed=args.seed,
            lead_sheet_parts=args.lead_sheet_parts,
            relative_to=args.out.parent,
        )
    except (ValueError, KeyError) as error:
        raise UsageError(f"--synth: {error}") from None
    _write_json("--out", args.out, specs)
    print(f"Wrote {len(specs)} specs to {args.out.resolve()}")
    return 0


def probe_vae(args: argparse.Namespace) -> int:
    from .evaluation.vae_probe import probe_vae as run_probe
    from .training.corpus import load_corpus
    from .training.loading import load_starting_vae

    if args.seconds <= 0:
        raise UsageError("--seconds must be positive")
    if args.max_songs is not None and args.max_songs < 1:
        raise UsageError("--max-songs must be at least 1")
    _check_output("--json", args.json, args.overwrite, extensions=(".json",))
    looks_like_path = args.vae.startswith((".", "/", "~")) or args.vae.count("/") > 1
    if looks_like_path and not os.path.isdir(os.path.expanduser(args.vae)):
        raise UsageError(f"--vae: {args.vae!r} is not a folder")
    try:
        vae = load_starting_vae(os.path.expanduser(args.vae) if looks_like_path else args.vae)
    except Exception as error:  # any loading failure is the user's path/repo: say which and why, in one line
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"--vae: cannot load a SemanticAutoencoder from {args.vae!r}: {first_line}") from None
    corpora = {}
    for flag, path in (("--fit-data", args.fit_data), ("--eval-data", args.eval_data)):
        try:
            corpus = load_corpus(train_data_dir=str(path))
        except ValueError as error:
            raise UsageError(f"{flag}: {error}") from None
        corpora[flag] = corpus.select(range(min(len(corpus), args.max_songs or len(corpus))))
    try:
        report = run_probe(vae, corpora["--fit-data"], corpora["--eval-data"], max_seconds=args.seconds)
    except ValueError as error:
        raise UsageError(str(error)) from None
    values = report.to_dict()
    for key, value in values.items():
        if key != "details":
            print(f"{key:28s} {value:.3f}" if isinstance(value, float) else f"{key:28s} {value}")
    if args.json is not None:
        _write_json("--json", args.json, _finite_json(values))
    return 0


def space(args: argparse.Namespace) -> int:
    """Serve the Space (spaces/app.py starts the same app) until interrupted."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise UsageError("the Space needs Gradio: pip install -e '.[space]'") from None
    from .space.app import launch

    try:
        launch(args)
    except ValueError as error:  # the Space's one-line --pipeline/--device errors
        raise UsageError(str(error)) from None
    return 0


def _accompany(args: argparse.Namespace) -> int:
    from .cli_accompany import accompany

    return accompany(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        commands = {
            "generate": generate,
            "repaint": repaint,
            "extend": extend,
            "evaluate": evaluate,
            "make-specs": make_specs,
            "space": space,
            "probe-vae": probe_vae,
            "accompany": _accompany,
        }
        return commands[args.command](args)
    except UsageError as error:
        print(f"s2acc {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
