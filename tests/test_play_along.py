"""Play along with a melody: the harmoniser, the chart printer, melody input (MIDI, audio, cleaning, bad input), the
play-along helper's alignment and `s2acc accompany` on the tiny preset."""

import dataclasses
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile

from diffusers_s2acc import presets
from diffusers_s2acc.analysis.melody import monophonic_line
from diffusers_s2acc.analysis.melody_input import (
    melody_from_audio,
    melody_from_midi,
    read_melody,
    refine_beat_grid,
    tempo_from_onsets,
)
from diffusers_s2acc.cli import main
from diffusers_s2acc.music import LeadSheet, Note
from diffusers_s2acc.music.chords import PITCH_CLASS_NAMES, parse_chord
from diffusers_s2acc.music.harmonizer import (
    MODE_FEATURES,
    MODES,
    STATES,
    HarmonizerModel,
    _key_weights,
    _MelodyCues,
    estimate_key,
    harmonize,
    key_log_likelihoods,
    load_model,
    parse_key_name,
)
from diffusers_s2acc.pipelines.play_along import play_along


BEAT = 0.5  # 120 BPM


def _bar(bar: int, pitches, beats_per_bar: int = 4, offset: float = 0.0) -> list[Note]:
    """One note per beat of `bar`, 90% of the beat long."""
    start = offset + bar * beats_per_bar * BEAT
    return [Note(start + i * BEAT, start + (i + 0.9) * BEAT, p) for i, p in enumerate(pitches)]


def _tune(bars) -> list[Note]:
    return [note for index, pitches in enumerate(bars) for note in _bar(index, pitches)]


I_IV_V_I = _tune([[60, 64, 67, 72], [65, 69, 72, 69], [67, 71, 74, 71], [72, 67, 64, 60]])


# ------------------------------------------------------------------ harmoniser


def test_arpeggios_over_I_IV_V_I_get_those_chords_with_high_confidence():
    suggestion = harmonize(I_IV_V_I, "C major", tempo=120)
    assert suggestion.to_chart() == "C | F | G | C"
    assert [bar.symbols for bar in suggestion.bars] == [("C",), ("F",), ("G",), ("C",)]
    assert all(bar.confidence > 0.6 for bar in suggestion.bars)
    assert suggestion.lead_sheet.melody == I_IV_V_I  # the lead sheet carries the melody with the chords


def test_the_same_melody_in_another_key_is_transposed():
    up = [Note(n.start, n.end, n.pitch + 2) for n in I_IV_V_I]
    assert harmonize(up, "D", tempo=120).to_chart() == "D | G | A | D"


def test_a_melody_outlining_a_secondary_dominant_gets_it_with_its_seventh_above_simple():
    # C | A7 (C# in the tune: V7/ii) | Dm | G | C
    tune = _tune([[60, 64, 67, 64], [69, 73, 76, 73], [62, 65, 69, 65], [67, 71, 74, 71], [72, 67, 64, 60]])
    rich = harmonize(tune, "C major", tempo=120, richness="rich")
    assert [bar.symbols[0] for bar in rich.bars][:2] == ["C", "A7"]
    # The roots under the tune are its harmony's: C, A (the C# is A's third), D, G, C.
    assert [parse_chord(bar.symbols[0]).root for bar in rich.bars] == [0, 9, 2, 7, 0]
    simple = harmonize(tune, "C major", tempo=120, richness="simple")
    assert simple.to_chart() == "C | A | Dm | G | C"  # the same chords as plain triads
    sevenths = harmonize(tune, "C major", tempo=120, richness="sevenths")
    assert "A7" in sevenths.to_chart().split(" | ")[1]
    assert all(parse_chord(bar.symbols[0]).quality in ("maj", "min", "dim") for bar in simple.bars)


