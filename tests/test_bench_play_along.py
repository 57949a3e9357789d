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


def _arpeggios(bars, beat=0.5):
    from diffusers_s2acc.music import Note

    return [
        Note(index * 4 * beat + k * beat, index * 4 * beat + (k + 0.9) * beat, pitch)
        for index, pitches in enumerate(bars)
        for k, pitch in enumerate(pitches)
    ]


def test_a_synth_song_is_read_back_from_midi_harmonised_and_scored(tmp_path):
    pytest.importorskip("mir_eval")
    pytest.importorskip("pretty_midi")
    import json

    import numpy as np
    import soundfile

    from diffusers_s2acc.music import LeadSheet

    # A song folder as `dataset_builder synth` writes it: I-IV-V-I in G, a melody outlining each chord.
    bars = [[67, 71, 74, 71], [72, 76, 79, 76], [74, 78, 81, 78], [79, 74, 71, 67]] * 2
    sheet = LeadSheet.from_chart("G | C | D | G | G | C | D | G", bpm=120)
    meta = {
        "key": "G major",
        "chart_family": "classic",
        "lead_sheet": sheet.to_dict() | {"melody": [n.__dict__ for n in _arpeggios(bars)]},
    }
    song = tmp_path / "songs" / "song_00000"
    song.mkdir(parents=True)
    (song / "metadata.json").write_text(json.dumps(meta))
    soundfile.write(song / "melody.flac", np.zeros(16000, dtype=np.float32), 16000)
    (tmp_path / "songs" / "song_00001").mkdir()
    (tmp_path / "songs" / "song_00001" / "metadata.json").write_text(json.dumps(meta | {"lead_sheet": {"tempo": 90}}))
    found, skipped = bench.synth_songs(tmp_path / "songs")
    assert found == [song] and skipped == ["song_00001"]  # no melody: skipped and named

    row = bench.bench_synth_song(song, ["midi"], ["simple", "rich"])
    assert row["midi"]["read"]["key_name"] == "G major" and row["midi"]["read"]["key_correct"]
    assert row["midi"]["simple"]["chord_majmin"] == pytest.approx(1.0)
    assert row["midi"]["rich"]["chord_root"] == pytest.approx(1.0)
    summary = bench.summarise([row], ["midi"], ["simple", "rich"])
    assert summary["midi"]["key_accuracy"] == 1.0 and summary["midi"]["songs"] == 1


def test_a_music21_lead_sheet_goes_through_the_users_path():
    pytest.importorskip("mir_eval")
    music21 = pytest.importorskip("music21")
    from music21 import harmony, meter, note, stream

    # Four bars of 4/4 with chord symbols, a quarter-note melody outlining them; read back from a MIDI file.
    part = stream.Part()
    part.append(meter.TimeSignature("4/4"))
    for symbol, pitches in [
        ("D", "D4 F#4 A4 F#4"),
        ("G", "G4 B4 D5 B4"),
        ("A7", "A4 C#5 E5 G5"),
        ("D", "D5 A4 F#4 D4"),
    ]:
        bar = stream.Measure()
        bar.append(harmony.ChordSymbol(symbol))
        for name in pitches.split():
            bar.append(note.Note(name, quarterLength=1.0))
        part.append(bar)
    score = stream.Score([part])
    tune = bench.tune_from_score(score, "symbols", tempo=120)
    assert [c.symbol for c in tune["chords"]] == ["D", "G", "A7", "D"] and tune["meter"] == (4, 4)
    row = bench.bench_music21_tune("test:tune", score, "symbols", ["midi"], ["simple"], None)
    assert music21 is not None and row["midi"]["read"]["key_name"] == "D major"
    assert row["midi"]["simple"]["chord_majmin"] == pytest.approx(1.0)
