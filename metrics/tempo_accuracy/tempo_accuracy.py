"""Tempo accuracy of audio against reference tempi (`evaluate.load("metrics/tempo_accuracy")`)."""

import datasets
import evaluate
import numpy as np

from diffusers_s2acc.analysis.song import analyze_song
from diffusers_s2acc.evaluation.metric_modules import audio_metric_info, mean_scores
from diffusers_s2acc.evaluation.scores import tempo_scores


_DESCRIPTION = """Tempo is estimated with diffusers_s2acc's offline beat tracker. `tempo_acc1`: share of clips within 4% of
the reference tempo (MIREX Acc1); `tempo_acc2`: also accepting 2x, 1/2x, 3x, 1/3x (Acc2); `tempo_abs_error`: mean
absolute error in BPM."""
_KWARGS = """
Args:
    predictions: list of mono audio arrays.
    references: list of reference tempi in BPM.
    sampling_rate: sampling rate of the predictions (int).
"""


class TempoAccuracy(evaluate.Metric):
    def _info(self):
        return audio_metric_info(_DESCRIPTION, _KWARGS, references=datasets.Value("float64"))

    def _compute(self, predictions, references, sampling_rate):
        scores = []
        for audio, tempo in zip(predictions, references):
            estimate = analyze_song(np.asarray(audio, dtype=np.float32), sampling_rate, melody=False).grid.tempo
            scores.append({**tempo_scores(tempo, estimate), "tempo_abs_error": abs(estimate - tempo)})
        return mean_scores(scores)
