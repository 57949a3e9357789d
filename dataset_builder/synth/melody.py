"""A lead melody over the chords: chord tones on strong beats, scale steps between, phrased per section."""

from __future__ import annotations

import random

import pretty_midi

from diffusers_s2acc.music.chords import parse_chord

from .plan import SongPlan


#: (GM program, name) of lead instruments.
LEAD_INSTRUMENTS = [
    (73, "flute"),
    (56, "trumpet"),
    (65, "alto sax"),
    (40, "violin"),
    (71, "clarinet"),
    (80, "square lead synth"),
    (11, "vibraphone"),
    (22, "harmonica"),
]
_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
LOW, HIGH = 64, 84  # above the accompaniment's comping register


def _nearest(candidates: list[int], target: int) -> int:
    return min(candidates, key=lambda p: (abs(p - target), p))


def compose(plan: SongPlan, bar_times: list[float], beat_seconds: float, rng: random.Random) -> list[dict]:
    """Melody notes `{start, end, pitch}` in seconds. Intros and outros stay instrumental, like a vocal would."""
    if plan.mode == "none":  # a chart with no key: the line moves by chord tones and their neighbours
        scale = tuple(range(12))
    else:
        scale = _MAJOR_SCALE if plan.mode == "major" else _MINOR_SCALE
    scale_pitches = [p for p in range(LOW, HIGH + 1) if (p - plan.tonic) % 12 in scale]
    notes: list[dict] = []
    pitch = _nearest(scale_pitches, 72)
    bar = 0
    for section in plan.sections:
        if section.label in ("intro", "outro"):
            bar += section.bars
            continue
        # One rhythm cell per section type (in beats), so repeated sections sound alike.
        cell_rng = random.Random(f"{plan.seed}-{section.label}")
        cell = cell_rng.choice([[1, 1, 1, 1], [1.5, 0.5, 1, 1], [2, 1, 1], [0.5, 0.5, 1, 2], [1, 0.5, 0.5, 2]])
        for symbols in section.chords:
            start_bar = bar_times[bar]
            beats_in_bar = plan.meter
            position = 0.0
            for duration in cell:
                if position >= beats_in_bar:
                    break
                duration = min(duration, beats_in_bar - position)
                symbol = symbols[min(int(position * len(symbols) / beats_in_bar), len(symbols) - 1)]
                chord_pcs = parse_chord(symbol).pitch_classes
                tones = [p for p in range(LOW, HIGH + 1) if p % 12 in chord_pcs]
                strong = position == int(position)
                target = pitch + rng.choice([-4, -2, -1, 0, 1, 2, 4])
                if strong or plan.chart_style is None:
                    candidates = tones
                else:
                    # Passing notes from the scale, but none a semitone from a chord tone (the avoid notes that
                    # clash with secondary dominants and borrowed chords); the classic generator keeps its old line.
                    candidates = [
                        p for p in scale_pitches if not any((p - pc) % 12 in (1, 11) for pc in chord_pcs)
                    ] + tones
                pitch = _nearest(candidates or tones, target)
                if rng.random() > 0.12:  # occasional rests, as in a sung line
                    start = start_bar + position * beat_seconds
                    notes.append(
                        {
                            "start": round(start, 4),
                            "end": round(start + duration * beat_seconds * 0.9, 4),
                            "pitch": int(pitch),
                        }
                    )
                position += duration
            bar += 1
    return notes


def melody_midi(notes: list[dict], program: int, path: str) -> None:
    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program=program, name="melody")
    for note in notes:
        instrument.notes.append(
            pretty_midi.Note(velocity=96, pitch=note["pitch"], start=note["start"], end=note["end"])
        )
    midi.instruments.append(instrument)
    midi.write(path)
