"""`s2acc evaluate`, `s2acc make-specs` and `s2acc probe-vae`: scoring a pipeline on a spec file, writing spec
files from synthesised songs, and measuring how much lead sheet a VAE's latent carries."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from ..pretrained import DEFAULT_PIPELINE
from .common import (
    _GENERATE_FLAGS,
    UsageError,
    _add_device_arguments,
    _add_sampling_arguments,
    _apply_recommended,
    _check_output,
    _load_pipeline,
    _name_flags,
    _read_input_text,
    _resolve_device,
)


def add_evaluation_parsers(commands) -> None:
    """Register `evaluate`, `make-specs` and `probe-vae` on the `s2acc` sub-command parser."""
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


_EVALUATE_FLAGS = {
    key: _GENERATE_FLAGS[key] for key in ("`num_inference_steps`", "`guidance_scale`", "`lead_sheet_guidance_scale`")
}


def _write_json(flag: str, path: Path, data) -> None:
    """Write JSON text through the package's atomic writer (beside the target, then renamed); strict JSON (no NaN)."""
    from ..audio import write_atomically

    text = json.dumps(data, indent=1, allow_nan=False)
    try:
        write_atomically(path, lambda partial: partial.write_text(text))
    except OSError as error:
        raise UsageError(f"{flag}: cannot write {path}: {error.strerror or error}") from None


def evaluate(args: argparse.Namespace) -> int:
    from ..evaluation.run import evaluate_specs, format_report, take_file_names
    from ..evaluation.specs import load_specs

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
        from ..evaluation.agreement import ClapAgreement
        from ..evaluation.embeddings import ClapEmbedding

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
    from ..evaluation.specs import specs_from_synth

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
    from ..evaluation.vae_probe import probe_vae as run_probe
    from ..training.corpus import load_corpus
    from ..training.loading import load_starting_vae

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
