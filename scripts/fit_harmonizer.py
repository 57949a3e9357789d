"""Fit the play-along harmoniser's statistics (`src/diffusers_s2acc/music/harmonizer_model.json`) on synth songs.

Every song folder written by `python -m dataset_builder synth` holds its true chart, key, tempo, meter and (when the
song has a lead) its melody notes in `metadata.json`. From the keyed songs this counts, in each mode, with chords
named by their root's degree above the tonic and their family (`diffusers_s2acc.music.harmonizer.STATES`):

- emissions: how long each melody pitch class (above the tonic) sounds over each beat under each chord, split by
  where the note was struck (`METRIC_CLASSES`), Dirichlet-smoothed towards the family's chord-relative profile
  (pooled over every root and both modes, so that a rare chord borrows the common chords' shape);
- per-class weights: the exponent on the emission profile that maximises the likelihood of that class's notes (a
  downbeat note is a chord tone more often than a passing note, so its weight comes out higher);
- transitions: which chord follows which when the chord changes (smoothed towards a root-motion model pooled over
  roots: V->I and ii->V are the same move in every key), and how often the chord changes before each beat of the
  bar, per meter (beats per bar), with bar line / half bar / other beat pooled for unseen meters;
- start: the chord under the melody's first beat (the end is left flat unless `--fit-end`: the synth songs stop
  where their chart stops, on a turnaround as often as on a cadence);
- the `simple` chords of each mode: the key's own triads and the fewest chords that make up 80% of its beats;
- spellings: the seventh-chord spelling each chord was written with most (for the `sevenths` and `rich` charts);
- the settings no count gives (`GRID`: the evidence scale, nats per beat of melody against the transition
  probabilities; the key temperature; the emission smoothing; how much a held note counts on the later beats it
  lasts): chosen by `--folds`-fold cross-validation over the fitting songs themselves (mean chord majmin of the
  decoded `simple` and `rich` charts, key decoded too, from the true notes and, with `--audio`, from each song's
  `melody.flac` read as a user's recording is). Only the fitting songs are ever read.

    PYTHONPATH=src python scripts/fit_harmonizer.py --songs /work/main/runs/v4/songs_train --audio \\
        --out src/diffusers_s2acc/music/harmonizer_model.json

The file records the data it was fitted on (folder, song count, seeds) and this command. It holds no
`mode_decision` (how a key and its relative minor share their posterior): run `scripts/fit_key_mode.py` on the new
file after this one.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from diffusers_s2acc.music import LeadSheet, Note  # noqa: E402
from diffusers_s2acc.music.chords import parse_chord  # noqa: E402
from diffusers_s2acc.music.harmonizer import (  # noqa: E402
    BOUNDARIES,
    FAMILIES,
    METRIC_CLASSES,
    MODES,
    STATES,
    HarmonizerModel,
    beat_profiles,
    boundary_kinds,
    chord_family,
    harmonize,
)


#: Seventh-chord spellings a state may be written with, by the true chord's quality.
SPELLINGS = {
    "maj": "",
    "maj7": "maj7",
    "maj6": "6",
    "7": "7",
    "min": "m",
    "min7": "m7",
    "min6": "m6",
    "minmaj7": "m",
    "dim": "dim",
    "hdim7": "m7b5",
    "dim7": "dim7",
}
_STATE_INDEX = {state: index for index, state in enumerate(STATES)}
#: A key's own notes: the major scale; natural minor with the raised sixth and seventh (melodic, harmonic minor).
SCALES = {"major": frozenset((0, 2, 4, 5, 7, 9, 11)), "minor": frozenset((0, 2, 3, 5, 7, 8, 9, 10, 11))}
TRIADS = {"maj": (0, 4, 7), "7": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6)}


@dataclass
class Song:
    name: str
    tonic: int
    mode: str
    sheet: LeadSheet
    notes: list[Note]
    seed: int | None
    folder: Path | None = None
    #: The melody stem as `read_melody` reads it (notes, tempo, meter, first downbeat), for `--audio`.
    recording: tuple[list[Note], float, tuple[int, int], float] | None = None


def load_songs(folder: str | Path) -> tuple[list[Song], dict[str, int]]:
    """The keyed songs with a melody in a synth folder, and counts of those left out (keyless, no melody)."""
    songs, left_out = [], {"keyless": 0, "no_melody": 0}
    for path in sorted(p for p in Path(folder).iterdir() if (p / "metadata.json").is_file()):
        meta = json.loads((path / "metadata.json").read_text())
        sheet = LeadSheet.from_dict(meta["lead_sheet"])
        words = str(meta.get("key") or "").split()
        if len(words) != 2 or words[1] not in MODES:
            left_out["keyless"] += 1
            continue
        if not sheet.melody:
            left_out["no_melody"] += 1
            continue
        tonic = parse_chord(words[0]).root
        songs.append(Song(path.name, tonic, words[1], sheet, list(sheet.melody), meta.get("seed"), path))
    return songs, left_out


def _beat_states(song: Song, first_beat: int, num_beats: int) -> tuple[list[int | None], list[str | None]]:
    """The state (index into STATES, None for no chord / no family) and the true quality under each beat's middle."""
    spb = song.sheet.seconds_per_beat
    states, qualities = [], []
    for k in range(num_beats):
        middle = song.sheet.offset + (first_beat + k + 0.5) * spb
        chord = next((c for c in song.sheet.chords if c.start <= middle < c.end), None)
        family = chord_family(chord.symbol) if chord else None
        if family is None:
            states.append(None)
            qualities.append(None)
            continue
        root, name = family
        states.append(_STATE_INDEX[((root - song.tonic) % 12, name)])
        qualities.append(parse_chord(chord.symbol).quality)
    return states, qualities


