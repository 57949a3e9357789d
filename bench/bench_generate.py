#!/usr/bin/env python
"""Wall time of one generation with a loaded pipeline: float32 weights against bfloat16 weights, in one run.

    python bench/bench_generate.py                       # the shipped default, 10 s, 25 steps, as `s2acc generate`
    python bench/bench_generate.py --lead-sheet-guidance 1   # two transformer passes per step instead of three
    python bench/bench_generate.py --pipeline PATH --seconds 20 --steps 50 --repeats 5 --json out.json

The pipeline is loaded twice (not timed): as saved, and with `dtype={"default": torch.bfloat16, "vae": torch.float32}`
(what `s2acc generate --dtype bfloat16` loads: transformer and text encoder in bf16, VAE weights float32). Each is warmed up once, then timed `--repeats` times,
interleaved so that background load affects both alike; the medians and their ratio are printed. The chart is a
two-section, four-chord piece with text guidance and the CLI's lead-sheet guidance (the model's recommended one,
three transformer passes per step; `--lead-sheet-guidance 1` drops the third). Figures depend on the
machine: compare configurations only within one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from diffusers_s2acc import LeadSheet, S2AccompanistPipeline, Segment
from diffusers_s2acc.audio import check_output_path
from diffusers_s2acc.devices import component_dtypes
from diffusers_s2acc.pretrained import DEFAULT_PIPELINE


def generate(pipe, seconds: float, steps: int, lead_sheet_guidance_scale: float) -> float:
    segments = [
        Segment(0.0, seconds / 2, "verse", "soft piano and bass"),
        Segment(seconds / 2, seconds, "chorus", "full band"),
    ]
    sheet = LeadSheet.from_chart("C | Am | F | G", bpm=120)
    start = time.perf_counter()
    pipe(
        prompt="warm pop accompaniment",
        segments=segments,
        lead_sheet=sheet,
        audio_length_in_s=seconds,
        num_inference_steps=steps,
        lead_sheet_guidance_scale=lead_sheet_guidance_scale,
        generator=torch.Generator().manual_seed(0),
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--steps", type=int, default=None, help="default: the pipeline's recommended_settings()")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--lead-sheet-guidance", type=float, default=None, help="default: the pipeline's recommended_settings()"
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    # Outputs are checked before any work (a traceback after a long run would lose it).
    if args.json is not None:
        try:
            check_output_path(args.json, overwrite=True, extensions=(".json",))
        except ValueError as error:
            raise SystemExit(f"error: --json: {error}") from None

    configs = {
        "float32": S2AccompanistPipeline.from_pretrained(args.pipeline),
        "bfloat16": S2AccompanistPipeline.from_pretrained(args.pipeline, dtype=component_dtypes("bfloat16")),
    }
    args.steps, _, args.lead_sheet_guidance = configs["float32"].sampling_settings(
        args.steps, None, args.lead_sheet_guidance
    )
    times: dict[str, list[float]] = {name: [] for name in configs}
    for pipe in configs.values():
        pipe.set_progress_bar_config(disable=True)
        generate(
            pipe, args.seconds, args.steps, args.lead_sheet_guidance
        )  # warm-up: first-call allocations and kernel selection
    for _ in range(args.repeats):
        for name, pipe in configs.items():
            times[name].append(generate(pipe, args.seconds, args.steps, args.lead_sheet_guidance))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"{args.pipeline}: {args.seconds:g} s of audio, {args.steps} steps, lead-sheet guidance "
        f"{args.lead_sheet_guidance:g}, torch threads {torch.get_num_threads()}"
    )
    for name, value in medians.items():
        print(f"  {name:14s} median {value:6.2f} s  (runs: {', '.join(f'{v:.2f}' for v in times[name])})")
    print(f"  speed-up of bfloat16: {medians['float32'] / medians['bfloat16']:.2f}x")
    if args.json:
        with open(args.json, "w") as stream:
            json.dump({"args": vars(args), "times": times, "medians": medians}, stream, indent=1)


if __name__ == "__main__":
    main()
