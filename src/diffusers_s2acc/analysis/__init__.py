"""Music analysis shared by the dataset builder, the training targets and the evaluation metrics.

Beats/tempo/meter (`beats`), key (`key`), chords in the shared vocabulary (`chords`), note transcription and lead
melody (`melody`, basic-pitch), structural segmentation (`segmentation`), measured descriptors (`descriptors`) and a
one-call `analyze_song`. Heavy dependencies (librosa, basic-pitch, scipy) are imported when an analysis runs; a
missing one raises an ImportError naming the `data` extra.
"""

from __future__ import annotations

import importlib


_EXPORTS = {
    "Features": "features",
    "compute_features": "features",
    "ANALYSIS_SR": "features",
    "BeatGrid": "beats",
    "track_beats": "beats",
    "Key": "key",
    "estimate_key": "key",
    "estimate_song_key": "key",
    "parse_key": "key",
    "recognize_chords": "chords",
    "to_harte": "chords",
    "transcribe": "melody",
    "melody_line": "melody",
    "SegmentationConfig": "segmentation",
    "segment_structure": "segmentation",
    "Descriptors": "descriptors",
    "describe": "descriptors",
    "tempo_word": "descriptors",
    "SongAnalysis": "song",
    "analyze_song": "song",
    "compile_analysis": "song",
    "load_for_analysis": "song",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
