"""Two-metric grading of every clip: audio quality and caption-audio agreement, then a combined grade.

Offline defaults are transparent signal measures; model backends (Audiobox Aesthetics, CLAP) take local
checkpoints. The combined grade is the mean of the two scores' percentile ranks over the corpus, so the two scales
need not be comparable; `--keep-top` keeps the best fraction by that grade.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Protocol

import numpy as np

from diffusers_s2acc.analysis.descriptors import Descriptors, tempo_word
from diffusers_s2acc.music.chords import parse_chord

from . import default_device


# ----------------------------------------------------------------------------------------------- audio quality
class QualityScorer(Protocol):
    name: str

    def __call__(self, audio: np.ndarray, sample_rate: int) -> tuple[float, dict]: ...


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

    def __call__(self, audio: np.ndarray, sample_rate: int) -> tuple[float, dict]:
        mono = audio.mean(axis=1) if audio.ndim == 2 else audio
        clipped = float(np.mean(np.abs(audio) >= 0.999))
        frame = max(int(0.05 * sample_rate), 1)
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

        freqs, psd = welch(mono[: sample_rate * 60], fs=sample_rate, nperseg=min(4096, max(len(mono), 16)))
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

    def __call__(self, audio: np.ndarray, sample_rate: int) -> tuple[float, dict]:
        import torch

        wav = torch.from_numpy(np.ascontiguousarray((audio if audio.ndim == 2 else audio[:, None]).T))
        axes = self.predictor.forward([{"path": wav, "sample_rate": sample_rate}])[0]
        score = (float(axes["PQ"]) + float(axes["CE"])) / 2
        return float(np.clip((score - 1) / 9, 0, 1)), {f"audiobox_{k}": float(v) for k, v in axes.items()}


# ----------------------------------------------------------------------------------- caption-audio agreement
class AgreementScorer(Protocol):
    name: str

    def __call__(
        self, caption: str, descriptors: Descriptors, audio: np.ndarray, sample_rate: int
    ) -> tuple[float, dict]: ...


_TEMPO_WORDS = {
    "slow": "slow",
    "ballad-paced": "slow",
    "moderate": "moderate",
    "mid-tempo": "moderate",
    "upbeat": "upbeat",
    "lively": "upbeat",
    "fast": "fast",
    "driving": None,
}
_ENERGY_WORDS = {
    "soft": "low",
    "quiet": "low",
    "gentle": "low",
    "restrained": "low",
    "calm": "low",
    "energetic": "high",
    "loud": "high",
    "powerful": "high",
    "intense": "high",
}
_BRIGHT_WORDS = {
    "bright": "bright",
    "crisp": "bright",
    "airy": "bright",
    "dark": "dark",
    "mellow": "dark",
    "warm": "dark",
}
_KEY = re.compile(r"\b([A-G](?:#|b)?)[ -](major|minor)\b")
_BPM = re.compile(r"\b(\d{2,3})\s*BPM\b", re.IGNORECASE)
_METER = re.compile(r"\b([2-9])/4\b")


def _tempo_ok(claimed: float, measured: float) -> bool:
    # Half/double tempo is the same music counted differently; accept it.
    return any(abs(claimed * f - measured) <= 0.06 * measured for f in (0.5, 1.0, 2.0))


def caption_claims(caption: str, d: Descriptors) -> list[tuple[str, bool]]:
    """Every checkable claim in `caption` with whether the measured descriptors support it."""
    text = caption.lower()
    claims: list[tuple[str, bool]] = []
    for match in _BPM.finditer(caption):
        claims.append((f"tempo {match.group(1)} BPM", _tempo_ok(float(match.group(1)), d.tempo)))
    if not _BPM.search(caption):
        for word, bucket in _TEMPO_WORDS.items():
            if bucket and re.search(rf"\b{word}\b", text):
                claims.append(
                    (
                        f"tempo '{word}'",
                        tempo_word(d.tempo) == bucket
                        or tempo_word(d.tempo * 2) == bucket
                        or tempo_word(d.tempo / 2) == bucket,
                    )
                )
                break
    for match in _KEY.finditer(caption):
        claimed_root = parse_chord(match.group(1)).root
        measured_root = parse_chord(d.key.split()[0]).root
        same = claimed_root == measured_root and match.group(2) == d.mode
        # The relative major/minor shares every note: a common, forgivable disagreement.
        relative = (match.group(2) != d.mode) and (
            (claimed_root - measured_root) % 12 == (3 if match.group(2) == "major" else 9)
        )
        claims.append((f"key {match.group(1)} {match.group(2)}", same or relative))
    for match in _METER.finditer(caption):
        claims.append(
            (
                f"meter {match.group(0)}",
                int(match.group(1)) == d.meter or (int(match.group(1)) in (2, 4) and d.meter in (2, 4)),
            )
        )
    for word, bucket in _ENERGY_WORDS.items():
        if re.search(rf"\b{word}\b", text):
            claims.append((f"energy '{word}'", d.energy_word == bucket or d.energy_word == "medium"))
            break
    for word, bucket in _BRIGHT_WORDS.items():
        if re.search(rf"\b{word}\b", text):
            claims.append((f"tone '{word}'", d.brightness_word in (bucket, "balanced")))
            break
    if re.search(r"\b(no|without) (drums|percussion)\b", text):
        claims.append(("no drums", not d.has_drums))
    elif re.search(r"\b(drums|percussion|drum kit|beat)\b", text):
        claims.append(("drums", d.has_drums))
    return claims


class DescriptorAgreement:
    """Share of the caption's checkable claims (tempo, key, meter, energy, tone, drums) that the measured
    descriptors support. Captions with no checkable claim score 0.5: nothing is known either way."""

    name = "descriptors"

    def __call__(
        self, caption: str, descriptors: Descriptors, audio: np.ndarray, sample_rate: int
    ) -> tuple[float, dict]:
        claims = caption_claims(caption, descriptors)
        if not claims:
            return 0.5, {"claims": 0, "failed_claims": []}
        passed = sum(ok for _, ok in claims)
        return passed / len(claims), {"claims": len(claims), "failed_claims": [c for c, ok in claims if not ok]}


class ClapAgreement:
    """Cosine similarity of CLAP audio and text embeddings (transformers `ClapModel`, e.g. a local copy of
    laion/larger_clap_music), mapped from [-1, 1] to [0, 1]."""

    name = "clap"

    def __init__(self, model_path: str, device: str | None = None):
        import torch
        from transformers import ClapModel, ClapProcessor

        if not Path(model_path).is_dir():
            raise FileNotFoundError(f"CLAP model folder {model_path} not found.")
        self.torch = torch
        self.device = device or default_device()
        self.model = ClapModel.from_pretrained(model_path, local_files_only=True).to(self.device).eval()
        self.processor = ClapProcessor.from_pretrained(model_path, local_files_only=True)

    def __call__(
        self, caption: str, descriptors: Descriptors, audio: np.ndarray, sample_rate: int
    ) -> tuple[float, dict]:
        import soxr

        rate = self.processor.feature_extractor.sampling_rate
        mono = audio.mean(axis=1) if audio.ndim == 2 else audio
        mono = soxr.resample(mono.astype(np.float32), sample_rate, rate)
        inputs = self.processor(
            text=[caption], audios=[mono], sampling_rate=rate, return_tensors="pt", padding=True
        ).to(self.device)
        with self.torch.no_grad():
            outputs = self.model(**inputs)
        a = self.torch.nn.functional.normalize(outputs.audio_embeds, dim=-1)
        t = self.torch.nn.functional.normalize(outputs.text_embeds, dim=-1)
        cosine = float((a * t).sum())
        return (cosine + 1) / 2, {"clap_cosine": cosine}


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
