import os

import numpy as np
import pytest
from builder_helpers import SR, chord_tones, clicks, song_like

from diffusers_s2acc.analysis import (
    ANALYSIS_SR,
    analyze_song,
    compute_features,
    estimate_key,
    melody_line,
    recognize_chords,
    segment_structure,
    track_beats,
)
from diffusers_s2acc.analysis.key import parse_key
from diffusers_s2acc.analysis.segmentation import SegmentationConfig, label_sections, optimal_partition
from diffusers_s2acc.music import SECTION_LABELS, parse_chord


@pytest.fixture(scope="module")
def analysed():
    y = song_like(seconds=16.0, bpm=120.0)
    return analyze_song(y, SR, melody=False)


def test_tempo_beats_and_meter(analysed):
    assert abs(analysed.grid.tempo - 120.0) < 3.0
    intervals = np.diff(analysed.grid.beats)
    assert np.allclose(np.median(intervals), 0.5, atol=0.03)
    assert analysed.grid.meter == 4


def test_chords_follow_the_progression(analysed):
    # Bars (2 s each) hold C, Am, F, G; score the middle of each bar after the first.
    expected = ["C", "Am", "F", "G"] * 2
    hits = 0
    for bar, symbol in enumerate(expected):
        mid = bar * 2.0 + 1.0
        found = [c.symbol for c in analysed.chords if c.start <= mid < c.end]
        chord = parse_chord(found[0]) if found else None
        target = parse_chord(symbol)
        hits += (
            chord is not None
            and chord.root == target.root
            and (chord.quality in ("min", "min7")) == (target.quality == "min")
        )
    assert hits >= 6, [(c.start, c.symbol) for c in analysed.chords]


def test_key_of_a_scale_profile():
    c_major = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=float) + np.eye(12)[0] + np.eye(12)[7] * 0.5
    assert estimate_key(c_major).name == "C major"
    a_minor = np.roll(np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], dtype=float), 9) + np.eye(12)[9] * 1.5
    assert estimate_key(a_minor).name == "A minor"
    assert parse_key("Eb minor").tonic == 3
    with pytest.raises(ValueError, match="12 bins"):
        estimate_key(np.ones(7))


def test_segmentation_finds_a_texture_change():
    # 8 bars of sustained chords without drums, then 8 bars of clicks with a brighter chord texture.
    bpm, bar = 120.0, 2.0
    calm = np.concatenate([chord_tones([0, 4, 7], bar, octave=3) for _ in range(8)])
    busy = np.concatenate([chord_tones([5, 9, 0], bar, octave=5) for _ in range(8)])
    busy = busy / np.abs(busy).max() * 0.3 + 0.5 * clicks(len(busy) / SR, bpm)[: len(busy)]
    y = np.concatenate([calm / np.abs(calm).max() * 0.3, busy]).astype(np.float32)
    import soxr

    features = compute_features(soxr.resample(y, SR, ANALYSIS_SR))
    grid = track_beats(features)
    segments = segment_structure(features, grid)
    assert all(s.label in SECTION_LABELS for s in segments)
    starts = [s.start for s in segments[1:]]
    assert any(abs(t - 16.0) < 1.5 for t in starts), [(s.start, s.end, s.label) for s in segments]


def test_optimal_partition_recovers_blocks():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 0.1, (8, 6)), rng.normal(3, 0.1, (8, 6)), rng.normal(-3, 0.1, (4, 6))])
    assert optimal_partition(x, SegmentationConfig()) == [0, 8, 16]


def test_labels_from_repetition():
    labels = label_sections(
        np.array([0, 1, 2, 1, 2, 3]), np.array([-30, -25, -18, -25, -18, -28.0]), np.array([4, 8, 8, 8, 8, 4])
    )
    assert labels == ["intro", "verse", "chorus", "verse", "chorus", "outro"]


def test_melody_line_is_monophonic_skyline():
    notes = [
        {"start": 0.0, "end": 1.0, "pitch": 72, "amplitude": 0.5},
        {"start": 0.0, "end": 1.0, "pitch": 60, "amplitude": 0.9},  # accompaniment under the tune
        {"start": 1.0, "end": 2.0, "pitch": 74, "amplitude": 0.5},
        {"start": 0.2, "end": 0.8, "pitch": 40, "amplitude": 0.9},
    ]  # bass: below the melody register
    line = melody_line(notes)
    assert [n.pitch for n in line] == [72, 74]


def test_basic_pitch_transcribes_a_tone():
    pytest.importorskip("basic_pitch")
    from diffusers_s2acc.analysis import transcribe

    t = np.arange(int(1.5 * 22050)) / 22050
    y = (0.4 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    notes = transcribe(y, 22050)
    assert any(n["pitch"] == 69 for n in notes), notes


def test_chords_without_downbeats_and_silence():
    features = compute_features(np.zeros(ANALYSIS_SR * 3, dtype=np.float32) + 1e-7)
    chords = recognize_chords(features, np.arange(0.5, 3.0, 0.5))
    assert chords and all(c.symbol == "N.C." for c in chords)


def test_first_compilation_is_serialised_across_processes(tmp_path):
    """Concurrent first compilations corrupt numba's on-disk cache (later runs segfault): they must queue."""
    import subprocess
    import sys
    import time

    from filelock import FileLock

    from diffusers_s2acc.analysis.song import COMPILE_LOCK_PATH

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}  # a cold cache
    code = "from diffusers_s2acc.analysis import compile_analysis; compile_analysis(); print('compiled')"

    def start():
        return subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    with FileLock(str(COMPILE_LOCK_PATH)):
        waiting = start()
        time.sleep(10)
        assert waiting.poll() is None, "compilation started while another process held the lock"
    racers = [waiting, start()]
    outputs = [p.communicate(timeout=300) for p in racers]
    assert [p.returncode for p in racers] == [0, 0], outputs
    # A later process loads what the two wrote: a corrupt cache would crash it.
    later = start()
    out, err = later.communicate(timeout=300)
    assert later.returncode == 0 and "compiled" in out, err
