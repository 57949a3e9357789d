#!/usr/bin/env python
"""The semantic-VAE ablation's tables (train/recipes/ablation_semantic_vae.sh).

1. One column per arm: DiT figures as the mean and spread over DiT seeds, the VAE round trip (the ceiling), the
   probes, the final training losses and each stage's wall-clock.
2. Paired differences between the arms on the same evaluation specs (semantic arm minus the other): the mean, a
   95% bootstrap interval over specs and the wins / ties / losses. With one DiT seed this is the only measure of
   noise the run has: it tells sampling and spec variation apart from a real gap, not DiT-seed variation.
3. Training-loss curves: the mean loss per block of steps, for the DiT of each arm and seed and for each VAE.

    python train/recipes/ablation_table.py runs/ablation_semantic_vae [--json table.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np


DIT_METRICS = ("chord_majmin", "tempo_acc1", "boundary_f@3s", "caption_adherence")
PAIRED_METRICS = ("chord_majmin", "tempo_acc1", "boundary_f@3s")
PROBE_METRICS = (
    "head_chord_accuracy",
    "head_pitch_class_f1",
    "head_beat_f1",
    "linear_probe_chord_accuracy",
    "majority_chord_accuracy",
)
VAE_LOSSES = ("l1", "stft", "semantic")


def mean_spread(values: list[float]) -> str:
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{values[0]:.3f} (1 seed)"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f} ({len(values)} seeds)"


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def tail_mean(log: list[dict], key: str, steps: int = 100) -> float | None:
    values = [entry[key] for entry in log[-steps:] if key in entry]
    return statistics.mean(values) if values else None


def arm_evals(arm: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(arm.glob("dit_seed*/eval.json"))]


def arm_rows(arm: Path, times: dict[str, int]) -> dict[str, str]:
    evals = arm_evals(arm)
    row = {f"DiT {m}": mean_spread([e["generated"][m] for e in evals]) for m in DIT_METRICS}
    row["DiT FAD mel-chroma (lower is better)"] = mean_spread([e["fad"]["value"] for e in evals if e.get("fad")])
    # The round trip does not depend on the DiT or its seed: every eval.json of the arm holds the same figure.
    recon = evals[0].get("reconstruction") if evals else None
    for m in ("chord_majmin", "tempo_acc1"):
        row[f"VAE round trip {m}"] = f"{recon[m]:.3f}" if recon else "not run"
    losses = [tail_mean(read_log(p), "loss") for p in sorted(arm.glob("dit_seed*/train_log.jsonl"))]
    row["DiT training loss, last 100 steps"] = mean_spread([v for v in losses if v is not None])
    vae_log = read_log(arm / "vae" / "train_log.jsonl")
    for key in VAE_LOSSES:
        value = tail_mean(vae_log, key)
        row[f"VAE {key} loss, last 100 steps"] = "not logged" if value is None else f"{value:.4f}"
    probe = arm / "probe.json"
    report = json.loads(probe.read_text()) if probe.exists() else {}
    for m in PROBE_METRICS:
        value = report.get(m)
        row[f"probe {m}"] = "not run" if value is None else f"{value:.3f}"
    weight = arm.name.removeprefix("semantic_")
    vae_time = times.get(f"vae_semantic_{weight}")
    dit_times = [v for k, v in times.items() if k.startswith(f"dit_semantic_{weight}_")]
    row["VAE wall-clock (min)"] = "not logged" if vae_time is None else f"{vae_time / 60:.1f}"
    row["DiT wall-clock per seed, latent cache included (min)"] = mean_spread([t / 60 for t in dit_times])
    return row


def per_spec(evals: list[dict], metric: str) -> dict[str, float]:
    """Each spec's generated score, averaged over the arm's DiT seeds (one `eval.json` each)."""
    scores: dict[str, list[float]] = {}
    for result in evals:
        for row in result["rows"]:
            value = row["generated"].get(metric)
            if value is not None and np.isfinite(value):
                scores.setdefault(row["id"], []).append(value)
    return {spec: statistics.mean(values) for spec, values in scores.items()}


def paired_difference(a: dict[str, float], b: dict[str, float], resamples: int = 10_000, seed: int = 0) -> dict:
    """`a - b` over the specs both arms scored: mean, 95% percentile-bootstrap interval over specs, wins/ties/losses."""
    specs = sorted(set(a) & set(b))
    if not specs:
        return {"specs": 0}
    diffs = np.array([a[s] - b[s] for s in specs])
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), size=(resamples, len(diffs)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "specs": len(specs),
        "mean": float(diffs.mean()),
        "ci95": [float(low), float(high)],
        "wins": int((diffs > 1e-9).sum()),
        "ties": int((np.abs(diffs) <= 1e-9).sum()),
        "losses": int((diffs < -1e-9).sum()),
    }


def loss_curve(log: list[dict], key: str, block: int) -> dict[int, float]:
    """Mean of `key` per block of `block` steps, keyed by the block's last step."""
    blocks: dict[int, list[float]] = {}
    for entry in log:
        if key in entry:
            blocks.setdefault(-(-entry["step"] // block) * block, []).append(entry[key])
    return {end: statistics.mean(values) for end, values in sorted(blocks.items())}


def print_table(columns: list[str], rows: dict[str, list[str]]) -> None:
    print("| | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, cells in rows.items():
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--block", type=int, default=200, help="steps per block of the loss curves")
    args = parser.parse_args()
    if args.block < 1:
        raise SystemExit("error: --block must be >= 1")
    times: dict[str, int] = {}
    if (args.work / "times.tsv").exists():
        for line in (args.work / "times.tsv").read_text().splitlines():
            name, seconds = line.split("\t")
            times[name] = times.get(name, 0) + int(seconds)  # a resumed stage adds its sessions
    arms = sorted((p for p in args.work.glob("semantic_*") if p.is_dir()), reverse=True)  # the semantic arm first
    if not arms:
        raise SystemExit(f"error: no semantic_* arm folders in {args.work}")
    table = {arm.name: arm_rows(arm, times) for arm in arms}
    names = list(next(iter(table.values())))
    print_table(
        [f"VAE --semantic_weight {a.removeprefix('semantic_')}" for a in table],
        {name: [table[a][name] for a in table] for name in names},
    )

    paired = {}
    if len(arms) == 2:
        first, second = arms
        first_evals, second_evals = arm_evals(first), arm_evals(second)
        for metric in PAIRED_METRICS:
            paired[metric] = paired_difference(per_spec(first_evals, metric), per_spec(second_evals, metric))
        label = f"{first.name} minus {second.name}"
        print_table(
            [f"{label}: mean", "95% bootstrap interval", "specs better / equal / worse"],
            {
                metric: (
                    [
                        f"{d['mean']:+.3f}",
                        f"[{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]",
                        f"{d['wins']} / {d['ties']} / {d['losses']}",
                    ]
                    if d["specs"]
                    else ["not run", "", ""]
                )
                for metric, d in paired.items()
            },
        )

    curves = {}
    for arm in arms:
        for log_path in sorted(arm.glob("dit_seed*/train_log.jsonl")):
            curves[f"{arm.name} DiT {log_path.parent.name.removeprefix('dit_')}"] = loss_curve(
                read_log(log_path), "loss", args.block
            )
        vae_log = read_log(arm / "vae" / "train_log.jsonl")
        for key in ("l1", "stft"):
            curves[f"{arm.name} VAE {key}"] = loss_curve(vae_log, key, args.block)
    curves = {name: curve for name, curve in curves.items() if curve}
    if curves:
        ends = sorted({end for curve in curves.values() for end in curve})
        print_table(
            [f"≤ {end}" for end in ends],
            {name: [f"{curve[e]:.4f}" if e in curve else "" for e in ends] for name, curve in curves.items()},
        )
    if args.json:
        args.json.write_text(json.dumps({"arms": table, "paired": paired, "loss_curves": curves}, indent=1))


if __name__ == "__main__":
    main()
