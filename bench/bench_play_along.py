"""How good are the play-along harmoniser's charts? Suggested chords scored against true charts (issue 22).

Three measurements, each through the path a user's melody takes (`read_melody` -> `suggest_chart`):

1. **Synth songs** (`--songs DIR`, a `python -m dataset_builder synth` folder; repeatable): the melody is read
   (a) from the song's `melody.flac` stem (basic-pitch transcription, beat tracking, bar finding, key estimate) and
   (b) from its true melody notes, written to a temporary MIDI file on the song's tempo and bar grid (the melody is
   not in `song.mid`). The suggestion is scored against the song's true chart.
2. **music21 corpus tunes** (`--music21`): the melody line and its harmony, written to a temporary MIDI file (a
   pick-up is padded so that the MIDI's bar lines are the tune's) and read back through `read_melody`; with
   `--input audio` the MIDI is also rendered with a General-MIDI instrument through FluidSynth and transcribed.
   Two sets: the corpus's lead sheets with chord symbols (`ChordSymbol` objects: the two Nottingham reels and the
   two `leadSheet/` songs, all the installed corpus holds with more than a handful of symbols) and Bach chorales,
   whose truth is Bach's own harmony: the lower voices' chord on every beat (chordified, named by
   `music21.harmony.chordSymbolFromChord`; a beat whose sonority has no chord name keeps the chord before it).
3. **Whole play-along** (`--pipeline PATH --generate N`, off by default): `play_along` on N synth songs (their
   stems' first `--generate-seconds`) and, with `--music21`, on the first N music21 tunes (their first
   `--generate-seconds` as MIDI, no chart given); the accompaniment is analysed as `s2acc evaluate` does and its
   chords scored against the suggested and the true chart.

Scoring is the project's (`evaluation.scores.chord_scores`: mir_eval majmin and root, duration-weighted) over a
window fixed by the truth alone: from the bar of the first true melody note (or first chord symbol) to the end of
the bar of the last, so the audio and MIDI readings are scored on the same span and time the suggestion leaves
uncovered counts as wrong. `scorable` is the share of that window whose true chord is in the majmin vocabulary
(diminished, sus and similar true chords are left out of majmin by mir_eval, as in MIREX). Song folders without a
melody are skipped and counted. The key column is the true key and the harmoniser's (decoded with the chords); for
keyed synth songs the summary also gives the key accuracy.

    PYTHONPATH=src python bench/bench_play_along.py --songs runs/v4/songs_heldout --input both --limit 4
    PYTHONPATH=src python bench/bench_play_along.py --music21 --chorales 16 --input midi --json m21.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Sequence


os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

from diffusers_s2acc.audio import check_output_path  # noqa: E402
from diffusers_s2acc.music import LeadSheet, Note  # noqa: E402
from diffusers_s2acc.music.chords import parse_chord  # noqa: E402
from diffusers_s2acc.music.harmonizer import RICHNESS  # noqa: E402
from diffusers_s2acc.music.lead_sheet import ChordEvent  # noqa: E402


# music21 `ChordSymbol.chordKind` (the MusicXML <kind> values) -> the chart language's suffix. Kinds not listed
# (pedal, Tristan, "cannot be identified", ...) have no chart symbol and are refused.
MUSIC21_KINDS = {
    "major": "",
    "minor": "m",
    "augmented": "aug",
    "diminished": "dim",
    "dominant": "7",
    "dominant-seventh": "7",
    "major-seventh": "maj7",
    "minor-seventh": "m7",
    "diminished-seventh": "dim7",
    "half-diminished": "m7b5",
    "half-diminished-seventh": "m7b5",
    "augmented-seventh": "7#5",
    "major-minor": "mM7",
    "minor-major-seventh": "mM7",
    "major-sixth": "6",
    "minor-sixth": "m6",
    "dominant-ninth": "9",
    "major-ninth": "maj9",
    "minor-ninth": "m9",
    "dominant-11th": "11",
    "minor-11th": "m11",
    "dominant-13th": "13",
    "major-13th": "maj13",
    "suspended-second": "sus2",
    "suspended-fourth": "sus4",
    "power": "5",
}


# The project's quality families -> their chart suffix.
_QUALITY_SUFFIX = {
    "maj": "",
    "min": "m",
    "dim": "dim",
    "aug": "aug",
    "sus2": "sus2",
    "sus4": "sus4",
    "7": "7",
    "maj7": "maj7",
    "min7": "m7",
    "hdim7": "m7b5",
    "dim7": "dim7",
    "maj6": "6",
    "min6": "m6",
    "minmaj7": "mM7",
}


def _pitch_name(pitch) -> str:
    """A music21 pitch name in chart spelling (`B-` -> `Bb`, `C##` -> `C##` refused later by parse_chord)."""
    return pitch.name.replace("-", "b")


def music21_chord_symbol(symbol) -> str | None:
    """The chart-language symbol of a `music21.harmony.ChordSymbol` (`"F#m7/A"`), or None when it has none.

    Root and kind give the symbol; an inversion (bass other than the root) becomes a slash chord. The result is
    checked with [`~music.chords.parse_chord`], so whatever is returned is a symbol the project reads.
    """
    from music21 import harmony

    if isinstance(symbol, harmony.NoChord):
        return "N.C."
    from diffusers_s2acc.music.chords import QUALITIES

    root = symbol.root() if symbol.pitches else None
    if root is None:
        return None
    # The sounding notes first: music21 reads "Bm7b5" as kind minor-seventh with a flattened-fifth modification, so
    # the kind alone would lose the alteration. Extended chords (9ths, 13ths) match no family and go by their kind.
    intervals = tuple(sorted({(p.pitchClass - root.pitchClass) % 12 for p in symbol.pitches}))
    by_notes = {tones: quality for quality, tones in QUALITIES.items()}.get(intervals)
    kind = _QUALITY_SUFFIX[by_notes] if by_notes else MUSIC21_KINDS.get(symbol.chordKind)
    if kind is None:
        return None
    text = _pitch_name(root) + kind
    bass = symbol.bass()
    if bass is not None and bass.pitchClass != root.pitchClass:
        text += "/" + _pitch_name(bass)
    try:
        parse_chord(text)
    except ValueError:
        return None
    return text


def scorable_share(reference: Sequence[ChordEvent]) -> float:
    """Share of the reference's time whose chord mir_eval's majmin comparison counts (maj, min or N)."""
    import mir_eval

    from diffusers_s2acc.analysis.chords import to_harte

    labels = [to_harte(c.symbol) for c in reference]
    counted = mir_eval.chord.majmin(labels, labels) >= 0
    durations = np.array([c.end - c.start for c in reference])
    return float(durations[counted].sum() / max(durations.sum(), 1e-9))


def score_chords(
    reference: Sequence[ChordEvent], estimate: Sequence[ChordEvent], start: float, end: float
) -> dict[str, float]:
    """`chord_scores` of `estimate` against `reference`, both cut to `[start, end)` seconds, plus `scorable`.

    The window comes from the truth, so every reading of a melody is scored on the same span; estimated time
    missing from it counts as "no chord" (wrong). NaN majmin where no reference chord in it is majmin-scorable.
    """
    from diffusers_s2acc.evaluation.scores import chord_scores

    def cut(events):
        return [
            ChordEvent(max(c.start, start), min(c.end, end), c.symbol)
            for c in events
            if min(c.end, end) - max(c.start, start) > 1e-6
        ]

    ref = cut(reference)
    if not ref:
        raise ValueError(f"no reference chord in [{start:.2f}, {end:.2f}) s")
    share = scorable_share(ref)
    scores = chord_scores(ref, cut(estimate))
    if share == 0.0:
        scores["chord_majmin"] = float("nan")
    scores["scorable"] = share
    return scores


def write_melody_midi(
    notes: Iterable[Note],
    tempo: float,
    meter: tuple[int, int],
    path: str | os.PathLike,
    program: int = 0,
    name: str = "melody",
) -> None:
    """One instrument with `notes` (seconds), a tempo mark of `tempo` quarter notes per minute and a time signature,
    as a sequencer writes a melody."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=float(tempo))
    midi.time_signature_changes.append(pretty_midi.TimeSignature(int(meter[0]), int(meter[1]), 0.0))
    instrument = pretty_midi.Instrument(program=program, name=name)
    for note in notes:
        instrument.notes.append(pretty_midi.Note(96, int(note.pitch), float(note.start), float(note.end)))
    midi.instruments.append(instrument)
    midi.write(str(path))