def count(songs: Sequence[Song]) -> dict[str, Any]:
    """Raw counts over `songs` (see the module docstring)."""
    n, classes = len(STATES), len(METRIC_CLASSES)
    counts: dict[str, Any] = {
        mode: {
            "emission": np.zeros((classes, n, 12)),
            "transition": np.zeros((n, n)),
            "prior": np.zeros(n),
            "start": np.zeros(n),
            "end": np.zeros(n),
            "spelling": [dict() for _ in range(n)],
            "songs": 0,
        }
        for mode in MODES
    }
    change: dict[int, np.ndarray] = {}  # beats per bar -> (beats, 2): [changed, boundaries]
    for song in songs:
        entry = counts[song.mode]
        entry["songs"] += 1
        grid = song.sheet
        bpb, spb = grid.beats_per_bar, grid.seconds_per_beat
        # The whole chart for transitions and change positions ...
        chart_end = max(c.end for c in grid.chords)
        first_bar = math.floor((min(c.start for c in grid.chords) - grid.offset) / grid.seconds_per_bar + 1e-6)
        first_beat = first_bar * bpb
        num_beats = int(math.ceil((chart_end - grid.offset) / spb - 1e-6)) - first_beat
        states, qualities = _beat_states(song, first_beat, num_beats)
        table = change.setdefault(bpb, np.zeros((bpb, 2)))
        for k, (state, quality) in enumerate(zip(states, qualities)):
            if state is None:
                continue
            entry["prior"][state] += 1
            spelling = entry["spelling"][state]
            spelling[SPELLINGS[quality]] = spelling.get(SPELLINGS[quality], 0) + 1
            before = states[k - 1] if k > 0 else None
            if before is None:
                continue
            table[(first_beat + k) % bpb] += (before != state, 1)
            if before != state:
                entry["transition"][before, state] += 1
        # ... the melody's beats for emissions, start and end.
        first_bar = math.floor((song.notes[0].start - grid.offset) / grid.seconds_per_bar + 1e-6)
        last_bar = math.floor((max(x.end for x in song.notes) - grid.offset) / grid.seconds_per_bar - 1e-6)
        first_beat = first_bar * bpb
        num_beats = (last_bar - first_bar + 1) * bpb
        profiles = beat_profiles(song.notes, grid, first_beat, num_beats)
        states, _ = _beat_states(song, first_beat, num_beats)
        known = [k for k, state in enumerate(states) if state is not None]
        for k in known:
            entry["emission"][:, states[k]] += np.roll(profiles[:, k], -song.tonic, axis=1)
        if known:
            entry["start"][states[known[0]]] += 1
            entry["end"][states[known[-1]]] += 1
    counts["change"] = change
    return counts


