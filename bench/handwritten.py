"""The hand-written chart benchmark: loading and checking `bench/charts/handwritten.json`, tagging each chart's
tonality, and rendering a chart's reference with MMA + FluidSynth through the synth generator's own code.

The charts were written by hand, the way songbooks and real books write them (12-bar blues, rhythm changes, ii-V-I
cycles, modal vamps, borrowed chords, key changes, ...); the synth generator (`dataset_builder.synth`) did not draw
them. Only its rendering path is reused (`mma_chart`, `run_mma`, `render_midi`, `spell_chord`), so a reference here
sounds like a synth song but plays a chart the training corpus never saw.

A chart entry is

    {"id": "blues_f_shuffle", "prompt": "...", "tempo": 144, "meter": "4/4", "key": "F", "groove": "Blues",
     "chart": "F7 | F7 | ...", "tags": ["blues", ...],
     "sections": [{"label": "verse", "caption": "...", "start": 0.0, "end": 6.666667}, ...]}

`key` is a tonic with an optional mode: `"F"`, `"Bb"` (major), `"Gm"`, `"A minor"`, `"D dorian"`, `"G mixolydian"`.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any, Sequence

from diffusers_s2acc.music import LeadSheet, parse_chord


CHARTS_PATH = Path(__file__).resolve().parent / "charts" / "handwritten.json"
CHART_KEYS = ("id", "prompt", "tempo", "meter", "key", "groove", "chart", "tags", "sections")
#: Tags the tonality helper adds; a chart file does not write them itself.
TONALITY_TAGS = ("diatonic", "non_diatonic")

# A mode names its parent major scale by the degree its tonic sits on: D dorian is C major's scale from D, so a
# dorian vamp's IV7 (G7 in D dorian) is diatonic, as a player hears it, and not a borrowed chord of D minor.
_MODE_OFFSETS = {"ionian": 0, "dorian": 2, "phrygian": 4, "lydian": 5, "mixolydian": 7, "aeolian": 9, "locrian": 11}
_KEY = re.compile(r"^([A-G])([#b]?)(m|\s+major|\s+minor|\s+[a-z]+)?$")
# Songbook spellings that `parse_chord` reads but MMA does not: the MMA suffix for the same chord.
_MMA_ALIASES = {
    "maj": "",
    "M": "",
    "min": "m",
    "-": "m",
    "M7": "maj7",
    "Maj7": "maj7",
    "Δ": "maj7",
    "Δ7": "maj7",
    "-7": "m7",
    "min7": "m7",
    "ø": "m7b5",
    "ø7": "m7b5",
    "°": "dim",
    "o": "dim",
    "°7": "dim7",
    "o7": "dim7",
    "+": "aug",
    "sus": "sus4",
    "7sus": "7sus4",
    "m(maj7)": "mM7",
}
_ROOT = re.compile(r"^([A-G][#b]?)(.*?)(?:/([A-G][#b]?))?$")


def parse_key(key: str) -> tuple[int, str]:
    """`(tonic pitch class, mode)` of a key name: `"Bb"` -> `(10, "major")`, `"F#m"` -> `(6, "minor")`,
    `"D dorian"` -> `(2, "dorian")`.

    Raises:
        ValueError: naming the key when it is not a tonic with `m`, `major`, `minor` or a church mode.
    """
    match = _KEY.match(key.strip()) if isinstance(key, str) else None
    if match is None:
        raise ValueError(f"Unknown key {key!r}: write a tonic and an optional mode, e.g. 'Bb', 'F#m', 'D dorian'.")
    letter, accidental, mode = match.groups()
    tonic = parse_chord(letter + accidental).root
    mode = (mode or "").strip() or "major"
    mode = {"m": "minor", "aeolian": "minor", "ionian": "major"}.get(mode, mode)
    if mode not in ("major", "minor") and mode not in _MODE_OFFSETS:
        raise ValueError(f"Unknown mode {mode!r} in key {key!r}; choose major, minor or a church mode.")
    return tonic, mode


def non_diatonic_chords(chart: dict[str, Any]) -> list[str]:
    """The chord symbols of `chart` with a note outside its home key (first occurrence order, no repeats).

    Major and minor keys use `dataset_builder.synth.charts.is_diatonic` (minor: natural minor plus the raised
    seventh); a church mode uses the scale of its parent major key. The home key is the chart's `key` for the whole
    chart: a key change brings chords outside it, which is what makes such a chart non-diatonic.
    """
    from dataset_builder.synth.charts import is_diatonic

    tonic, mode = parse_key(chart["key"])
    if mode not in ("major", "minor"):
        tonic, mode = (tonic - _MODE_OFFSETS[mode]) % 12, "major"
    out: list[str] = []
    for event in chart_sheet(chart).chords:
        if parse_chord(event.symbol).is_no_chord or event.symbol in out:
            continue
        if not is_diatonic(event.symbol, tonic, mode):
            out.append(event.symbol)
    return out


def tonality(chart: dict[str, Any]) -> str:
    """`"diatonic"` when every chord of `chart` lies in its key's scale, else `"non_diatonic"`."""
    return "non_diatonic" if non_diatonic_chords(chart) else "diatonic"


