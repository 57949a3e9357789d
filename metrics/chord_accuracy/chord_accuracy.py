"""Chord accuracy of audio against reference lead sheets (`evaluate.load("metrics/chord_accuracy")`)."""

import datasets
import evaluate
import numpy as np

from diffusers_s2acc.analysis.song import analyze_song
from diffusers_s2acc.evaluation.metric_modules import audio_metric_info, mean_scores
from diffusers_s2acc.evaluation.scores import chord_scores
from diffusers_s2acc.music.lead_sheet import LeadSheet


_DESCRIPTION = """Chords are recognised in each audio clip with diffusers_s2acc's offline chord recogniser (beat-synchronous
chroma templates with Viterbi smoothing) and compared with the reference lead sheet's chords by mir_eval: duration-
weighted accuracy under the MIREX major/minor mapping (`chord_majmin`) and on roots (`chord_root`)."""
_KWARGS = """
Args:
    predictions: list of mono audio arrays.
    references: list of lead sheets as JSON strings (LeadSheet.to_dict() format) with timed chords.
    sampling_rate: sampling rate of the predictions (int).
Returns:
    chord_majmin, chord_root: means over clips, in [0, 1].
"""


class ChordAccuracy(evaluate.Metric):
    def _info(self):
        return audio_metric_info(_DESCRIPTION, _KWARGS, references=datasets.Value("string"))

    def _compute(self, predictions, references, sampling_rate):
        scores = []
        for audio, reference in zip(predictions, references):
            sheet = LeadSheet.from_json(reference)
            analysis = analyze_song(np.asarray(audio, dtype=np.float32), sampling_rate, melody=False)
            scores.append(chord_scores(sheet.chords, analysis.chords))
        return mean_scores(scores)
