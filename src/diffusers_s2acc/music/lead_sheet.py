"""The `LeadSheet` dataclass: tempo, meter, timed chords and an optional melody."""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Sequence

from .chords import parse_chord


logger = logging.getLogger(__name__)

MIN_TEMPO = 30.0
MAX_TEMPO = 300.0


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    return float(value)


@dataclass
class ChordEvent:
    """A chord symbol sounding from `start` to `end` seconds."""

    start: float
    end: float
    symbol: str

    def __post_init__(self) -> None:
        self.start = _finite("Chord start", self.start)
        self.end = _finite("Chord end", self.end)
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"Chord {self.symbol!r} has an invalid span [{self.start}, {self.end}).")
        parse_chord(self.symbol)  # raises ValueError naming the symbol


@dataclass
class Note:
    """A melody note: MIDI `pitch` from `start` to `end` seconds."""

    start: float
    end: float
    pitch: int

    def __post_init__(self) -> None:
        self.start = _finite("Note start", self.start)
        self.end = _finite("Note end", self.end)
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"Melody note has an invalid span [{self.start}, {self.end}).")
        if isinstance(self.pitch, bool) or not isinstance(self.pitch, int) or not 0 <= self.pitch <= 127:
            raise ValueError(f"Melody note pitch must be a MIDI number in [0, 127], got {self.pitch!r}.")


def _event(cls: type, data: Any, what: str) -> Any:
    """A `ChordEvent` or `Note` from a JSON object, with a one-line error for the wrong shape (not a TypeError)."""
    if isinstance(data, cls):
        return data
    names = [f.name for f in fields(cls)]
    if not isinstance(data, Mapping):
        raise ValueError(f"Each {what} must be an object with {', '.join(names)}; got {data!r}.")
    unknown, missing = set(data) - set(names), set(names) - set(data)
    if unknown or missing:
        problems = [f"unknown field(s) {', '.join(sorted(unknown))}"] if unknown else []
        problems += [f"missing field(s) {', '.join(sorted(missing))}"] if missing else []
        raise ValueError(f"{what.capitalize()} {dict(data)!r}: {'; '.join(problems)} (expected {', '.join(names)}).")
    return cls(**data)


def _event_list(value: Any, cls: type, key: str, what: str, hint: str = "") -> list:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ValueError(f"`{key}` must be a list of {{{', '.join(f.name for f in fields(cls))}}} objects{hint}.")
    return [_event(cls, item, what) for item in value]


def _parse_meter(meter: str | Sequence[int]) -> tuple[int, int]:
    if isinstance(meter, str):
        parts = meter.split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"Meter must look like '4/4', got {meter!r}.")
        numerator, denominator = int(parts[0]), int(parts[1])
    elif (
        isinstance(meter, Sequence)
        and len(meter) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in meter)
    ):
        numerator, denominator = meter
    else:
        raise ValueError(f"Meter must look like '4/4' or (4, 4), got {meter!r}.")
    if not 1 <= numerator <= 32 or denominator not in (1, 2, 4, 8, 16):
        raise ValueError(f"Unsupported meter {numerator}/{denominator}.")
    return numerator, denominator


def is_compound(meter: tuple[int, int]) -> bool:
    """6/8, 9/8, 12/8 (and x/16 alike): the beat is a dotted note, three of the denominator's notes."""
    numerator, denominator = meter
    return denominator >= 8 and numerator > 3 and numerator % 3 == 0