def chart_tags(chart: dict[str, Any]) -> list[str]:
    """The chart's own tags plus its tonality tag (see [`tonality`])."""
    return [t for t in chart["tags"] if t not in TONALITY_TAGS] + [tonality(chart)]


def chart_sheet(chart: dict[str, Any]) -> LeadSheet:
    """The chart read by the project's parser (`LeadSheet.from_chart`) at its tempo and meter."""
    return LeadSheet.from_chart(chart["chart"], bpm=chart["tempo"], meter=chart["meter"])


def num_bars(chart: dict[str, Any]) -> int:
    sheet = chart_sheet(chart)
    return round(sheet.duration / sheet.seconds_per_bar)


def chart_duration(chart: dict[str, Any]) -> float:
    """Bars x beats x 60 / tempo: the length of one pass through the chart, in seconds."""
    return chart_sheet(chart).duration


def check_chart(chart: dict[str, Any]) -> None:
    """Raise `ValueError` naming the chart when it is malformed: unknown or missing keys, a chart the parser
    refuses, a key `parse_key` refuses, or sections that do not tile the chart's duration on bar lines."""
    name = chart.get("id", "?")
    unknown, missing = set(chart) - set(CHART_KEYS), set(CHART_KEYS) - set(chart)
    if unknown or missing:
        raise ValueError(f"chart {name}: unknown key(s) {sorted(unknown)}, missing key(s) {sorted(missing)}")
    try:
        sheet = chart_sheet(chart)
        parse_key(chart["key"])
    except ValueError as error:
        raise ValueError(f"chart {name}: {error}") from None
    bar, end = sheet.seconds_per_bar, sheet.duration
    sections = chart["sections"]
    if not sections or sections[0]["start"] != 0:
        raise ValueError(f"chart {name}: the first section must start at 0")
    for previous, current in zip(sections, sections[1:]):
        if abs(previous["end"] - current["start"]) > 1e-3:
            raise ValueError(f"chart {name}: section {current['label']!r} does not start where the previous ends")
    if abs(sections[-1]["end"] - end) > 1e-3:
        raise ValueError(f"chart {name}: the last section ends at {sections[-1]['end']:g} s, the chart at {end:g} s")
    for section in sections:
        for time in (section["start"], section["end"]):
            if abs(time / bar - round(time / bar)) * bar > 1e-3:
                raise ValueError(f"chart {name}: section {section['label']!r} boundary {time:g} s is not a bar line")


def load_charts(path: str | os.PathLike = CHARTS_PATH) -> list[dict[str, Any]]:
    """Read and check the chart file (see [`check_chart`]); ids must be unique."""
    charts = json.loads(Path(path).read_text(encoding="utf-8"))
    for chart in charts:
        check_chart(chart)
    ids = [c["id"] for c in charts]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate chart ids in {path}")
    return charts


# ------------------------------------------------------------------------------------------------------ rendering


def mma_symbol(symbol: str) -> str:
    """`symbol` as MMA spells it: through `dataset_builder.synth.charts.spell_chord` (which refuses what MMA cannot
    render), after mapping songbook spellings (`ø`, `°7`, `Δ`, `-7`, ...) onto MMA's; no chord is MMA's rest `z`."""
    from dataset_builder.synth.charts import ChordSpec, spell_chord

    chord = parse_chord(symbol)
    if chord.is_no_chord:
        return "z"
    match = _ROOT.match(symbol.strip().replace("♭", "b").replace("♯", "#").replace("∆", "Δ"))
    if match is None:
        raise ValueError(f"Chord {symbol!r} has no root MMA can read.")
    suffix = match.group(2)
    return spell_chord(ChordSpec(chord.root, _MMA_ALIASES.get(suffix, suffix), chord.bass))


@cache
def groove_family(groove: str) -> str:
    """The MMA standard-library file that defines `groove` (case-insensitive, as MMA matches groove names)."""
    from dataset_builder.synth.grooves import FAMILIES, MMA_STDLIB

    pattern = re.compile(rf"^\s*defgroove\s+{re.escape(groove.lower())}\b", re.IGNORECASE | re.MULTILINE)
    for family in FAMILIES:
        path = MMA_STDLIB / f"{family}.mma"
        if path.exists() and pattern.search(path.read_text(encoding="utf-8", errors="replace").lower()):
            return family
    raise ValueError(f"Groove {groove!r} is in none of the synth's MMA library files under {MMA_STDLIB}.")


