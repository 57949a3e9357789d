"""The Space's form as a musician fills it in, turned into pipeline arguments (no Gradio here, so it is testable alone).

A song is a global prompt, a tempo, a meter, an optional key and a table of sections (label, length in bars, caption,
chords written bar by bar). Times are derived from bars and tempo, so sections can neither overlap nor leave gaps.
Every problem becomes a [`FormError`] that names the field as the page labels it; chord symbols and charts are read
by the package's own [`LeadSheet.from_chart`] (the chart language), never re-parsed here. The table's row editing
(add, remove, move a row) is here too.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..music import LeadSheet, Segment, normalize_label
from ..music.chords import PITCH_CLASS_NAMES
from ..music.lead_sheet import MAX_TEMPO, MIN_TEMPO


#: Column headers of the sections table, in order.
SECTION_HEADERS = ["label", "bars", "caption", "chords (bar by bar)"]
METERS = ["4/4", "3/4", "2/4", "6/8", "12/8", "9/8", "5/4", "7/8"]
NO_KEY = "(not set)"
KEYS = [NO_KEY] + [f"{name} major" for name in PITCH_CLASS_NAMES] + [f"{name} minor" for name in PITCH_CLASS_NAMES]
#: Bounds of the advanced settings (the pipeline accepts more; these keep a shared CPU Space responsive).
MAX_STEPS = 200
MAX_GUIDANCE = 20.0
SEED_MIN, SEED_MAX = 0, 2**32 - 1


class FormError(ValueError):
    """A problem with what the visitor typed; `str()` starts with the field's name as the page shows it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass
class SectionRow:
    """One row of the sections table, checked: a known label, a positive number of bars, caption and chart text."""

    label: str
    bars: int
    caption: str
    chords: str


@dataclass
class SongPlan:
    """What the pipeline is called with, plus the timing the page shows and the picture draws."""

    prompt: str
    segments: list[Segment]
    lead_sheet: LeadSheet | None
    duration: float
    seconds_per_bar: float
    rows: list[SectionRow] = field(default_factory=list)


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _clean_chart(chart: str) -> str:
    # `| C | Am |` and `C | Am` are the same chart; outer bar lines would make empty bars once sections are joined.
    return chart.strip().strip("|").strip()


def _row_name(index: int, label: str) -> str:
    return f"Sections, row {index + 1}" + (f" ({label})" if label else "")


def _bar_count(text: str, row_name: str) -> int:
    try:
        number = float(text)
    except ValueError:
        raise FormError(row_name + ", bars", f"{text!r} is not a number of bars.") from None
    if not math.isfinite(number) or number != int(number) or number < 1:
        raise FormError(row_name + ", bars", f"must be a whole number of bars >= 1, got {text}.")
    return int(number)


def read_rows(table: Any) -> list[SectionRow]:
    """The sections table (a list of rows, or a pandas DataFrame) as checked rows; blank rows are skipped.

    Raises:
        FormError: an empty table, an unknown label or a bar count that is not a positive whole number.
    """
    if hasattr(table, "values") and hasattr(table, "columns"):  # pandas, when called outside Gradio's "array" type
        table = table.values.tolist()
    if isinstance(table, dict):  # the {"headers": [...], "data": [...]} form gradio_client sends
        table = table.get("data", [])
    rows: list[SectionRow] = []
    for index, raw in enumerate(table or []):
        cells = [_cell_text(cell) for cell in list(raw)[: len(SECTION_HEADERS)]]
        cells += [""] * (len(SECTION_HEADERS) - len(cells))
        if not any(cells):
            continue  # a row added and left blank
        label, bars, caption, chords = cells
        name = _row_name(index, label)
        if not label:
            raise FormError(name + ", label", "is empty; write intro, verse, chorus, bridge, solo, outro, ...")
        try:
            normalize_label(label)
        except ValueError as error:
            raise FormError(name + ", label", str(error)) from None
        if not bars:
            raise FormError(name + ", bars", "is empty; every section needs its length in bars.")
        rows.append(SectionRow(label, _bar_count(bars, name), caption, chords))
    if not rows:
        raise FormError("Sections", "the table is empty; add at least one section (label, bars, caption).")
    return rows