def _window(sheet: LeadSheet, first: float, last: float) -> tuple[float, float]:
    """From the start of the bar holding `first` to the end of the bar holding `last` (on `sheet`'s grid)."""
    bar = sheet.seconds_per_bar
    first_bar = math.floor((first - sheet.offset) / bar + 1e-6)
    last_bar = math.floor((last - sheet.offset) / bar - 1e-6)
    return max(0.0, sheet.offset + first_bar * bar), sheet.offset + (max(last_bar, first_bar) + 1) * bar


def _suggest_all(melody, richnesses, reference, window) -> dict[str, Any]:
    from diffusers_s2acc.pipelines.play_along import suggest_chart

    out: dict[str, Any] = {}
    for richness in richnesses:
        suggestion = suggest_chart(melody, richness)
        scores = score_chords(reference, suggestion.lead_sheet.chords, *window)
        scores["mean_confidence"] = float(np.mean([b.confidence for b in suggestion.bars]))
        out[richness] = scores
    out["read"] = {
        "tempo": melody.tempo,
        "meter": f"{melody.meter[0]}/{melody.meter[1]}",
        "offset": melody.offset,
        "key": f"{suggestion.key[0]} {suggestion.key[1]}",
        "key_confidence": suggestion.key_confidence,
        "notes": len(melody.notes),
    }
    return out