def test_the_key_is_decoded_with_the_chords_and_a_minor_tune_is_not_read_as_its_relative_major():
    # The same A minor tune (i iv V i, the leading tone G# over E) in all 12 keys, no key given.
    pickup = [Note(1.5, 1.95, 64)]
    body = [
        note
        for index, pitches in enumerate([[69, 72, 76, 72], [74, 77, 81, 77], [76, 80, 83, 80], [81, 76, 72, 69]])
        for note in _bar(index, pitches, offset=2.0)
    ]
    for shift in range(12):
        tune = [Note(n.start, n.end, n.pitch + shift) for n in pickup + body]
        suggestion = harmonize(tune, tempo=120, offset=2.0)
        assert suggestion.key == ((9 + shift) % 12, "minor")
        assert 0.0 < suggestion.key_confidence < 1.0
        scores = key_log_likelihoods(tune, tempo=120, offset=2.0)
        assert scores[((9 + shift) % 12, "minor")] > scores[(shift % 12, "major")] + 1.0  # its relative major
        roots = [parse_chord(bar.symbols[0]) for bar in suggestion.bars[1:]]
        assert [(c.root, c.quality) for c in roots] == [
            ((9 + shift) % 12, "min"),
            ((2 + shift) % 12, "min"),
            ((4 + shift) % 12, "maj"),
            ((9 + shift) % 12, "min"),
        ]
    # Without the leading tone (natural minor: i iv v i) it is still A minor, not C major.
    natural = _tune([[69, 72, 76, 72], [74, 77, 81, 77], [76, 79, 83, 79], [81, 76, 72, 69]])
    assert harmonize(natural, tempo=120).key == (9, "minor")
    # ... and the I-IV-V-I tune in C is C major, in every key.
    for shift in range(12):
        up = [Note(n.start, n.end, n.pitch + shift) for n in I_IV_V_I]
        assert estimate_key(up, tempo=120)[0] == (shift, "major")
    assert harmonize(I_IV_V_I, "C major", tempo=120).key_confidence == 1.0


def _phrased(bars, shift: int = 0) -> list[Note]:
    """`bars` of `(pitch, beats)` pairs, 4/4 at 120 BPM, each note 90% of its length."""
    notes = []
    for index, bar in enumerate(bars):
        start = index * 4 * BEAT
        for pitch, beats in bar:
            notes.append(Note(start, start + beats * BEAT * 0.9, pitch + shift))
            start += beats * BEAT
    return notes


# A C major pentatonic tune that ends on a held C: no F or B to rule out A minor, the scale's other reading.
PENTATONIC_IN_C = [
    [(60, 1), (62, 1), (64, 1), (67, 1)], [(69, 2), (67, 2)], [(64, 1), (62, 1), (60, 1), (62, 1)], [(64, 2), (62, 2)],
    [(60, 1), (62, 1), (64, 1), (67, 1)], [(69, 2), (67, 1), (64, 1)], [(62, 1), (64, 1), (62, 1), (57, 1)], [(60, 4)],
]  # fmt: skip
# The same notes a third lower, ending on a held A: A minor pentatonic.
PENTATONIC_IN_A_MINOR = [
    [(57, 1), (60, 1), (62, 1), (64, 1)], [(67, 2), (64, 2)], [(62, 1), (60, 1), (57, 1), (60, 1)], [(62, 2), (64, 2)],
    [(57, 1), (60, 1), (62, 1), (64, 1)], [(67, 2), (64, 1), (62, 1)], [(60, 1), (62, 1), (60, 1), (55, 1)], [(57, 4)],
]  # fmt: skip


def test_a_major_tune_ending_on_its_tonic_is_not_read_as_its_relative_minor():
    model = load_model()
    for shift in range(12):
        major = _phrased(PENTATONIC_IN_C, shift)
        assert estimate_key(major, tempo=120)[0] == (shift, "major")
        assert harmonize(major, tempo=120).key == (shift, "major")
        minor = _phrased(PENTATONIC_IN_A_MINOR, shift)
        assert estimate_key(minor, tempo=120)[0] == ((9 + shift) % 12, "minor")
    # The chord model alone (fitted on synth songs, whose melodies stop on any degree) hears both as minor: the
    # mode decision is what reads the major one right.
    chords_only = dataclasses.replace(model, mode_decision=None)
    assert estimate_key(_phrased(PENTATONIC_IN_C), tempo=120, model=chords_only)[0] == (9, "minor")
    # Without a key the chart is written in C major's own chords (none borrowed from the A minor reading's E or
    # the G major reading's D), opening on C.
    chart = harmonize(_phrased(PENTATONIC_IN_C), tempo=120).to_chart()
    assert chart.startswith("C |")
    assert {parse_chord(s).root for s in chart.replace("|", " ").split() if s != "-"} <= {0, 2, 4, 5, 7, 9}


def test_without_a_key_I_IV_V_I_in_c_gets_c_f_g_c():
    assert harmonize(I_IV_V_I, tempo=120).to_chart() == "C | F | G | C"
    assert harmonize(I_IV_V_I, tempo=120).key == (0, "major")


