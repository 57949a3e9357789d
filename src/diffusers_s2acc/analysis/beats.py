"""Tempo, beats, downbeats and meter.

Beats come from librosa's dynamic-programming tracker on a percussive onset envelope. librosa has no downbeat
tracker, so bars are found here: chords and drum patterns change at bar lines, so for each meter (3 or 4 beats) and
phase we measure how much the harmony and the low-frequency onsets change on the candidate downbeats compared with
the other beats, and add how strongly beat-level features repeat with the bar's period.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._deps import require
from .features import Features, sync


METERS = (3, 4)


@dataclass
class BeatGrid:
    """Beat times (seconds), which of them are downbeats, and the tempo and meter they imply."""

    tempo: float
    meter: int
    beats: np.ndarray
    downbeats: np.ndarray
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def offset(self) -> float:
        return float(self.downbeats[0]) if len(self.downbeats) else 0.0

    def bar_boundaries(self, duration: float) -> np.ndarray:
        """Bar start times plus the end, with a bar before the first downbeat when there is a pickup."""
        bars = list(self.downbeats)
        if not bars:
            return np.array([0.0, duration])
        if bars[0] > 0.5:
            bars.insert(0, 0.0)
        else:
            bars[0] = 0.0
        return np.array(bars + [duration])


def _cosine_change(x: np.ndarray) -> np.ndarray:
    """1 - cosine similarity between consecutive columns; element i compares column i-1 and i (0 for i=0)."""
    norm = x / (np.linalg.norm(x, axis=0, keepdims=True) + 1e-9)
    change = 1.0 - (norm[:, 1:] * norm[:, :-1]).sum(axis=0)
    return np.concatenate([[0.0], change])


def _autocorr(x: np.ndarray, lag: int) -> float:
    """Mean cosine similarity between beat-level feature columns `lag` beats apart."""
    if x.shape[1] <= lag:
        return 0.0
    norm = x - x.mean(axis=1, keepdims=True)
    norm = norm / (np.linalg.norm(norm, axis=0, keepdims=True) + 1e-9)
    return float((norm[:, lag:] * norm[:, :-lag]).sum(axis=0).mean())


def track_beats(features: Features, meters: tuple[int, ...] = METERS) -> BeatGrid:
    """Beats, downbeats, tempo and meter of one recording."""
    librosa = require("librosa")
    _, frames = librosa.beat.beat_track(
        onset_envelope=features.onset_env, sr=features.sr, hop_length=features.hop, trim=False
    )
    frames = np.asarray(frames, dtype=int)
    if len(frames) < 8:
        # Too few beats to find bars (rubato, silence, very short clip): one bar per four beats from the start.
        beats = features.times()[frames] if len(frames) else np.array([0.0])
        tempo = 60.0 / float(np.median(np.diff(beats))) if len(beats) > 1 else 120.0
        return BeatGrid(tempo=float(np.clip(tempo, 30, 300)), meter=4, beats=beats, downbeats=beats[::4])
    beats = frames * features.hop / features.sr
    # Least-squares slope of beat time against beat index: frame quantisation (23 ms) averages out, where the
    # median inter-beat interval is off by a percent or two.
    intervals = np.diff(beats)
    steady = np.abs(intervals - np.median(intervals)) < 0.25 * np.median(intervals)
    period = (
        float(np.polyfit(np.arange(len(beats)), beats, 1)[0]) if steady.mean() > 0.9 else float(np.median(intervals))
    )
    tempo = float(np.clip(60.0 / period, 30, 300))
    edges = np.concatenate([frames, [features.num_frames]])
    harmony = _cosine_change(np.vstack([sync(features.chroma, edges), sync(features.bass_chroma, edges)]))
    low = sync(features.mfcc[:3], edges)
    onset = sync(features.onset_env[None], edges, aggregate=np.max)[0]
    onset = onset / (onset.max() + 1e-9)
    pattern = np.vstack([sync(features.mfcc[1:13], edges), sync(features.contrast, edges)])
    best: tuple[float, int, int] | None = None
    scores = {}
    for meter in meters:
        period = _autocorr(pattern, meter) - 0.5 * _autocorr(pattern, meter - 1 if meter > 2 else meter + 1)
        for phase in range(meter):
            on = np.arange(phase, len(beats), meter)
            off = np.setdiff1d(np.arange(len(beats)), on)
            evidence = (harmony[on].mean() - harmony[off].mean()) + 0.25 * (onset[on].mean() - onset[off].mean())
            evidence += 0.05 * float(np.mean(low[0, on]) > np.mean(low[0, off]))
            score = evidence + period
            scores[f"{meter}/{phase}"] = float(score)
            if best is None or score > best[0]:
                best = (score, meter, phase)
    _, meter, phase = best
    return BeatGrid(tempo=tempo, meter=meter, beats=beats, downbeats=beats[phase::meter], scores=scores)
