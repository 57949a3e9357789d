"""Caption adherence of audio (`evaluate.load("metrics/caption_adherence")`)."""

import datasets
import evaluate
import numpy as np

from diffusers_s2acc.analysis.song import analyze_song
from diffusers_s2acc.evaluation.clip_scores import caption_adherence
from diffusers_s2acc.evaluation.metric_modules import audio_metric_info
from diffusers_s2acc.evaluation.specs import EvalSpec


_DESCRIPTION = """Share of a caption's checkable claims (tempo, key and mode, meter, energy, brightness, drums) that
measurements of the audio support (offline default), or the CLAP audio-text similarity mapped to [0, 1] when
`clap_model_path` is given. Captions with no checkable claim score 0.5."""
_KWARGS = """
Args:
    predictions: list of mono audio arrays.
    references: list of captions.
    sampling_rate: sampling rate of the predictions (int).
    clap_model_path: optional local CLAP model folder.
"""


class CaptionAdherence(evaluate.Metric):
    def _info(self):
        return audio_metric_info(_DESCRIPTION, _KWARGS, references=datasets.Value("string"))

    def _compute(self, predictions, references, sampling_rate, clap_model_path=None):
        scorer = None
        if clap_model_path:
            from diffusers_s2acc.evaluation.agreement import ClapAgreement

            scorer = ClapAgreement(clap_model_path)
        values = []
        for audio, caption in zip(predictions, references):
            audio = np.asarray(audio, dtype=np.float32)
            spec = EvalSpec(id="", prompt=caption, segments=[], lead_sheet=None, duration=len(audio) / sampling_rate)
            analysis = analyze_song(audio, sampling_rate, melody=False)
            values.append(caption_adherence(analysis, spec, audio[None], sampling_rate, scorer))
        return {"caption_adherence": float(np.mean(values))}
