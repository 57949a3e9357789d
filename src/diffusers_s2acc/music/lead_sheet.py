"""The `LeadSheet` dataclass: tempo, meter, timed chords and an optional melody."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .chords import parse_chord


MIN_TEMPO = 30.0
MAX_TEMPO = 300.0


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
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


def _parse_meter(meter: str | Sequence[int]) -> tuple[int, int]:
    if isinstance(meter, str):
        parts = meter.split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"Meter must look like '4/4', got {meter!r}.")
        numerator, denominator = int(parts[0]), int(parts[1])
    else:
        numerator, denominator = (int(x) for x in meter)
    if not 1 <= numerator <= 32 or denominator not in (1, 2, 4, 8, 16):
        raise ValueError(f"Unsupported meter {numerator}/{denominator}.")
    return numerator, denominator


@dataclass
class LeadSheet:
    """Tempo, meter, chords and optional melody for (part of) a piece. Every part is optional at inference.

    Args:
        tempo (`float`): Beats per minute, in `[30, 300]`.
        meter (`tuple[int, int]` or `str`): Time signature, e.g. `(4, 4)` or `"3/4"`.
        chords (`list[ChordEvent]`): Timed chords. Time not covered by any chord is "unknown", not "no chord";
            write `"N.C."` for an explicit rest.
        melody (`list[Note]`, *optional*): Lead melody notes. `None` means the melody is not specified.
        offset (`float`): Time in seconds of the first downbeat.
    """

    tempo: float = 120.0
    meter: tuple[int, int] | str = (4, 4)
    chords: list[ChordEvent] = field(default_factory=list)
    melody: list[Note] | None = None
    offset: float = 0.0

    def __post_init__(self) -> None:
        self.tempo = _finite("tempo", self.tempo)
        if not MIN_TEMPO <= self.tempo <= MAX_TEMPO:
            raise ValueError(f"tempo must be in [{MIN_TEMPO:g}, {MAX_TEMPO:g}] BPM, got {self.tempo:g}.")
        self.meter = _parse_meter(self.meter)
        self.offset = _finite("offset", self.offset)
        if self.offset < 0:
            raise ValueError(f"offset must be >= 0, got {self.offset}.")
        self.chords = sorted(
            (c if isinstance(c, ChordEvent) else ChordEvent(**c) for c in self.chords), key=lambda c: c.start
        )
        if self.melody is not None:
            self.melody = sorted((n if isinstance(n, Note) else Note(**n) for n in self.melody), key=lambda n: n.start)

    @property
    def seconds_per_beat(self) -> float:
        # Tempo counts quarter notes; a 6/8 bar therefore lasts 3 quarter-note beats.
        return 60.0 / self.tempo * 4.0 / self.meter[1]

    @property
    def seconds_per_bar(self) -> float:
        return self.seconds_per_beat * self.meter[0]

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
            beats.append((time, index % self.meter[0] == 0))
            index += 1

    def crop(self, start: float, end: float) -> "LeadSheet":
        """The part of the lead sheet inside `[start, end)` seconds, with times shifted to start at 0."""
        chords = [
            ChordEvent(max(c.start, start) - start, min(c.end, end) - start, c.symbol)
            for c in self.chords
            if c.end > start and c.start < end
        ]
        melody = None
        if self.melody is not None:
            melody = [
                Note(max(n.start, start) - start, min(n.end, end) - start, n.pitch)
                for n in self.melody
                if n.end > start and n.start < end
            ]
        # Next downbeat at or after `start`, so beats and bars stay aligned in the crop.
        bars_before = max(0.0, math.ceil((start - self.offset) / self.seconds_per_bar - 1e-9))
        offset = self.offset + bars_before * self.seconds_per_bar - start
        return LeadSheet(tempo=self.tempo, meter=self.meter, chords=chords, melody=melody, offset=max(0.0, offset))

    @classmethod
    def from_chart(cls, chart: str, bpm: float = 120.0, meter: str | Sequence[int] = (4, 4), offset: float = 0.0):
        """Parse a one-line chord chart: bars separated by `|`, chords in a bar sharing it equally.

        `"C | Am | F G"` is one bar of C, one of Am, then F and G for half a bar each. `%` repeats the previous
        bar and `-` holds the previous chord.

        Raises:
            ValueError: naming the bad chord symbol, an empty chart, or a tempo out of range.
        """
        if not isinstance(chart, str) or not chart.strip():
            raise ValueError("Chord chart is empty.")
        sheet = cls(tempo=bpm, meter=meter, offset=offset)
        bars = [bar.split() for bar in chart.strip().strip("|").split("|")]
        events: list[ChordEvent] = []
        previous_bar: list[str] | None = None
        for bar_index, symbols in enumerate(bars):
            if symbols == ["%"]:
                if previous_bar is None:
                    raise ValueError("Chord chart starts with '%': there is no bar to repeat.")
                symbols = previous_bar
            if not symbols:
                raise ValueError(f"Chord chart bar {bar_index + 1} is empty.")
            bar_start = offset + bar_index * sheet.seconds_per_bar
            step = sheet.seconds_per_bar / len(symbols)
            for slot, symbol in enumerate(symbols):
                start, end = bar_start + slot * step, bar_start + (slot + 1) * step
                if symbol == "-":
                    if not events:
                        raise ValueError("Chord chart starts with '-': there is no chord to hold.")
                    events[-1].end = end
                    continue
                events.append(ChordEvent(start=start, end=end, symbol=symbol))
            previous_bar = symbols
        sheet.chords = events
        return sheet

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | "LeadSheet") -> "LeadSheet":
        """Build from a plain dict, as found in JSON files.

        Accepted keys: `tempo` (or `bpm`), `meter`, `offset`, `melody` (list of `{start, end, pitch}`) and one of
        `chords` (list of `{start, end, symbol}`), `bars` (list of bar strings, one bar each) or `chart`
        (a one-line chart, see [`from_chart`]).
        """
        if isinstance(data, LeadSheet):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(f"A lead sheet must be a mapping, got {type(data).__name__}.")
        known = {"tempo", "bpm", "meter", "offset", "melody", "chords", "bars", "chart"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"Unknown lead-sheet field(s): {', '.join(sorted(unknown))}.")
        tempo = data.get("tempo", data.get("bpm", 120.0))
        meter = data.get("meter", (4, 4))
        offset = data.get("offset", 0.0)
        if "chart" in data or "bars" in data:
            chart = data["chart"] if "chart" in data else " | ".join(data["bars"])
            sheet = cls.from_chart(chart, bpm=tempo, meter=meter, offset=offset)
        else:
            sheet = cls(tempo=tempo, meter=meter, offset=offset, chords=list(data.get("chords", [])))
        if data.get("melody") is not None:
            sheet.melody = sorted((Note(**n) for n in data["melody"]), key=lambda n: n.start)
        return sheet

    @classmethod
    def from_json(cls, path_or_text: str | os.PathLike) -> "LeadSheet":
        text = str(path_or_text)
        if os.path.exists(text):
            with open(text, encoding="utf-8") as handle:
                text = handle.read()
        return cls.from_dict(json.loads(text))

    def to_dict(self) -> dict[str, Any]:
        return {
            "tempo": self.tempo,
            "meter": f"{self.meter[0]}/{self.meter[1]}",
            "offset": self.offset,
            "chords": [{"start": c.start, "end": c.end, "symbol": c.symbol} for c in self.chords],
            "melody": None if self.melody is None else [vars(n).copy() for n in self.melody],
        }
