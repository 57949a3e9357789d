"""Test helpers (signals, CLI runner) shared by the dataset_builder tests; imported by name because the test
folder is not a package (a `tests/dataset_builder` package would shadow the real `dataset_builder`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


REPO = Path(__file__).resolve().parents[2]
SR = 16000


def chord_tones(pcs: list[int], seconds: float, sr: int = SR, octave: int = 4) -> np.ndarray:
    """Harmonic tones (3 partials) for the pitch classes `pcs`, plus a bass root an octave below."""
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros_like(t)
    for i, pc in enumerate(pcs):
        f0 = 440.0 * 2 ** ((pc + 12 * (octave + 1) - 69) / 12)
        if i == 0:
            y += 0.4 * np.sin(2 * np.pi * f0 / 2 * t)
        for k, amp in ((1, 0.3), (2, 0.12), (3, 0.05)):
            y += amp * np.sin(2 * np.pi * f0 * k * t)
    return y * np.exp(-t * 0.3)  # a gentle decay per chord, like a struck instrument


def clicks(seconds: float, bpm: float, sr: int = SR, accent_every: int = 4) -> np.ndarray:
    y = np.zeros(int(seconds * sr))
    rng = np.random.default_rng(0)
    burst = rng.standard_normal(int(0.03 * sr)) * np.exp(-np.arange(int(0.03 * sr)) / (0.005 * sr))
    for i, start in enumerate(np.arange(0, seconds, 60.0 / bpm)):
        a = int(start * sr)
        gain = 1.0 if i % accent_every == 0 else 0.5
        y[a : a + len(burst)] += gain * burst[: len(y) - a]
    return y


def song_like(seconds: float = 16.0, bpm: float = 120.0, sr: int = SR) -> np.ndarray:
    """C - Am - F - G, one chord per bar, over a click track: a musical test signal with known chords."""
    bar = 4 * 60.0 / bpm
    progression = [[0, 4, 7], [9, 0, 4], [5, 9, 0], [7, 11, 2]]
    parts = [chord_tones(progression[i % 4], bar, sr) for i in range(max(1, int(np.ceil(seconds / bar))))]
    y = np.concatenate(parts)[: int(seconds * sr)]
    y = 0.25 * y / np.abs(y).max() + 0.2 * clicks(len(y) / sr, bpm, sr)[: len(y)]
    return y.astype(np.float32)


def need_binaries() -> None:
    for binary in ("mma", "fluidsynth"):
        if shutil.which(binary) is None:
            pytest.skip(f"`{binary}` not installed; run scripts/install_system_deps.sh")


def run_cli(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "dataset_builder", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"dataset_builder {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    return result


FAST_BUILD = ["--no-melody", "--sample-rate", str(SR), "--min-duration", "2", "--min-segment", "1"]