def timing(bpm: Any, meter: Any) -> LeadSheet:
    """An empty lead sheet carrying the tempo and meter (its `seconds_per_bar` times every section).

    Raises:
        FormError: naming "Tempo (BPM)" or "Meter".
    """
    if isinstance(bpm, str):
        try:
            bpm = float(bpm)
        except ValueError:
            raise FormError("Tempo (BPM)", f"{bpm!r} is not a number.") from None
    if bpm is None or isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not math.isfinite(bpm):
        raise FormError("Tempo (BPM)", f"must be a number of beats per minute, got {bpm!r}.")
    if not MIN_TEMPO <= bpm <= MAX_TEMPO:
        raise FormError("Tempo (BPM)", f"must be between {MIN_TEMPO:g} and {MAX_TEMPO:g}, got {bpm:g}.")
    try:
        return LeadSheet(tempo=float(bpm), meter=str(meter or "").strip())
    except ValueError as error:
        raise FormError("Meter", str(error)) from None


def compose_prompt(prompt: str, key: str | None) -> str:
    """The global prompt the model reads: the visitor's words, plus the key as training captions word it."""
    prompt = (prompt or "").strip()
    if key and key != NO_KEY and key.lower() not in prompt.lower():
        prompt = f"{prompt}, in {key}" if prompt else f"accompaniment in {key}"
    return prompt


def joined_chart(rows: Sequence[SectionRow]) -> str:
    """The sections' charts as one chart, as `plan_song` reads it (empty when no section has chords)."""
    return " | ".join(chart for chart in (_clean_chart(row.chords) for row in rows) if chart)


def chart_rows(chart: str, table: Any) -> list[list]:
    """The sections table with the chart `chart` (bars separated by `|`, as [`ChartSuggestion.to_chart`] writes it)
    written into it: over the table's own sections, labels and captions kept, when their bars add up to the chart's;
    else as one verse of the chart's length (with the first section's caption).
    """
    bars = [bar.strip() for bar in _clean_chart(chart).split("|")]
    try:
        rows = read_rows(table)
    except FormError:  # an incomplete table is replaced whole
        rows = []
    if rows and sum(row.bars for row in rows) == len(bars):
        out, start = [], 0
        for row in rows:
            out.append([row.label, row.bars, row.caption, " | ".join(bars[start : start + row.bars])])
            start += row.bars
        return out
    return [["verse", len(bars), rows[0].caption if rows else "", " | ".join(bars)]]


def _chart(rows: Sequence[SectionRow], sheet: LeadSheet) -> LeadSheet | None:
    """One lead sheet for the whole piece: the sections' charts joined, each checked to fill its section exactly.

    Each section is read together with the sections before it, so `%` and `-` at a section's start refer to the
    previous section's last bar or chord, exactly as in the joined chart; an error that first appears when a
    section is added belongs to that section.
    """
    with_chords = [row for row in rows if _clean_chart(row.chords)]
    if not with_chords:
        return None
    if len(with_chords) != len(rows):
        missing = next(i for i, row in enumerate(rows) if not _clean_chart(row.chords))
        raise FormError(
            _row_name(missing, rows[missing].label) + ", chords",
            "is empty while other sections have chords; write its chords (N.C. bars for no harmony), or clear "
            "the chords of every section.",
        )
    charts: list[str] = []
    bars_so_far = 0
    for index, row in enumerate(rows):
        name = _row_name(index, row.label) + ", chords"
        charts.append(_clean_chart(row.chords))
        try:
            partial = LeadSheet.from_chart(" | ".join(charts), bpm=sheet.tempo, meter=sheet.meter)
        except ValueError as error:
            raise FormError(name, str(error)) from None
        # Every bar of a chart is filled (a chord, `%` or `-`), so the chart lasts exactly its bars.
        bars = round(partial.duration / sheet.seconds_per_bar)
        if bars - bars_so_far != row.bars:
            raise FormError(
                name,
                f"the chart has {bars - bars_so_far} bar(s) but the section is {row.bars} bar(s) long; write one "
                "group of chords per bar, bars separated by |, or change the section's bars.",
            )
        bars_so_far = bars
    return LeadSheet.from_chart(joined_chart(rows), bpm=sheet.tempo, meter=sheet.meter)