def _key_name(tonic: int, mode: str) -> str:
    from diffusers_s2acc.music.chords import PITCH_CLASS_NAMES

    return f"{PITCH_CLASS_NAMES[tonic]} {mode}"


def _read(path, **kwargs):
    from diffusers_s2acc.analysis.melody_input import read_melody

    return read_melody(path, **kwargs)


# --------------------------------------------------------------------------------------------------- synth songs


def synth_songs(folder: str | os.PathLike) -> tuple[list[Path], list[str]]:
    """Song folders with a melody (stem and notes), and the names of those without one."""
    have, skipped = [], []
    for song in sorted(p for p in Path(folder).iterdir() if (p / "metadata.json").is_file()):
        meta = json.loads((song / "metadata.json").read_text())
        if (song / "melody.flac").is_file() and (meta.get("lead_sheet") or {}).get("melody"):
            have.append(song)
        else:
            skipped.append(song.name)
    return have, skipped


def bench_synth_song(song: Path, inputs: Sequence[str], richnesses: Sequence[str]) -> dict[str, Any]:
    meta = json.loads((song / "metadata.json").read_text())
    sheet = LeadSheet.from_dict(meta["lead_sheet"])
    notes = sheet.melody
    window = _window(sheet, notes[0].start, max(n.end for n in notes))
    row: dict[str, Any] = {
        "song": f"{song.parent.name}/{song.name}",
        "family": meta.get("chart_family"),
        "key": meta.get("key"),
        "meter": meta["lead_sheet"]["meter"],
        "window": list(window),
    }
    for source in inputs:
        begin = time.perf_counter()
        try:
            if source == "audio":
                melody = _read(song / "melody.flac")
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    # As the song's own MIDI does (MMA writes 12/8 as 4/4 at the dotted-beat tempo): the same bar
                    # lines; a compound meter's half-bar slots are the same two beats either way.
                    meter = sheet.meter if sheet.beats_per_bar == sheet.meter[0] else (sheet.beats_per_bar, 4)
                    write_melody_midi(notes, sheet.tempo, meter, Path(tmp) / "melody.mid")
                    melody = _read(Path(tmp) / "melody.mid")
            result = _suggest_all(melody, richnesses, sheet.chords, window)
            tonic, mode = (int(x) if x.isdigit() else x for x in result["read"]["key"].split())
            result["read"]["key_name"] = _key_name(tonic, mode)
            if str(meta.get("key", "")).split()[-1:] in (["major"], ["minor"]):
                result["read"]["key_correct"] = result["read"]["key_name"] == meta["key"]
        except ValueError as error:  # a melody read_melody refuses is a result too (the user would see it)
            result = {"error": str(error)}
        result["seconds"] = time.perf_counter() - begin
        row[source] = result
    return row