def test_a_key_and_its_relative_share_their_posterior_by_the_mode_decision():
    scores = {(tonic, mode): -60.0 for mode in MODES for tonic in range(12)}
    scores.update({(0, "major"): -51.0, (9, "minor"): -50.0, (4, "major"): -55.0, (1, "minor"): -56.0})
    plain = _key_weights(scores, 0.5)
    np.testing.assert_allclose(sum(plain.values()), 1.0)
    assert plain[(9, "minor")] > plain[(0, "major")]
    # A melody that ends on C, with a C major profile: the pair (C major, A minor) keeps its share, now mostly C's.
    cues = _MelodyCues(_phrased(PENTATONIC_IN_C), BEAT)
    decision = {"coefficients": {"likelihood": 1.0, "final_tonic": 2.0, "profile": 0.0, "bias": 0.0}}
    shared = _key_weights(scores, 0.5, cues, decision)
    np.testing.assert_allclose(shared[(0, "major")] + shared[(9, "minor")], plain[(0, "major")] + plain[(9, "minor")])
    np.testing.assert_allclose(sum(shared.values()), 1.0)
    # The odds of an eight-bar tune count sqrt(64 / 32) times: log-odds 0.5 * (-1) * 1.41 + 2 (the final C is C
    # major's tonic), so C major now has e^1.29 times A minor's share.
    assert cues.length_scale == pytest.approx(math.sqrt(64 / 31.6))  # first onset to the held C's end
    expected = math.exp(-0.5 * cues.length_scale + 2.0)
    np.testing.assert_allclose(shared[(0, "major")] / shared[(9, "minor")], expected, rtol=1e-6)
    # A pair the final note says nothing about keeps the chord model's odds, length-scaled (E major against C#
    # minor: the final C is neither tonic).
    ratio = shared[(4, "major")] / shared[(1, "minor")]
    np.testing.assert_allclose(ratio, math.exp(0.5 * cues.length_scale), rtol=1e-6)
    # A melody 64 beats long, the likelihood coefficient alone at 1: the plain posteriors.
    identity = {"coefficients": {name: float(name == "likelihood") for name in MODE_FEATURES}}
    cues.length_scale = 1.0
    for key, weight in _key_weights(scores, 0.5, cues, identity).items():
        assert weight == pytest.approx(plain[key])


def test_the_packaged_mode_decision_records_its_data():
    decision = load_model().mode_decision
    assert set(decision["coefficients"]) == set(MODE_FEATURES)
    provenance = decision["provenance"]
    assert (
        "songs_train" in provenance["fitted_on"]["synth"][0] and "ryansMammoth" in provenance["fitted_on"]["music21"]
    )
    assert "scripts/fit_key_mode.py" in provenance["command"]
    # It reads major tunes as major more often than the chord model alone did, on the real tunes it was fitted on.
    pairs = provenance["pairs"]["ryans"]
    assert pairs["accuracy_fitted"]["major"] > pairs["accuracy_chord_model"]["major"]
    assert decision["coefficients"]["final_tonic"] > 0 and decision["coefficients"]["profile"] > 0


def test_a_minor_tune_gets_the_major_dominant_and_a_pickup_bar():
    # Pick-up E on beat 4, then Am | Dm | E | Am in A minor (G# in the E bar).
    pickup = [Note(1.5, 1.95, 64)]
    body = [
        note
        for index, pitches in enumerate([[69, 72, 76, 72], [74, 77, 81, 77], [76, 80, 83, 80], [81, 76, 72, 69]])
        for note in _bar(index, pitches, offset=2.0)
    ]
    suggestion = harmonize(pickup + body, "A minor", tempo=120, offset=2.0)
    assert suggestion.to_chart() == "Am | Dm | E | Am"
    assert suggestion.bars[0].index == -1 and suggestion.bars[0].start == 0.0  # the pick-up bar, clipped at 0


def test_half_bar_changes_in_four_four_and_one_chord_per_bar_in_three_four():
    tune = _tune([[60, 64, 65, 69], [67, 71, 72, 76]])  # C E F A | G B C E: C F | G C
    assert harmonize(tune, "C", tempo=120).to_chart() == "C F | G C"
    assert harmonize(tune, "C", tempo=120, chords_per_bar=1).to_chart().count("|") == 1
    waltz = [note for index, p in enumerate([[60, 64, 67], [65, 69, 72], [67, 71, 74]]) for note in _bar(index, p, 3)]
    assert harmonize(waltz, "C", tempo=120, meter="3/4").to_chart() == "C | F | G"


def test_harmoniser_refuses_bad_arguments_naming_them():
    with pytest.raises(ValueError, match="`melody` has no notes"):
        harmonize([], "C", tempo=120)
    with pytest.raises(ValueError, match="`richness`"):
        harmonize(I_IV_V_I, "C", tempo=120, richness="jazzy")
    with pytest.raises(ValueError, match="`key`"):
        harmonize(I_IV_V_I, "H major", tempo=120)
    with pytest.raises(ValueError, match="`chords_per_bar`"):
        harmonize(I_IV_V_I, "C", tempo=120, chords_per_bar=3)


