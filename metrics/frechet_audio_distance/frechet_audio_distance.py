"""Fréchet audio distance between generated and reference clips (`evaluate.load("metrics/frechet_audio_distance")`)."""

import datasets
import evaluate
import numpy as np

from diffusers_s2acc.evaluation.embeddings import ClapEmbedding, MelChromaEmbedding, frechet_audio_distance


_DESCRIPTION = """Fréchet distance between Gaussians fitted to embeddings of 1-second (mel-chroma) or 10-second (CLAP)
windows of the prediction set and of the reference set. Offline default embedding: mean and standard deviation of a
64-band log-mel spectrogram and a 12-bin chroma per window (timbre and harmony, no model weights needed; its scale is
not comparable to CLAP or VGGish FAD). Pass `clap_model_path` (a local transformers CLAP folder, e.g. the LAION-CLAP
music checkpoint used by the ATTM challenge) to embed with CLAP instead."""
_KWARGS = """
Args:
    predictions: list of mono audio arrays (generated).
    references: list of mono audio arrays (reference set; same count as predictions).
    sampling_rate: sampling rate of both sets (int).
    clap_model_path: optional local CLAP model folder.
"""


class FrechetAudioDistance(evaluate.Metric):
    def _info(self):
        audio = datasets.Sequence(datasets.Value("float32"))
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({"predictions": audio, "references": audio}),
        )

    def _compute(self, predictions, references, sampling_rate, clap_model_path=None):
        embedding = ClapEmbedding(clap_model_path) if clap_model_path else MelChromaEmbedding()
        generated = [(np.asarray(a, dtype=np.float32), sampling_rate) for a in predictions]
        reference = [(np.asarray(a, dtype=np.float32), sampling_rate) for a in references]
        return {"fad": frechet_audio_distance(generated, reference, embedding), "embedding": embedding.name}