# ------------------------------------------------------------------------------------------------- music21 tunes


#: The installed corpus's lead sheets with chord symbols (a scan of every .abc / .mxl / .xml file for tunes with
#: eight or more symbols found these four; ryansMammoth's few quoted strings are mostly one or two per tune).
MUSIC21_LEAD_SHEETS = (
    ("nottingham-dataset/reelsa-c.abc", 0),
    ("nottingham-dataset/reelsa-c.abc", 1),
    ("leadSheet/fosterBrownHair.mxl", None),
    ("leadSheet/berlinAlexandersRagtime.mxl", None),
)


def _tune_tempo(score, default: float) -> float:
    from music21 import tempo as m21tempo

    marks = list(score.recurse().getElementsByClass(m21tempo.MetronomeMark))
    for mark in marks:
        if mark.number and mark.referent is not None:
            return float(mark.number) * float(mark.referent.quarterLength)  # in quarter notes per minute
    return default


def tune_from_score(score, chords: str = "symbols", tempo: float | None = None) -> dict[str, Any] | None:
    """Melody notes and true chords of a music21 score, in seconds, with its meter and the pick-up padding.

    The melody is the first part's notes (the top note of a chord), as written: repeats are not unfolded (music21's
    `expandRepeats` made one Nottingham reel three times as long, 64 -> 192 quarters, so it is not trusted; a repeat
    would only weigh the same bars twice), and first and second endings are both played in sequence. A pick-up bar
    is padded with rest at the front so that the MIDI's bar lines fall on the tune's. `chords="symbols"` takes the
    score's `ChordSymbol`s (each lasting to the next); `"chordify"` names the whole score's sonority on every beat.

    Returns None when the tune has no meter, no notes or fewer than four chords.
    """
    from music21 import chord as m21chord
    from music21 import harmony
    from music21 import meter as m21meter
    from music21 import note as m21note

    signatures = list(score.recurse().getElementsByClass(m21meter.TimeSignature))
    if not signatures:
        return None
    ts = signatures[0]
    num, den = int(ts.numerator), int(ts.denominator)
    bar_q = ts.barDuration.quarterLength
    part = score.parts[0] if hasattr(score, "parts") and score.parts else score
    measures = list(part.getElementsByClass("Measure"))
    pickup_q = 0.0
    if measures and measures[0].paddingLeft and 0 < measures[0].paddingLeft < bar_q:
        pickup_q = float(bar_q - measures[0].paddingLeft)
    pad_q = (bar_q - pickup_q) % bar_q
    q_tempo = tempo or _tune_tempo(score, 100.0)
    sec = 60.0 / q_tempo

    notes = []
    for element in part.flatten().notes:
        if isinstance(element, harmony.ChordSymbol):
            continue
        pitch = element.pitch if isinstance(element, m21note.Note) else max(element.pitches)
        start = (float(element.offset) + pad_q) * sec
        length = float(element.quarterLength) * sec
        if length <= 0:
            continue
        if notes and notes[-1].pitch == pitch.midi and element.tie is not None and element.tie.type != "start":
            notes[-1] = Note(notes[-1].start, start + length, notes[-1].pitch)  # a tied note is one note
            continue
        notes.append(Note(start, start + length * 0.95, int(pitch.midi)))
    if not notes:
        return None
    end_q = float(part.flatten().highestTime)

    marks: list[tuple[float, str | None]] = []
    if chords == "symbols":
        for symbol in part.flatten().getElementsByClass(harmony.ChordSymbol):
            marks.append((float(symbol.offset), music21_chord_symbol(symbol)))
    else:
        chordified = score.chordify().flatten().getElementsByClass(m21chord.Chord)
        beat_q = 4.0 / den if num % 3 or num == 3 else 1.5 * 4.0 / den
        for element in chordified:
            position = (float(element.offset) + pad_q) / beat_q
            if abs(position - round(position)) > 1e-6:
                continue  # only the sonority struck on the beat names the beat's harmony
            marks.append((float(element.offset), music21_chord_symbol(harmony.chordSymbolFromChord(element))))
    events: list[ChordEvent] = []
    unnamed = 0.0
    for index, (offset, symbol) in enumerate(marks):
        stop = marks[index + 1][0] if index + 1 < len(marks) else end_q
        if stop <= offset:
            continue
        if symbol is None:
            unnamed += stop - offset
            if events:
                events[-1] = ChordEvent(events[-1].start, (stop + pad_q) * sec, events[-1].symbol)
            continue
        if events and events[-1].symbol == symbol and abs(events[-1].end - (offset + pad_q) * sec) < 1e-6:
            events[-1] = ChordEvent(events[-1].start, (stop + pad_q) * sec, symbol)
        else:
            events.append(ChordEvent((offset + pad_q) * sec, (stop + pad_q) * sec, symbol))
    if len(events) < 4:
        return None
    return {
        "notes": notes,
        "chords": events,
        "tempo": q_tempo,
        "meter": (num, den),
        "pickup_quarters": pickup_q,
        "unnamed_quarters": unnamed,
    }