def plan_song(
    prompt: str, bpm: Any, meter: Any, key: str | None, table: Any, max_seconds: float | None = None
) -> SongPlan:
    """Check the whole form and derive the sections' times, the lead sheet and the duration.

    Raises:
        FormError: naming the field (tempo, meter, a section's label / bars / chords, or the song's length).
    """
    sheet = timing(bpm, meter)
    if key not in (None, "") and key not in KEYS:
        raise FormError("Key", f"unknown key {key!r}; choose one such as 'A minor' or {NO_KEY!r}.")
    rows = read_rows(table)
    lead_sheet = _chart(rows, sheet)
    segments, start = [], 0.0
    for index, row in enumerate(rows):
        end = start + row.bars * sheet.seconds_per_bar
        segments.append(Segment(start, end, row.label, row.caption))
        start = end
    total_bars = sum(row.bars for row in rows)
    if max_seconds is not None and start > max_seconds + 1e-6:
        fitting = math.floor(max_seconds / sheet.seconds_per_bar + 1e-9)
        raise FormError(
            "Sections",
            f"the song lasts {start:.1f} s ({total_bars} bars of {sheet.seconds_per_bar:.2f} s at {sheet.tempo:g} "
            f"BPM in {sheet.meter[0]}/{sheet.meter[1]}), longer than this model's maximum of {max_seconds:.1f} s; "
            f"use at most {fitting} bars, or a faster tempo.",
        )
    return SongPlan(compose_prompt(prompt, key), segments, lead_sheet, start, sheet.seconds_per_bar, rows)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:05.2f}"


def seconds_view(bpm: Any, meter: Any, table: Any, max_seconds: float | None = None) -> tuple[list[list], str]:
    """The "seconds" view of the sections: rows of (#, label, bars, start s, end s, start–end) and a summary line.

    Never raises: an incomplete form is normal while typing, so the summary says what is missing instead.
    """
    try:
        sheet = timing(bpm, meter)
        rows = read_rows(table)
    except FormError as error:
        return [], f"⚠️ {error}"
    out, start = [], 0.0
    for index, row in enumerate(rows):
        end = start + row.bars * sheet.seconds_per_bar
        out.append(
            [index + 1, row.label, row.bars, round(start, 2), round(end, 2), f"{_clock(start)} – {_clock(end)}"]
        )
        start = end
    bars = sum(row.bars for row in rows)
    summary = (
        f"{len(rows)} section(s), {bars} bars of {sheet.seconds_per_bar:.2f} s "
        f"({sheet.tempo:g} BPM, {sheet.meter[0]}/{sheet.meter[1]}): **{start:.1f} s**"
    )
    if max_seconds is not None:
        summary += f" of this model's maximum {max_seconds:.1f} s" + (
            " ⚠️ too long" if start > max_seconds + 1e-6 else ""
        )
    return out, summary