def beat_slots(sheet: LeadSheet) -> list[str]:
    """The chord sounding on every beat of `sheet` (MMA places chords on beats): raises `ValueError` when a chord
    changes between beats (a 3/4 bar split in two), which MMA's one-slot-per-beat lines cannot say."""
    step = sheet.seconds_per_beat
    slots: list[str] = []
    for event in sheet.chords:
        first, last = event.start / step, event.end / step
        if abs(first - round(first)) > 1e-6 or abs(last - round(last)) > 1e-6:
            raise ValueError(
                f"Chord {event.symbol!r} at {event.start:g}-{event.end:g} s does not start and end on beats."
            )
        slots += [event.symbol] * (round(last) - round(first))
    return slots


def song_plan(chart: dict[str, Any], seed: int = 0):
    """The chart as a `dataset_builder.synth.plan.SongPlan`, so that the synth's own `mma_chart` writes its MMA
    source: one section per chart section, every MMA bar one list of per-beat MMA symbols.

    A 6/8 chart rendered with a 12/8 groove (MMA writes those in four dotted-quarter beats) plays two of its bars
    per MMA bar; the beats are the same, so the timing is exact.
    """
    from dataset_builder.synth.grooves import FAMILIES, Groove, time_signature
    from dataset_builder.synth.plan import SectionPlan, SongPlan
    from diffusers_s2acc.music.lead_sheet import is_compound

    sheet = chart_sheet(chart)
    family = groove_family(chart["groove"])
    genre, mma_beats = FAMILIES[family]
    if is_compound(sheet.meter) != is_compound(time_signature(family)):
        raise ValueError(
            f"chart {chart['id']}: a {chart['meter']} chart needs a groove in a matching meter; {chart['groove']} "
            f"is in {'/'.join(map(str, time_signature(family)))}."
        )
    slots = [mma_symbol(s) for s in beat_slots(sheet)]
    groove = Groove(chart["groove"], family, genre, mma_beats, "", (), True)
    sections = []
    for section in chart["sections"]:
        first, last = (round(section[k] / sheet.seconds_per_beat) for k in ("start", "end"))
        if first % mma_beats or last % mma_beats:
            raise ValueError(
                f"chart {chart['id']}: section {section['label']!r} does not fill whole {mma_beats}-beat MMA bars "
                f"of {chart['groove']}."
            )
        bars = [slots[b : b + mma_beats] for b in range(first, last, mma_beats)]
        sections.append(SectionPlan(section["label"], len(bars), groove, bars))
    tonic, mode = parse_key(chart["key"])
    return SongPlan(
        song_id=chart["id"],
        seed=seed,
        tempo=float(chart["tempo"]),
        meter=mma_beats,
        tonic=tonic,
        mode="minor" if mode == "minor" else "major",
        sections=sections,
        signature=sheet.meter,
        chart_family="handwritten",
    )


def render_chart(
    chart: dict[str, Any], out_dir: str | os.PathLike, soundfont: str, sample_rate: int = 44100, seed: int = 0
) -> Path:
    """Render `chart` into `out_dir/<id>/accompaniment.flac` (and keep its `accompaniment.mma` beside it)."""
    import shutil
    import tempfile

    import soundfile as sf

    from dataset_builder.synth.render import mma_chart, render_midi, run_mma

    folder = Path(out_dir) / chart["id"]
    folder.mkdir(parents=True, exist_ok=True)
    source = mma_chart(song_plan(chart, seed))
    work = Path(tempfile.mkdtemp(prefix=f".{chart['id']}-", dir=out_dir))
    try:
        midi = run_mma(source, work)
        audio = render_midi(midi, soundfont, sample_rate, work / "accompaniment.wav")
        sf.write(folder / "accompaniment.flac", audio, sample_rate, subtype="PCM_16")
        (folder / "accompaniment.mma").write_text(source)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder / "accompaniment.flac"


def chart_specs(
    chart: dict[str, Any], reference: str | os.PathLike, relative_to: str | os.PathLike, seeds: Sequence[int] = (0, 1)
) -> list[dict[str, Any]]:
    """One evaluation spec (`diffusers_s2acc.evaluation.specs` format) per seed, ids `<id>_s<seed>`, with the
    reference path written relative to the spec file's folder `relative_to`."""
    sheet = chart_sheet(chart)
    path = os.path.relpath(Path(reference).resolve(), Path(relative_to).resolve())
    return [
        {
            "id": f"{chart['id']}_s{seed}",
            "prompt": chart["prompt"],
            "segments": [{k: s[k] for k in ("start", "end", "label", "caption")} for s in chart["sections"]],
            "lead_sheet": sheet.to_dict(),
            "duration": sheet.duration,
            "seed": seed,
            "reference": {"path": path, "start": 0.0},
        }
        for seed in seeds
    ]


__all__ = [
    "CHARTS_PATH",
    "beat_slots",
    "chart_duration",
    "chart_sheet",
    "chart_specs",
    "chart_tags",
    "check_chart",
    "groove_family",
    "load_charts",
    "mma_symbol",
    "non_diatonic_chords",
    "num_bars",
    "parse_key",
    "render_chart",
    "song_plan",
    "tonality",
]
