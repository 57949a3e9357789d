#!/usr/bin/env python
"""Peak memory of a long piece against a short one, and tempo and chord accuracy of the long one window by window.

    python bench/bench_long_piece.py                                  # s2acc-demo, bf16, 25 steps: 30 s vs 180 s
    python bench/bench_long_piece.py --pipeline PATH --lengths 30 180 --json out.json

Every length is generated in a fresh subprocess (this script with `--child`) that loads the pipeline as
`s2acc generate --dtype bfloat16` does and generates the whole piece in one `pipe(...)` call: a pop form (intro,
verse, chorus, ..., outro; 8 sections at 180 s, 2 at 30 s) with a caption and a four-chord progression per section
at 120 BPM, the default lead-sheet guidance. The subprocess reports its peak resident memory (`VmHWM` in
/proc/self/status: the high-water mark of the whole process, model loading included) and its resident memory once
the pipeline is loaded, so the table shows both the total peak and what generation adds on top of the loaded
models. The parent then analyses each window of the plan the pipeline followed (`plan_windows`) on its own and
scores it against the chart cropped to it (mir_eval chord accuracy, tempo within 4 %): figures that should not
drift from the first window to the last. Target (issue 9): the 180-s peak within 10 % of the 30-s peak.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


FORM = ["intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"]
CAPTIONS = {
    "intro": "sparse piano intro",
    "verse": "soft piano and bass with brushed drums",
    "chorus": "full band, strong drums, bass and guitar",
    "bridge": "strings and piano, quieter",
    "outro": "piano and strings fading out",
}
PROGRESSIONS = {
    "intro": ["C", "Am", "F", "G"],
    "verse": ["Am", "F", "C", "G"],
    "chorus": ["F", "G", "C", "Am"],
    "bridge": ["Dm", "G", "Em", "Am"],
    "outro": ["F", "G", "C", "C"],
}
PROMPT = "warm pop accompaniment"
BPM = 120.0  # one 4/4 bar = 2 s


def piece(seconds: float) -> tuple[list[dict], str]:
    """Sections (whole bars, as even as possible) and the one-line chart of a `seconds`-long piece."""
    bars = int(round(seconds * BPM / 240.0))
    count = 8 if seconds >= 120 else 2
    labels = FORM if count == 8 else ["verse", "chorus"]
    sizes = [bars // count + (i < bars % count) for i in range(count)]
    sections, chart, bar = [], [], 0
    for label, size in zip(labels, sizes):
        seconds_per_bar = 240.0 / BPM
        sections.append(
            {
                "start": bar * seconds_per_bar,
                "end": (bar + size) * seconds_per_bar,
                "label": label,
                "caption": CAPTIONS[label],
            }
        )
        chart += [PROGRESSIONS[label][i % 4] for i in range(size)]
        bar += size
    return sections, " | ".join(chart)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(args: argparse.Namespace) -> None:
    """Load, generate one piece, write it, print one JSON line of measurements."""
    import torch

    from diffusers_s2acc import LeadSheet, S2AccompanistPipeline
    from diffusers_s2acc.audio import write_audio
    from diffusers_s2acc.devices import component_dtypes
    from diffusers_s2acc.pipelines.repaint_windows import plan_windows
    from diffusers_s2acc.pipelines.sampling_utils import DEFAULT_CROSSFADE_IN_S, DEFAULT_WINDOW_CONTEXT_IN_S

    dtype = {"dtype": component_dtypes(args.dtype)} if args.dtype == "bfloat16" else {}
    pipe = S2AccompanistPipeline.from_pretrained(args.pipeline, **dtype)
    pipe.set_progress_bar_config(disable=True)
    loaded_rss, loaded_hwm = _status_kib("VmRSS"), _status_kib("VmHWM")
    sections, chart = piece(args.child)
    start = time.perf_counter()
    output = pipe(
        prompt=PROMPT,
        segments=sections,
        lead_sheet=LeadSheet.from_chart(chart, bpm=BPM),
        audio_length_in_s=args.child,
        num_inference_steps=args.steps,
        generator=torch.Generator().manual_seed(0),
    )
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM")
    write_audio(args.out, output.audios[0], pipe.sampling_rate)
    rate = pipe.vae.frame_rate
    windows = plan_windows(
        torch.ones(output.latents.shape[-1]),
        pipe.transformer.config.max_frames,
        int(round(DEFAULT_WINDOW_CONTEXT_IN_S * rate)),
        int(round(DEFAULT_CROSSFADE_IN_S * rate)),
    )
    print(
        json.dumps(
            {
                "seconds": args.child,
                "sections": len(sections),
                "peak_rss_mib": peak / 1024,
                "loaded_rss_mib": loaded_rss / 1024,
                "loaded_peak_rss_mib": loaded_hwm / 1024,
                "generation_s": seconds,
                "windows": [(w.start / rate, w.end / rate) for w in windows],
                "window_model_s": pipe.max_audio_length_in_s,
            }
        )
    )


def score_windows(path: str, seconds: float, windows: list[tuple[float, float]]) -> list[dict]:
    """Chord and tempo accuracy of every window of the piece, each analysed on its own."""

    from diffusers_s2acc import LeadSheet
    from diffusers_s2acc.analysis.song import analyze_song
    from diffusers_s2acc.audio import read_audio
    from diffusers_s2acc.evaluation.scores import chord_scores, tempo_scores

    audio, rate = read_audio(path)  # (channels, samples), the layout analyze_song takes
    sheet = LeadSheet.from_chart(piece(seconds)[1], bpm=BPM)
    rows = []
    for index, (start, end) in enumerate(windows):
        analysis = analyze_song(audio[:, int(start * rate) : int(end * rate)], rate, melody=False)
        scores = chord_scores(sheet.crop(start, end).chords, analysis.chords)
        scores.update(tempo_scores(BPM, analysis.grid.tempo), tempo=analysis.grid.tempo)
        rows.append({"window": index + 1, "start": start, "end": end, **scores})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default="s2acc-demo")
    parser.add_argument("--lengths", type=float, nargs="+", default=[30.0, 180.0])
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="bfloat16")
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args)
        return
    from diffusers_s2acc.audio import check_output_path  # here: the child's memory is measured

    # Outputs are checked before any work (a traceback after a long run would lose it).
    if args.json is not None:
        try:
            check_output_path(args.json, overwrite=True, extensions=(".json",))
        except ValueError as error:
            raise SystemExit(f"error: --json: {error}") from None

    results = []
    with tempfile.TemporaryDirectory() as folder:
        for seconds in args.lengths:
            out = os.path.join(folder, f"{seconds:g}.wav")
            command = [
                sys.executable,
                __file__,
                "--child",
                str(seconds),
                "--out",
                out,
                "--pipeline",
                args.pipeline,
                "--steps",
                str(args.steps),
                "--dtype",
                args.dtype,
            ]
            print(f"generating {seconds:g} s ...", file=sys.stderr)
            completed = subprocess.run(command, check=True, capture_output=True, text=True)
            result = json.loads(completed.stdout.strip().splitlines()[-1])
            result["per_window"] = score_windows(out, seconds, result["windows"])
            results.append(result)

    print(f"{args.pipeline}, {args.dtype}, {args.steps} steps, model window {results[0]['window_model_s']:.2f} s\n")
    print(
        "| piece | sections | windows | peak RSS (MiB) | RSS once loaded (MiB) | added by generation (MiB) | time (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['seconds']:g} s | {r['sections']} | {len(r['windows'])} | {r['peak_rss_mib']:.0f} | "
            f"{r['loaded_rss_mib']:.0f} | {r['peak_rss_mib'] - r['loaded_rss_mib']:.0f} | {r['generation_s']:.0f} |"
        )
    base, longest = results[0], results[-1]
    ratio = longest["peak_rss_mib"] / base["peak_rss_mib"]
    print(f"\npeak of {longest['seconds']:g} s / peak of {base['seconds']:g} s: {ratio:.3f} (target <= 1.10)\n")
    for r in results:
        print(f"{r['seconds']:g} s, window by window:\n")
        print("| window | span (s) | chord majmin | chord root | tempo (BPM, chart 120) | tempo within 4 % |")
        print("|---|---|---|---|---|---|")
        for w in r["per_window"]:
            print(
                f"| {w['window']} | {w['start']:.1f}-{w['end']:.1f} | {w['chord_majmin']:.3f} | {w['chord_root']:.3f} | "
                f"{w['tempo']:.1f} | {w['tempo_acc1']:.0f} |"
            )
        mean = {
            k: float(np.mean([w[k] for w in r["per_window"]])) for k in ("chord_majmin", "chord_root", "tempo_acc1")
        }
        print(f"| mean | | {mean['chord_majmin']:.3f} | {mean['chord_root']:.3f} | | {mean['tempo_acc1']:.2f} |\n")
    if args.json:
        with open(args.json, "w") as stream:
            json.dump({"args": vars(args), "results": results, "peak_ratio": ratio}, stream, indent=1)


if __name__ == "__main__":
    main()