def check_advanced(seed: Any, steps: Any, guidance: Any, lead_sheet_guidance: Any) -> tuple[int, int, float, float]:
    """Seed, steps and the two guidance scales, checked; each error names its field."""

    def number(name: str, value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise FormError(name, f"{value!r} is not a number.") from None
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise FormError(name, f"must be a number, got {value!r}.")
        return float(value)

    seed_value, steps_value = number("Seed", seed), number("Steps", steps)
    if seed_value != int(seed_value) or not SEED_MIN <= seed_value <= SEED_MAX:
        raise FormError("Seed", f"must be a whole number in [{SEED_MIN}, {SEED_MAX}], got {seed_value:g}.")
    if steps_value != int(steps_value) or not 1 <= steps_value <= MAX_STEPS:
        raise FormError("Steps", f"must be a whole number in [1, {MAX_STEPS}], got {steps_value:g}.")
    scales = []
    for name, value in (("Guidance", guidance), ("Lead-sheet guidance", lead_sheet_guidance)):
        value = number(name, value)
        if not 0 <= value <= MAX_GUIDANCE:
            raise FormError(name, f"must be in [0, {MAX_GUIDANCE:g}], got {value:g}.")
        scales.append(value)
    return int(seed_value), int(steps_value), scales[0], scales[1]


def file_stem(prompt: str, seed: int) -> str:
    """A download name from the prompt and seed: `warm-indie-pop-accompaniment_seed7`."""
    slug = re.sub(r"[^a-z0-9]+", "-", (prompt or "").lower()).strip("-")[:48].strip("-")
    return f"{slug or 's2acc'}_seed{seed}"


# ---------------------------------------------------------------------- editing the sections table


def table_rows(table: Any) -> list[list]:
    """The sections table (a list of rows, or a pandas DataFrame) as a new list of lists, for editing."""
    if hasattr(table, "values") and hasattr(table, "columns"):
        table = table.values.tolist()
    return [list(row) for row in table or []]


def row_index(rows: list, row: Any) -> int | None:
    """The 0-based index of the page's 1-based row number `row`, or None when it names no row of `rows`."""
    try:
        index = int(row) - 1
    except (TypeError, ValueError):
        return None
    return index if 0 <= index < len(rows) else None


def _chosen_row(rows: list, row: Any) -> int:
    index = row_index(rows, row)
    if index is None:
        raise FormError("Row", f"choose a row between 1 and {len(rows)} (click a cell of the table).")
    return index


def add_row(table: Any, row: Any) -> tuple[list[list], int]:
    """A blank section after row `row` (at the end when no row is chosen): the rows and the new row's number."""
    rows = table_rows(table)
    index = row_index(rows, row)
    at = len(rows) if index is None else index + 1
    rows.insert(at, ["verse", 4, "", ""])
    return rows, at + 1


def remove_row(table: Any, row: Any) -> tuple[list[list], int]:
    """The table without row `row` (one blank row if it was the last) and the row number to choose next.

    Raises:
        FormError: `row` names no row of the table.
    """
    rows = table_rows(table)
    index = _chosen_row(rows, row)
    del rows[index]
    return rows or [["", "", "", ""]], min(index + 1, max(len(rows), 1))


def move_row(table: Any, row: Any, offset: int) -> tuple[list[list], int]:
    """The table with row `row` moved `offset` places (stopping at either end) and its new number.

    Raises:
        FormError: `row` names no row of the table.
    """
    rows = table_rows(table)
    index = _chosen_row(rows, row)
    target = min(max(index + offset, 0), len(rows) - 1)
    rows.insert(target, rows.pop(index))
    return rows, target + 1


@dataclass
class ExampleSong:
    """A complete song for the Examples: every field of the form."""

    name: str
    prompt: str
    bpm: float
    meter: str
    key: str
    sections: list[list]
    seed: int = 0

    def values(self, settings: dict) -> list:
        """The form's fields, with the sampling settings `settings` (the pipeline's `recommended_settings()`)."""
        return [
            self.prompt,
            self.bpm,
            self.meter,
            self.key,
            self.sections,
            self.seed,
            settings["num_inference_steps"],
            settings["guidance_scale"],
            settings["lead_sheet_guidance_scale"],
        ]


# Songs in different styles, meters and tempi, each within the default model's 32.8 s.
EXAMPLES = [
    ExampleSong(
        "Indie pop ballad · 4/4 · 76 BPM",
        "warm indie pop accompaniment",
        76,
        "4/4",
        "C major",
        [
            ["intro", 2, "sparse felt piano and soft pads", "C | G/B"],
            ["verse", 4, "fingerpicked acoustic guitar, brushed drums and upright bass", "Am | F | C | G"],
            ["chorus", 4, "full band, warm electric guitars and strings, energetic", "F | G | Em Am | F G"],
        ],
        seed=7,
    ),
    ExampleSong(
        "Jazz waltz · 3/4 · 160 BPM",
        "swinging jazz waltz, piano trio",
        160,
        "3/4",
        "Bb major",
        [
            ["intro", 4, "solo piano, rubato feel", "Bbmaj7 | Gm7 | Cm7 | F7"],
            [
                "verse",
                8,
                "piano trio, brushes on the snare, walking bass",
                "Bbmaj7 | Eb7 | Dm7 | G7 | Cm7 | F7 | Bbmaj7 | %",
            ],
            [
                "chorus",
                8,
                "piano comping, ride cymbal, busier bass",
                "Ebmaj7 | Edim7 | Bbmaj7/F | G7 | Cm7 | F7 | Bb6 | %",
            ],
            ["outro", 4, "piano alone, slowing down", "Cm7 | F7 | Bbmaj7 | %"],
        ],
        seed=3,
    ),
    ExampleSong(
        "Celtic jig · 6/8 · 72 BPM",
        "lively celtic folk jig",
        72,
        "6/8",
        "D major",
        [
            ["intro", 2, "solo fiddle over a drone", "D | %"],
            ["verse", 8, "fiddle, tin whistle and bodhran", "D | G | D | A | D | G | A | D"],
            ["chorus", 8, "full folk band, strummed bouzouki, energetic", "Bm | G | D | A | Bm | G | A | D"],
        ],
        seed=11,
    ),
    ExampleSong(
        "Funk groove · 4/4 · 108 BPM",
        "tight funk groove with slap bass and clavinet",
        108,
        "4/4",
        "E minor",
        [
            ["intro", 2, "drums and muted guitar scratches", "E7#9 | %"],
            ["verse", 4, "slap bass, clavinet and tight hi-hats", "Em7 | A7 | Em7 | A7"],
            ["chorus", 4, "horn stabs, open hi-hats, full band", "Cmaj7 | D | Bm7 | E7#9"],
            ["outro", 2, "bass and drums break, then a stop", "Em9 | N.C."],
        ],
        seed=5,
    ),
    ExampleSong(
        "Bossa nova · 4/4 · 132 BPM",
        "relaxed bossa nova, nylon guitar",
        132,
        "4/4",
        "F major",
        [
            ["intro", 2, "nylon-string guitar alone", "Gm7 | C7"],
            [
                "verse",
                8,
                "nylon guitar, soft shaker and rim clicks, upright bass",
                "Fmaj7 | % | G7 | % | Gm7 | Gb7 | Fmaj7 | Gb7",
            ],
            ["bridge", 4, "flute joins, brighter", "Gbmaj7 | % | B7 | %"],
            ["outro", 2, "guitar and bass only", "Gm7 C7 | Fmaj7"],
        ],
        seed=2,
    ),
    ExampleSong(
        "Rock anthem · 4/4 · 128 BPM",
        "driving arena rock, distorted guitars",
        128,
        "4/4",
        "E major",
        [
            ["intro", 2, "palm-muted guitar riff", "E5 | %"],
            ["verse", 4, "guitar, bass and steady kick and snare", "E | D | A | E"],
            ["chorus", 4, "wide distorted guitars, crash cymbals, big and loud", "A | B | C#m | B"],
            ["solo", 4, "lead guitar over the band", "C#m | A | E | B"],
            ["outro", 2, "last chord ringing out", "E | N.C."],
        ],
        seed=9,
    ),
]
