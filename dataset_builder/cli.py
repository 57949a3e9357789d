"""Command line: `python -m dataset_builder synth|build|merge|evaluate ...`."""

from __future__ import annotations

import argparse
import json
import sys

from .config import BuildConfig


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    d = BuildConfig()
    parser.add_argument("--separation", choices=["none", "stems", "demucs"], default=d.separation)
    parser.add_argument("--segmenter", choices=["offline", "oracle", "learned"], default=d.segmenter)
    parser.add_argument("--captioner", choices=["template", "metadata", "lalm"], default=d.captioner)
    parser.add_argument("--quality", choices=["signal", "audiobox"], default=d.quality)
    parser.add_argument("--agreement", choices=["descriptors", "clap"], default=d.agreement)
    parser.add_argument("--no-melody", action="store_true", help="skip basic-pitch melody transcription")
    parser.add_argument(
        "--lead-sheets",
        choices=["estimated", "oracle"],
        default=d.lead_sheets,
        help="oracle: synth songs take their exact chart, tempo and melody from metadata (other files: estimated)",
    )
    parser.add_argument(
        "--clip-unit",
        choices=["section", "song"],
        default=d.clip_unit,
        help="song: one row per song holding every section (its caption, label and times) and a global prompt",
    )
    parser.add_argument("--sample-rate", type=int, default=d.sample_rate, help="corpus audio rate")
    parser.add_argument("--min-duration", type=float, default=d.min_duration, help="reject shorter files (s)")
    parser.add_argument("--min-segment", type=float, default=d.min_segment, help="drop shorter sections (s)")
    parser.add_argument("--keep-top", type=float, default=d.keep_top, help="fraction marked top by grade")
    parser.add_argument("--demucs-checkpoint")
    parser.add_argument("--segmenter-checkpoint", help="TorchScript structure model (see LearnedSegmenter)")
    parser.add_argument("--lalm-path", help="local Qwen2-Audio-Instruct style model folder")
    parser.add_argument("--audiobox-checkpoint")
    parser.add_argument("--clap-path", help="local transformers CLAP model folder")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dataset_builder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="render reproducible songs with exact metadata")
    synth.add_argument("--n", type=int, required=True)
    synth.add_argument("--out", required=True)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--num-workers", type=int, default=1)
    synth.add_argument("--sample-rate", type=int, default=44100)
    synth.add_argument("--soundfont", action="append", help="GM soundfont(s); default: all installed ones")
    synth.add_argument("--melody-prob", type=float, default=0.7)
    synth.add_argument("--section-bars", type=int, help="force every section to N bars (tiny test songs)")
    synth.add_argument("--max-sections", type=int, help="keep only the first N sections of each plan")
    synth.add_argument("--track-stems", action="store_true", help="also render one stem per MMA track")
    synth.add_argument("--families", help="comma-separated groove families to draw from (default: all)")
    synth.add_argument("--exclude-families", help="comma-separated groove families never to draw (held out)")
    synth.add_argument("--keys", help="comma-separated tonics to draw from, e.g. 'F#,Db' (default: all 12)")
    synth.add_argument("--exclude-keys", help="comma-separated tonics never to draw (held out), e.g. 'F#,Db'")
    synth.add_argument(
        "--charts",
        choices=["mixed", "classic"],
        default="mixed",
        help="chart generator: mixed (every chart family, most of MMA's styles) or classic (the 19 diatonic patterns "
        "and 16 styles of s2acc-demo v1/v2: the same --seed redraws their songs exactly)",
    )
    synth.add_argument("--chart-families", help="comma-separated chart families of the mixed generator (default: all)")
    synth.add_argument(
        "--render",
        choices=["gm", "realistic"],
        default="gm",
        help="gm: one GM soundfont with FluidSynth defaults (the songs of earlier releases); realistic: per-song "
        "soundfonts, AVL drum kit, humanised timing/velocity, pan/level, reverb/chorus and a master chain, all drawn "
        "from the seed and recorded in metadata.json",
    )

    build = sub.add_parser("build", help="turn an audio folder or a synth output into a corpus")
    build.add_argument("--input", required=True)
    build.add_argument("--out", required=True)
    build.add_argument("--num-workers", type=int, default=1)
    build.add_argument("--process-index", type=int)
    build.add_argument("--num-processes", type=int)
    build.add_argument("--push-to-hub", metavar="REPO")
    _add_build_options(build)

    merge = sub.add_parser("merge", help="assemble the corpus after sharded builds")
    merge.add_argument("--out", required=True)
    merge.add_argument("--keep-top", type=float)
    merge.add_argument("--push-to-hub", metavar="REPO")

    evaluate = sub.add_parser("evaluate", help="score the analysis of a synth-built corpus against ground truth")
    evaluate.add_argument("--corpus", required=True)
    evaluate.add_argument("--input", help="synth folder (default: the build's input, recorded in the corpus)")
    evaluate.add_argument("--json", help="also write the scores here")

    args = parser.parse_args(argv)
    try:
        return _run(args, parser)
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as error:
        # Bad options, missing inputs/checkpoints/binaries: one clear line instead of a traceback.
        print(f"error: {error}", file=sys.stderr)
        return 2


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _families(include: str | None, exclude: str | None) -> list[str] | None:
    from .synth.grooves import FAMILIES
    from .synth.plan import check_families

    if include is None and exclude is None:
        return None
    chosen = check_families(_names(include)) if include is not None else list(FAMILIES)
    dropped = check_families(_names(exclude)) if exclude is not None else []
    kept = [f for f in chosen if f not in dropped]
    if not kept:
        raise ValueError("--families / --exclude-families leave no groove family to draw from.")
    return kept


