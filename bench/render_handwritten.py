"""Render the hand-written chart benchmark (`bench/charts/handwritten.json`) into an evaluation spec file.

    PYTHONPATH=src:. python bench/render_handwritten.py --out /tmp/bench_hw [--seeds 0 1] [--score]

Writes `OUT/<id>/accompaniment.flac` (MMA + FluidSynth, through `dataset_builder.synth.render`), `OUT/specs.json`
(the `diffusers_s2acc.evaluation.specs` format, one spec per chart and seed, ids `<id>_s<seed>`, reference paths
relative to the spec file) and `OUT/tags.json` (`{spec_id: [tags]}`, with each chart's tonality tag, since the spec
format has no field for tags). `--score` scores the references themselves with the project's clip scorer (the
"reference" column of `s2acc evaluate`) and prints the mean chord majmin, overall and over the non-diatonic charts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench` and `dataset_builder` from a checkout

from bench.handwritten import CHARTS_PATH, chart_specs, chart_tags, load_charts, render_chart  # noqa: E402
from diffusers_s2acc.audio import check_output_path  # noqa: E402


def score_references(spec_path: Path, tags: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Score each chart's reference once (its seeds share it) against its chart; means overall and per tonality."""
    import numpy as np

    from diffusers_s2acc.evaluation.clip_scores import score_clip
    from diffusers_s2acc.evaluation.specs import load_specs

    seen, rows = set(), []
    for spec in load_specs(spec_path):
        if spec.reference_path in seen:
            continue
        seen.add(spec.reference_path)
        audio, rate = spec.load_reference()
        scores = score_clip(audio, rate, spec)
        rows.append((spec.id, tags[spec.id], scores))
        print(
            f"{spec.id:28s} majmin {scores['chord_majmin']:.3f}  root {scores['chord_root']:.3f}  "
            f"tempo_acc1 {scores['tempo_acc1']:.0f}  {'non_diatonic' if 'non_diatonic' in tags[spec.id] else ''}",
            file=sys.stderr,
        )
    summary = {}
    for name, keep in (
        ("all", lambda t: True),
        ("non_diatonic", lambda t: "non_diatonic" in t),
        ("diatonic", lambda t: "diatonic" in t),
    ):
        chosen = [s for _, t, s in rows if keep(t)]
        summary[name] = {
            "charts": len(chosen),
            **{k: float(np.nanmean([s[k] for s in chosen])) for k in ("chord_majmin", "chord_root", "tempo_acc1")},
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for the renders, specs.json and tags.json")
    parser.add_argument("--charts", type=Path, default=CHARTS_PATH, help="chart file (default: the benchmark's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="generation seeds: one spec each")
    parser.add_argument("--only", nargs="+", help="render only these chart ids")
    parser.add_argument("--soundfont", help="GM soundfont (default: the first the synth generator finds)")
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--force", action="store_true", help="re-render charts whose audio already exists")
    parser.add_argument("--score", action="store_true", help="score the references against their charts")
    parser.add_argument("--json", type=Path, help="write the --score summary here")
    args = parser.parse_args(argv)
    # Checked before any rendering (minutes): the folder is reused by later runs, --json is replaced (a bench result).
    for flag, path, kind in (
        ("--out", args.out, dict(folder=True)),
        ("--json", args.json, dict(extensions=(".json",))),
    ):
        try:
            if path is not None:
                check_output_path(path, overwrite=True, protect=(args.charts,), **kind)
        except ValueError as error:
            raise SystemExit(f"error: {flag}: {error}") from None

    from dataset_builder.synth.render import find_soundfonts

    charts = load_charts(args.charts)
    if args.only:
        unknown = sorted(set(args.only) - {c["id"] for c in charts})
        if unknown:
            parser.error(f"unknown chart id(s): {', '.join(unknown)}")
        charts = [c for c in charts if c["id"] in args.only]
    soundfont = find_soundfonts([args.soundfont] if args.soundfont else None)[0]
    args.out.mkdir(parents=True, exist_ok=True)
    specs, tags = [], {}
    started = time.perf_counter()
    for index, chart in enumerate(charts):
        audio = args.out / chart["id"] / "accompaniment.flac"
        if args.force or not audio.exists():
            render_chart(chart, args.out, soundfont, args.sample_rate)
        print(f"[{index + 1}/{len(charts)}] {chart['id']}", file=sys.stderr)
        for spec in chart_specs(chart, audio, args.out, args.seeds):
            specs.append(spec)
            tags[spec["id"]] = chart_tags(chart)
    spec_path = args.out / "specs.json"
    spec_path.write_text(json.dumps(specs, indent=1, ensure_ascii=False), encoding="utf-8")
    (args.out / "tags.json").write_text(json.dumps(tags, indent=1), encoding="utf-8")
    non_diatonic = sum("non_diatonic" in chart_tags(c) for c in charts)
    print(
        f"{len(charts)} charts ({non_diatonic} non-diatonic), {len(specs)} specs -> {spec_path} "
        f"({time.perf_counter() - started:.0f} s, soundfont {Path(soundfont).name})"
    )
    if args.score:
        summary = score_references(spec_path, tags)
        for name, row in summary.items():
            print(
                f"reference {name:13s} ({row['charts']:2d} charts): chord majmin {row['chord_majmin']:.3f}, "
                f"root {row['chord_root']:.3f}, tempo_acc1 {row['tempo_acc1']:.3f}"
            )
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
