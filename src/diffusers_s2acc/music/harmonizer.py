"""A chord chart for a melody: beat-by-beat chord suggestions in the melody's key, with a confidence per bar.

The harmoniser is a hidden Markov model over beats whose numbers are fitted to data, not chosen by hand: the
statistics live in `harmonizer_model.json` next to this file, written by `scripts/fit_harmonizer.py` (the file
records the songs it was fitted on and the command that wrote it). The model, for each mode (major, minor):

- **States**: a chord as a root degree above the tonic (0-11) and a family, one of [`FAMILIES`] (`maj` holds the
  major triads, sixths and major sevenths, `7` the dominant sevenths and their extensions, `min` the minor triads,
  sixths and sevenths, `dim` the diminished, half-diminished and diminished-seventh chords).
- **Emissions**: for every state and every place a note is struck ([`METRIC_CLASSES`]: on the downbeat, on the
  half bar, on another beat, between beats, or held over from an earlier beat), how the melody's pitch classes
  (relative to the tonic) fall under it, counted by how long each note sounds over each beat: a downbeat note is a
  chord tone more often than a passing eighth. Each class's profile is raised to a fitted weight (a held note's
  pitch, already heard where it was struck, adds little on the later beats).
- **Transitions**: how likely the chord changes at each beat of the bar (per meter: bar lines more than the half
  bar, the half bar more than other beats), and to which chord, in key-relative (roman-numeral) terms.
- **Start**: which chords open a melody (its end carries no preference: see the fitting script).

The key, unless given, is decoded jointly: the melody's likelihood under the model (all chord paths summed) in
each of the 24 keys, plus the modes' prior, gives every key a posterior (a softmax of the log-likelihoods times the
fitted `key_temperature`). The chord model decides the scale well but tells a key from its relative (C major from
A minor: the same notes and chords) poorly on real tunes, so each such pair's posterior is shared anew between
its two modes by a second fitted model (`mode_decision`, written by `scripts/fit_key_mode.py` on synth songs and
music21 fiddle tunes): the chord model's odds, whether the final note is either key's tonic, how well the melody's
pitch-class profile fits either key, and a prior for major. The best key is the chart's key.

Each beat's chord is then the one whose triad (root and major / minor / diminished) has the highest posterior
probability there (forward-backward) in the chart's key. The
dominant seventh and the major triad on a root pool their probability (they share the triad a listener hears),
which a single best path through the states would split; within the triad the likelier family is written. A bar's
confidence is the posterior probability of its chords, averaged over its beats.

The candidate chords depend on `richness` (one of [`RICHNESS`]):

- `"simple"`: each mode's own triads (their notes in its scale: major I ii iii IV V vi vii°; minor, with the raised
  sixth and seventh, i ii° III iv IV v V VI VII vii°) and its commonest other chords (the fewest states that make
  up 80% of the fitting songs' beats in the mode, e.g. II and VI as secondary dominants, iv in major), written as
  plain triads;
- `"sevenths"`: the same chords, each written with the spelling the fitting songs used most for it (V7, ii7, ...);
- `"rich"`: every state (secondary dominants, borrowed chords, diminished passing chords, ...), with the same
  spellings.

Pure music logic: notes in, a [`LeadSheet`] out, no audio.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .chords import PITCH_CLASS_NAMES, parse_chord
from .key_profiles import profile_correlations
from .lead_sheet import ChordEvent, LeadSheet, Note


RICHNESS = ("simple", "sevenths", "rich")
MODES = ("major", "minor")
#: Chord families of the model's states (see the module docstring).
FAMILIES = ("maj", "min", "7", "dim")
#: Where a note is struck relative to the beat it sounds over.
METRIC_CLASSES = ("downbeat", "half", "beat", "offbeat", "held")
#: Kinds of beat boundary, for the chord-change probabilities: a bar line, the middle of an even bar, another beat.
BOUNDARIES = ("bar", "half", "beat")
#: `(degree above the tonic, family)` of every state, in the model file's order.
STATES = tuple((degree, family) for family in FAMILIES for degree in range(12))
#: The packaged model.
MODEL_PATH = Path(__file__).with_name("harmonizer_model.json")
MODEL_FORMAT = "s2acc-harmonizer/1"

_TRIAD_SUFFIX = {"maj": "", "7": "", "min": "m", "dim": "dim"}
_TRIAD_NAME = {"maj": "maj", "7": "maj", "min": "min", "dim": "dim"}
# A note struck this close to a beat (in beats) is struck on it: sequencer timing is exact, a transcription's onsets
# are within ~10-30 ms, a sixteenth note off the beat is a quarter of a beat away.
_ON_BEAT_TOLERANCE = 0.125


def chord_family(symbol: str) -> tuple[int, str] | None:
    """`(root pitch class, family)` of a chord symbol, or None for no chord and for chords without a third (sus,
    power chords) or with an augmented fifth, which no family holds."""
    chord = parse_chord(symbol)
    if chord.root is None:
        return None
    has = {(pc - chord.root) % 12 for pc in chord.pitch_classes}
    if chord.quality in ("dim", "hdim7", "dim7"):
        return chord.root, "dim"
    if chord.quality in ("min", "min7", "min6", "minmaj7"):
        return chord.root, "min"
    if 4 not in has:  # sus2, sus4, 7sus4, 5: no third, no family
        return None
    if chord.quality == "7":
        return chord.root, "7"
    if chord.quality in ("maj", "maj7", "maj6"):
        return chord.root, "maj"
    return None  # aug


def boundary_kinds(beats_per_bar: int) -> list[str]:
    """The kind of beat boundary ([`BOUNDARIES`]) before each beat of a bar: the bar line before beat 0, the half
    bar before the middle beat of an even bar, "beat" before the others."""
    kinds = []
    for beat in range(beats_per_bar):
        if beat == 0:
            kinds.append("bar")
        elif beats_per_bar % 2 == 0 and beat == beats_per_bar // 2:
            kinds.append("half")
        else:
            kinds.append("beat")
    return kinds


def beat_profiles(notes: Sequence[Note], grid: LeadSheet, first_beat: int, num_beats: int) -> np.ndarray:
    """`(len(METRIC_CLASSES), num_beats, 12)`: how many beats each pitch class sounds over each beat of `grid`,
    split by where the note is struck ([`METRIC_CLASSES`]).

    Beat `k` spans `offset + (first_beat + k) * seconds_per_beat` for one beat (`first_beat` may be negative: a
    pick-up). A note struck within an eighth of a beat of a beat is struck on it (class by the beat's place in the
    bar); one struck between beats is "offbeat" over the beat it starts in; every later beat it sounds over holds it.
    """
    spb, bpb = grid.seconds_per_beat, grid.beats_per_bar
    kinds = boundary_kinds(bpb)
    on_beat_class = {"bar": 0, "half": 1, "beat": 2}
    out = np.zeros((len(METRIC_CLASSES), num_beats, 12))
    origin = grid.offset + first_beat * spb
    for note in notes:
        onset = (note.start - origin) / spb
        finish = (note.end - origin) / spb
        nearest = round(onset)
        struck = nearest if abs(onset - nearest) <= _ON_BEAT_TOLERANCE else None
        first = max(0, math.floor(onset))
        last = min(num_beats - 1, math.ceil(finish) - 1)
        for k in range(first, last + 1):
            overlap = min(finish, k + 1) - max(onset, k)
            if overlap <= 1e-9:
                continue
            if struck is not None and k == struck:
                cls = on_beat_class[kinds[(first_beat + k) % bpb]]
            elif (struck is not None and k < struck) or (struck is None and k == math.floor(onset)):
                cls = 3  # struck between beats (or a hair early: its sliver before the beat)
            else:
                cls = 4
            out[cls, k, note.pitch % 12] += overlap
    return out


@dataclass
class HarmonizerModel:
    """The fitted statistics (see the module docstring), as read from a model file.

    Attributes:
        modes (`dict`): Per mode: `prior` (`(48,)`, its states' share of the fitting data's time), `start` and `end`
            (`(48,)`, the first and last chord under a melody), `emission` (`(48, 12)`, P(pitch class above the
            tonic | state)), `transition` (`(48, 48)`, P(next state | state, the chord changes), zero diagonal),
            `spelling` (`48` chord suffixes for the `"sevenths"` and `"rich"` charts), `common` (the states of the
            `"simple"` and `"sevenths"` charts) and `mode_prior`.
        change (`dict`): `{"<beats per bar>": [P(change) before each beat]}` for the meters seen, and
            `"boundaries"`: `{kind: P(change)}` ([`BOUNDARIES`]) for the others.
        metric_weights (`dict`): Evidence weight of a note per [`METRIC_CLASSES`] entry.
        evidence_scale (`float`): Nats of evidence per beat of melody, against the transition probabilities.
        key_temperature (`float`): Scale on the keys' log-likelihoods before their softmax (the key posteriors).
        provenance (`dict`): What the model was fitted on and how (data, command, counts).
        mode_decision (`dict`, *optional*): `{"coefficients": {name: weight for name in MODE_FEATURES}, ...}`,
            how a key and its relative share their posterior (see [`_key_weights`]), with its own provenance; None:
            by the keys' likelihoods alone.
    """

    modes: dict[str, dict[str, np.ndarray]]
    change: dict[str, Any]
    metric_weights: dict[str, float]
    evidence_scale: float
    key_temperature: float = 1.0
    provenance: dict[str, Any] = field(default_factory=dict)
    mode_decision: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "HarmonizerModel":
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"Not a harmoniser model: format {data.get('format')!r}, expected {MODEL_FORMAT!r}.")
        if [tuple(s) for s in data["states"]] != list(STATES):
            raise ValueError("The harmoniser model's states are not this library's.")
        modes = {}
        for mode in MODES:
            entry = data["modes"][mode]
            modes[mode] = {
                key: np.asarray(entry[key], dtype=float) for key in ("prior", "start", "end", "emission", "transition")
            }
            modes[mode]["spelling"] = list(entry["spelling"])
            modes[mode]["common"] = [int(i) for i in entry["common"]]
            modes[mode]["mode_prior"] = float(entry["mode_prior"])
        return cls(
            modes=modes,
            change=dict(data["change"]),
            metric_weights={name: float(data["metric_weights"][name]) for name in METRIC_CLASSES},
            evidence_scale=float(data["evidence_scale"]),
            key_temperature=float(data["key_temperature"]),
            provenance=dict(data.get("provenance", {})),
            mode_decision=dict(data["mode_decision"]) if data.get("mode_decision") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        def rounded(array: np.ndarray) -> Any:
            # Four significant digits: the smallest probabilities (1e-5) keep their size, the file stays small.
            return np.vectorize(lambda x: float(f"{x:.4g}"))(array).tolist()

        modes = {}
        for mode, entry in self.modes.items():
            modes[mode] = {key: rounded(entry[key]) for key in ("prior", "start", "end", "emission", "transition")}
            modes[mode]["spelling"] = list(entry["spelling"])
            modes[mode]["common"] = [int(i) for i in entry["common"]]
            modes[mode]["mode_prior"] = round(float(entry["mode_prior"]), 6)
        return {
            "format": MODEL_FORMAT,
            "provenance": self.provenance,
            "states": [list(s) for s in STATES],
            "metric_classes": list(METRIC_CLASSES),
            "metric_weights": {k: round(v, 4) for k, v in self.metric_weights.items()},
            "evidence_scale": round(self.evidence_scale, 4),
            "key_temperature": round(self.key_temperature, 4),
            "change": self.change,
            "modes": modes,
            **({"mode_decision": self.mode_decision} if self.mode_decision else {}),
        }

    @classmethod
    def from_file(cls, path: str | Path) -> "HarmonizerModel":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def change_probabilities(self, beats_per_bar: int) -> list[float]:
        """P(the chord changes) before each beat of a bar of `beats_per_bar` beats."""
        fitted = self.change.get(str(beats_per_bar))
        if fitted is not None:
            return [float(p) for p in fitted]
        return [float(self.change["boundaries"][kind]) for kind in boundary_kinds(beats_per_bar)]


@lru_cache(maxsize=1)
def load_model() -> HarmonizerModel:
    """The packaged model ([`MODEL_PATH`]), read once."""
    return HarmonizerModel.from_file(MODEL_PATH)


@dataclass
class BarSuggestion:
    """The suggested chord(s) of one bar.

    Attributes:
        index (`int`): Bar number counted from the first downbeat (0); -1 is a pick-up bar before it.
        start (`float`), end (`float`): The bar's span in seconds (a pick-up bar starts at 0 at the earliest).
        symbols (`tuple[str, ...]`): The bar as the chart language writes it: its slots share the bar equally and
            `-` holds the chord before it (`("C",)`, `("C", "G")`, `("C", "-", "-", "G7")`).
        confidence (`float`): Posterior probability of the suggested chord(s), averaged over the bar's beats, in
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
        slot_posteriors (`np.ndarray`): `(beats, candidates)` posterior of every candidate chord on every beat.
        key_confidence (`float`): Posterior probability of `key` among the 24 keys (1.0 where the key was given).
    """

    lead_sheet: LeadSheet
    bars: list[BarSuggestion]
    key: tuple[int, str]
    richness: str
    slot_posteriors: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    key_confidence: float = 1.0

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


def candidate_states(mode: str, richness: str, model: HarmonizerModel | None = None) -> list[int]:
    """Indices into [`STATES`] of the chords a chart at `richness` may use in `mode` (see the module docstring)."""
    if richness == "rich":
        return list(range(len(STATES)))
    return list((model or load_model()).modes[mode]["common"])


def _symbol(tonic: int, state: int, spelling: str | None) -> str:
    degree, family = STATES[state]
    suffix = _TRIAD_SUFFIX[family] if spelling is None else spelling
    symbol = PITCH_CLASS_NAMES[(tonic + degree) % 12] + suffix
    parse_chord(symbol)  # every suggested symbol is one the chart language reads
    return symbol


class _Grid:
    """The beats a melody spans on its bar grid, and its pitch-class profiles per beat."""

    def __init__(self, notes: Sequence[Note], grid: LeadSheet, chords_per_bar: int | None):
        self.grid = grid
        bpb, spb = grid.beats_per_bar, grid.seconds_per_beat
        seconds_per_bar = grid.seconds_per_bar
        first_bar = math.floor((notes[0].start - grid.offset) / seconds_per_bar + 1e-6)
        last_bar = math.floor((max(n.end for n in notes) - grid.offset) / seconds_per_bar - 1e-6)
        self.bar_indices = list(range(first_bar, max(last_bar, first_bar) + 1))
        self.first_beat = first_bar * bpb
        self.num_beats = len(self.bar_indices) * bpb
        self.beat_starts = grid.offset + (self.first_beat + np.arange(self.num_beats)) * spb
        self.profiles = beat_profiles(notes, grid, self.first_beat, self.num_beats)
        self.chords_per_bar = chords_per_bar

    def change_probabilities(self, model: HarmonizerModel) -> np.ndarray:
        """P(change) at each beat boundary (entry 0, before the first beat, is unused)."""
        bpb = self.grid.beats_per_bar
        per_beat = model.change_probabilities(bpb)
        if self.chords_per_bar is not None:
            step = bpb // self.chords_per_bar  # changes only on the slot boundaries the caller allows
            per_beat = [p if beat % step == 0 else 0.0 for beat, p in enumerate(per_beat)]
        return np.array([per_beat[(self.first_beat + k) % bpb] for k in range(self.num_beats)])


def _log_tables(model: HarmonizerModel, mode: str, states: list[int]) -> np.ndarray:
    """`(classes, states, 12)` log P(pitch class above the tonic | state, metric class): the state's emission
    profile sharpened or flattened by the class's weight (`E ** w`, renormalised), so that a class that says little
    about the chord (a passing note) spreads its probability more evenly."""
    log_emission = np.log(model.modes[mode]["emission"][:, states])
    tables = []
    for c, name in enumerate(METRIC_CLASSES):
        scaled = model.metric_weights[name] * log_emission[c]
        peak = scaled.max(axis=1, keepdims=True)
        tables.append(scaled - peak - np.log(np.exp(scaled - peak).sum(axis=1, keepdims=True)))
    return np.stack(tables)


def _emissions(model: HarmonizerModel, grid: _Grid, tonics: Sequence[int], mode: str, states: list[int]) -> np.ndarray:
    """`(len(tonics), beats, len(states))` log-likelihood of every beat's notes under every state, in each key."""
    tables = _log_tables(model, mode, states)
    out = np.empty((len(tonics), grid.num_beats, len(states)))
    for row, tonic in enumerate(tonics):
        # The melody's pitch class pc is degree (pc - tonic) above the tonic.
        relative = np.roll(grid.profiles, -tonic, axis=2)  # (classes, beats, 12)
        out[row] = model.evidence_scale * np.einsum("cbp,csp->bs", relative, tables)
    return out