def _tonics(include: str | None, exclude: str | None) -> list[int] | None:
    from diffusers_s2acc.music.chords import parse_chord

    def parse_pitch_class(name: str) -> int:
        root = parse_chord(name).root
        if root is None or name.strip()[-1:] not in "ABCDEFGb#♯♭":
            raise ValueError(f"{name!r} is not a key tonic (write C, F#, Db, ...)")
        return root

    def parse(text: str, option: str) -> list[int]:
        names = _names(text)
        if not names:
            raise ValueError(f"{option} names no key.")
        try:
            return [parse_pitch_class(n) for n in names]
        except ValueError as error:
            raise ValueError(f"{option}: {error}") from None

    if include is None and exclude is None:
        return None
    chosen = parse(include, "--keys") if include is not None else list(range(12))
    dropped = parse(exclude, "--exclude-keys") if exclude is not None else []
    kept = [t for t in chosen if t not in dropped]
    if not kept:
        raise ValueError("--keys / --exclude-keys leave no tonic to draw from.")
    return kept


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "synth":
        from .synth import synthesize_corpus

        metadata = synthesize_corpus(
            args.n,
            args.out,
            args.seed,
            num_workers=args.num_workers,
            sample_rate=args.sample_rate,
            soundfonts=args.soundfont,
            melody_prob=args.melody_prob,
            section_bars=args.section_bars,
            max_sections=args.max_sections,
            track_stems=args.track_stems,
            families=_families(args.families, args.exclude_families),
            tonics=_tonics(args.keys, args.exclude_keys),
            charts=args.charts,
            chart_families=_names(args.chart_families) if args.chart_families is not None else None,
            render=args.render,
        )
        hours = sum(m["duration"] for m in metadata) / 3600
        print(f"synth: {len(metadata)} songs, {hours:.2f} hours in {args.out}")
        return 0
    if args.command == "build":
        from .build import run_build

        config = BuildConfig(
            separation=args.separation,
            segmenter=args.segmenter,
            captioner=args.captioner,
            quality=args.quality,
            agreement=args.agreement,
            melody=not args.no_melody,
            lead_sheets=args.lead_sheets,
            clip_unit=args.clip_unit,
            sample_rate=args.sample_rate,
            min_duration=args.min_duration,
            min_segment=args.min_segment,
            keep_top=args.keep_top,
            demucs_checkpoint=args.demucs_checkpoint,
            segmenter_checkpoint=args.segmenter_checkpoint,
            lalm_path=args.lalm_path,
            audiobox_checkpoint=args.audiobox_checkpoint,
            clap_path=args.clap_path,
        )
        summary = run_build(
            args.input,
            args.out,
            config,
            num_workers=args.num_workers,
            process_index=args.process_index,
            num_processes=args.num_processes,
            push_to_hub=args.push_to_hub,
        )
        print("build summary: " + json.dumps(summary))
        return 0
    if args.command == "merge":
        from .build import run_merge

        print("merge summary: " + json.dumps(run_merge(args.out, args.keep_top, args.push_to_hub)))
        return 0
    if args.command == "evaluate":
        from .evaluate import evaluate_corpus, format_table

        scores = evaluate_corpus(args.corpus, args.input)
        print(format_table(scores))
        if args.json:
            with open(args.json, "w") as stream:
                json.dump(scores, stream, indent=1)
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
