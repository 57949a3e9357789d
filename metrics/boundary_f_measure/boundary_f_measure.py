"""Section-boundary F-measure (`evaluate.load("metrics/boundary_f_measure")`)."""

import json

import datasets
import evaluate
import numpy as np

from diffusers_s2acc.analysis.song import analyze_song, segment
from diffusers_s2acc.evaluation.metric_modules import audio_metric_info, mean_scores
from diffusers_s2acc.evaluation.scores import boundary_scores
from diffusers_s2acc.music.structure import coerce_segments


_DESCRIPTION = """Sections are found in each clip with diffusers_s2acc's offline segmenter (bar-level features, optimal
partition) and compared with the reference sections by mir_eval's boundary detection F-measure at 0.5 s and 3 s
(trimmed: the clip's start and end are not counted as boundaries)."""
_KWARGS = """
Args:
    predictions: list of mono audio arrays.
    references: list of JSON lists of {start, end, label} sections.
    sampling_rate: sampling rate of the predictions (int).
"""


class BoundaryFMeasure(evaluate.Metric):
    def _info(self):
        return audio_metric_info(_DESCRIPTION, _KWARGS, references=datasets.Value("string"))

    def _compute(self, predictions, references, sampling_rate):
        scores = []
        for audio, reference in zip(predictions, references):
            audio = np.asarray(audio, dtype=np.float32)
            estimate = segment(analyze_song(audio, sampling_rate, melody=False))
            scores.append(
                boundary_scores(coerce_segments(json.loads(reference)), estimate, len(audio) / sampling_rate)
            )
        return mean_scores(scores)
