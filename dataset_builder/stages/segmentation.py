"""Structural segmentation stage: `offline` (the shared bar-level analysis), `oracle` (synth metadata) and
`learned` (a SongFormer-like TorchScript model from a local file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from diffusers_s2acc.analysis.song import SongAnalysis
from diffusers_s2acc.music import SECTION_LABELS, Segment

from ..audio_io import InputFile


class Segmenter(Protocol):
    name: str

    def __call__(self, analysis: SongAnalysis, item: InputFile) -> list[Segment]: ...


class OfflineSegmenter:
    name = "offline"

    def __call__(self, analysis: SongAnalysis, item: InputFile) -> list[Segment]:
        from diffusers_s2acc.analysis.segmentation import segment_structure

        return segment_structure(analysis.features, analysis.grid)


class OracleSegmenter:
    """Ground-truth sections of a synth song; other files fall back to the offline segmenter."""

    name = "oracle"

    def __call__(self, analysis: SongAnalysis, item: InputFile) -> list[Segment]:
        if item.synth_metadata is None:
            return OfflineSegmenter()(analysis, item)
        sections = json.loads(item.synth_metadata.read_text())["sections"]
        duration = analysis.features.duration
        return [Segment(s["start"], min(s["end"], duration), s["label"]) for s in sections if s["start"] < duration]


class LearnedSegmenter:
    """A learned structure model saved with TorchScript (`torch.jit.save`).

    Contract: input a `(1, 128, T)` log-mel spectrogram (22.05 kHz, hop 512, 128 bands, dB); output a tuple
    `(boundary_logits (1, T), label_logits (1, T, len(SECTION_LABELS)))`. Boundaries are peaks of the boundary
    probability above `threshold`, at least `min_seconds` apart; each section takes the label with the highest mean
    probability over its frames. A SongFormer-style model exported to this contract drops in unchanged.
    """

    name = "learned"

    def __init__(self, checkpoint: str, threshold: float = 0.5, min_seconds: float = 4.0):
        import torch

        if not Path(checkpoint).is_file():
            raise FileNotFoundError(f"Segmenter checkpoint {checkpoint} not found (pass --segmenter-checkpoint PATH).")
        self.model = torch.jit.load(checkpoint, map_location="cpu").eval()
        self.threshold, self.min_seconds = threshold, min_seconds

    def __call__(self, analysis: SongAnalysis, item: InputFile) -> list[Segment]:
        import librosa
        import torch

        features = analysis.features
        # The analysis keeps MFCCs, not the mel spectrogram; invert them back to a mel-band log spectrum.
        mel_db = librosa.feature.inverse.mfcc_to_mel(features.mfcc, n_mels=128)
        mel_db = librosa.power_to_db(mel_db + 1e-10)
        with torch.no_grad():
            boundary_logits, label_logits = self.model(torch.from_numpy(mel_db[None].astype(np.float32)))
        prob = torch.sigmoid(boundary_logits[0]).numpy()
        labels = torch.softmax(label_logits[0], dim=-1).numpy()
        fps = features.sr / features.hop
        from scipy.signal import find_peaks

        peaks, _ = find_peaks(prob, height=self.threshold, distance=max(1, int(self.min_seconds * fps)))
        cuts = [0] + [int(p) for p in peaks if p > 0] + [len(prob)]
        segments = []
        for a, b in zip(cuts, cuts[1:]):
            if b <= a:
                continue
            label = SECTION_LABELS[int(labels[a:b].mean(axis=0).argmax())]
            segments.append(Segment(a / fps, min(b / fps, features.duration), label))
        return segments


def make_segmenter(name: str, checkpoint: str | None = None) -> Segmenter:
    if name == "offline":
        return OfflineSegmenter()
    if name == "oracle":
        return OracleSegmenter()
    if name == "learned":
        if not checkpoint:
            raise ValueError("--segmenter learned needs --segmenter-checkpoint PATH.")
        return LearnedSegmenter(checkpoint)
    raise ValueError(f"Unknown segmenter {name!r}; choose offline, oracle or learned.")