#: Semitones from a minor key's tonic up to its relative major's (A minor -> C major).
RELATIVE_MAJOR = 3


def _relative_key_emissions(counts: dict[str, Any]) -> dict[str, np.ndarray]:
    """Emission counts pooled over relative keys: a chord of A minor and the same chord of C major (Am as i and as
    vi, E as V and as III) hear the melody's pitch classes alike, since both keys share their notes. Without the
    pooling, the minor model (fewer songs) leans more on the smoothing and hears chromatic notes as less surprising,
    which tilts melodies with chromatic passing notes towards minor keys."""
    major, minor = counts["major"]["emission"], counts["minor"]["emission"]
    shift = RELATIVE_MAJOR
    # Minor state (degree d) is the major state (degree d - 3) of the relative major, its profile 3 semitones lower.
    index = {state: i for i, state in enumerate(STATES)}
    as_major = np.zeros_like(minor)
    for i, (degree, family) in enumerate(STATES):
        as_major[:, index[((degree - shift) % 12, family)]] += np.roll(minor[:, i], -shift, axis=-1)
    pooled_major = major + as_major
    pooled_minor = np.zeros_like(minor)
    for i, (degree, family) in enumerate(STATES):
        pooled_minor[:, i] = np.roll(pooled_major[:, index[((degree - shift) % 12, family)]], shift, axis=-1)
    return {"major": pooled_major, "minor": pooled_minor}