def test_key_names_as_musicians_write_them():
    assert parse_key_name("C major") == (0, "major")
    assert parse_key_name("F#m") == (6, "minor")
    assert parse_key_name("Bb min") == (10, "minor")
    assert parse_key_name("Eb") == (3, "major")
    for bad in ("C7", "Am/C", "major", ""):
        with pytest.raises(ValueError, match="`key`"):
            parse_key_name(bad)


def test_bars_are_written_as_the_chart_writes_them():
    # Whatever the harmoniser suggests, its bar table and its chart say the same (a pick-up bar is not charted).
    tune = _tune([[60, 64, 67, 64], [69, 73, 76, 73], [62, 65, 69, 71], [67, 71, 74, 77], [72, 67, 64, 60]])
    for richness in ("simple", "sevenths", "rich"):
        suggestion = harmonize(tune, tempo=120, richness=richness)
        assert " | ".join(" ".join(bar.symbols) for bar in suggestion.bars if bar.index >= 0) == suggestion.to_chart()
        assert suggestion.slot_posteriors.shape == (len(suggestion.bars) * 4, 48)
        np.testing.assert_allclose(suggestion.slot_posteriors.sum(axis=1), 1.0, atol=1e-6)
    for bar in harmonize(tune, tempo=120, chords_per_bar=1).bars:
        assert len(bar.symbols) == 1


def test_the_packaged_model_records_its_data_and_every_chord_it_can_write_parses():
    model = load_model()
    provenance = model.provenance
    assert "songs_train" in provenance["fitted_on"][0] and "scripts/fit_harmonizer.py" in provenance["command"]
    assert provenance["songs"] == sum(provenance["songs_per_mode"].values()) > 50
    for mode in MODES:
        entry = model.modes[mode]
        np.testing.assert_allclose(entry["emission"].sum(axis=-1), 1.0, atol=1e-3)
        np.testing.assert_allclose(entry["transition"].sum(axis=-1), 1.0, atol=1e-3)
        assert np.all(np.diag(entry["transition"]) == 0)
        # The key's own triads are all simple chords (I IV V ii iii vi in major; i iv V in minor at least).
        own = {"major": [(0, "maj"), (5, "maj"), (7, "maj"), (2, "min"), (4, "min"), (9, "min")]}
        own["minor"] = [(0, "min"), (5, "min"), (7, "maj")]
        assert {STATES.index(s) for s in own[mode]} <= set(entry["common"])
        for tonic in range(12):
            for state, suffix in enumerate(entry["spelling"]):
                parse_chord(PITCH_CLASS_NAMES[(tonic + STATES[state][0]) % 12] + suffix)
    # Chords change on bar lines far more often than inside bars, as the fitting songs' charts do.
    change = model.change_probabilities(4)
    assert change[0] > 0.6 and max(change[1:]) < 0.4 and change[2] == max(change[1:])
    assert model.metric_weights["downbeat"] > 0


def _write_song(folder, name, key, chart, bars, seed):
    """A synth-like song folder: a chart and an arpeggio melody (one chord tone per beat) over it, 120 BPM."""
    sheet = LeadSheet.from_chart(chart, bpm=120)
    melody = _tune(bars)
    data = {"key": key, "seed": seed, "lead_sheet": sheet.to_dict() | {"melody": [n.__dict__ for n in melody]}}
    (folder / name).mkdir()
    (folder / name / "metadata.json").write_text(json.dumps(data))


