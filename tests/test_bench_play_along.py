"""bench/bench_play_along.py's helpers: music21 chord symbols to chart symbols, and the windowed chord scoring."""

import importlib.util
import math
from pathlib import Path

import pytest

from diffusers_s2acc.music.lead_sheet import ChordEvent


# The bench script is not a package module: load it from its file, so the test never skips for an import path.
_SPEC = importlib.util.spec_from_file_location(
    "bench_play_along", Path(__file__).parents[1] / "bench" / "bench_play_along.py"
)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


@pytest.mark.parametrize(
    "figure, expected",
    [
        ("C", "C"),
        ("Em", "Em"),
        ("A7", "A7"),
        ("B-", "Bb"),
        ("F#m7", "F#m7"),
        ("Gmaj7", "Gmaj7"),
        ("Bdim", "Bdim"),
        ("Bm7b5", "Bm7b5"),
        ("C/E", "C/E"),
        ("Dsus4", "Dsus4"),
    ],
)
def test_music21_chord_symbols_become_chart_symbols(figure, expected):
    harmony = pytest.importorskip("music21.harmony")
    assert bench.music21_chord_symbol(harmony.ChordSymbol(figure)) == expected


def test_music21_no_chord_and_unnamed_sonorities():
    harmony = pytest.importorskip("music21.harmony")
    chord = pytest.importorskip("music21.chord")
    assert bench.music21_chord_symbol(harmony.NoChord()) == "N.C."
    # A cluster has no chord name: refused, not guessed.
    assert bench.music21_chord_symbol(harmony.chordSymbolFromChord(chord.Chord(["C4", "C#4", "D4"]))) is None
    # Bach's chordified sonorities go through the same path.
    assert bench.music21_chord_symbol(harmony.chordSymbolFromChord(chord.Chord(["G2", "B3", "D4", "F4"]))) == "G7"


def test_score_chords_uses_the_truths_window_and_reports_the_scorable_share():
    pytest.importorskip("mir_eval")
    truth = [ChordEvent(0, 2, "C"), ChordEvent(2, 4, "G"), ChordEvent(4, 6, "Bdim"), ChordEvent(6, 8, "C")]
    # Right on 0-2, wrong on 2-4, nothing after 6: the window [0, 8) counts the gap as wrong.
    estimate = [ChordEvent(0, 2, "C"), ChordEvent(2, 4, "Am"), ChordEvent(4, 6, "G"), ChordEvent(9, 10, "C")]
    scores = bench.score_chords(truth, estimate, 0.0, 8.0)
    assert scores["scorable"] == pytest.approx(0.75)  # Bdim is outside majmin
    assert scores["chord_majmin"] == pytest.approx(1 / 3)
    # A window inside the truth: only 0-2 (right) and 2-3 (wrong).
    assert bench.score_chords(truth, estimate, 0.0, 3.0)["chord_majmin"] == pytest.approx(2 / 3)
    only_dim = bench.score_chords(truth, estimate, 4.0, 6.0)
    assert only_dim["scorable"] == 0.0 and math.isnan(only_dim["chord_majmin"])
    with pytest.raises(ValueError, match="no reference chord"):
        bench.score_chords(truth, estimate, 20.0, 30.0)