def _normalise(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x / np.maximum(x.sum(axis=axis, keepdims=True), 1e-300)


def _fit_weight(counts: np.ndarray, log_emission: np.ndarray) -> float:
    """The exponent w maximising sum(counts * log softmax(w * log_emission)) over a grid of 0.05-3."""
    best = (-math.inf, 1.0)
    for weight in np.arange(0.05, 3.0001, 0.05):
        scaled = weight * log_emission
        logp = scaled - np.log(np.exp(scaled).sum(axis=-1, keepdims=True))
        best = max(best, (float((counts * logp).sum()), float(weight)))
    return round(best[1], 2)


def fit(
    songs: Sequence[Song],
    evidence_scale: float = 1.0,
    key_temperature: float = 1.0,
    fit_end: bool = False,
    common_share: float = 0.8,
    held_scale: float = 1.0,
    share_relative: bool = True,
    emission_smoothing: float = 64.0,
    transition_smoothing: float = 2.0,
    provenance: dict[str, Any] | None = None,
) -> HarmonizerModel:
    """A [`HarmonizerModel`] from the counts over `songs` (smoothing in pseudo-beats / pseudo-changes)."""
    counts = count(songs)
    n = len(STATES)
    # Chord-relative profile of each family, pooled over roots and modes: the emissions' and a rare chord's backoff.
    classes = len(METRIC_CLASSES)
    family_profile = {family: np.full((classes, 12), 0.5) for family in FAMILIES}
    motion = {(a, b): np.full(12, 0.5) for a in FAMILIES for b in FAMILIES}  # (from, to) -> root motion counts
    for mode in MODES:
        emission = counts[mode]["emission"]
        for index, (degree, family) in enumerate(STATES):
            family_profile[family] += np.roll(emission[:, index], -degree, axis=-1)
        for i, (d1, f1) in enumerate(STATES):
            for j, (d2, f2) in enumerate(STATES):
                motion[(f1, f2)][(d2 - d1) % 12] += counts[mode]["transition"][i, j]
    family_profile = {f: _normalise(p) for f, p in family_profile.items()}
    family_to = {f1: sum(motion[(f1, f2)].sum() for f2 in FAMILIES) for f1 in FAMILIES}

    modes = {}
    total_songs = sum(counts[m]["songs"] for m in MODES)
    shared = _relative_key_emissions(counts) if share_relative else None
    for mode in MODES:
        entry = counts[mode]
        # (classes, states, 12): each class's counts, smoothed towards its family's chord-relative profile.
        backoff = np.stack([np.roll(family_profile[f], d, axis=-1) for d, f in STATES], axis=1)
        emission = _normalise((shared[mode] if shared else entry["emission"]) + emission_smoothing * backoff)
        emission = _normalise(emission + 1e-4)
        prior = _normalise(entry["prior"] + 0.5)
        root_motion = np.zeros((n, n))
        for i, (d1, f1) in enumerate(STATES):
            for j, (d2, f2) in enumerate(STATES):
                if i != j:
                    root_motion[i, j] = motion[(f1, f2)][(d2 - d1) % 12] / family_to[f1]
        # The motion model says how a family moves; the target's share keeps rare chords rare.
        root_motion = _normalise(root_motion * np.sqrt(prior)[None, :])
        transition = entry["transition"] + transition_smoothing * root_motion
        np.fill_diagonal(transition, 0.0)
        transition = _normalise(transition)
        start = _normalise(entry["start"] + 2.0 * prior)
        # The synth songs stop where their chart stops, often on a turnaround's V7 rather than a cadence: their
        # last chords are no tune's ending, so by default the end carries no preference (`--fit-end` fits it).
        end = _normalise(entry["end"] + 2.0 * prior) / prior if fit_end else np.ones(n)
        spelling = []
        for index, (degree, family) in enumerate(STATES):
            seen = entry["spelling"][index]
            default = {"maj": "", "7": "7", "min": "m", "dim": "dim"}[family]
            spelling.append(max(seen, key=seen.get) if seen else default)
        # The "simple" / "sevenths" chords: the key's own triads (their notes in its scale) and the fewest states
        # that make up `common_share` of the mode's beats (the blues' and the songs' favourite outside chords).
        order = np.argsort(-prior, kind="stable")
        count_common = int(np.searchsorted(np.cumsum(prior[order]), common_share)) + 1
        diatonic = [
            i
            for i, (degree, family) in enumerate(STATES)
            if all((degree + step) % 12 in SCALES[mode] for step in TRIADS[family])
        ]
        modes[mode] = {
            "common": sorted({int(i) for i in order[:count_common]} | set(diatonic)),
            "prior": prior,
            "start": start,
            "end": end,
            "emission": emission,
            "transition": transition,
            "spelling": spelling,
            "mode_prior": (entry["songs"] + 1) / (total_songs + 2),
            "songs": entry["songs"],
        }

    # Class weights: the exponent on the emission that best predicts each class's notes (both modes together).
    weights = {}
    for c, name in enumerate(METRIC_CLASSES):
        class_counts = np.concatenate([counts[m]["emission"][c] for m in MODES])
        log_emission = np.log(np.concatenate([modes[m]["emission"][c] for m in MODES]))
        weights[name] = _fit_weight(class_counts, log_emission)
    # A held note's pitch was already heard where it was struck: the likelihood fit counts it again on every beat it
    # lasts, as if each were new evidence. `held_scale` (cross-validated) says how much of that to keep.
    weights["held"] = round(weights["held"] * held_scale, 4)

    change: dict[str, Any] = {}
    pooled = {kind: np.zeros(2) for kind in BOUNDARIES}
    for bpb, table in sorted(counts["change"].items()):
        change[str(bpb)] = [round(float((c + 0.5) / (t + 1.0)), 4) for c, t in table]
        for beat, kind in enumerate(boundary_kinds(bpb)):
            pooled[kind] += table[beat]
    change["boundaries"] = {kind: round(float((c + 0.5) / (t + 1.0)), 4) for kind, (c, t) in pooled.items()}
    info = dict(provenance or {})
    info["songs_per_mode"] = {m: modes[m].pop("songs") for m in MODES}
    info["boundaries_counted"] = {str(k): int(v[:, 1].sum()) for k, v in counts["change"].items()}
    return HarmonizerModel(modes, change, weights, float(evidence_scale), float(key_temperature), info)


def read_recordings(songs: Sequence[Song]) -> int:
    """Read each song's `melody.flac` as a user's recording is read (`read_melody`: transcription, tempo, bars), for
    cross-validating the audio path too; returns how many were read (the others are refused, as a user's would be).

    The harmoniser's own bar check inside `read_melody` needs a fitted model, which is what is being fitted: it is
    left out here (the onsets alone place the bars), so that the fit does not depend on an earlier model file."""
    from diffusers_s2acc.analysis import melody_input

    check = melody_input.harmonic_bars
    melody_input.harmonic_bars = lambda notes, period, phase, meters, tempo, found: found
    read = 0
    try:
        for song in songs:
            try:
                # The key is given only so that reading needs no model either; harmonize() decodes it again.
                melody = melody_input.melody_from_audio(
                    *melody_input.read_audio(song.folder / "melody.flac"), key=(song.tonic, song.mode)
                )
            except (ValueError, FileNotFoundError) as error:
                print(f"{song.name}: not read ({error})", file=sys.stderr)
                continue
            song.recording = (melody.notes, melody.tempo, melody.meter, melody.offset)
            read += 1
    finally:
        melody_input.harmonic_bars = check
    return read


def score_song(model: HarmonizerModel, song: Song, richness: str = "simple", source: str = "midi") -> float:
    """Chord majmin of the decoded chart (key decoded too) against the true chart, over the bars of the true melody
    (time the chart leaves uncovered counts as wrong): from the true notes on the true grid (`source="midi"`) or
    from the song's recording as read ([`read_recordings`], `"audio"`)."""
    from diffusers_s2acc.evaluation.scores import chord_scores
    from diffusers_s2acc.music.lead_sheet import ChordEvent

    if source == "audio":
        notes, tempo, meter, offset = song.recording
    else:
        notes, tempo, meter, offset = song.notes, song.sheet.tempo, song.sheet.meter, song.sheet.offset
    suggestion = harmonize(notes, tempo=tempo, meter=meter, offset=offset, richness=richness, model=model)
    bar = song.sheet.seconds_per_bar
    start = song.sheet.offset + math.floor((song.notes[0].start - song.sheet.offset) / bar + 1e-6) * bar
    end = song.sheet.offset + (math.floor((max(n.end for n in song.notes) - song.sheet.offset) / bar - 1e-6) + 1) * bar

    def cut(events):
        return [
            ChordEvent(max(c.start, start), min(c.end, end), c.symbol)
            for c in events
            if min(c.end, end) - max(c.start, start) > 1e-6
        ]

    return float(chord_scores(cut(song.sheet.chords), cut(suggestion.lead_sheet.chords))["chord_majmin"])


#: The cross-validated settings: fit() arguments, and the decode-time key temperature.
GRID = {
    "evidence_scale": [0.5, 0.75, 1.0],
    "key_temperature": [0.5, 1.0],
    "emission_smoothing": [16.0, 64.0],
    "held_scale": [0.0, 0.5, 1.0],
}


def cross_validate(songs: Sequence[Song], grid: dict[str, list[float]], folds: int, **kwargs) -> dict[tuple, float]:
    """Mean chord majmin per setting of `grid` ({fit() argument: values}, `key_temperature` at decode time), over
    the `"simple"` and `"rich"` charts of every song (and of its recording, where read), each decoded (key included)
    by a model fitted on the other folds (songs dealt to folds in turn)."""
    import itertools

    names = list(grid)
    fit_names = [n for n in names if n != "key_temperature"]
    results = {}
    for fit_values in itertools.product(*(grid[n] for n in fit_names)):
        settings = dict(zip(fit_names, fit_values))
        values: dict[float, list[float]] = {t: [] for t in grid["key_temperature"]}
        for fold in range(folds):
            train = [s for i, s in enumerate(songs) if i % folds != fold]
            test = [s for i, s in enumerate(songs) if i % folds == fold]
            model = fit(train, **settings, **kwargs)
            for temperature in grid["key_temperature"]:
                model.key_temperature = temperature
                for song in test:
                    sources = ("midi", "audio") if song.recording is not None else ("midi",)
                    values[temperature] += [
                        score_song(model, song, r, source) for source in sources for r in ("simple", "rich")
                    ]
        for temperature in grid["key_temperature"]:
            key = tuple(settings.get(n, temperature) for n in names)
            results[key] = float(np.nanmean(values[temperature]))
            described = ", ".join(f"{n} {v:g}" for n, v in zip(names, key))
            print(f"{described}: cross-validated majmin {results[key]:.4f}", file=sys.stderr, flush=True)
    return results


def write_model(model: HarmonizerModel, path: str | Path) -> None:
    """The model as JSON, one line per table row (a reader can diff it and find a state's row)."""
    data = model.to_dict()
    text = json.dumps(data, indent=1)
    # json.dumps puts every number of a table on its own line: fold each innermost list back onto one line.
    text = re.sub(r"\[\s*([-0-9.e,\s\"a-z0-9]*?)\s*\]", lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]", text)
    Path(path).write_text(text + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", action="append", required=True, help="a synth folder to fit on (repeatable)")
    parser.add_argument("--out", required=True, help="the model file to write (.json)")
    parser.add_argument("--folds", type=int, default=3, help="cross-validation folds")
    for name, values in GRID.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=float, nargs="+", default=values, help=f"values to cross-validate ({name})")
    parser.add_argument("--audio", action="store_true", help="also score each song's melody.flac as read in the CV")
    parser.add_argument("--fit-end", action="store_true", help="fit the closing chord (off: see fit())")
    args = parser.parse_args(argv)
    songs, left_out, seeds = [], {}, []
    for folder in args.songs:
        found, skipped = load_songs(folder)
        songs += found
        seeds += [s.seed for s in found if s.seed is not None]
        for key, value in skipped.items():
            left_out[key] = left_out.get(key, 0) + value
    if not songs:
        raise SystemExit("error: no keyed song with a melody in --songs")
    recordings = read_recordings(songs) if args.audio else 0
    grid = {name: getattr(args, name) for name in GRID}
    results = cross_validate(songs, grid, args.folds, fit_end=args.fit_end)
    best = max(results, key=lambda k: (results[k], tuple(-v for v in k)))
    settings = dict(zip(grid, best))
    command = ["PYTHONPATH=src python scripts/fit_harmonizer.py"] + [f"--songs {f}" for f in args.songs]
    command += [f"--folds {args.folds}"] + ["--audio"] * args.audio + ["--fit-end"] * args.fit_end
    command += ["--" + n.replace("_", "-") + " " + " ".join(f"{v:g}" for v in vs) for n, vs in grid.items()]
    provenance = {
        "fitted_on": [str(Path(f)) for f in args.songs],
        "songs": len(songs),
        "left_out": left_out,
        "song_seeds": [min(seeds), max(seeds)] if seeds else None,
        "command": " ".join(command + [f"--out {args.out}"]),
        "cross_validation": {
            "folds": args.folds,
            "criterion": "mean chord majmin of the simple and rich charts, from the true melody notes on the true "
            + "grid"
            + (f" and from the {recordings} melody stems read_melody read" if args.audio else ""),
            "chosen": settings,
            "majmin": {", ".join(f"{n} {v:g}" for n, v in zip(grid, k)): round(v, 4) for k, v in results.items()},
        },
    }
    model = fit(songs, fit_end=args.fit_end, provenance=provenance, **settings)
    write_model(model, args.out)
    print(f"wrote {args.out}: {len(songs)} songs, " + ", ".join(f"{n} {v:g}" for n, v in settings.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