def test_the_fitting_script_writes_a_model_that_harmonises_like_its_songs(tmp_path):
    pytest.importorskip("mir_eval")  # its cross-validation scores charts as the benchmark does
    spec = importlib.util.spec_from_file_location(
        "fit_harmonizer", Path(__file__).parents[1] / "scripts/fit_harmonizer.py"
    )
    fit_script = importlib.util.module_from_spec(spec)
    sys.modules["fit_harmonizer"] = fit_script
    spec.loader.exec_module(fit_script)
    songs = tmp_path / "songs"
    songs.mkdir()
    major = [[60, 64, 67, 64], [65, 69, 72, 69], [67, 71, 74, 71], [72, 67, 64, 60]]
    minor = [[69, 72, 76, 72], [74, 77, 81, 77], [76, 80, 83, 80], [81, 76, 72, 69]]
    for index, shift in enumerate((0, 2, 5, 7)):
        up = [[p + shift for p in bar] for bar in major]
        names = ["C", "D", "F", "G"][index], ["F", "G", "Bb", "C"][index], ["G", "A", "C", "D"][index]
        _write_song(songs, f"major_{index}", f"{names[0]} major", " | ".join((names + names[:1]) * 2), up * 2, index)
        down = [[p + shift for p in bar] for bar in minor]
        names = ["Am", "Bm", "Dm", "Em"][index], ["Dm", "Em", "Gm", "Am"][index], ["E", "F#", "A", "B"][index]
        tonic = names[0][:-1]
        _write_song(
            songs, f"minor_{index}", f"{tonic} minor", " | ".join((names + names[:1]) * 2), down * 2, 10 + index
        )
    (songs / "keyless").mkdir()
    (songs / "keyless" / "metadata.json").write_text(json.dumps({"key": "no key", "lead_sheet": {"tempo": 120}}))
    out = tmp_path / "model.json"
    args = ["--songs", str(songs), "--out", str(out), "--folds", "2", "--evidence-scale", "0.5", "1"]
    assert fit_script.main(args + ["--key-temperature", "1", "--emission-smoothing", "4", "--held-scale", "1"]) == 0
    model = HarmonizerModel.from_file(out)
    assert model.provenance["songs"] == 8 and model.provenance["left_out"]["keyless"] == 1
    assert model.provenance["songs_per_mode"] == {"major": 4, "minor": 4}
    assert "--songs " + str(songs) in model.provenance["command"] and model.evidence_scale in (0.5, 1.0)
    # A tune in a key none of the songs was in gets the songs' chords.
    tune = [Note(n.start, n.end, n.pitch + 3) for n in _tune(major)]
    assert harmonize(tune, tempo=120, model=model).to_chart() == "Eb | Ab | Bb | Eb"
    assert harmonize(tune, tempo=120, model=model).key == (3, "major")


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_mode_fitting_script_reads_abc_keys_and_fits_a_logistic_model():
    script = _load_script("fit_key_mode")
    assert script.abc_key("X:1\nT:Reel\nK:G\n|:GABc|") == (7, "major")
    assert script.abc_key("X:1\nK:Em\nEFGA|") == (4, "minor")
    assert script.abc_key("K:Ador\n") == (9, "minor") and script.abc_key("K:Dmix\n") == (2, "major")
    assert script.abc_key("K:Bb\n") == (10, "major") and script.abc_key("K:F#m\n") == (6, "minor")
    assert script.abc_key("K:Glyd\n") is None and script.abc_key("T:no key\n") is None
    # Labels that follow the second feature (the final note), whatever the first says: its coefficient comes out
    # large and positive, the first's small.
    rng = np.random.default_rng(0)
    final = rng.choice([-1.0, 1.0], 400)
    noise = rng.normal(size=400)
    x = np.stack([noise, final, np.zeros(400), np.ones(400)], axis=1)
    y = (final + 0.3 * rng.normal(size=400) > 0).astype(float)
    beta = script.fit_logistic(x, y, np.ones(400))
    assert beta[1] > 2.0 and abs(beta[0]) < 0.5


def test_key_profile_correlations_agree_with_the_key_estimate():
    from diffusers_s2acc.analysis.key import estimate_key as profile_key
    from diffusers_s2acc.music.key_profiles import profile_correlations

    scale = np.zeros(12)
    scale[[0, 2, 4, 5, 7, 9, 11]] = 1.0
    scale[[0, 7]] += 1.0  # tonic and fifth held longest
    correlations = profile_correlations(scale)
    assert len(correlations) == 24 and max(correlations, key=correlations.get) == (0, "major")
    key = profile_key(scale)
    assert (key.tonic, key.mode) == (0, "major") and key.confidence == pytest.approx(correlations[(0, "major")])
    assert set(profile_correlations(np.ones(12)).values()) == {0.0}


# ------------------------------------------------------------------ the chart printer


@pytest.mark.parametrize(
    "chart, meter",
    [("C | Am | F G | C - G7 | %", "4/4"), ("Dm7 | G7 | Cmaj7 | N.C.", "4/4"), ("C | F G C | G", "3/4")],
)
def test_to_chart_reads_back_as_the_same_chords(chart, meter):
    sheet = LeadSheet.from_chart(chart, bpm=100, meter=meter, offset=0.7)
    again = LeadSheet.from_chart(sheet.to_chart(), bpm=100, meter=meter, offset=0.7)
    times = np.arange(0.71, sheet.duration, 0.05)

    def at(s, t):
        return next((c.symbol for c in s.chords if c.start <= t < c.end), None)

    assert [at(sheet, t) for t in times] == [at(again, t) for t in times]
    assert LeadSheet.from_chart("C | F G", bpm=100).to_chart() == "C | F G"