def _transition_matrices(model: HarmonizerModel, mode: str, states: list[int], probabilities: np.ndarray):
    """`{p_change: (states, states)}` transition matrices, the change distribution restricted to `states`."""
    change = model.modes[mode]["transition"][np.ix_(states, states)].copy()
    np.fill_diagonal(change, 0.0)
    change /= np.maximum(change.sum(axis=1, keepdims=True), 1e-300)
    eye = np.eye(len(states))
    return {float(p): p * change + (1.0 - p) * eye for p in set(probabilities.tolist())}


def _start_end(model: HarmonizerModel, mode: str, states: list[int]) -> tuple[np.ndarray, np.ndarray]:
    start = model.modes[mode]["start"][states]
    return start / start.sum(), model.modes[mode]["end"][states]


def _forward_backward(
    emissions: np.ndarray, matrices, probabilities: np.ndarray, start: np.ndarray, end: np.ndarray, backward: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Scaled forward(-backward) over a batch of keys: `emissions` `(keys, beats, states)` (log).

    Returns `(log-likelihood per key, posteriors (keys, beats, states) or None)`.
    """
    keys, beats, _ = emissions.shape
    peaks = emissions.max(axis=2, keepdims=True)
    likelihood = np.exp(emissions - peaks)
    alphas = np.empty_like(likelihood)
    scales = np.empty((keys, beats))
    alpha = start[None, :] * likelihood[:, 0]
    for t in range(beats):
        if t > 0:
            alpha = (alpha @ matrices[float(probabilities[t])]) * likelihood[:, t]
        total = alpha.sum(axis=1, keepdims=True)
        alpha = alpha / total
        alphas[:, t] = alpha
        scales[:, t] = total[:, 0]
    closing = alpha @ end
    loglik = np.log(scales).sum(axis=1) + peaks[:, :, 0].sum(axis=1) + np.log(closing)
    if not backward:
        return loglik, None
    betas = np.empty_like(likelihood)
    beta = np.repeat(end[None, :], keys, axis=0)
    beta = beta / beta.sum(axis=1, keepdims=True)
    betas[:, -1] = beta
    for t in range(beats - 2, -1, -1):
        beta = (likelihood[:, t + 1] * beta) @ matrices[float(probabilities[t + 1])].T
        beta = beta / beta.sum(axis=1, keepdims=True)
        betas[:, t] = beta
    posteriors = alphas * betas
    posteriors /= posteriors.sum(axis=2, keepdims=True)
    return loglik, posteriors


def _decode_keys(
    model: HarmonizerModel, grid: _Grid, keys: Sequence[tuple[int, str]], richness: str, backward: bool
) -> dict[tuple[int, str], tuple[float, np.ndarray | None]]:
    """`{key: (log P(melody, key), posteriors (beats, 12 roots, families) or None)}` for `keys`, with the
    candidate chords of `richness` in each key. Posteriors are over absolute chords (root pitch class, family)."""
    probabilities = grid.change_probabilities(model)
    out = {}
    for mode in MODES:
        tonics = [tonic for tonic, m in keys if m == mode]
        if not tonics:
            continue
        states = candidate_states(mode, richness, model)
        emissions = _emissions(model, grid, tonics, mode, states)
        start, end = _start_end(model, mode, states)
        matrices = _transition_matrices(model, mode, states, probabilities)
        loglik, posteriors = _forward_backward(emissions, matrices, probabilities, start, end, backward=backward)
        for row, tonic in enumerate(tonics):
            absolute = None
            if posteriors is not None:
                absolute = np.zeros((grid.num_beats, 12, len(FAMILIES)))
                for column, state in enumerate(states):
                    degree, family = STATES[state]
                    absolute[:, (tonic + degree) % 12, FAMILIES.index(family)] += posteriors[row, :, column]
            score = float(loglik[row]) + math.log(model.modes[mode]["mode_prior"])
            out[(tonic, mode)] = (score, absolute)
    return out


ALL_KEYS = tuple((tonic, mode) for mode in MODES for tonic in range(12))


def key_log_likelihoods(
    melody: Sequence[Note],
    *,
    tempo: float,
    meter: tuple[int, int] | str = (4, 4),
    offset: float = 0.0,
    model: HarmonizerModel | None = None,
) -> dict[tuple[int, str], float]:
    """`{(tonic, mode): log P(melody, key)}` over the 24 keys: the melody's likelihood under the model in that key
    (all chord paths summed, every chord the model knows) plus the mode's prior. The harmoniser's key is the best
    one."""
    model = model or load_model()
    notes = _coerce_notes(melody)
    grid = _Grid(notes, LeadSheet(tempo=tempo, meter=meter, offset=offset), None)
    return {key: score for key, (score, _) in _decode_keys(model, grid, ALL_KEYS, "rich", False).items()}


def melody_log_likelihood(
    melody: Sequence[Note],
    *,
    tempo: float,
    meter: tuple[int, int] | str = (4, 4),
    offset: float = 0.0,
    model: HarmonizerModel | None = None,
) -> float:
    """log P(melody) under the model on this bar grid, all keys and chord paths summed: comparable between grids of
    the same beat (another meter or first downbeat), which is what [`~analysis.melody_input.harmonic_bars`] uses."""
    scores = np.array(list(key_log_likelihoods(melody, tempo=tempo, meter=meter, offset=offset, model=model).values()))
    peak = scores.max()
    return float(peak + np.log(np.exp(scores - peak).sum()))


def estimate_key(
    melody: Sequence[Note],
    *,
    tempo: float,
    meter: tuple[int, int] | str = (4, 4),
    offset: float = 0.0,
    model: HarmonizerModel | None = None,
) -> tuple[tuple[int, str], float]:
    """The melody's key decoded jointly with its chords (see the module docstring) and its posterior probability.

    Returns:
        `((tonic, mode), confidence)`.
    """
    model = model or load_model()
    notes = _coerce_notes(melody)
    scores = key_log_likelihoods(notes, tempo=tempo, meter=meter, offset=offset, model=model)
    cues = _MelodyCues(notes, LeadSheet(tempo=tempo, meter=meter, offset=offset).seconds_per_beat)
    weights = _key_weights(scores, model.key_temperature, cues, model.mode_decision)
    best = max(weights, key=weights.get)
    return best, weights[best]


#: The evidence that shares a pair of relative keys' posterior between major and minor (see [`_key_weights`]):
#: the chord model's log-odds (times the key temperature and `sqrt(64 / the melody's length in beats)`: the odds
#: grow with the melody's length, the final note's say does not, and the fitting tunes run 30 to 200 beats),
#: whether the final note is the major's tonic (+1) or the minor's (-1), the difference of the melody's pitch-class
#: profile's correlations with the two keys' profiles (Temperley's), and a constant.
MODE_FEATURES = ("likelihood", "final_tonic", "profile", "bias")


def relative_key(key: tuple[int, str]) -> tuple[int, str]:
    """The key with the same scale in the other mode: A minor for C major, Eb major for C minor."""
    tonic, mode = key
    return ((tonic + 9) % 12, "minor") if mode == "major" else ((tonic + 3) % 12, "major")


def final_pitch_class(notes: Sequence[Note], seconds_per_beat: float) -> int | None:
    """Pitch class of the melody's last note that lasts at least half a beat (a transcription's stray blip after
    the final note does not count), or of its last note where none does; None without notes."""
    if not notes:
        return None
    ordered = sorted(notes, key=lambda n: (n.start, n.end))
    held = [n for n in ordered if n.end - n.start >= 0.5 * seconds_per_beat]
    return (held or ordered)[-1].pitch % 12


class _MelodyCues:
    """What a melody says about its mode apart from the chord model: its final note and its key-profile fit."""

    def __init__(self, notes: Sequence[Note], seconds_per_beat: float):
        profile = np.zeros(12)
        for note in notes:
            profile[note.pitch % 12] += note.end - note.start
        self.final = final_pitch_class(notes, seconds_per_beat)
        self.correlations = profile_correlations(profile)
        span = (max(n.end for n in notes) - min(n.start for n in notes)) / seconds_per_beat if notes else 1.0
        self.length_scale = math.sqrt(64.0 / max(span, 1.0))  # see MODE_FEATURES

    def features(self, major: tuple[int, str], log_odds: float) -> np.ndarray:
        """[`MODE_FEATURES`] of the pair (`major`, its relative minor), given the model's scaled log-odds."""
        minor = relative_key(major)
        final = float(self.final == major[0]) - float(self.final == minor[0])
        profile = self.correlations[major] - self.correlations[minor]
        return np.array([log_odds * self.length_scale, final, profile, 1.0])


