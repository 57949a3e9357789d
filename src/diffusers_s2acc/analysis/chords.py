"""Chord recognition: beat-synchronous chroma, template matching and Viterbi smoothing, in the shared vocabulary.

Each beat's treble and bass chroma are scored against one template per (root, quality); an HMM whose states are
the chords (plus "no chord") and whose transitions favour staying put picks the most likely sequence, which removes
the one-beat flickers that plain template matching produces on passing notes and drum hits. Output symbols are
plain lead-sheet spellings that `diffusers_s2acc.music.parse_chord` accepts.
"""

from __future__ import annotations

import numpy as np

from diffusers_s2acc.music import ChordEvent
from diffusers_s2acc.music.chords import PITCH_CLASS_NAMES, QUALITIES, parse_chord

from .features import Features, sync


#: Qualities recognised, with their lead-sheet suffix. Sevenths matter for captions and the VAE targets; sixths
#: and suspended chords are left out because on real mixes they are mostly confused with their neighbours.
RECOGNISED = {"maj": "", "min": "m", "7": "7", "maj7": "maj7", "min7": "m7", "hdim7": "m7b5", "dim": "dim"}
# Priors (log-scale bonus) keep rarer qualities from winning on ambiguous frames.
_PRIOR = {"maj": 0.0, "min": 0.0, "7": -0.04, "maj7": -0.05, "min7": -0.05, "hdim7": -0.10, "dim": -0.12}


def chord_symbol(root: int, quality: str) -> str:
    symbol = PITCH_CLASS_NAMES[root] + RECOGNISED[quality]
    parse_chord(symbol)
    return symbol


def _templates() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    symbols, treble, roots, priors = [], [], [], []
    for quality in RECOGNISED:
        intervals = QUALITIES[quality]
        weights = {0: 1.0, intervals[1]: 1.0, intervals[2]: 0.9}
        if len(intervals) > 3:
            weights[intervals[3]] = 0.75
        for root in range(12):
            vector = np.zeros(12)
            for interval, weight in weights.items():
                vector[(root + interval) % 12] = weight
            symbols.append(chord_symbol(root, quality))
            treble.append(vector / np.linalg.norm(vector))
            roots.append(root)
            priors.append(_PRIOR[quality])
    return symbols, np.array(treble), np.array(roots), np.array(priors)


def _viterbi(log_emission: np.ndarray, change_prob: np.ndarray) -> np.ndarray:
    """Most likely state path when, before step t, the chord changes with probability `change_prob[t]` (to any
    other state uniformly) and stays otherwise. A time-varying transition lets bar lines invite chord changes."""
    num_states, steps = log_emission.shape
    score = log_emission[:, 0].copy()
    back = np.zeros((num_states, steps), dtype=int)
    for t in range(1, steps):
        stay = score + np.log(1.0 - change_prob[t])
        best = int(np.argmax(score))
        move = score[best] + np.log(change_prob[t] / (num_states - 1))
        back[:, t] = np.where(stay >= move, np.arange(num_states), best)
        score = np.maximum(stay, move) + log_emission[:, t]
    path = np.zeros(steps, dtype=int)
    path[-1] = int(np.argmax(score))
    for t in range(steps - 1, 0, -1):
        path[t - 1] = back[path[t], t]
    return path


def recognize_chords(
    features: Features,
    beats: np.ndarray,
    downbeats: np.ndarray | None = None,
    *,
    change_on_downbeat: float = 0.5,
    change_mid_bar: float = 0.2,
    change_other: float = 0.05,
    meter: int = 4,
    bass_weight: float = 0.15,
    sharpness: float = 25.0,
) -> list[ChordEvent]:
    """Chords between consecutive beats (and from the last beat to the end); "N.C." where the music is silent.

    With `downbeats`, chord changes are expected on bar lines (and half bars in even meters) more than elsewhere.
    """
    duration = features.duration
    times = np.concatenate([[0.0], [b for b in beats if 0.0 < b < duration - 0.05], [duration]])
    edges = np.array([features.frame(t) for t in times])
    edges[-1] = features.num_frames
    treble = sync(features.chroma, edges, aggregate=np.median)
    bass = sync(features.bass_chroma, edges)
    energy = sync(features.rms[None], edges)[0]
    symbols, templates, roots, priors = _templates()
    chroma = treble / (np.linalg.norm(treble, axis=0, keepdims=True) + 1e-9)
    score = templates @ chroma  # (K, B) cosine similarity
    bass = bass / (bass.max(axis=0, keepdims=True) + 1e-9)
    score += bass_weight * bass[roots] + priors[:, None]
    # Silence is judged both against the loudest beat and absolutely (-70 dBFS), so an all-quiet input is N.C.
    silent = (energy < 0.02 * (energy.max() + 1e-12)) | (energy < 3e-4)
    no_chord = np.where(silent, 1.0, 0.2)[None]  # the "N.C." state only wins where there is (almost) no sound
    score = np.vstack([no_chord, score])
    prob = np.exp(sharpness * (score - score.max(axis=0, keepdims=True)))
    prob /= prob.sum(axis=0, keepdims=True)
    change = np.full(len(times) - 1, change_other if downbeats is not None else 0.1)
    if downbeats is not None and len(downbeats):
        starts = times[:-1]
        bar_length = float(np.median(np.diff(downbeats))) if len(downbeats) > 1 else None
        for i, t in enumerate(starts):
            nearest = float(np.min(np.abs(downbeats - t)))
            if nearest < 0.08:
                change[i] = change_on_downbeat
            elif bar_length and meter % 2 == 0 and abs(nearest - bar_length / 2) < 0.08:
                change[i] = change_mid_bar
    path = _viterbi(np.log(prob + 1e-12), change)
    labels = ["N.C."] + symbols
    events: list[ChordEvent] = []
    for i, state in enumerate(path):
        start, end = float(times[i]), float(times[i + 1])
        if end <= start:
            continue
        if events and events[-1].symbol == labels[state]:
            events[-1].end = end
        else:
            events.append(ChordEvent(start, end, labels[state]))
    return events


def to_harte(symbol: str) -> str:
    """mir_eval (Harte) label of a lead-sheet symbol, through the shared vocabulary."""
    chord = parse_chord(symbol)
    if chord.is_no_chord:
        return "N"
    return f"{PITCH_CLASS_NAMES[chord.root]}:{chord.quality}"
