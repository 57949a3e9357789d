"""Two-metric grading of every clip: audio quality and caption-audio agreement, then a combined grade.

Offline defaults are transparent signal measures; model backends (Audiobox Aesthetics, CLAP) take local
checkpoints. The combined grade is the mean of the two scores' percentile ranks over the corpus, so the two scales
need not be comparable; `--keep-top` keeps the best fraction by that grade.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol

import numpy as np

from diffusers_s2acc.audio import to_mono

# Caption-audio agreement is the package's (the CLI and the metrics score it too); grading only picks the scorer.
from diffusers_s2acc.evaluation.agreement import AgreementScorer, ClapAgreement, DescriptorAgreement


__all__ = [
    "AgreementScorer",
    "AudioboxQuality",
    "ClapAgreement",
    "DescriptorAgreement",
    "QualityScorer",
    "SignalQuality",
    "combined_grades",
    "make_agreement",
    "make_quality",
    "top_mask",
]


# ----------------------------------------------------------------------------------------------- audio quality
class QualityScorer(Protocol):
    name: str

    def __call__(self, audio: np.ndarray, sampling_rate: int) -> tuple[float, dict]:
        """Quality in [0, 1] of `audio` (`(channels, samples)` or mono) and the measures behind it."""


def _bump(x: float, low: float, high: float, soft: float) -> float:
    """1 inside `[low, high]`, falling off smoothly (Gaussian, width `soft`) outside."""
    if low <= x <= high:
        return 1.0
    distance = low - x if x < low else x - high
    return math.exp(-0.5 * (distance / soft) ** 2)


class SignalQuality:
    """Clipping, silence, loudness, dynamic range and bandwidth, each mapped to [0, 1]. Clipping and silence are
    defects, so they multiply the score (a heavily clipped clip scores near 0 however good the rest is); loudness,
    dynamic range and bandwidth are matters of degree and enter as a geometric mean."""

    name = "signal"

    def __call__(self, audio: np.ndarray, sampling_rate: int) -> tuple[float, dict]:
        mono = to_mono(audio)
        clipped = float(np.mean(np.abs(audio) >= 0.999))
        frame = max(int(0.05 * sampling_rate), 1)
        usable = len(mono) // frame * frame
        frames = mono[:usable].reshape(-1, frame) if usable else mono[None]
        frame_db = 20 * np.log10(np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) + 1e-9)
        silent = float(np.mean(frame_db < -60))
        loud = frame_db[frame_db >= -60]
        loudness = float(np.mean(loud)) if len(loud) else -120.0
        dynamic_range = float(np.percentile(loud, 95) - np.percentile(loud, 10)) if len(loud) > 1 else 0.0
        # Bandwidth: the highest frequency whose long-term level is within 60 dB of the spectrum's peak. Lossy
        # encodes and telephone-band audio show a hard cut-off here; full-band music reaches well past 10 kHz.
        from scipy.signal import welch

        freqs, psd = welch(mono[: sampling_rate * 60], fs=sampling_rate, nperseg=min(4096, max(len(mono), 16)))
        psd_db = 10 * np.log10(psd + 1e-20)
        audible = np.nonzero(psd_db > psd_db.max() - 60.0)[0]
        bandwidth = float(freqs[audible[-1]]) if len(audible) else 0.0
        parts = {
            "clipping": max(0.0, 1.0 - clipped * 200.0),  # 0.5 % of samples at full scale already scores 0
            "silence": 1.0 - silent,
            "loudness": _bump(loudness, -32.0, -8.0, 8.0),
            "dynamic_range": _bump(dynamic_range, 3.0, 25.0, 4.0),
            "bandwidth": float(np.clip((bandwidth - 2000.0) / 6000.0, 0.0, 1.0)),
        }
        degree = [parts["loudness"], parts["dynamic_range"], parts["bandwidth"]]
        score = parts["clipping"] * parts["silence"] * float(np.exp(np.mean(np.log(np.maximum(degree, 1e-3)))))
        measures = {
            "clipped_fraction": clipped,
            "silent_fraction": silent,
            "loudness_dbfs": loudness,
            "dynamic_range_db": dynamic_range,
            "bandwidth_hz": bandwidth,
            **{f"score_{k}": v for k, v in parts.items()},
        }
        return score, measures


class AudioboxQuality:
    """Meta Audiobox Aesthetics (package `audiobox_aesthetics`) from a local checkpoint: mean of its production
    quality (PQ) and content enjoyment (CE) axes, rescaled from 1-10 to [0, 1]."""

    name = "audiobox"

    def __init__(self, checkpoint: str):
        if not Path(checkpoint).is_file():
            raise FileNotFoundError(f"Audiobox Aesthetics checkpoint {checkpoint} not found.")
        try:
            from audiobox_aesthetics.infer import initialize_predictor
        except ImportError as error:
            raise ImportError("The audiobox backend needs `pip install audiobox_aesthetics`.") from error
        self.predictor = initialize_predictor(ckpt=checkpoint)

    def __call__(self, audio: np.ndarray, sampling_rate: int) -> tuple[float, dict]:
        import torch

        wav = torch.from_numpy(np.ascontiguousarray(audio if audio.ndim == 2 else audio[None]))
        axes = self.predictor.forward([{"path": wav, "sample_rate": sampling_rate}])[0]
        score = (float(axes["PQ"]) + float(axes["CE"])) / 2
        return float(np.clip((score - 1) / 9, 0, 1)), {f"audiobox_{k}": float(v) for k, v in axes.items()}


def make_quality(name: str, checkpoint: str | None = None) -> QualityScorer:
    if name == "signal":
        return SignalQuality()
    if name == "audiobox":
        if not checkpoint:
            raise ValueError("--quality audiobox needs --audiobox-checkpoint PATH.")
        return AudioboxQuality(checkpoint)
    raise ValueError(f"Unknown quality scorer {name!r}; choose signal or audiobox.")


def make_agreement(name: str, model_path: str | None = None) -> AgreementScorer:
    if name == "descriptors":
        return DescriptorAgreement()
    if name == "clap":
        if not model_path:
            raise ValueError("--agreement clap needs --clap-path PATH.")
        return ClapAgreement(model_path)
    raise ValueError(f"Unknown agreement scorer {name!r}; choose descriptors or clap.")


def combined_grades(quality: list[float], agreement: list[float]) -> np.ndarray:
    """Mean of the two scores' percentile ranks (ties share a rank), in [0, 1]."""
    from scipy.stats import rankdata

    if not quality:
        return np.zeros(0)
    n = len(quality)
    if n == 1:
        return np.array([1.0])
    q = (rankdata(quality) - 1) / (n - 1)
    a = (rankdata(agreement) - 1) / (n - 1)
    return (q + a) / 2


def top_mask(grades: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of the best `fraction` of clips by grade (at least one when any clip exists)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"--keep-top must be in (0, 1], got {fraction}.")
    if len(grades) == 0:
        return np.zeros(0, dtype=bool)
    count = max(1, int(round(fraction * len(grades))))
    order = np.argsort(-grades, kind="stable")
    mask = np.zeros(len(grades), dtype=bool)
    mask[order[:count]] = True
    return mask
