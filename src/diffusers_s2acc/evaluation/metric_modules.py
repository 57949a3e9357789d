"""What the `metrics/` modules for `evaluate.load` share: their input schema and how they average."""

from __future__ import annotations

import math

import numpy as np


def audio_metric_info(description: str, inputs_description: str, references):
    """`evaluate.MetricInfo` for a metric over mono audio predictions and `references` of the given feature."""
    import datasets
    import evaluate

    return evaluate.MetricInfo(
        description=description,
        citation="",
        inputs_description=inputs_description,
        features=datasets.Features(
            {"predictions": datasets.Sequence(datasets.Value("float32")), "references": references}
        ),
    )


def mean_scores(scores: list[dict[str, float]]) -> dict[str, float]:
    """Per-key mean over clips, ignoring clips where a score is missing or NaN."""
    keys = sorted({k for s in scores for k in s})
    means = {}
    for key in keys:
        values = [s[key] for s in scores if key in s and not math.isnan(s[key])]
        means[key] = float(np.mean(values)) if values else float("nan")
    return means