def test_to_chart_writes_uncovered_time_as_no_chord_and_refuses_an_empty_sheet():
    sheet = LeadSheet(
        tempo=120, chords=[{"start": 0.0, "end": 2.0, "symbol": "C"}, {"start": 4.0, "end": 6.0, "symbol": "G"}]
    )
    assert sheet.to_chart() == "C | N.C. | G"
    with pytest.raises(ValueError, match="no chords"):
        LeadSheet(tempo=120).to_chart()


# ------------------------------------------------------------------ melody input


def test_monophonic_cleaning_keeps_the_salient_line_merges_split_notes_and_drops_blips():
    notes = [
        {"start": 0.0, "end": 1.0, "pitch": 60, "amplitude": 0.8},
        {"start": 0.1, "end": 0.6, "pitch": 72, "amplitude": 0.2},  # a faint octave ghost above: dropped
        {"start": 1.0, "end": 1.02, "pitch": 90, "amplitude": 0.9},  # a 20-ms blip: dropped
        {"start": 1.0, "end": 1.5, "pitch": 62, "amplitude": 0.7},
        {"start": 1.51, "end": 2.0, "pitch": 62, "amplitude": 0.7},  # split by the transcriber: merged
        {"start": 1.9, "end": 3.0, "pitch": 64, "amplitude": 0.7},  # overlaps a little: trimmed, kept
    ]
    line = monophonic_line(notes, merge_gap=0.03)
    assert [(n.pitch, round(n.start, 2), round(n.end, 2)) for n in line] == [
        (60, 0.0, 1.0),
        (62, 1.0, 1.9),
        (64, 1.9, 3.0),
    ]


def _write_midi(path, tracks, tempo=120.0, signature=(4, 4)):
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(*signature, 0.0))
    for name, notes in tracks:
        instrument = pretty_midi.Instrument(program=0, name=name)
        instrument.notes += [pretty_midi.Note(100, n.pitch, n.start, n.end) for n in notes]
        midi.instruments.append(instrument)
    midi.write(str(path))


def test_midi_melody_is_the_busiest_track_or_the_named_one(tmp_path):
    bass = [Note(i * 2.0, i * 2.0 + 1.9, p) for i, p in enumerate([36, 41, 43, 36])]
    path = tmp_path / "tune.mid"
    _write_midi(path, [("bass", bass), ("flute", I_IV_V_I)], tempo=120)
    melody = read_melody(path)
    assert melody.source == "midi" and [n.pitch for n in melody.notes] == [n.pitch for n in I_IV_V_I]
    assert melody.tempo == pytest.approx(120) and melody.meter == (4, 4) and melody.offset == 0.0
    assert melody.key.name == "C major"
    assert [n.pitch for n in melody_from_midi(path, track="Bass").notes] == [36, 41, 43, 36]
    assert [n.pitch for n in melody_from_midi(path, track=0).notes] == [36, 41, 43, 36]
    with pytest.raises(ValueError, match="`track` 'oboe'.*flute"):
        melody_from_midi(path, track="oboe")
    # The user's key and meter win.
    assert melody_from_midi(path, key="A minor", meter="3/4").meter == (3, 4)


def test_bad_melody_files_get_a_clear_message(tmp_path):
    empty = tmp_path / "empty.mid"
    _write_midi(empty, [("flute", [])])
    with pytest.raises(ValueError, match="`melody`: .*has no notes"):
        read_melody(empty)
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd not really")
    with pytest.raises(ValueError, match="`melody`: .*not a readable MIDI file"):
        read_melody(broken)
    garbage = tmp_path / "tune.wav"
    garbage.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(ValueError, match="`melody`: .*cannot be read"):
        read_melody(garbage)
    with pytest.raises(ValueError, match="`melody`: no such file"):
        read_melody(tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="`melody`: .*folder"):
        read_melody(tmp_path)


def _sine_melody(notes, rate=16000, chord=False):
    y = np.zeros(int((max(n.end for n in notes) + 0.5) * rate), dtype=np.float32)
    for note in notes:
        t = np.arange(int((note.end - note.start) * rate)) / rate
        f = 440.0 * 2 ** ((note.pitch - 69) / 12)
        intervals = (0, 4, 7, 10) if chord else (0,)
        tone = sum(np.sin(2 * np.pi * f * 2 ** (i / 12) * t) for i in intervals) / len(intervals)
        first = int(note.start * rate)
        y[first : first + len(t)] += 0.5 * tone * np.minimum(1, t / 0.01) * np.minimum(1, (t[-1] - t) / 0.02)
    return y


