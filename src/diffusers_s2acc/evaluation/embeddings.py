"""Audio embeddings for Fréchet audio distance.

`MelChromaEmbedding` (the offline default) summarises each 1-second window by the mean and standard deviation of
a 64-band log-mel spectrogram and a 12-bin chroma: timbre and spectral balance from the mel bands, harmony from the
chroma, and their variation inside the window from the deviations (152 dimensions). It needs no model weights, so
its FAD is reproducible anywhere; it is not comparable in scale to CLAP- or VGGish-based FAD. `ClapEmbedding` uses a
local LAION-CLAP checkpoint (transformers `ClapModel`), as the ATTM challenge does.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from scipy import linalg

from ..audio import clap_audio, load_clap, resample, to_mono


class AudioEmbedding(Protocol):
    name: str

    def __call__(self, audio: np.ndarray, sampling_rate: int) -> np.ndarray:
        """Mono or `(channels, samples)` audio -> `(windows, dim)` embeddings."""


class MelChromaEmbedding:
    name = "mel-chroma"

    def __init__(self, sampling_rate: int = 16000, window_seconds: float = 1.0):
        self.sampling_rate, self.window_seconds = sampling_rate, window_seconds

    def __call__(self, audio: np.ndarray, sampling_rate: int) -> np.ndarray:
        import librosa

        y = resample(to_mono(audio), sampling_rate, self.sampling_rate)
        hop = 160
        mel = librosa.power_to_db(
            librosa.feature.melspectrogram(y=y, sr=self.sampling_rate, n_fft=1024, hop_length=hop, n_mels=64)
        )
        chroma = librosa.feature.chroma_stft(y=y, sr=self.sampling_rate, n_fft=2048, hop_length=hop)
        frames = np.concatenate([mel, chroma[:, : mel.shape[1]]], axis=0)
        per_window = int(self.window_seconds * self.sampling_rate / hop)
        count = max(1, frames.shape[1] // per_window)
        windows = frames[:, : count * per_window].reshape(frames.shape[0], count, -1)
        return np.concatenate([windows.mean(-1), windows.std(-1)], axis=0).T


class ClapEmbedding:
    """CLAP audio embeddings of 10-second windows from a local transformers CLAP model folder."""

    name = "clap"

    def __init__(self, model_path: str, device: str = "cpu", window_seconds: float = 10.0):
        self.model, self.processor = load_clap(model_path, device)
        self.device, self.window_seconds = device, window_seconds

    def __call__(self, audio: np.ndarray, sampling_rate: int) -> np.ndarray:
        import torch

        y, rate = clap_audio(audio, sampling_rate, self.processor)
        size = int(self.window_seconds * rate)
        windows = [y[i : i + size] for i in range(0, max(len(y) - size, 0) + 1, size)] or [y]
        inputs = self.processor(audios=windows, sampling_rate=rate, return_tensors="pt").to(self.device)
        with torch.no_grad():
            return self.model.get_audio_features(**inputs).cpu().numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two embedding sets `(n, dim)`."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Fréchet distance needs at least two embeddings per set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.isfinite(covmean).all():  # near-singular product: regularise, as in the original FID code
        offset = np.eye(cov_a.shape[0]) * 1e-6
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    distance = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean.real)
    return float(max(distance, 0.0))  # tiny negative values are sqrtm round-off


def frechet_audio_distance(
    generated: list[tuple[np.ndarray, int]],
    reference: list[tuple[np.ndarray, int]],
    embedding: AudioEmbedding | None = None,
) -> float:
    """FAD between two sets of `(audio, sampling_rate)` clips (windows of every clip pooled per set)."""
    embedding = embedding or MelChromaEmbedding()
    embed = lambda clips: np.concatenate([embedding(audio, rate) for audio, rate in clips])  # noqa: E731
    return frechet_distance(embed(generated), embed(reference))
