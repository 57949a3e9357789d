"""Play along with a melody: the harmoniser, the chart printer, melody input (MIDI, audio, cleaning, bad input), the
play-along helper's alignment and `s2acc accompany` on the tiny preset."""

import numpy as np
import pretty_midi
import pytest
import soundfile

from diffusers_s2acc import presets
from diffusers_s2acc.analysis.melody import monophonic_line
from diffusers_s2acc.analysis.melody_input import melody_from_audio, melody_from_midi, read_melody
from diffusers_s2acc.cli import main
from diffusers_s2acc.music import LeadSheet, Note
from diffusers_s2acc.music.harmonizer import harmonize, parse_key_name
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


def test_a_melody_outlining_a_secondary_dominant_gets_it_only_at_the_rich_setting():
    # C | A7 (C# in the tune: V7/ii) | Dm | G | C
    tune = _tune([[60, 64, 67, 64], [69, 73, 76, 73], [62, 65, 69, 65], [67, 71, 74, 71], [72, 67, 64, 60]])
    rich = harmonize(tune, "C major", tempo=120, richness="rich")
    assert rich.to_chart() == "C | A7 | Dm | G | C"
    simple = harmonize(tune, "C major", tempo=120, richness="simple")
    assert "A7" not in simple.to_chart() and simple.to_chart().startswith("C |")
    # The chromatic bar is the least certain one at the simple setting: no diatonic chord explains the C#.
    assert simple.bars[1].confidence == min(bar.confidence for bar in simple.bars)


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
