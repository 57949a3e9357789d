#!/usr/bin/env python
"""The semantic-VAE ablation's table (train/recipes/ablation_semantic_vae.sh): one column per arm, DiT figures as the
mean and spread over DiT seeds, the VAE round trip (the ceiling), the probes and each stage's wall-clock.

    python train/recipes/ablation_table.py runs/ablation_semantic_vae [--json table.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


DIT_METRICS = ("chord_majmin", "tempo_acc1", "boundary_f@3s", "caption_adherence")
PROBE_METRICS = (
    "head_chord_accuracy",
    "head_pitch_class_f1",
    "head_beat_f1",
    "linear_probe_chord_accuracy",
    "majority_chord_accuracy",
)


def mean_spread(values: list[float]) -> str:
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{values[0]:.3f} (1 seed)"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f} ({len(values)} seeds)"


def arm_rows(arm: Path, times: dict[str, int]) -> dict[str, str]:
    evals = [json.loads(p.read_text()) for p in sorted(arm.glob("dit_seed*/eval.json"))]
    row = {f"DiT {m}": mean_spread([e["generated"][m] for e in evals]) for m in DIT_METRICS}
    row["DiT FAD mel-chroma (lower is better)"] = mean_spread([e["fad"]["value"] for e in evals if e.get("fad")])
    # The round trip does not depend on the DiT or its seed: every eval.json of the arm holds the same figure.
    row["VAE round trip chord_majmin"] = f"{evals[0]['reconstruction']['chord_majmin']:.3f}" if evals else "not run"
    losses = []
    for log in sorted(arm.glob("dit_seed*/train_log.jsonl")):
        steps = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        tail = [s["loss"] for s in steps[-100:] if "loss" in s]
        if tail:
            losses.append(statistics.mean(tail))
    row["DiT training loss, last 100 steps"] = mean_spread(losses)
    probe = arm / "probe.json"
    report = json.loads(probe.read_text()) if probe.exists() else {}
    for m in PROBE_METRICS:
        value = report.get(m)
        row[f"probe {m}"] = "not run" if value is None else f"{value:.3f}"
    weight = arm.name.removeprefix("semantic_")
    vae_time = times.get(f"vae_semantic_{weight}")
    dit_times = [v for k, v in times.items() if k.startswith(f"dit_semantic_{weight}_")]
    row["VAE wall-clock (min)"] = "not logged" if vae_time is None else f"{vae_time / 60:.1f}"
    row["DiT wall-clock per seed (min)"] = mean_spread([t / 60 for t in dit_times])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    times: dict[str, int] = {}
    if (args.work / "times.tsv").exists():
        for line in (args.work / "times.tsv").read_text().splitlines():
            name, seconds = line.split("\t")
            times[name] = times.get(name, 0) + int(seconds)  # a resumed stage adds its sessions
    arms = sorted(p for p in args.work.glob("semantic_*") if p.is_dir())
    if not arms:
        raise SystemExit(f"error: no semantic_* arm folders in {args.work}")
    table = {arm.name: arm_rows(arm, times) for arm in arms}
    names = list(next(iter(table.values())))
    print("| | " + " | ".join(f"VAE --semantic_weight {a.removeprefix('semantic_')}" for a in table) + " |")
    print("|---|" + "---|" * len(table))
    for name in names:
        print(f"| {name} | " + " | ".join(table[a][name] for a in table) + " |")
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
