"""The dataset card `README.md` with counts, hours and histograms (PNG) of the corpus."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any


def _histogram(values: list[float], title: str, xlabel: str, path: Path, bins: int = 20) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3), dpi=100)
    axis.hist(values, bins=bins, color="#4a78b5")
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    axis.set_ylabel("clips")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _bar(counts: dict[str, int], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3), dpi=100)
    axis.bar(list(counts), list(counts.values()), color="#4a78b5")
    axis.set_title(title)
    axis.tick_params(axis="x", rotation=45)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write_card(out: Path, dataset, summary: dict[str, Any], rejected: list[dict], config: dict[str, Any]) -> None:
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    lines = [
        "---",
        "license: other",
        "task_categories:",
        "- text-to-audio",
        "tags:",
        "- music",
        "- accompaniment",
        "- s2accompanist",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: data/train-*.parquet",
        "---",
        "",
        "# S2Accompanist section-level corpus",
        "",
        "Built with `python -m dataset_builder build`. One row per section clip: audio, caption, section label,",
        "lead sheet (tempo, meter, chords, melody), audio-quality and caption-agreement grades, provenance.",
        "",
        "## Counts",
        "",
        f"- input files: {summary['files']} ({summary['accepted']} accepted, {summary['rejected']} rejected, "
        "see `rejects.jsonl`)",
        f"- clips: {summary['clips']} ({summary['hours']:.2f} hours); top fraction: {summary['top_clips']} clips "
        f"(`top == True`, keep-top {config['keep_top']})",
        "",
        "## Backends",
        "",
        "```json",
        json.dumps({k: v for k, v in config.items() if v is not None}, indent=1),
        "```",
        "",
    ]
    if dataset is not None:
        columns = dataset.select_columns(["label", "duration", "tempo", "quality", "agreement", "grade", "key"])
        data = columns.to_dict()
        _histogram(data["duration"], "Clip duration", "seconds", plots / "duration.png")
        _histogram(data["tempo"], "Tempo", "BPM", plots / "tempo.png")
        _histogram(data["quality"], "Audio quality", "score", plots / "quality.png")
        _histogram(data["agreement"], "Caption-audio agreement", "score", plots / "agreement.png")
        labels = collections.Counter(data["label"])
        _bar(dict(sorted(labels.items())), "Section labels", plots / "labels.png")
        modes = collections.Counter(k.split()[-1] for k in data["key"])
        lines += ["## Distributions", "", "| label | clips |", "|---|---|"]
        lines += [f"| {label} | {count} |" for label, count in sorted(labels.items())]
        lines += [
            "",
            f"Modes: {dict(modes)}",
            "",
            "![durations](plots/duration.png) ![tempo](plots/tempo.png) ![labels](plots/labels.png)",
            "![quality](plots/quality.png) ![agreement](plots/agreement.png)",
            "",
        ]
    if rejected:
        reasons = collections.Counter(r["reason"].split(":")[0] for r in rejected)
        lines += ["## Rejected inputs", "", "| reason | files |", "|---|---|"]
        lines += [f"| {reason} | {count} |" for reason, count in reasons.most_common()]
        lines.append("")
    (out / "README.md").write_text("\n".join(lines))
