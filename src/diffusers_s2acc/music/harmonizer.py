"""A chord chart for a melody: bar-by-bar chord suggestions in the melody's key, with a confidence per bar.

The melody is cut into slots (a bar, or half a bar where the bar has an even number of beats). Each slot's notes
form a pitch-class profile weighted by how long each note sounds in it and where its onset falls in the bar (a note
struck on the downbeat says more about the harmony than a passing eighth). Every candidate chord scores the profile
with a note model: a melody note is a chord tone with high probability, a scale tone outside the chord with less
and a chromatic tone with little, so a chord that explains more of what is sung wins, and a seventh chord (four
tones sharing the chord-tone mass) wins only where its seventh is heard. The candidates are the key's chords at a
`richness` level:

- `"simple"`: the diatonic triads (major: I ii iii IV V vi; minor: i III iv v V VI VII);
- `"sevenths"`: plus the diatonic seventh chords (V7, ii7, Imaj7, ...);
- `"rich"`: plus the secondary dominants (V7/ii, V7/iii, V7/IV, V7/V, V7/vi, ...) and borrowed chords (iv,
  bVI, bVII, bIII in major; IV, I and bII in minor).

An HMM over the candidates joins the slots: chords change more readily on bar lines than in mid-bar, a change
prefers the moves of functional harmony (root down a fifth: V->I, ii->V, vi->ii; plagal IV->I; a secondary dominant
to its target), the piece starts and ends on the tonic more often than not. Viterbi gives the chart; the
forward-backward posteriors give each bar's confidence (the posterior probability of the suggested chord, averaged
over the bar's slots). Pure music logic: notes in, a [`LeadSheet`] out, no audio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .chords import PITCH_CLASS_NAMES, QUALITIES, parse_chord
from .lead_sheet import ChordEvent, LeadSheet, Note


RICHNESS = ("simple", "sevenths", "rich")
MODES = ("major", "minor")

_SUFFIX = {"maj": "", "min": "m", "dim": "dim", "7": "7", "maj7": "maj7", "min7": "m7", "hdim7": "m7b5"}
_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# Natural minor plus the raised sixth and seventh (melodic and harmonic minor): all are "in the key" for a tune.
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 9, 10, 11)

# (degree above the tonic, quality, log prior, role). Roles: "tonic", "dominant" (resolves to the tonic), a
# secondary dominant "V/<degree>" (resolves to the chord on that degree), or "" for the rest. Priors favour the
# pillars of tonal harmony slightly and make rarer chords earn their place with evidence.
_CHORDS: dict[str, dict[str, list[tuple[int, str, float, str]]]] = {
    "major": {
        "simple": [
            (0, "maj", 0.3, "tonic"),
            (2, "min", 0.0, ""),
            (4, "min", -0.3, ""),
            (5, "maj", 0.15, ""),
            (7, "maj", 0.2, "dominant"),
            (9, "min", 0.0, ""),
        ],
        "sevenths": [
            (7, "7", -0.1, "dominant"),
            (2, "min7", -0.4, ""),
            (0, "maj7", -0.5, "tonic"),
            (5, "maj7", -0.5, ""),
            (9, "min7", -0.5, ""),
            (4, "min7", -0.7, ""),
            (11, "hdim7", -0.8, "dominant"),
        ],
        "rich": [
            (9, "7", -0.8, "V/2"),
            (11, "7", -0.9, "V/4"),
            (0, "7", -0.9, "V/5"),
            (2, "7", -0.8, "V/7"),
            (4, "7", -0.8, "V/9"),
            (5, "min", -0.8, ""),
            (10, "maj", -0.8, ""),
            (8, "maj", -0.9, ""),
            (3, "maj", -1.0, ""),
        ],
    },
    "minor": {
        "simple": [
            (0, "min", 0.3, "tonic"),
            (3, "maj", 0.0, ""),
            (5, "min", 0.15, ""),
            (7, "maj", 0.2, "dominant"),
            (7, "min", -0.2, ""),
            (8, "maj", 0.0, ""),
            (10, "maj", 0.0, ""),
        ],
        "sevenths": [
            (7, "7", -0.1, "dominant"),
            (2, "hdim7", -0.5, ""),
            (0, "min7", -0.5, "tonic"),
            (5, "min7", -0.5, ""),
            (3, "maj7", -0.6, ""),
            (8, "maj7", -0.6, ""),
            (10, "7", -0.5, "V/3"),
        ],
        "rich": [
            (0, "7", -0.9, "V/5"),
            (2, "7", -0.9, "V/7"),
            (3, "7", -0.9, "V/8"),
            (5, "maj", -0.8, ""),
            (0, "maj", -0.9, "tonic"),
            (1, "maj", -1.1, ""),
        ],
    },
}

# Note model: how a melody note's pitch class relates to the chord under it.
_CHORD_TONE_MASS, _SCALE_TONE_MASS, _CHROMATIC_MASS = 0.75, 0.2, 0.05
# Relative weight of a chord's tones: root, third, fifth, seventh.
_TONE_WEIGHTS = (1.0, 1.0, 0.9, 0.8)
# Chance that the chord changes at a slot boundary: on a bar line, and inside a bar.
_CHANGE_ON_BAR, _CHANGE_IN_BAR = 0.85, 0.3
# Nats of evidence per beat of melody: how strongly the notes outweigh the transition priors. This and the change
# probabilities were chosen by a small grid search (change on bar 0.55/0.75/0.9, in bar 0.1/0.25, evidence 1/2/3) on
# the true melodies of 8 synth songs (`python -m dataset_builder synth --n 8 --seed 1 --melody-prob 1`): chord majmin
# 0.48 at the first guess (0.55, 0.15, 1) against about 0.6 here. No benchmark script holds that search yet.
_EVIDENCE_SCALE = 2.0


@dataclass(frozen=True)
class _Candidate:
    symbol: str
    root: int
    quality: str
    prior: float
    role: str
    degree: int


@dataclass
class BarSuggestion:
    """The suggested chord(s) of one bar.

    Attributes:
        index (`int`): Bar number counted from the first downbeat (0); -1 is a pick-up bar before it.
        start (`float`), end (`float`): The bar's span in seconds (a pick-up bar starts at 0 at the earliest).
        symbols (`tuple[str, ...]`): Its chords, sharing the bar equally (the chart language's rule).
        confidence (`float`): Posterior probability of the suggested chord(s), averaged over the bar's slots, in
            `[0, 1]`; low where the melody says little (a rest, one long note) or two chords fit about as well.
    """

    index: int
    start: float
    end: float
    symbols: tuple[str, ...]
    confidence: float


@dataclass
class ChartSuggestion:
    """A harmonisation: the lead sheet (the melody with the suggested chords) and what was suggested bar by bar.

    Attributes:
        lead_sheet (`LeadSheet`): Tempo, meter, first downbeat (`offset`), the suggested `chords` and the `melody`.
        bars (`list[BarSuggestion]`): One per bar from the first bar with a note to the last.
        key (`tuple[int, str]`): `(tonic pitch class, "major" | "minor")` the chords were chosen in.
        richness (`str`): The candidate set, one of [`RICHNESS`].
    """

    lead_sheet: LeadSheet
    bars: list[BarSuggestion]
    key: tuple[int, str]
    richness: str
    slot_posteriors: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))

    @property
    def key_name(self) -> str:
        return f"{PITCH_CLASS_NAMES[self.key[0]]} {self.key[1]}"

    def to_chart(self) -> str:
        """The suggestion in the chart language, from the first downbeat (see [`LeadSheet.to_chart`])."""
        return self.lead_sheet.to_chart()

    def format_table(self) -> str:
        """One line per bar: bar number (1 = the first downbeat's bar, 0 = a pick-up), start time, chords and
        confidence, for a person to read before editing the chart."""
        lines = ["bar   start  chords        confidence"]
        for bar in self.bars:
            lines.append(f"{bar.index + 1:>3}  {bar.start:6.2f}  {' '.join(bar.symbols):<12}  {bar.confidence:.2f}")
        return "\n".join(lines)


def _candidates(tonic: int, mode: str, richness: str) -> list[_Candidate]:
    levels = RICHNESS[: RICHNESS.index(richness) + 1]
    out, seen = [], set()
    for level in levels:
        for degree, quality, prior, role in _CHORDS[mode][level]:
            root = (tonic + degree) % 12
            symbol = PITCH_CLASS_NAMES[root] + _SUFFIX[quality]
            if symbol in seen:
                continue
            seen.add(symbol)
            parse_chord(symbol)  # every suggested symbol is one the chart language reads
            out.append(_Candidate(symbol, root, quality, prior, role, degree))
    return out


def _note_log_probs(candidates: list[_Candidate], tonic: int, mode: str) -> np.ndarray:
    """`(chords, 12)`: log P(melody pitch class | chord) under the chord-tone / scale-tone / chromatic model."""
    scale = {(tonic + d) % 12 for d in (_MAJOR_SCALE if mode == "major" else _MINOR_SCALE)}
    table = np.zeros((len(candidates), 12))
    for row, chord in enumerate(candidates):
        intervals = QUALITIES[chord.quality]
        weights = np.array(_TONE_WEIGHTS[: len(intervals)])
        tones = [(chord.root + i) % 12 for i in intervals]
        probs = np.zeros(12)
        probs[tones] = _CHORD_TONE_MASS * weights / weights.sum()
        others = [pc for pc in range(12) if pc not in tones]
        in_scale = [pc for pc in others if pc in scale]
        outside = [pc for pc in others if pc not in scale]
        if in_scale:
            probs[in_scale] = _SCALE_TONE_MASS / len(in_scale)
        if outside:
            probs[outside] = _CHROMATIC_MASS / len(outside)
        table[row] = np.log(probs / probs.sum())
    return table


def _change_weight(a: _Candidate, b: _Candidate, tonic_symbol: str) -> float:
    """Relative preference for moving from chord `a` to chord `b` (functional-harmony root motion)."""
    if a.role.startswith("V/"):
        # A secondary dominant is there to resolve: to the chord a fifth below (its target degree).
        return 6.0 if (b.root - a.root) % 12 == 5 else 0.3
    motion = (b.root - a.root) % 12
    weight = {5: 3.0, 7: 1.5, 2: 1.5, 9: 1.5, 10: 1.0, 3: 1.0, 4: 1.0, 8: 1.0}.get(motion, 0.7)
    if a.role == "dominant":
        if b.role == "tonic":
            weight *= 1.5  # authentic cadence
        elif motion == 10:
            weight *= 0.5  # V -> IV, a retrogression
    if a.degree == 5 and b.symbol == tonic_symbol:
        weight *= 1.7  # plagal IV -> I
    return weight


def _transition_logs(candidates: list[_Candidate]) -> tuple[np.ndarray, np.ndarray]:
    """`(stay-on-bar, stay-in-bar)` log transition matrices `(from, to)` for the two kinds of slot boundary."""
    n = len(candidates)
    tonic_symbol = candidates[0].symbol
    change = np.zeros((n, n))
    for i, a in enumerate(candidates):
        for j, b in enumerate(candidates):
            if i != j:
                change[i, j] = _change_weight(a, b, tonic_symbol)
        change[i] /= change[i].sum()
    matrices = []
    for p_change in (_CHANGE_ON_BAR, _CHANGE_IN_BAR):  # module constants read at call time (tuned in bench/)
        matrix = p_change * change + (1.0 - p_change) * np.eye(n)
        matrices.append(np.log(matrix))
    return matrices[0], matrices[1]


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    peak = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(peak, axis=axis) + np.log(np.sum(np.exp(x - peak), axis=axis))


def _metric_weight(position_in_beats: float, beats_per_bar: int, slot_beats: float) -> float:
    """Weight of a note struck `position_in_beats` after its bar's downbeat: downbeat, slot start, beat, off-beat."""
    position = position_in_beats % beats_per_bar
    if min(position, beats_per_bar - position) < 0.05:
        return 1.0
    if abs((position / slot_beats) - round(position / slot_beats)) * slot_beats < 0.05:
        return 0.9
    if abs(position - round(position)) < 0.05:
        return 0.75
    return 0.5


def parse_key_name(key: tuple[int, str] | str) -> tuple[int, str]:
    """`(tonic, mode)` of a key written as a musician writes it (`"C major"`, `"A minor"`, `"Eb"`, `"F#m"`,
    `"Bb min"`), or given as `(tonic pitch class, "major" | "minor")`.

    Raises:
        ValueError: naming `key` when it is not a key.
    """
    if isinstance(key, str):
        parts = key.split()
        mode_word = parts[1].lower() if len(parts) == 2 else None
        try:
            if mode_word in ("major", "minor", "maj", "min"):
                chord, mode = parse_chord(parts[0]), "minor" if mode_word.startswith("min") else "major"
                valid = chord.quality == "maj" and chord.bass is None
            else:
                chord = parse_chord(key.strip())
                mode = "minor" if chord.quality == "min" else "major"
                valid = len(parts) == 1 and chord.quality in ("maj", "min") and chord.bass is None
        except ValueError:
            valid = False
        if not valid or chord.root is None:
            raise ValueError(f"`key` must name a tonic and mode such as 'C major', 'A minor' or 'F#m', got {key!r}.")
        return chord.root, mode
    if (
        isinstance(key, Sequence)
        and len(key) == 2
        and isinstance(key[0], int)
        and not isinstance(key[0], bool)
        and 0 <= key[0] < 12
        and key[1] in MODES
    ):
        return int(key[0]), str(key[1])
    raise ValueError(f"`key` must be (tonic 0-11, 'major' | 'minor') or a name such as 'C major', got {key!r}.")


def harmonize(
    melody: Sequence[Note],
    key: tuple[int, str] | str,
    *,
    tempo: float,
    meter: tuple[int, int] | str = (4, 4),
    offset: float = 0.0,
    richness: str = "simple",
    chords_per_bar: int | None = None,
) -> ChartSuggestion:
    """Suggest a chord chart for `melody` (see the module docstring for the method).

    Args:
        melody (`Sequence[Note]`): The tune, one line (overlapping notes are allowed and simply both counted).
        key (`(tonic, mode)` or `str`): The key to harmonise in: `(0, "major")`, `"A minor"`, `"F#m"`.
        tempo (`float`), meter (`tuple` or `str`), offset (`float`): The bar grid, as in [`LeadSheet`]: `offset`
            is the time of the first downbeat; notes before it form a pick-up bar.
        richness (`str`, defaults to `"simple"`): One of [`RICHNESS`]: diatonic triads, plus diatonic sevenths,
            plus secondary dominants and borrowed chords.
        chords_per_bar (`int`, *optional*): 1 or 2 chord slots per bar. Default: 2 where a bar has an even number
            of beats (4/4, 2/4, 6/8, 12/8), else 1.

    Returns:
        [`ChartSuggestion`]: its `lead_sheet` holds the melody and the suggested chords from the first note's bar to
        the last note's bar.

    Raises:
        ValueError: naming `melody` when it has no notes, `key`, `richness` or `chords_per_bar` when invalid.
    """
    if richness not in RICHNESS:
        raise ValueError(f"`richness` must be one of {', '.join(RICHNESS)}, got {richness!r}.")
    notes = sorted((n if isinstance(n, Note) else Note(**n) for n in melody), key=lambda n: n.start)
    if not notes:
        raise ValueError("`melody` has no notes: there is nothing to harmonise.")
    tonic, mode = parse_key_name(key)
    grid = LeadSheet(tempo=tempo, meter=meter, offset=offset)
    beats_per_bar, seconds_per_beat, seconds_per_bar = grid.beats_per_bar, grid.seconds_per_beat, grid.seconds_per_bar
    if chords_per_bar is None:
        chords_per_bar = 2 if beats_per_bar % 2 == 0 and beats_per_bar >= 2 else 1
    if chords_per_bar not in (1, 2):
        raise ValueError(f"`chords_per_bar` must be 1 or 2, got {chords_per_bar!r}.")
    slot_beats = beats_per_bar / chords_per_bar

    first_bar = math.floor((notes[0].start - offset) / seconds_per_bar + 1e-6)
    last_bar = math.floor((max(n.end for n in notes) - offset) / seconds_per_bar - 1e-6)
    last_bar = max(last_bar, first_bar)
    bar_indices = list(range(first_bar, last_bar + 1))
    num_slots = len(bar_indices) * chords_per_bar
    slot_seconds = seconds_per_bar / chords_per_bar
    slot_starts = offset + first_bar * seconds_per_bar + np.arange(num_slots) * slot_seconds

    # Duration- and metrically-weighted pitch-class profile of every slot.
    profiles = np.zeros((num_slots, 12))
    for note in notes:
        first = max(0, int(math.floor((note.start - slot_starts[0]) / slot_seconds + 1e-9)))
        last = min(num_slots - 1, int(math.floor((note.end - slot_starts[0]) / slot_seconds - 1e-9)))
        onset_weight = _metric_weight((note.start - offset) / seconds_per_beat, beats_per_bar, slot_beats)
        for slot in range(first, last + 1):
            overlap = min(note.end, slot_starts[slot] + slot_seconds) - max(note.start, slot_starts[slot])
            if overlap <= 0:
                continue
            struck_here = note.start >= slot_starts[slot] - 1e-6
            profiles[slot, note.pitch % 12] += overlap / seconds_per_beat * (onset_weight if struck_here else 0.7)

    candidates = _candidates(tonic, mode, richness)
    log_note = _note_log_probs(candidates, tonic, mode)
    priors = np.array([c.prior for c in candidates])
    # (slots, chords): log-likelihood of each slot's notes under each chord, plus the chord's prior when it is heard.
    emission = _EVIDENCE_SCALE * profiles @ log_note.T + priors[None, :] * (profiles.sum(axis=1, keepdims=True) > 0)
    on_bar, in_bar = _transition_logs(candidates)
    transitions = [on_bar if t % chords_per_bar == 0 else in_bar for t in range(num_slots)]
    start = np.full(len(candidates), math.log(0.6 / max(1, len(candidates) - 1)))
    start[0] = math.log(0.4)  # the tonic opens most tunes (candidates[0] is the tonic triad)
    end = np.zeros(len(candidates))
    end[0] = math.log(3.0)  # ... and closes most of them (an authentic or plagal cadence)
    for index, chord in enumerate(candidates):
        if chord.role == "dominant" and chord.quality in ("maj", "7"):
            end[index] = math.log(1.3)  # a half cadence is the next most common ending
    start = start - _logsumexp(start, axis=0)

    # Viterbi.
    score = start + emission[0]
    back = np.zeros((num_slots, len(candidates)), dtype=int)
    for t in range(1, num_slots):
        total = score[:, None] + transitions[t]
        back[t] = np.argmax(total, axis=0)
        score = total[back[t], np.arange(len(candidates))] + emission[t]
    path = np.zeros(num_slots, dtype=int)
    path[-1] = int(np.argmax(score + end))
    for t in range(num_slots - 1, 0, -1):
        path[t - 1] = back[t, path[t]]

    # Forward-backward posteriors for the confidences.
    forward = np.zeros((num_slots, len(candidates)))
    forward[0] = start + emission[0]
    for t in range(1, num_slots):
        forward[t] = _logsumexp(forward[t - 1][:, None] + transitions[t], axis=0) + emission[t]
    backward = np.zeros((num_slots, len(candidates)))
    backward[-1] = end
    for t in range(num_slots - 2, -1, -1):
        backward[t] = _logsumexp(transitions[t + 1] + (emission[t + 1] + backward[t + 1])[None, :], axis=1)
    joint = forward + backward
    posteriors = np.exp(joint - _logsumexp(joint, axis=1)[:, None])

    bars, chords = [], []
    for position, bar in enumerate(bar_indices):
        slots = list(range(position * chords_per_bar, (position + 1) * chords_per_bar))
        states = [int(path[s]) for s in slots]
        symbols = tuple(candidates[s].symbol for s in states)
        if len(set(symbols)) == 1:
            symbols = symbols[:1]
        confidence = float(np.mean([posteriors[s, state] for s, state in zip(slots, states)]))
        bar_start = offset + bar * seconds_per_bar
        bars.append(BarSuggestion(bar, max(0.0, bar_start), bar_start + seconds_per_bar, symbols, confidence))
        for slot, state in zip(slots, states):
            start_time = max(0.0, float(slot_starts[slot]))
            end_time = float(slot_starts[slot] + slot_seconds)
            if end_time <= start_time:
                continue
            symbol = candidates[state].symbol
            # A chord held into the next slot of the same bar is one event; a new bar restarts it, as a chart does.
            if chords and chords[-1].symbol == symbol and slot % chords_per_bar != 0:
                chords[-1].end = end_time
            else:
                chords.append(ChordEvent(start_time, end_time, symbol))
    sheet = LeadSheet(tempo=grid.tempo, meter=grid.meter, chords=chords, melody=list(notes), offset=offset)
    return ChartSuggestion(sheet, bars, (tonic, mode), richness, posteriors)