@dataclass
class LeadSheet:
    """Tempo, meter, chords and optional melody for (part of) a piece. Every part is optional at inference.

    Args:
        tempo (`float`): Beats per minute, in `[30, 300]`. It counts quarter notes in simple meters (2/4, 3/4, 4/4,
            3/8, ...) and the dotted-quarter beat in compound meters (6/8, 9/8, 12/8), as a conductor counts them.
        meter (`tuple[int, int]` or `str`): Time signature, e.g. `(4, 4)` or `"3/4"`.
        chords (`list[ChordEvent]`): Timed chords, which may not overlap. Time not covered by any chord is
            "unknown", not "no chord"; write `"N.C."` for an explicit rest.
        melody (`list[Note]`, *optional*): Lead melody notes. `None` means the melody is not specified.
        offset (`float`): Time in seconds of the first downbeat.
        repeats (`bool`, defaults to `False`): The lead sheet is a form that repeats to fill a longer piece (set by
            [`~LeadSheet.from_chart`]; see [`~LeadSheet.repeat_until`]). Not stored by [`~LeadSheet.to_dict`]: it
            is how a chart is read, not part of the data.
    """

    tempo: float = 120.0
    meter: tuple[int, int] | str = (4, 4)
    chords: list[ChordEvent] = field(default_factory=list)
    melody: list[Note] | None = None
    offset: float = 0.0
    repeats: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        self.tempo = _finite("tempo", self.tempo)
        if not MIN_TEMPO <= self.tempo <= MAX_TEMPO:
            raise ValueError(f"tempo must be in [{MIN_TEMPO:g}, {MAX_TEMPO:g}] BPM, got {self.tempo:g}.")
        self.meter = _parse_meter(self.meter)
        self.offset = _finite("offset", self.offset)
        if self.offset < 0:
            raise ValueError(f"offset must be >= 0, got {self.offset}.")
        self.chords = sorted(_event_list(self.chords, ChordEvent, "chords", "chord"), key=lambda c: c.start)
        # One chord sounds at a time: a later chord silently overwriting an earlier one would condition on a chart
        # the user never wrote. Rounding of hand-written times (1 ms) is tolerated.
        for previous, current in zip(self.chords, self.chords[1:]):
            if current.start < previous.end - 1e-3:
                raise ValueError(
                    f"Chords overlap: {previous.symbol!r} [{previous.start:g}, {previous.end:g}) and "
                    f"{current.symbol!r} [{current.start:g}, {current.end:g})."
                )
        if self.melody is not None:
            self.melody = sorted(_event_list(self.melody, Note, "melody", "melody note"), key=lambda n: n.start)

    @property
    def beats_per_bar(self) -> int:
        return self.meter[0] // 3 if is_compound(self.meter) else self.meter[0]

    @property
    def seconds_per_beat(self) -> float:
        if is_compound(self.meter):
            # The beat is a dotted note and the tempo counts it: 6/8 at 60 BPM is two beats (one bar) per 2 s.
            return 60.0 / self.tempo
        # Simple meters: the tempo counts quarter notes and the beat is the denominator's note (a 3/8 bar lasts
        # 1.5 quarter notes, with a beat on every eighth).
        return 60.0 / self.tempo * 4.0 / self.meter[1]

    @property
    def seconds_per_bar(self) -> float:
        return self.seconds_per_beat * self.beats_per_bar

    @property
    def duration(self) -> float:
        """End of the last chord or note (0 for an empty lead sheet)."""
        ends = [c.end for c in self.chords] + [n.end for n in self.melody or []]
        return max(ends, default=0.0)

    def beat_times(self, until: float) -> list[tuple[float, bool]]:
        """`(time, is_downbeat)` for every beat from 0 up to `until` seconds (pick-up beats before `offset` too)."""
        beats, index = [], -math.floor(self.offset / self.seconds_per_beat + 1e-9)
        while True:
            time = self.offset + index * self.seconds_per_beat
            if time >= until:
                return beats
            beats.append((time, index % self.beats_per_bar == 0))
            index += 1

    def crop(
        self, start: float, end: float, *, min_overlap: float = 0.0, downbeats: Sequence[float] | None = None
    ) -> "LeadSheet":
        """The part of the lead sheet inside `[start, end)` seconds, with times shifted to start at 0.

        Args:
            start (`float`), end (`float`): The window, in seconds.
            min_overlap (`float`, defaults to 0): Keep only chords and notes that reach more than this far into the
                window; an analysis of a recording uses 1 ms so events that touch a boundary by rounding are dropped.
            downbeats (`Sequence[float]`, *optional*): Measured bar lines of a recording. The crop's `offset` is then
                the first of them at or after `start` (1 ms tolerance) instead of the next bar of the regular grid.
        """
        chords = [
            ChordEvent(max(c.start, start) - start, min(c.end, end) - start, c.symbol)
            for c in self.chords
            if c.end > start + min_overlap and c.start < end - min_overlap
        ]
        melody = None
        if self.melody is not None:
            melody = [
                Note(max(n.start, start) - start, min(n.end, end) - start, n.pitch)
                for n in self.melody
                if n.end > start + min_overlap and n.start < end - min_overlap
            ]
        if downbeats is not None:
            later = [d for d in downbeats if d >= start - 1e-3]
            offset = later[0] - start if later else 0.0
        else:
            # Next downbeat at or after `start`, so beats and bars stay aligned in the crop.
            bars_before = max(0.0, math.ceil((start - self.offset) / self.seconds_per_bar - 1e-9))
            offset = self.offset + bars_before * self.seconds_per_bar - start
        return LeadSheet(tempo=self.tempo, meter=self.meter, chords=chords, melody=melody, offset=max(0.0, offset))

    @property
    def form_length(self) -> float:
        """Length in seconds of one pass through the form: from the first downbeat to the end, in whole bars."""
        bars = max(1, math.ceil((self.duration - self.offset) / self.seconds_per_bar - 1e-6))
        return bars * self.seconds_per_bar

    def repeat_until(self, until: float) -> "LeadSheet":
        """The lead sheet played again and again as a form (whole bars from the first downbeat) until `until` s.

        Chords and melody from `offset` on repeat every [`form_length`] seconds; the last pass is cut at `until`.
        A lead sheet that already reaches `until` is returned unchanged.
        """
        if self.duration >= until - 1e-6 or not self.chords + (self.melody or []):
            return self
        period = self.form_length
        passes = math.ceil((until - self.offset) / period)

        def repeated(events: list, make) -> list:
            out = list(events)
            for k in range(1, passes):
                for e in events:
                    start, end = e.start + k * period, min(e.end + k * period, until)
                    if e.start >= self.offset - 1e-9 and start < until - 1e-9:
                        out.append(make(e, start, end))
            return out

        chords = repeated(self.chords, lambda c, a, b: ChordEvent(a, b, c.symbol))
        melody = None if self.melody is None else repeated(self.melody, lambda n, a, b: Note(a, b, n.pitch))
        return LeadSheet(self.tempo, self.meter, chords, melody, self.offset, self.repeats)

    @classmethod
    def from_chart(
        cls, chart: str, bpm: float = 120.0, meter: str | Sequence[int] = (4, 4), offset: float = 0.0
    ) -> "LeadSheet":
        """Parse a one-line chord chart (the chart language; the README's "Chart language" section says the same).

        - Bars are separated by `|`, and a line end is a bar line too (`|` at the start or end of a line adds
          none); blank lines are skipped. The chords of a bar share it equally. `"C | Am | F G"` is one bar of C,
          one of Am, then F and G for half a bar each. `-` holds the chord before it; `%` repeats the previous bar
          as it sounded (`"C | - G | %"`: the third bar is C then G again).
        - Chord symbols are read by [`~music.chords.parse_chord`]: triads (`C`, `Cm`, `Cmaj`, `C°`, `C+`, `Csus2`,
          `Csus4`, `C5`), sevenths (`C7`, `Cmaj7`/`CΔ7`/`C∆7`, `Cm7`, `Cm7b5`/`Cø`/`Cm7♭5`, `C°7`, `CmM7`), sixths
          and extensions (`C6`, `C69`, `C9`, `C11`, `C13`, `Cmaj9`, `Cmaj7#11`, `Cadd9`), suspended dominants
          (`C7sus4`, `C7sus`, `C9sus4`, `C7sus2`: no third), altered dominants (`C7b5`, `C7#5`/`C+7`/`Caug7`: no
          perfect fifth; `C7b9`, `C7#9`, `C7#11`, `C7alt`), slash basses (`C/E`) and no chord (`N.C.`, `NC`, in any
          case, or Harte's `N`; nothing else).
        - `bpm` counts quarter notes in simple meters (2/4, 3/4, 4/4, 3/8, ...) and the dotted-quarter beat in
          compound meters (6/8, 9/8, 12/8), where beats fall on every third eighth note: `6/8` at 60 BPM has two
          beats and lasts 2 s per bar.
        - The chart is a form: when the piece is longer than the chart, the pipeline repeats it (whole bars, from
          the top) to the end and logs a one-line notice (see [`repeat_until`]). Write `N.C.` bars to leave the
          rest of the piece without harmony instead.

        Raises:
            ValueError: naming the bad chord symbol, an empty chart, or a tempo out of range.
        """
        if not isinstance(chart, str):
            raise ValueError(f"A chord chart must be a string such as 'C | Am | F | G', got {type(chart).__name__}.")
        if not chart.strip().strip("|").strip():
            raise ValueError("Chord chart is empty.")
        sheet = cls(tempo=bpm, meter=meter, offset=offset)
        # A line end is a bar line: each non-blank line is a row of bars, its own leading/trailing `|` optional.
        rows = [line.strip().strip("|") for line in chart.splitlines()]
        bars = [bar.split() for row in rows if row.strip() for bar in row.split("|")]
        events: list[ChordEvent] = []
        previous_bar: list[str] | None = None  # the previous bar as it sounded: every `-` resolved to its chord
        for bar_index, symbols in enumerate(bars):
            if symbols == ["%"]:
                if previous_bar is None:
                    raise ValueError("Chord chart starts with '%': there is no bar to repeat.")
                symbols = previous_bar
            elif "%" in symbols:
                raise ValueError(f"Chord chart bar {bar_index + 1}: '%' repeats a whole bar and stands alone in it.")
            if not symbols:
                raise ValueError(f"Chord chart bar {bar_index + 1} is empty.")
            bar_start = offset + bar_index * sheet.seconds_per_bar
            step = sheet.seconds_per_bar / len(symbols)
            sounded = []
            for slot, symbol in enumerate(symbols):
                start, end = bar_start + slot * step, bar_start + (slot + 1) * step
                if symbol == "-":
                    if not events:
                        raise ValueError("Chord chart starts with '-': there is no chord to hold.")
                    events[-1].end = end
                    sounded.append(events[-1].symbol)
                    continue
                events.append(ChordEvent(start=start, end=end, symbol=symbol))
                sounded.append(symbol)
            # As written, but a bar that starts with `-` starts, when repeated, with the chord it held.
            previous_bar = [sounded[0], *symbols[1:]]
        sheet.chords = events
        sheet.repeats = True
        return sheet

    def to_chart(self, until: float | None = None) -> str:
        """The chords as a one-line chart in the chart language, from the first downbeat (`offset`) on: the inverse
        of [`from_chart`] (with the same `tempo`, `meter` and `offset`, `from_chart` gives back the same chord at
        every instant).

        Each bar is written with the fewest equal slots (up to one per eighth of the bar's beats, i.e. two per beat)
        on whose boundaries all of its chord changes fall; a chord that carries on into the next slot of the same
        bar is written `-`. Time that no chord covers is written `N.C.` (the chart language has no "unknown"); a
        change that falls on no such boundary is rounded to the nearest half beat. Chords before `offset` (a
        pick-up) are not part of a chart.

        Args:
            until (`float`, *optional*): Write bars up to this time (default: the end of the last chord).

        Raises:
            ValueError: when there is no chord from `offset` on.
        """
        end = max((c.end for c in self.chords), default=0.0) if until is None else until
        if end <= self.offset + 1e-6 or not any(c.end > self.offset + 1e-6 for c in self.chords):
            raise ValueError("The lead sheet has no chords from its first downbeat on: there is no chart to write.")
        bar_seconds = self.seconds_per_bar
        tolerance = 1e-3 * bar_seconds

        def event_at(time: float) -> int | None:
            for index, chord in enumerate(self.chords):
                if chord.start - 1e-9 <= time < chord.end:
                    return index
            return None

        bars = []
        num_bars = max(1, math.ceil((end - self.offset) / bar_seconds - 1e-6))
        for bar in range(num_bars):
            start = self.offset + bar * bar_seconds
            inside = [
                t
                for c in self.chords
                for t in (c.start, c.end)
                if start + tolerance < t < start + bar_seconds - tolerance
            ]
            for slots in range(1, 2 * self.beats_per_bar + 1):
                step = bar_seconds / slots
                if all(abs(t - start - round((t - start) / step) * step) <= tolerance for t in inside):
                    break
            step = bar_seconds / slots
            events = [event_at(start + (k + 0.5) * step) for k in range(slots)]
            symbols = []
            for k, event in enumerate(events):
                if event is None:
                    symbols.append("N.C.")
                elif k > 0 and events[k - 1] == event:
                    symbols.append("-")
                else:
                    symbols.append(self.chords[event].symbol)
            bars.append(" ".join(symbols))
        return " | ".join(bars)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | "LeadSheet") -> "LeadSheet":
        """Build from a plain dict, as found in JSON files.

        Accepted keys: `tempo` (or `bpm`, not both), `meter`, `offset`, `melody` (list of `{start, end, pitch}`)
        and at most one of `chords` (list of `{start, end, symbol}`), `bars` (list of bar strings, one bar each) or
        `chart` (a chart, see [`from_chart`]). Two keys for the same thing are refused: one would be dropped.
        """
        if isinstance(data, LeadSheet):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(f"A lead sheet must be a mapping, got {type(data).__name__}.")
        known = {"tempo", "bpm", "meter", "offset", "melody", "chords", "bars", "chart"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"Unknown lead-sheet field(s): {', '.join(sorted(unknown))}.")
        for group in (("tempo", "bpm"), ("chart", "bars", "chords")):
            given = [key for key in group if key in data]
            if len(given) > 1:
                raise ValueError(
                    f"Lead sheet has both {' and '.join(f'`{key}`' for key in given)}: give one (they say the same "
                    "thing, and one would be dropped)."
                )
        tempo = data.get("tempo", data.get("bpm", 120.0))
        meter = data.get("meter", (4, 4))
        offset = data.get("offset", 0.0)
        if "chart" in data or "bars" in data:
            if "chart" in data:
                chart = data["chart"]
            else:
                bars = data["bars"]
                if (
                    isinstance(bars, str)
                    or not isinstance(bars, Sequence)
                    or not all(isinstance(b, str) for b in bars)
                ):
                    raise ValueError('`bars` must be a list of bar strings such as ["C", "Am", "F G"].')
                chart = " | ".join(bars)
            sheet = cls.from_chart(chart, bpm=tempo, meter=meter, offset=offset)
        else:
            chords = _event_list(
                data.get("chords", []),
                ChordEvent,
                "chords",
                "chord",
                hint=' (for a chart write "chart": "C | Am | F | G")',
            )
            sheet = cls(tempo=tempo, meter=meter, offset=offset, chords=chords)
        if data.get("melody") is not None:
            sheet.melody = sorted(_event_list(data["melody"], Note, "melody", "melody note"), key=lambda n: n.start)
        return sheet

    @classmethod
    def from_json(cls, path_or_text: str | os.PathLike) -> "LeadSheet":
        """Read a lead sheet from a JSON file, or from JSON text (anything starting with `{`).

        Raises:
            ValueError: naming a file that does not exist or is not UTF-8, invalid JSON, or the wrong shape.
        """
        text = str(path_or_text)
        if not text.lstrip().startswith("{"):
            if os.path.isdir(text):
                raise ValueError(f"{text} is a folder, not a lead-sheet file.")
            if not os.path.isfile(text):
                raise ValueError(f"Lead-sheet file {text} does not exist.")
            try:
                with open(text, encoding="utf-8") as handle:
                    text = handle.read()
            except UnicodeDecodeError:
                raise ValueError(f"Lead-sheet file {path_or_text} is not UTF-8 text.") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"Lead sheet is not valid JSON ({error.msg}, line {error.lineno}).") from None
        except RecursionError:
            raise ValueError("Lead sheet JSON is nested too deeply.") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tempo": self.tempo,
            "meter": f"{self.meter[0]}/{self.meter[1]}",
            "offset": self.offset,
            "chords": [{"start": c.start, "end": c.end, "symbol": c.symbol} for c in self.chords],
            "melody": None if self.melody is None else [vars(n).copy() for n in self.melody],
        }


