#!/usr/bin/env python
"""Quality of sampler levers (solver, steps, guidance interval) against the reference sampler, on spec files.

    python bench/bench_sampler_quality.py --specs bench=runs/v3/bench_handwritten/subset.json \
        heldout=runs/v3/specs_v2_heldout.json:8 --seeds 2 --levers euler-25 default unipc-8@0-0.5 --json q.json

Every lever (as in `bench/bench_speed.py`: `default` is the pipeline as loaded, with its recommended settings, or
`<euler|unipc>-<steps>[@<start>-<stop>]`) generates every spec of every set with the same seeds and the pipeline's
recommended guidance scales, and is scored by `s2acc evaluate`'s metrics (`diffusers_s2acc.evaluation`). A set is
`name=path[:N]` (its first N specs). The first lever is the baseline: the table gives each lever's chord majmin and
tempo Acc1 beside it, the change in chord majmin, and the change of the mel-chroma FAD against the references in
percent, with the wall time each lever took for the set (generation and scoring, on this machine, with whatever
else ran beside it: compare speeds with `bench/bench_speed.py`, not with this column).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench_speed import make_scheduler, parse_lever

from diffusers_s2acc.audio import check_output_path
from diffusers_s2acc.devices import DTYPES, resolve_dtype
from diffusers_s2acc.evaluation.run import evaluate_specs
from diffusers_s2acc.evaluation.specs import load_specs
from diffusers_s2acc.pretrained import DEFAULT_PIPELINE, load_pipeline


def parse_set(text: str) -> tuple[str, Path, int | None]:
    """`name=path[:N]` -> (name, path, N or None); a SystemExit naming a bad one."""
    name, sep, path = text.partition("=")
    head, _, tail = path.rpartition(":")
    path, limit = (head, tail) if head and tail.isdigit() else (path, "")
    if not sep or not name or not path:
        raise SystemExit(f"error: --specs: {text!r} is not name=path[:N]")
    if not Path(path).is_file():
        raise SystemExit(f"error: --specs: no such file {path}")
    return name, Path(path), int(limit) if limit else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE)
    parser.add_argument("--specs", nargs="+", required=True, help="sets as name=path[:N]")
    parser.add_argument("--levers", nargs="+", default=["euler-25", "default"], help="the first is the baseline")
    parser.add_argument("--seeds", type=int, default=1, help="takes per spec (seeds spec.seed + 1000 k)")
    parser.add_argument("--dtype", choices=DTYPES, default="auto")
    parser.add_argument("--json", type=Path, default=None, help="write every lever's scores here")
    parser.add_argument(
        "--baseline-json",
        type=Path,
        default=None,
        help="take the first lever's scores from this earlier --json of the same sets and seeds instead of "
        "generating them again (e.g. to compare --dtype int8 with a float run's reference sampler)",
    )
    args = parser.parse_args()
    if args.json is not None:
        check_output_path(args.json, overwrite=True, extensions=(".json",))
    sets = [parse_set(text) for text in args.specs]
    levers = [parse_lever(text) for text in args.levers]
    pipe = load_pipeline(args.pipeline, dtype=resolve_dtype(args.dtype, "cpu"))
    pipe.set_progress_bar_config(disable=True)
    default_scheduler = pipe.scheduler
    results: dict[str, dict[str, dict]] = {}
    if args.baseline_json is not None:
        earlier = json.loads(args.baseline_json.read_text())
        first = levers[0]["name"]
        for name, path, limit in sets:
            ids = [spec.id for spec in load_specs(path)[:limit]]
            if [row["id"] for row in earlier.get(first, {}).get(name, {}).get("rows", [])] != ids:
                raise SystemExit(f"error: --baseline-json: its {first!r} scores on {name!r} are not of these specs")
        results[first] = {name: earlier[first][name] for name, _, _ in sets}
    for lever in levers:
        if lever["name"] in results:
            continue
        pipe.scheduler = make_scheduler(lever["solver"], pipe) if "solver" in lever else default_scheduler
        results[lever["name"]] = {}
        for name, path, limit in sets:
            specs = load_specs(path)[:limit]
            start = time.perf_counter()
            result = evaluate_specs(
                pipe,
                specs,
                lever.get("num_inference_steps"),
                num_seeds=args.seeds,
                guidance_interval=lever.get("guidance_interval"),
            )
            result["seconds"] = time.perf_counter() - start
            results[lever["name"]][name] = result
            print(f"{lever['name']} on {name}: {result['generated']['chord_majmin']:.3f}", flush=True)
        pipe.scheduler = default_scheduler

    baseline = results[levers[0]["name"]]
    print(f"\n{args.pipeline}, --dtype {args.dtype}, {args.seeds} seed(s); baseline {levers[0]['name']}")
    print("| lever | settings | set | specs | chord majmin | change | tempo Acc1 | FAD change | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lever in levers:
        for name, _, _ in sets:
            result, base = results[lever["name"]][name], baseline[name]
            settings = result["settings"]
            fad, base_fad = (r.get("fad", {}).get("value") for r in (result, base))
            fad_change = f"{100 * (fad / base_fad - 1):+.1f}%" if fad and base_fad else "n/a"
            majmin = result["generated"]["chord_majmin"]
            print(
                f"| {lever['name']} | {settings['scheduler']}, {settings['num_inference_steps']} steps, interval "
                f"{tuple(settings['guidance_interval'])} | {name} | {len(result['rows'])} | {majmin:.3f} | "
                f"{majmin - base['generated']['chord_majmin']:+.3f} | {result['generated']['tempo_acc1']:.3f} | "
                f"{fad_change} | {result['seconds']:.0f} |"
            )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
