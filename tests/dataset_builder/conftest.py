"""Fixtures: tiny synthetic signals and tiny synth songs (a few bars, 16 kHz) so the suite stays fast."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
from builder_helpers import SR, need_binaries, run_cli, song_like


@pytest.fixture(scope="session")
def good_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "good.wav"
    sf.write(path, song_like(), SR)
    return path


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory) -> Path:
    """Two synth songs of three 2-bar sections at 16 kHz, with stems and metadata."""
    need_binaries()
    out = tmp_path_factory.mktemp("synth")
    run_cli(
        "synth",
        "--n",
        "2",
        "--out",
        str(out),
        "--seed",
        "3",
        "--section-bars",
        "2",
        "--max-sections",
        "3",
        "--sample-rate",
        str(SR),
    )
    return out
