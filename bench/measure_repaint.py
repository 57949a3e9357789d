#!/usr/bin/env python
"""Regenerate the middle section of held-out synth specs with a different chart, and score the result.

    python bench/measure_repaint.py --pipeline s2acc-demo --specs specs_heldout.json --json repaint.json

Specs (from `s2acc make-specs`) qualify when they have at least three sections and their first and last sections
last at least `--min-kept` seconds (the untouched audio must be long enough to score); the first `--limit` qualifying
specs are used. For each:

1. the piece is generated from the spec (prompt, sections, chart, seed) and its latents kept;
2. the new chart is the old one with every chord inside the middle section moved up a tritone (same quality), so
   that no chord root there is shared with the old chart;
3. the middle section is regenerated from the kept latents (`S2AccompanistRepaintPipeline`, `section=`) with the new
   chart and the next seed;
4. both pieces are analysed whole (`analysis.analyze_song`) and scored by span with the evaluation scorers: chord
   accuracy (mir_eval major/minor) of the middle section against the new chart and the old one, and of the
   untouched sections against the old chart; and the beat continuity at both seams (`evaluation.seam_scores`:
   beats tracked separately in `--seam-window` seconds on each side, tempo change and beat-phase offset at the
   seam). The original piece is scored at the same places: its middle section against the new chart is the floor
   (a section that did not change), and its "seams" (it has none) the floor of the continuity measurement; so is
   the spec's synth reference recording, when the spec names one (a beat that is continuous by construction).

Generation is as `s2acc generate --dtype bfloat16 --steps 25` (default lead-sheet guidance). Prints a markdown table
of means; `--json` writes every spec's figures too.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from diffusers_s2acc import LeadSheet, S2AccompanistPipeline, S2AccompanistRepaintPipeline
from diffusers_s2acc.analysis.beats import track_beats
from diffusers_s2acc.analysis.features import compute_features
from diffusers_s2acc.analysis.song import ANALYSIS_SR, analyze_song, load_for_analysis
from diffusers_s2acc.audio import check_output_path
from diffusers_s2acc.devices import component_dtypes
from diffusers_s2acc.evaluation.scores import chord_scores, seam_scores
from diffusers_s2acc.evaluation.specs import EvalSpec, load_specs
from diffusers_s2acc.music.chords import PITCH_CLASS_NAMES, parse_chord
from diffusers_s2acc.music.lead_sheet import ChordEvent
from diffusers_s2acc.pretrained import DEFAULT_PIPELINE


TRITONE = 6


def transposed(symbol: str, semitones: int) -> str:
    """A chord symbol moved by `semitones`, written in Harte form (`"F#:min7"`); "no chord" stays."""
    chord = parse_chord(symbol)
    if chord.root is None:
        return symbol
    return f"{PITCH_CLASS_NAMES[(chord.root + semitones) % 12]}:{chord.quality}"


def clip_chords(chords: list[ChordEvent], start: float, end: float) -> list[ChordEvent]:
    """The chords overlapping `[start, end)`, clipped to it, in absolute time."""
    return [
        ChordEvent(max(c.start, start), min(c.end, end), c.symbol)
        for c in chords
        if min(c.end, end) - max(c.start, start) > 1e-6
    ]


def rechart(sheet: LeadSheet, start: float, end: float) -> LeadSheet:
    """`sheet` with the chords inside `[start, end)` moved up a tritone (chords across a border are split)."""
    inside = [ChordEvent(c.start, c.end, transposed(c.symbol, TRITONE)) for c in clip_chords(sheet.chords, start, end)]
    outside = clip_chords(sheet.chords, 0.0, start) + clip_chords(sheet.chords, end, float("inf"))
    return LeadSheet(
        tempo=sheet.tempo,
        meter=sheet.meter,
        chords=sorted(outside + inside, key=lambda c: c.start),
        offset=sheet.offset,
    )


def span_accuracy(reference: list[ChordEvent], estimate, spans: list[tuple[float, float]]) -> float:
    """Duration-weighted mean over `spans` of the major/minor chord accuracy of `estimate` against `reference`."""
    values, weights = [], []
    for start, end in spans:
        chords = clip_chords(reference, start, end)
        if chords:
            values.append(chord_scores(chords, estimate)["chord_majmin"])
            weights.append(end - start)
    return float(np.average(values, weights=weights)) if values else float("nan")


def seam_continuity(audio: np.ndarray, rate: int, seam: float, window: float) -> dict[str, float]:
    """`seam_scores` at `seam` seconds of `audio` `(channels, samples)`, beats tracked on each side separately."""
    sides = []
    for start, end in ((max(0.0, seam - window), seam), (seam, min(audio.shape[-1] / rate, seam + window))):
        features = compute_features(
            load_for_analysis(audio[:, int(start * rate) : int(end * rate)], rate), ANALYSIS_SR
        )
        sides.append(np.asarray(track_beats(features).beats, dtype=float) + start)
    try:
        return seam_scores(sides[0], sides[1], seam)
    except ValueError:  # too few beats on a side to fit a grid
        return {
            "seam_tempo_change": float("nan"),
            "seam_tempo_ok": float("nan"),
            "seam_phase_error": float("nan"),
            "seam_phase_error_ms": float("nan"),
        }


def score(
    audio: np.ndarray, rate: int, spec: EvalSpec, new_sheet: LeadSheet, middle: tuple[float, float], seam_window: float
) -> dict[str, float]:
    chords = analyze_song(audio, rate, melody=False).chords
    kept = [(0.0, middle[0]), (middle[1], spec.duration)]
    row = {
        "middle_vs_new_chart": span_accuracy(new_sheet.chords, chords, [middle]),
        "middle_vs_old_chart": span_accuracy(spec.lead_sheet.chords, chords, [middle]),
        "untouched_vs_old_chart": span_accuracy(spec.lead_sheet.chords, chords, kept),
    }
    seams = [seam_continuity(audio, rate, t, seam_window) for t in middle]
    for key in seams[0]:
        row[key] = (
            float(np.nanmean([s[key] for s in seams])) if any(np.isfinite(s[key]) for s in seams) else float("nan")
        )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE)
    parser.add_argument("--specs", required=True, help="a spec file from `s2acc make-specs` (held-out synth songs)")
    parser.add_argument("--limit", type=int, default=8, help="number of qualifying specs to use (default 8)")
    parser.add_argument("--min-kept", type=float, default=2.0, help="shortest first/last section, seconds")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="bfloat16")
    parser.add_argument("--seam-window", type=float, default=5.0, help="seconds analysed on each side of a seam")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    # Outputs are checked before any work (a traceback after a long run would lose it).
    if args.json is not None:
        try:
            check_output_path(args.json, overwrite=True, extensions=(".json",))
        except ValueError as error:
            raise SystemExit(f"error: --json: {error}") from None

    specs = [
        s
        for s in load_specs(args.specs)
        if len(s.segments) >= 3
        and s.lead_sheet is not None
        and s.segments[0].duration >= args.min_kept
        and s.segments[-1].duration >= args.min_kept
    ][: args.limit]
    if not specs:
        raise SystemExit(f"no spec in {args.specs} has >= 3 sections with first and last >= {args.min_kept:g} s")
    dtype = {"dtype": component_dtypes(args.dtype)} if args.dtype == "bfloat16" else {}
    pipe = S2AccompanistPipeline.from_pretrained(args.pipeline, **dtype)
    pipe.set_progress_bar_config(disable=True)
    repaint = S2AccompanistRepaintPipeline(**pipe.components)
    repaint.set_progress_bar_config(disable=True)
    rate = pipe.sampling_rate
    common = dict(num_inference_steps=args.steps)  # lead-sheet guidance: the model's recommended one

    rows = []
    for spec in specs:
        start_time = time.perf_counter()
        index = len(spec.segments) // 2
        middle = (spec.segments[index].start, spec.segments[index].end)
        new_sheet = rechart(spec.lead_sheet, *middle)
        kwargs = dict(prompt=spec.prompt, segments=spec.segments, audio_length_in_s=spec.duration, **common)
        original = pipe(lead_sheet=spec.lead_sheet, generator=torch.Generator().manual_seed(spec.seed), **kwargs)
        repainted = repaint(
            lead_sheet=new_sheet,
            source_latents=original.latents,
            section=index,
            generator=torch.Generator().manual_seed(spec.seed + 1),
            **kwargs,
        )
        row = {
            "id": spec.id,
            "middle_section": [spec.segments[index].label, *middle],
            "repainted": score(repainted.audios[0], rate, spec, new_sheet, middle, args.seam_window),
            "original": score(original.audios[0], rate, spec, new_sheet, middle, args.seam_window),
        }
        reference = spec.load_reference()
        if reference is not None:  # the synth recording itself: what a continuous beat measures as
            row["reference"] = score(reference[0], reference[1], spec, new_sheet, middle, args.seam_window)
        row.update(
            {
                "kept_latents_exact": bool(
                    all(
                        torch.equal(repainted.latents[..., s], original.latents[..., s])
                        for s in (
                            slice(0, round(middle[0] * pipe.vae.frame_rate)),
                            slice(round(middle[1] * pipe.vae.frame_rate), None),
                        )
                    )
                ),
            }
        )
        rows.append(row)
        print(f"{spec.id}: {time.perf_counter() - start_time:.0f} s  {json.dumps(row['repainted'])}", flush=True)

    metrics = [
        ("middle_vs_new_chart", "middle section: chord majmin vs the NEW chart"),
        ("middle_vs_old_chart", "middle section: chord majmin vs the old chart"),
        ("untouched_vs_old_chart", "untouched sections: chord majmin vs the old chart"),
        ("seam_tempo_change", "seam: tempo change across it (relative)"),
        ("seam_tempo_ok", "seam: tempo change within 4 %"),
        ("seam_phase_error", "seam: beat-phase offset (beats, 0-0.5)"),
        ("seam_phase_error_ms", "seam: beat-phase offset (ms)"),
    ]
    columns = ["repainted", "original"] + (["reference"] if all("reference" in r for r in rows) else [])
    means = {c: {k: float(np.nanmean([r[c][k] for r in rows])) for k, _ in metrics} for c in columns}
    print(
        f"\n{args.pipeline}, {len(rows)} specs, {args.steps} steps, {args.dtype}, middle section regenerated with "
        f"its chords moved a tritone; kept latents bit-exact in {sum(r['kept_latents_exact'] for r in rows)}/{len(rows)}\n"
    )
    names = {"repainted": "repainted", "original": "original (no repaint)", "reference": "synth reference recording"}
    print("| metric | " + " | ".join(names[c] for c in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for key, label in metrics:
        print(f"| {label} | " + " | ".join(f"{means[c][key]:.3f}" for c in columns) + " |")
    if args.json:
        with open(args.json, "w") as stream:
            json.dump({"args": vars(args), "means": means, "rows": rows}, stream, indent=1)


if __name__ == "__main__":
    main()
