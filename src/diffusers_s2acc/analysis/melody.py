"""Note transcription with basic-pitch (its ONNX model ships in the wheel) and a lead-melody line from the notes."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from functools import lru_cache

import numpy as np

from diffusers_s2acc.music import Note

from ._deps import require


MELODY_LOWEST = 55  # G3: below this, notes belong to the bass and comping, not the tune


def _is_backend_notice(record: logging.LogRecord) -> bool:
    return "basic_pitch" in record.pathname and "is not installed" in record.getMessage()


@lru_cache(maxsize=1)
def _inference():
    """`basic_pitch.inference`, imported without its start-up noise.

    On import, basic-pitch logs one root-logger warning per model runtime it lacks (CoreML, TFLite, TensorFlow): this
    package only runs its ONNX model, so those notices are dropped (only them: a filter on their text and file). A
    warning on an unconfigured root logger would also install a stderr handler for the whole process; a temporary
    NullHandler prevents that. resampy, which basic-pitch imports, warns that `pkg_resources` is deprecated.
    """
    root = logging.getLogger()
    quiet = logging.NullHandler()
    drop = logging.Filter()
    drop.filter = lambda record: not _is_backend_notice(record)  # type: ignore[method-assign]
    root.addHandler(quiet)
    root.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            return require("basic_pitch.inference")
    finally:
        root.removeFilter(drop)
        root.removeHandler(quiet)


@lru_cache(maxsize=1)
def _model():
    inference = _inference()
    basic_pitch = require("basic_pitch")
    return inference.Model(basic_pitch.ICASSP_2022_MODEL_PATH)


def transcribe(
    y: np.ndarray,
    sr: int,
    *,
    onset_threshold: float = 0.5,
    frame_threshold: float = 0.3,
    minimum_note_ms: float = 90.0,
) -> list[dict]:
    """All notes basic-pitch hears in mono `y`: `{start, end, pitch, amplitude}` sorted by start."""
    inference = _inference()
    soundfile = require("soundfile")
    # basic-pitch reads its input from a file (it resamples with librosa.load); a temporary WAV is the cheapest way.
    handle, path = tempfile.mkstemp(suffix=".wav")
    os.close(handle)
    try:
        soundfile.write(path, y.astype(np.float32), sr)
        # basic-pitch prints "Predicting MIDI for <temporary file>..." to stdout on every call: not our output.
        with contextlib.redirect_stdout(io.StringIO()):
            _, _, events = inference.predict(
                path,
                _model(),
                onset_threshold=onset_threshold,
                frame_threshold=frame_threshold,
                minimum_note_length=minimum_note_ms,
            )
    finally:
        os.unlink(path)
    notes = [{"start": float(s), "end": float(e), "pitch": int(p), "amplitude": float(a)} for s, e, p, a, *_ in events]
    return sorted(notes, key=lambda n: (n["start"], n["pitch"]))


def melody_line(notes: list[dict], lowest: int = MELODY_LOWEST, max_overlap: float = 0.3) -> list[Note]:
    """Skyline melody: the highest notes, each kept only if it overlaps already kept notes by less than
    `max_overlap` of its own length, so the result is monophonic like a sung line."""
    kept: list[dict] = []
    starts, ends = np.zeros(0), np.zeros(0)
    for note in sorted((n for n in notes if n["pitch"] >= lowest), key=lambda n: (-n["pitch"], -n["amplitude"])):
        length = note["end"] - note["start"]
        overlap = np.clip(np.minimum(ends, note["end"]) - np.maximum(starts, note["start"]), 0, None).sum()
        if overlap < max_overlap * length:
            kept.append(note)
            starts, ends = np.append(starts, note["start"]), np.append(ends, note["end"])
    kept.sort(key=lambda n: n["start"])
    # Trim residual overlaps so each note ends where the next begins.
    for current, following in zip(kept, kept[1:]):
        current["end"] = min(current["end"], following["start"])
    return [Note(n["start"], n["end"], n["pitch"]) for n in kept if n["end"] - n["start"] > 1e-3]


def monophonic_line(
    notes: list[dict], *, min_duration: float = 0.06, merge_gap: float = 0.0, max_overlap: float = 0.3
) -> list[Note]:
    """One monophonic line from transcribed or MIDI notes of a solo melody (voice, whistle, one instrument).

    Unlike [`melody_line`] (the top voice of a mix), the most salient note wins where notes overlap: the longest and
    loudest (`amplitude`, or MIDI velocity / 127, times duration), so a transcriber's faint octave ghost above a
    sung note never replaces it, whatever the register. A note is kept only if it overlaps the notes already kept
    by less than `max_overlap` of its length; residual overlaps are trimmed (each note ends where the next begins),
    consecutive notes of the same pitch less than `merge_gap` seconds apart are merged (a transcriber splits a held
    note at a breath of vibrato), and notes shorter than `min_duration` seconds are dropped.

    Args:
        notes (`list[dict]`): `{start, end, pitch}` with an optional `amplitude` in `[0, 1]`.
    """
    kept: list[dict] = []
    starts, ends = np.zeros(0), np.zeros(0)

    def salience(note: dict) -> float:
        return (note["end"] - note["start"]) * (0.25 + note.get("amplitude", 1.0))

    for note in sorted((dict(n) for n in notes if n["end"] - n["start"] >= min_duration), key=lambda n: -salience(n)):
        length = note["end"] - note["start"]
        overlap = np.clip(np.minimum(ends, note["end"]) - np.maximum(starts, note["start"]), 0, None).sum()
        if overlap < max_overlap * length:
            kept.append(note)
            starts, ends = np.append(starts, note["start"]), np.append(ends, note["end"])
    kept.sort(key=lambda n: n["start"])
    for current, following in zip(kept, kept[1:]):
        current["end"] = min(current["end"], following["start"])
    merged: list[dict] = []
    for note in kept:
        if merged and merged[-1]["pitch"] == note["pitch"] and note["start"] - merged[-1]["end"] < merge_gap:
            merged[-1]["end"] = max(merged[-1]["end"], note["end"])
        else:
            merged.append(note)
    return [Note(n["start"], n["end"], int(n["pitch"])) for n in merged if n["end"] - n["start"] >= min_duration]