def test_the_beat_grid_is_fitted_to_the_onsets_and_a_tempo_read_from_them():
    # 30 bars of a tune's rhythms (quarters, halves, a dotted quarter and eighth) at 100 BPM from 0.3 s, each onset
    # a few ms off, as a transcription has them.
    rng = np.random.default_rng(1)
    cells = [[1, 1, 1, 1], [1.5, 0.5, 1, 1], [2, 1, 1], [3, 1], [1, 1, 2]]
    lengths = [length for _ in range(30) for length in cells[rng.integers(len(cells))]]
    beats = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    notes = [
        Note(0.3 + 0.6 * b + rng.normal(0, 0.008), 0.3 + 0.6 * (b + 0.9 * length), 67)
        for b, length in zip(beats, lengths)
    ]
    # A tracker's tempo 0.4 % fast drifts by a third of a beat over the tune; the fit puts the grid back.
    period, phase = refine_beat_grid(notes, 0.6 * 0.996, 0.3)
    assert period == pytest.approx(0.6, abs=3e-4) and (phase - 0.3 + 0.3) % 0.6 - 0.3 == pytest.approx(0, abs=0.01)
    assert refine_beat_grid(notes[:4], 0.6 * 0.996, 0.3) == (0.6 * 0.996, 0.3)  # too few onsets: kept as given
    # From the onsets alone: 100 BPM, not the 200 BPM grid that fits them as well, nor 50 BPM.
    assert tempo_from_onsets(notes) == pytest.approx(100.0, rel=2e-3)
    # Onsets at random times fit no tempo well enough (3 sets in 200 such did, by chance), and a few notes are too few.
    rng = np.random.default_rng(0)
    assert tempo_from_onsets([Note(t, t + 0.3, 60) for t in np.cumsum(rng.uniform(0.2, 1.3, 40))]) is None
    assert tempo_from_onsets(notes[:20]) is None


def test_silent_and_noteless_recordings_are_refused_before_any_transcription():
    with pytest.raises(ValueError, match="`melody`: the recording is silent"):
        melody_from_audio(np.zeros((2, 16000)), 16000)
    with pytest.raises(ValueError, match="`bpm`"):
        melody_from_audio(np.zeros((1, 16000)), 16000, bpm=1000)


def test_a_sine_melody_is_transcribed_to_its_notes_at_the_given_tempo():
    # Eight bars at 120 BPM of the I-IV-V-I arpeggios, twice (basic-pitch on ~17 s of audio: a few seconds).
    again = _tune([[64, 67, 72, 67], [65, 69, 72, 69], [67, 71, 74, 71], [72, 67, 64, 60]])  # no repeat at the seam
    notes = I_IV_V_I + [Note(n.start + 8.0, n.end + 8.0, n.pitch) for n in again]
    audio = np.stack([_sine_melody(notes, 22050)] * 2)  # stereo, 22.05 kHz
    melody = melody_from_audio(audio, 22050, bpm=120)
    assert [n.pitch for n in melody.notes] == [n.pitch for n in notes]
    assert max(abs(a.start - b.start) for a, b in zip(melody.notes, notes)) < 0.06
    assert melody.meter == (4, 4) and abs(melody.offset) < 0.06 and melody.key.name == "C major"
    assert harmonize(melody.notes, melody.key_tuple, tempo=120, offset=melody.offset).to_chart() == (
        "C | F | G | C | C | F | G | C"
    )


def test_chords_in_a_recording_are_refused_as_polyphonic():
    notes = I_IV_V_I[:8]
    with pytest.raises(ValueError, match="`melody`: the recording is polyphonic"):
        melody_from_audio(_sine_melody(notes, 22050, chord=True), 22050, bpm=120)


def test_a_recording_with_no_steady_beat_needs_the_tempo(tmp_path):
    # Notes at random times and of random lengths (rubato without a pulse): no beat the notes agree on.
    rng = np.random.default_rng(0)
    onsets = np.cumsum(rng.uniform(0.2, 1.3, 16))
    notes = [
        Note(float(t), float(t + rng.uniform(0.15, 0.5)), int(p)) for t, p in zip(onsets, rng.integers(60, 72, 16))
    ]
    with pytest.raises(ValueError, match="`melody`: the tempo cannot be found.*bpm"):
        melody_from_audio(_sine_melody(notes, 22050), 22050)


# ------------------------------------------------------------------ play along


