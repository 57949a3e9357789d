"""One call that runs every analysis on a recording: the builder's lead-sheet stage and later metrics use this."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import resample, to_mono
from ..music import ChordEvent, LeadSheet, Note, Segment
from ._deps import require
from .beats import BeatGrid, track_beats
from .chords import recognize_chords
from .features import ANALYSIS_SR, Features, compute_features
from .key import Key, estimate_song_key
from .melody import melody_line, transcribe


@dataclass
class SongAnalysis:
    features: Features
    grid: BeatGrid
    key: Key
    chords: list[ChordEvent]
    notes: list[dict] | None  # every transcribed note (None when transcription is off)
    melody: list[Note] | None

    def lead_sheet(self, start: float = 0.0, end: float | None = None) -> LeadSheet:
        """Lead sheet of `[start, end)` with times relative to `start` (the clip's own time axis); its offset is the
        first measured downbeat in the window."""
        end = self.features.duration if end is None else end
        tempo = float(np.clip(self.grid.tempo, 30, 300))
        song = LeadSheet(tempo=tempo, meter=(self.grid.meter, 4), chords=self.chords, melody=self.melody)
        return song.crop(start, end, min_overlap=1e-3, downbeats=self.grid.downbeats)


def load_for_analysis(y: np.ndarray, sr: int) -> np.ndarray:
    """Mono float32 at `ANALYSIS_SR` (channels averaged, resampled with soxr)."""
    require("soxr")  # a clear "install the data extra" message rather than a bare ImportError
    return resample(to_mono(y), sr, ANALYSIS_SR)


def analyze_song(y: np.ndarray, sr: int, *, melody: bool = True) -> SongAnalysis:
    """Beats, key, chords and (optionally) notes and melody of a recording: `y` is `(channels, samples)` (the layout
    of `diffusers_s2acc.audio`) or mono, at any rate `sr`."""
    compile_analysis()
    mono = load_for_analysis(y, sr)
    features = compute_features(mono, ANALYSIS_SR)
    grid = track_beats(features)
    chords = recognize_chords(features, grid.beats, grid.downbeats, meter=grid.meter)
    key = estimate_song_key(chords, features.bass_chroma.sum(axis=1))
    notes = transcribe(mono, ANALYSIS_SR) if melody else None
    return SongAnalysis(features, grid, key, chords, notes, melody_line(notes) if notes is not None else None)


# Serialises the first numba compilation of every process on this machine (see `compile_analysis`).
COMPILE_LOCK_PATH = Path(tempfile.gettempdir()) / "diffusers_s2acc-numba-cache.lock"
_compiled = False


def compile_analysis() -> None:
    """Compile librosa's numba kernels in this process (once) by analysing a few seconds of synthetic music.

    librosa caches its compiled kernels on disk (`cache=True`). Processes that compile the same kernel at the same
    time can leave a corrupt cache that crashes every later run with a segmentation fault (seen with numba 0.68 and
    two builder workers). The first compilation of each process therefore runs under a machine-wide file lock: the
    first process writes the cache, the next ones read a complete one. `analyze_song` calls this itself, so every
    entry point (builder workers and shards, metrics, training targets) is covered without special cases.
    """
    global _compiled
    if _compiled:
        return
    from filelock import FileLock

    _compiled = True
    try:
        with FileLock(str(COMPILE_LOCK_PATH)):
            sr, seconds = ANALYSIS_SR, 6.0
            t = np.arange(int(sr * seconds)) / sr
            tones = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0)) / 3
            clicks = (np.mod(t, 0.5) < 0.01).astype(np.float64)
            segment(analyze_song((0.3 * tones + 0.5 * clicks).astype(np.float32), sr, melody=False))
    except BaseException:
        _compiled = False
        raise


def segment(analysis: SongAnalysis) -> list[Segment]:
    from .segmentation import segment_structure

    return segment_structure(analysis.features, analysis.grid)