def music21_tunes(num_chorales: int) -> list[tuple[str, Any, str]]:
    """`(name, score, chords mode)` for the lead sheets and the first `num_chorales` four-part Bach chorales."""
    from music21 import corpus

    tunes = []
    for path, index in MUSIC21_LEAD_SHEETS:
        parsed = corpus.parse(path)
        score = parsed.scores[index] if index is not None else parsed
        title = score.metadata.title if score.metadata and score.metadata.title else Path(path).stem
        tunes.append((f"{Path(path).stem}:{title}", score, "symbols"))
    chorales = sorted(str(p) for p in corpus.getComposer("bach") if str(p).endswith(".mxl") and "bwv" in str(p))
    for path in chorales:
        if sum(1 for _, _, mode in tunes if mode == "chordify") >= num_chorales:
            break
        score = corpus.parse(path)
        if len(score.parts) != 4:
            continue
        tunes.append((f"bach:{Path(path).stem}", score, "chordify"))
    return tunes


def bench_music21_tune(
    name: str, score, mode: str, inputs: Sequence[str], richnesses: Sequence[str], soundfont: str | None
) -> dict[str, Any] | None:
    tune = tune_from_score(score, mode)
    if tune is None:
        return None
    notes = tune["notes"]
    # From the first true chord (a pick-up before it has no chord to score) to the end of the last note.
    window = (tune["chords"][0].start, max(n.end for n in notes))
    row: dict[str, Any] = {
        "song": name,
        "family": "lead sheet" if mode == "symbols" else "chorale",
        "meter": f"{tune['meter'][0]}/{tune['meter'][1]}",
        "pickup_quarters": tune["pickup_quarters"],
        "window": list(window),
        "chords": len(tune["chords"]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        midi_path = Path(tmp) / "melody.mid"
        write_melody_midi(notes, tune["tempo"], tune["meter"], midi_path, program=73)  # flute
        for source in inputs:
            begin = time.perf_counter()
            try:
                if source == "audio":
                    from dataset_builder.synth.render import render_midi

                    wav = Path(tmp) / "melody.wav"
                    render_midi(midi_path, soundfont, 44100, wav)
                    melody = _read(wav)
                else:
                    melody = _read(midi_path)
                result = _suggest_all(melody, richnesses, tune["chords"], window)
                tonic, mode = result["read"]["key"].split()
                result["read"]["key_name"] = _key_name(int(tonic), mode)
            except ValueError as error:
                result = {"error": str(error)}
            result["seconds"] = time.perf_counter() - begin
            row[source] = result
    return row


# ------------------------------------------------------------------------------------------------ whole pipeline


def _load_pipeline(path: str):
    from diffusers_s2acc.pipelines.pipeline_s2accompanist import S2AccompanistPipeline

    return S2AccompanistPipeline.from_pretrained(path)


def _take_scores(out, truth: Sequence[ChordEvent], start: float) -> dict[str, Any]:
    """A take's accompaniment analysed as `s2acc evaluate` does, scored against the truth (on the melody's time axis,
    from `start`) and against the chart it was asked to play."""
    from diffusers_s2acc.analysis.song import analyze_song
    from diffusers_s2acc.evaluation.scores import chord_scores

    analysis = analyze_song(out.accompaniment, out.sampling_rate, melody=False)
    end = out.accompaniment.shape[1] / out.sampling_rate
    shift = out.lead_in_s
    played = [
        ChordEvent(max(c.start + shift, out.accompaniment_start_in_s), min(c.end + shift, end), c.symbol)
        for c in truth
        if min(c.end + shift, end) - max(c.start + shift, out.accompaniment_start_in_s) > 1e-6 and c.start >= start
    ]
    chart = [ChordEvent(c.start + shift, min(c.end + shift, end), c.symbol) for c in out.lead_sheet.chords]
    return {
        "accompaniment_vs_true_chart": chord_scores(played, analysis.chords) if played else None,
        "accompaniment_vs_suggested_chart": chord_scores([c for c in chart if c.end > c.start], analysis.chords),
        "suggested_chart": out.suggestion.to_chart() if out.suggestion is not None else None,
        "accompaniment_seconds": end,
    }


def bench_generate(pipe, songs: Sequence[Path], steps: int | None, seconds: float) -> list[dict[str, Any]]:
    """`play_along` on each song's melody stem (the first `seconds` of it after its first note's bar), analysed and
    scored against the true chart as `s2acc evaluate` scores a take."""
    import torch

    from diffusers_s2acc.analysis.song import analyze_song
    from diffusers_s2acc.audio import read_audio
    from diffusers_s2acc.evaluation.scores import chord_scores
    from diffusers_s2acc.pipelines.play_along import play_along

    rows = []
    for song in songs:
        meta = json.loads((song / "metadata.json").read_text())
        sheet = LeadSheet.from_dict(meta["lead_sheet"])
        start, _ = _window(sheet, sheet.melody[0].start, sheet.melody[0].start)
        audio, rate = read_audio(song / "melody.flac", start=start, duration=seconds)
        begin = time.perf_counter()
        kwargs = {"generator": torch.Generator().manual_seed(0)}
        if steps:
            kwargs["num_inference_steps"] = steps
        from diffusers_s2acc.analysis.melody_input import melody_from_audio

        melody = melody_from_audio(audio, rate, bpm=sheet.tempo, meter=meta["lead_sheet"]["meter"])
        out = play_along(pipe, melody, **kwargs)
        analysis = analyze_song(out.accompaniment, out.sampling_rate, melody=False)
        truth = sheet.crop(start, start + out.accompaniment.shape[1] / out.sampling_rate)
        begin_acc = out.accompaniment_start_in_s
        played = [c for c in truth.chords if c.end > begin_acc]
        row = {"song": f"{song.parent.name}/{song.name}", "seconds": time.perf_counter() - begin}
        row["accompaniment_vs_true_chart"] = chord_scores(played, analysis.chords)
        row["accompaniment_vs_suggested_chart"] = chord_scores(out.lead_sheet.chords, analysis.chords)
        row["suggested_vs_true_chart"] = chord_scores(played, out.lead_sheet.chords)
        rows.append(row)
    return rows


def bench_generate_music21(pipe, tunes, count: int, steps: int | None, seconds: float) -> list[dict[str, Any]]:
    """`play_along` end to end on the first `count` music21 tunes: the tune's first `seconds` as a MIDI file (as
    `--music21` writes it), no chart given; what came out and how its accompaniment's chords match the suggested and
    the true chart."""
    import torch

    from diffusers_s2acc.pipelines.play_along import play_along

    rows = []
    for name, score, mode in tunes[:count]:
        tune = tune_from_score(score, mode)
        if tune is None:
            continue
        cut = tune["notes"][0].start + seconds
        notes = [n for n in tune["notes"] if n.start < cut]
        begin = time.perf_counter()
        row: dict[str, Any] = {"song": name, "family": "lead sheet" if mode == "symbols" else "chorale"}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "melody.mid"
            write_melody_midi(notes, tune["tempo"], tune["meter"], path, program=73)
            kwargs = {"generator": torch.Generator().manual_seed(0)}
            if steps:
                kwargs["num_inference_steps"] = steps
            try:
                out = play_along(pipe, path, **kwargs)
            except ValueError as error:
                row["error"] = str(error)
                rows.append(row)
                continue
        row.update(_take_scores(out, tune["chords"], 0.0))
        row["seconds"] = time.perf_counter() - begin
        row["finite"] = bool(np.all(np.isfinite(out.mix)))
        rows.append(row)
    return rows


# -------------------------------------------------------------------------------------------------------- report


def _mean(values) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def summarise(rows: list[dict[str, Any]], inputs: Sequence[str], richnesses: Sequence[str]) -> dict[str, Any]:
    """Mean majmin / root per input and richness, over all rows and per group (`family`)."""
    summary: dict[str, Any] = {}
    for source in inputs:
        ok = [r for r in rows if source in r and "error" not in r[source]]
        entry = {"songs": len(ok), "refused": len([r for r in rows if source in r and "error" in r[source]])}
        for richness in richnesses:
            entry[richness] = {
                metric: _mean(r[source][richness][metric] for r in ok)
                for metric in ("chord_majmin", "chord_root", "mean_confidence")
            }
        keyed = [r[source]["read"]["key_correct"] for r in ok if "key_correct" in r[source]["read"]]
        if keyed:
            entry["key_accuracy"] = float(np.mean(keyed))
        summary[source] = entry
    return summary


def format_table(title: str, rows: list[dict[str, Any]], inputs: Sequence[str], richnesses: Sequence[str]) -> str:
    columns = [f"{s} {r}" for s in inputs for r in richnesses]
    lines = [f"### {title}", "", "| song | family | meter | key (true / read) | " + " | ".join(columns) + " |"]
    lines.append("|" + "---|" * (4 + len(columns)))
    for row in rows:
        keys = [row.get("key") or "-"] + [row[s]["read"]["key_name"] for s in inputs if "read" in row.get(s, {})]
        cells = []
        for source in inputs:
            for richness in richnesses:
                result = row.get(source, {})
                cells.append("refused" if "error" in result else f"{result[richness]['chord_majmin']:.2f}")
        lines.append(
            f"| {row['song']} | {row['family']} | {row['meter']} | {' / '.join(keys)} | " + " | ".join(cells) + " |"
        )
    summary = summarise(rows, inputs, richnesses)
    cells = []
    for source in inputs:
        for richness in richnesses:
            cells.append(f"**{summary[source][richness]['chord_majmin']:.3f}**")
    lines.append(
        f"| **mean** ({', '.join(str(summary[s]['songs']) + ' ' + s for s in inputs)}) | | | | "
        + " | ".join(cells)
        + " |"
    )
    refused = {s: summary[s]["refused"] for s in inputs if summary[s]["refused"]}
    if refused:
        lines.append("")
        lines.append(f"Refused by read_melody (left out of the mean): {refused}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--songs", action="append", default=[], help="a synth output folder (repeatable)")
    parser.add_argument("--music21", action="store_true", help="also the music21 corpus tunes")
    parser.add_argument("--chorales", type=int, default=20, help="Bach chorales in the music21 set (default 20)")
    parser.add_argument("--input", choices=("audio", "midi", "both"), default="midi")
    parser.add_argument("--richness", nargs="+", choices=RICHNESS, default=list(RICHNESS))
    parser.add_argument("--limit", type=int, default=None, help="at most N songs per synth folder / N music21 tunes")
    parser.add_argument("--soundfont", default=None, help="for music21 --input audio (default: find_soundfonts)")
    parser.add_argument("--pipeline", default=None, help="a pipeline folder, for --generate")
    parser.add_argument(
        "--generate", type=int, default=0, help="run play_along on N synth songs / music21 tunes (needs --pipeline)"
    )
    parser.add_argument("--steps", type=int, default=None, help="denoising steps for --generate")
    parser.add_argument("--generate-seconds", type=float, default=8.0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.json is not None:  # before the songs are scored (minutes), not after; a bench result is replaced
        try:
            check_output_path(args.json, overwrite=True, extensions=(".json",))
        except ValueError as error:
            raise SystemExit(f"error: --json: {error}") from None
    inputs = ("audio", "midi") if args.input == "both" else (args.input,)
    if args.generate and not args.pipeline:
        parser.error("--generate needs --pipeline")

    result: dict[str, Any] = {"inputs": list(inputs), "richness": args.richness, "synth": {}, "music21": None}
    report = []
    all_songs: list[Path] = []
    for folder in args.songs:
        songs, skipped = synth_songs(folder)
        songs = songs[: args.limit] if args.limit else songs
        all_songs += songs
        rows = []
        for song in songs:
            print(f"[synth] {song}", file=sys.stderr, flush=True)
            rows.append(bench_synth_song(song, inputs, args.richness))
        # A "keyless" chart (random roots, no key) is beyond any key-based harmoniser: its songs are summarised
        # apart, so that the mean over keyed charts says how well the harmoniser does what it is for.
        keyed = [r for r in rows if r["family"] != "keyless"]
        result["synth"][folder] = {
            "rows": rows,
            "skipped_no_melody": skipped,
            "summary": summarise(rows, inputs, args.richness),
            "summary_keyed": summarise(keyed, inputs, args.richness),
        }
        report.append(format_table(f"Synth songs: {folder}", rows, inputs, args.richness))
        figures = ", ".join(
            f"{s} {r} {result['synth'][folder]['summary_keyed'][s][r]['chord_majmin']:.3f}"
            for s in inputs
            for r in args.richness
        )
        keys = ", ".join(
            f"{s} {result['synth'][folder]['summary_keyed'][s].get('key_accuracy', float('nan')):.2f}" for s in inputs
        )
        report.append(f"\nKeyed charts only ({len(keyed)} songs, keyless left out): {figures}; key accuracy {keys}")
        report.append(f"\nSkipped (no melody stem / notes): {', '.join(skipped) or 'none'}\n")

    if args.music21:
        soundfont = None
        if "audio" in inputs:
            from dataset_builder.synth.render import find_soundfonts

            soundfont = args.soundfont or find_soundfonts()[0]
        rows = []
        for name, score, mode in music21_tunes(args.chorales)[: args.limit]:
            print(f"[music21] {name}", file=sys.stderr, flush=True)
            row = bench_music21_tune(name, score, mode, inputs, args.richness, soundfont)
            if row is not None:
                rows.append(row)
        groups = {}
        for family in ("lead sheet", "chorale"):
            subset = [r for r in rows if r["family"] == family]
            if subset:
                groups[family] = summarise(subset, inputs, args.richness)
        result["music21"] = {"rows": rows, "summary": summarise(rows, inputs, args.richness), "groups": groups}
        report.append(format_table("music21 corpus tunes", rows, inputs, args.richness))
        for family, summary in groups.items():
            figures = ", ".join(f"{s} {r} {summary[s][r]['chord_majmin']:.3f}" for s in inputs for r in args.richness)
            report.append(f"\n{family} ({summary[inputs[0]]['songs']}): {figures}")

    if args.generate and args.music21:
        rows = bench_generate_music21(
            _load_pipeline(args.pipeline),
            music21_tunes(args.chorales),
            args.generate,
            args.steps,
            args.generate_seconds,
        )
        result["generate_music21"] = rows
        report.append("\n### play_along on music21 tunes (whole pipeline, no chart given)\n")
        for row in rows:
            if "error" in row:
                report.append(f"- {row['song']}: refused: {row['error']}")
                continue
            versus = row["accompaniment_vs_true_chart"]
            report.append(
                f"- {row['song']}: {row['accompaniment_seconds']:.1f} s of accompaniment in {row['seconds']:.0f} s; "
                f"its chords vs the suggested chart majmin {row['accompaniment_vs_suggested_chart']['chord_majmin']:.2f}"
                + (f", vs the true chart {versus['chord_majmin']:.2f}" if versus else "")
                + ("" if row["finite"] else " (NaN in the output)")
            )
    if args.generate and all_songs:
        rows = bench_generate(
            _load_pipeline(args.pipeline), all_songs[: args.generate], args.steps, args.generate_seconds
        )
        result["generate"] = rows
        report.append("\n### play_along (whole pipeline)\n")
        for row in rows:
            report.append(
                f"- {row['song']}: accompaniment vs true chart majmin "
                f"{row['accompaniment_vs_true_chart']['chord_majmin']:.3f}, vs suggested chart "
                f"{row['accompaniment_vs_suggested_chart']['chord_majmin']:.3f}; suggested vs true "
                f"{row['suggested_vs_true_chart']['chord_majmin']:.3f} ({row['seconds']:.0f} s)"
            )

    print("\n".join(report))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