def coerce_lead_sheet(value: LeadSheet | Mapping[str, Any] | str | None) -> LeadSheet | None:
    """A lead sheet given as a `LeadSheet`, a dict ([`LeadSheet.from_dict`]) or a chord chart ([`LeadSheet.from_chart`],
    at its default 120 BPM); `None` stays `None`."""
    if value is None or isinstance(value, LeadSheet):
        return value
    if isinstance(value, str):
        return LeadSheet.from_chart(value)
    return LeadSheet.from_dict(value)


def lead_sheets_per_prompt(
    lead_sheet: LeadSheet | Mapping[str, Any] | str | Sequence[LeadSheet | Mapping[str, Any] | str | None] | None,
    batch_size: int,
) -> list[LeadSheet | None]:
    """
    The lead sheet of each of `batch_size` prompts (see [`coerce_lead_sheet`]): a list holds one per prompt (`None`
    for none), anything else is every prompt's.

    Messages do not name the argument: callers prefix their own (`lead_sheet` in the pipelines).
    """
    if isinstance(lead_sheet, list):
        if len(lead_sheet) != batch_size:
            raise ValueError(f"{len(lead_sheet)} lead sheets given for {batch_size} prompts")
        return [coerce_lead_sheet(sheet) for sheet in lead_sheet]
    return [coerce_lead_sheet(lead_sheet)] * batch_size


def repeat_chart_to_length(sheet: LeadSheet | None, length: float) -> LeadSheet | None:
    """
    `sheet` as it conditions a piece of `length` seconds: a chart shorter than the piece repeats as a form to its end
    (the chart language's rule, [`LeadSheet.repeat_until`]), with a logged notice, since conditioning only the chart's
    first pass would leave the rest of the piece unconditioned without a word. Anything else is returned unchanged.
    """
    if sheet is not None and sheet.repeats and 0 < sheet.duration < length - 1e-3:
        logger.warning(
            f"The chord chart covers {sheet.duration:.2f} s of {length:.2f} s: repeating its "
            f"{round(sheet.form_length / sheet.seconds_per_bar)} bar(s) as a form to the end."
        )
        sheet = sheet.repeat_until(length)
    return sheet