def _key_weights(
    scores: Mapping[tuple[int, str], float],
    temperature: float,
    cues: _MelodyCues | None = None,
    mode_decision: Mapping[str, Any] | None = None,
) -> dict[tuple[int, str], float]:
    """Posterior of each key: a softmax of its log-likelihood times `temperature` (the melody's beats are not
    independent draws, so the raw likelihoods would make every key decision look certain).

    With `cues` and a fitted `mode_decision`, each pair of relative keys (one scale, two modes) keeps its
    posterior, shared anew between its modes by a logistic model of [`MODE_FEATURES`]: a major tune and its
    relative minor use the same notes and chords, so the chord model alone tells them apart weakly (fitted on synth
    songs, it read several major folk tunes and chorales as their relative minor), while a tune that ends on its
    tonic, as most sung tunes do, and the weight of its notes say which is which. The scale stays the chord
    model's decision."""
    keys = list(scores)
    values = temperature * np.array([scores[k] for k in keys])
    posterior = np.exp(values - values.max())
    posterior /= posterior.sum()
    weights = {key: float(p) for key, p in zip(keys, posterior)}
    if cues is None or not mode_decision:
        return weights
    coefficients = np.array([float(mode_decision["coefficients"][name]) for name in MODE_FEATURES])
    out = dict(weights)
    for key in keys:
        minor = relative_key(key)
        if key[1] != "major" or minor not in weights:
            continue
        pair = weights[key] + weights[minor]
        log_odds = temperature * (scores[key] - scores[minor])
        z = float(coefficients @ cues.features(key, log_odds))
        share = 1.0 / (1.0 + math.exp(-max(min(z, 700.0), -700.0)))
        out[key], out[minor] = pair * share, pair * (1.0 - share)
    return out