def test_play_along_starts_the_accompaniment_on_the_first_downbeat_with_a_count_in(tiny_pipe, tmp_path):
    # The tune starts with a pick-up beat at 1.5 s; its first downbeat is at 2.0 s.
    tune = [Note(1.5, 1.9, 67)] + [
        note
        for index, pitches in enumerate([[72, 76, 79, 76], [65, 69, 72, 69]])
        for note in _bar(index, pitches, offset=2.0)
    ]
    path = tmp_path / "tune.mid"
    _write_midi(path, [("lead", tune)], tempo=120)
    out = play_along(tiny_pipe, path, num_inference_steps=2)
    rate = out.sampling_rate
    assert out.suggestion.to_chart() == "C | F"
    assert out.lead_in_s == 0.0 and out.accompaniment_start_in_s == pytest.approx(2.0)
    assert out.accompaniment.shape == out.mix.shape
    assert not np.any(out.accompaniment[:, : int(2.0 * rate) - 1])  # silent before the downbeat
    assert np.abs(out.accompaniment[:, int(2.0 * rate) :]).max() > 0
    assert out.accompaniment.shape[1] >= int(6.0 * rate)  # two bars after the downbeat
    # The melody in the mix sits at its own time: nothing before its pick-up at 1.5 s.
    assert (
        not np.any(out.mix[:, : int(1.5 * rate) - 1])
        and np.abs(out.mix[:, int(1.5 * rate) : int(2.0 * rate)]).max() > 0
    )

    # A one-bar count-in (2 s) does not fit before 2.0 s... exactly: no lead-in; two bars need 2 s more.
    counted = play_along(tiny_pipe, path, count_in_bars=2, lead_sheet="C | F", num_inference_steps=2)
    assert counted.suggestion is None and counted.lead_in_s == pytest.approx(2.0)
    assert counted.accompaniment_start_in_s == pytest.approx(4.0)
    clicks = np.abs(counted.accompaniment[0, : int(4.0 * rate)])
    beats = [k * 0.5 for k in range(8)]
    assert all(clicks[int(b * rate) : int((b + 0.03) * rate)].max() > 0.2 for b in beats)  # a click on every beat
    with pytest.raises(ValueError, match="`count_in_bars`"):
        play_along(tiny_pipe, path, count_in_bars=-1)
    with pytest.raises(ValueError, match="`lead_sheet`: .*H7"):
        play_along(tiny_pipe, path, lead_sheet="C | H7")


# ------------------------------------------------------------------ s2acc accompany


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipe")
    presets.build_pipeline("tiny").save_pretrained(path)
    return path


def test_accompany_prints_the_chart_and_writes_accompaniment_and_mix(pipeline_dir, tmp_path, capsys):
    tune = tmp_path / "tune.mid"
    _write_midi(tune, [("lead", I_IV_V_I)], tempo=120)
    assert main(["accompany", "--melody", str(tune), "--print-chart"]) == 0
    printed = capsys.readouterr().out
    assert "Suggested chart (simple): C | F | G | C" in printed and "confidence" in printed
    LeadSheet.from_chart(printed.split("Suggested chart (simple): ")[1].splitlines()[0])  # the chart language

    out, mix = tmp_path / "acc.wav", tmp_path / "mix.wav"
    args = ["accompany", "--melody", str(tune), "--pipeline", str(pipeline_dir), "--steps", "2", "--out", str(out)]
    assert main(args + ["--mix-out", str(mix)]) == 0
    acc_audio, rate = soundfile.read(out, always_2d=True)
    mix_audio, mix_rate = soundfile.read(mix, always_2d=True)
    assert rate == mix_rate == 16000 and acc_audio.shape == mix_audio.shape and acc_audio.shape[0] >= 8 * rate
    # Nothing the user had is overwritten.
    before = out.read_bytes()
    assert main(args) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err and out.read_bytes() == before


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--print-chart", "--key", "H"], "--key"),
        (["--print-chart", "--lead-sheet", "C | Xq"], "--lead-sheet: Unparseable chord symbol 'Xq'"),
        (["--count-in", "9", "--out", "x.wav"], "--count-in"),
        ([], "--out: name the accompaniment"),
        (["--out", "x.mp4"], "--out: unsupported extension"),
        (["--out", "a.wav", "--mix-out", "a.wav"], "--mix-out: names the same file"),
    ],
)
def test_accompany_bad_arguments_are_one_line_naming_the_flag(tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    tune = tmp_path / "tune.mid"
    _write_midi(tune, [("lead", I_IV_V_I)], tempo=120)
    assert main(["accompany", "--melody", str(tune)] + extra) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_accompany_says_why_a_melody_file_is_unusable(tmp_path, capsys):
    empty = tmp_path / "empty.mid"
    _write_midi(empty, [("flute", [])])
    assert main(["accompany", "--melody", str(empty), "--print-chart"]) == 2
    assert "--melody: " in capsys.readouterr().err
    silent = tmp_path / "silence.wav"
    soundfile.write(silent, np.zeros(16000, dtype=np.float32), 16000)
    assert main(["accompany", "--melody", str(silent), "--print-chart"]) == 2
    assert "--melody: the recording is silent" in capsys.readouterr().err