def _coerce_notes(melody: Sequence[Note]) -> list[Note]:
    notes = sorted((n if isinstance(n, Note) else Note(**n) for n in melody), key=lambda n: n.start)
    if not notes:
        raise ValueError("`melody` has no notes: there is nothing to harmonise.")
    return notes


def _bar_tokens(states: Sequence[int], symbols: Sequence[str]) -> tuple[str, ...]:
    """A bar's beat states as the chart language writes the bar: the fewest equal slots that hold every change."""
    beats = len(states)
    changes = [b for b in range(1, beats) if states[b] != states[b - 1]]
    slots = next(n for n in range(1, beats + 1) if beats % n == 0 and all(b * n % beats == 0 for b in changes))
    step = beats // slots
    tokens = []
    for k in range(slots):
        state = states[k * step]
        tokens.append("-" if k > 0 and state == states[(k - 1) * step] else symbols[k * step])
    return tuple(tokens)


def harmonize(
    melody: Sequence[Note],
    key: tuple[int, str] | str | None = None,
    *,
    tempo: float,
    meter: tuple[int, int] | str = (4, 4),
    offset: float = 0.0,
    richness: str = "simple",
    chords_per_bar: int | None = None,
    model: HarmonizerModel | None = None,
) -> ChartSuggestion:
    """Suggest a chord chart for `melody` (see the module docstring for the method).

    Args:
        melody (`Sequence[Note]`): The tune, one line (overlapping notes are allowed and simply both counted).
        key (`(tonic, mode)` or `str`, *optional*): The key to harmonise in: `(0, "major")`, `"A minor"`, `"F#m"`.
            Default: decoded from the melody jointly with the chords over the 24 keys.
        tempo (`float`), meter (`tuple` or `str`), offset (`float`): The bar grid, as in [`LeadSheet`]: `offset`
            is the time of the first downbeat; notes before it form a pick-up bar.
        richness (`str`, defaults to `"simple"`): One of [`RICHNESS`]: the key's own and commonest chords as
            triads, the same with the fitted seventh-chord spellings, or every chord the model knows (secondary
            dominants, borrowed chords, passing diminished chords).
        chords_per_bar (`int`, *optional*): Let the chord change only on the boundaries of this many equal slots per
            bar (1: on bar lines; 2: also on the half bar). It must divide the bar's beats. Default: on any beat,
            as often as the fitted change probabilities of the meter say.
        model ([`HarmonizerModel`], *optional*): The statistics to use. Default: the packaged model.

    Returns:
        [`ChartSuggestion`]: its `lead_sheet` holds the melody and the suggested chords from the first note's bar to
        the last note's bar.

    Raises:
        ValueError: naming `melody` when it has no notes, `key`, `richness` or `chords_per_bar` when invalid.
    """
    if richness not in RICHNESS:
        raise ValueError(f"`richness` must be one of {', '.join(RICHNESS)}, got {richness!r}.")
    notes = _coerce_notes(melody)
    given_key = parse_key_name(key) if key is not None else None
    grid_sheet = LeadSheet(tempo=tempo, meter=meter, offset=offset)
    bpb = grid_sheet.beats_per_bar
    if chords_per_bar is not None and (
        isinstance(chords_per_bar, bool)
        or not isinstance(chords_per_bar, int)
        or chords_per_bar < 1
        or bpb % chords_per_bar
    ):
        raise ValueError(
            f"`chords_per_bar` must be a whole number that divides the bar's {bpb} beats, got {chords_per_bar!r}."
        )
    model = model or load_model()
    grid = _Grid(notes, grid_sheet, chords_per_bar)

    if given_key is None:
        decoded = _decode_keys(model, grid, ALL_KEYS, "rich", backward=richness == "rich")
        weights = _key_weights(
            {key: score for key, (score, _) in decoded.items()},
            model.key_temperature,
            _MelodyCues(notes, grid_sheet.seconds_per_beat),
            model.mode_decision,
        )
        (tonic, mode) = max(weights, key=weights.get)
        key_confidence = weights[(tonic, mode)]
        if richness != "rich":
            decoded = {}  # the key was chosen among all chords; the chart's chords are the smaller set's
    else:
        (tonic, mode), key_confidence = given_key, 1.0
        weights, decoded = {given_key: 1.0}, {}
    # The chords are decoded in the chart's key alone. Mixing the likely keys' chord posteriors (by their weights)
    # wrote charts whose chords came from different keys: a C major pentatonic tune read at 0.33 C major got A, D
    # and E triads from its A minor and G major readings, and a folk tune whose relative minor was nearly as likely
    # lost half of its score.
    if (tonic, mode) not in decoded:
        decoded.update(_decode_keys(model, grid, [(tonic, mode)], richness, backward=True))
    posteriors = decoded[(tonic, mode)][1]

    # Each beat gets the chord whose triad (root and major / minor / diminished) is most probable there: the
    # dominant seventh and the major triad on a root share their mass (they sound the same triad), which a single
    # best path through the states would split. The family within the triad is the most probable one.
    triad_of_family = np.array([["maj", "min", "dim"].index(_TRIAD_NAME[f]) for f in FAMILIES])
    triads = np.zeros((grid.num_beats, 12, 3))
    for column, triad in enumerate(triad_of_family):
        triads[:, :, triad] += posteriors[:, :, column]
    flat = triads.reshape(grid.num_beats, -1)
    best = flat.argmax(axis=1)
    spelling = model.modes[mode]["spelling"]
    symbols, beat_confidence = [], []
    for beat, index in enumerate(best):
        root, triad = divmod(int(index), 3)
        members = [c for c in range(len(FAMILIES)) if triad_of_family[c] == triad]
        family = FAMILIES[max(members, key=lambda c: posteriors[beat, root, c])]
        state = STATES.index(((root - tonic) % 12, family))
        symbols.append(_symbol(tonic, state, None if richness == "simple" else spelling[state]))
        beat_confidence.append(float(flat[beat, index]))
    path = symbols  # the bar tokens compare symbols

    bars, chords = [], []
    spb = grid_sheet.seconds_per_beat
    for position, bar in enumerate(grid.bar_indices):
        beats = list(range(position * bpb, (position + 1) * bpb))
        bar_path = [path[b] for b in beats]
        confidence = float(np.mean([beat_confidence[b] for b in beats]))
        bar_start = offset + bar * grid_sheet.seconds_per_bar
        tokens = _bar_tokens(bar_path, [symbols[b] for b in beats])
        bars.append(
            BarSuggestion(bar, max(0.0, bar_start), bar_start + grid_sheet.seconds_per_bar, tokens, confidence)
        )
        for b in beats:
            start_time = max(0.0, float(grid.beat_starts[b]))
            end_time = float(grid.beat_starts[b] + spb)
            if end_time <= start_time:
                continue
            # A chord held over the next beat of the same bar is one event; a new bar restarts it, as a chart does.
            if chords and chords[-1].symbol == symbols[b] and b % bpb != 0 and abs(chords[-1].end - start_time) < 1e-6:
                chords[-1].end = end_time
            else:
                chords.append(ChordEvent(start_time, end_time, symbols[b]))
    sheet = LeadSheet(tempo=grid_sheet.tempo, meter=grid_sheet.meter, chords=chords, melody=list(notes), offset=offset)
    slot_posteriors = posteriors.reshape(grid.num_beats, -1)
    return ChartSuggestion(sheet, bars, (tonic, mode), richness, slot_posteriors, key_confidence)
