"""Fit how the play-along harmoniser tells a key from its relative (`mode_decision` in `harmonizer_model.json`).

The chord model (`scripts/fit_harmonizer.py`) decides the scale well, but major and relative minor share their
notes and chords, and a model fitted on synth songs alone read several major folk tunes and chorales as their
relative minor (the synth melodies stop wherever their chart stops; sung tunes end on their tonic). This fits a
logistic model of `diffusers_s2acc.music.harmonizer.MODE_FEATURES` (the chord model's log-odds between the two,
the final note, the key-profile fit, a constant: with the modes at their shares of the data, the prior for major)
on two kinds of melody with a known key, the two sets weighted equally:

- keyed synth songs (`--songs`, their true melody notes on their true grid; the same songs as the chord model, so
  each song's odds come from a chord model fitted, as the packaged one was, on the other `--folds`);
- real tunes: the fiddle tunes of music21's `ryansMammoth` corpus folder whose ABC key field names the mode (`K:G`
  and `K:Gmix` major, `K:Em`, `K:Edor` minor; other modes and unparsable tunes are left out). None of them is a
  tune `bench/bench_play_along.py` scores (the Nottingham reels, the two `leadSheet/` songs, Bach chorales).

Only pairs whose scale the chord model got right are fitted (the model decides nothing else). The coefficients,
the counts and this command are written into the model file's `mode_decision`.

    PYTHONPATH=src python scripts/fit_key_mode.py --songs /work/main/runs/v4/songs_train \\
        --model src/diffusers_s2acc/music/harmonizer_model.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from diffusers_s2acc.music import LeadSheet, Note  # noqa: E402
from diffusers_s2acc.music.harmonizer import (  # noqa: E402
    MODE_FEATURES,
    HarmonizerModel,
    _MelodyCues,
    key_log_likelihoods,
    relative_key,
)
from diffusers_s2acc.music.lead_sheet import is_compound  # noqa: E402


#: ABC mode words (after the tonic letter and accidental) -> the harmoniser's mode.
ABC_MODES = {"": "major", "maj": "major", "major": "major", "mix": "major", "m": "minor", "min": "minor",
             "minor": "minor", "dor": "minor"}  # fmt: skip
_ABC_KEY = re.compile(r"^K:\s*([A-Ga-g])([#b]?)\s*([A-Za-z]*)", re.M)


def abc_key(text: str) -> tuple[int, str] | None:
    """`(tonic, mode)` of an ABC tune's first `K:` field when it names a major or minor mode, else None."""
    match = _ABC_KEY.search(text)
    if match is None:
        return None
    word = match.group(3).lower()
    mode = ABC_MODES.get(word, ABC_MODES.get(word[:3]))
    if mode is None:
        return None
    tonic = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}[match.group(1).lower()]
    tonic += {"#": 1, "b": -1, "": 0}[match.group(2)]
    return tonic % 12, mode


def ryans_melodies(limit_major: int, tempo: float = 100.0) -> Iterator[dict[str, Any]]:
    """ryansMammoth tunes with a major or minor key field: every minor one and the first `limit_major` major ones
    (by file name), the melody on the written bar grid (a pick-up padded to a full bar) at `tempo`."""
    import music21
    from music21 import converter
    from music21 import meter as m21meter

    folder = Path(music21.__file__).parent / "corpus" / "ryansMammoth"
    majors = 0
    for path in sorted(folder.glob("*.abc")):
        text = path.read_text(errors="ignore")
        if text.count("K:") != 1:
            continue  # one tune per file only: a key change or a second tune would need its own truth
        key = abc_key(text)
        if key is None or (key[1] == "major" and majors >= limit_major):
            continue
        try:
            score = converter.parse(text, format="abc")
        except Exception:  # music21's ABC reader refuses some files; they are left out, as the docstring says
            continue
        signatures = list(score.recurse().getElementsByClass(m21meter.TimeSignature))
        if not signatures:
            continue
        ts = signatures[0]
        bar_q = float(ts.barDuration.quarterLength)
        part = score.parts[0] if score.parts else score
        measures = list(part.getElementsByClass("Measure"))
        pad_q = 0.0
        if measures and measures[0].paddingLeft and 0 < measures[0].paddingLeft < bar_q:
            pad_q = float(measures[0].paddingLeft)
        seconds = 60.0 / tempo
        notes = []
        for element in part.flatten().notes:
            if not hasattr(element, "pitch") or element.quarterLength <= 0:
                continue
            start = (float(element.offset) + pad_q) * seconds
            notes.append(Note(start, start + float(element.quarterLength) * seconds * 0.95, int(element.pitch.midi)))
        if len(notes) < 8:
            continue
        majors += key[1] == "major"
        meter = (int(ts.numerator), int(ts.denominator))
        # A compound meter's tempo counts its dotted beat (`LeadSheet`); `tempo` counts quarter notes.
        beat_tempo = tempo / 1.5 if is_compound(meter) else tempo
        yield {"source": "ryans", "name": path.stem, "notes": notes, "tempo": beat_tempo, "meter": meter,
               "offset": 0.0, "key": key}  # fmt: skip


def cross_fitted_synth(
    folders: Sequence[str], model: HarmonizerModel, folds: int
) -> list[tuple[HarmonizerModel, list]]:
    """`(chord model, melodies)` per fold of the synth songs: each fold's melodies with a chord model fitted as the
    packaged one was (its cross-validated settings) on the other folds. The packaged model has seen every fitting
    song, so its own odds on them would look more certain than they are on any new melody."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fit_harmonizer import fit, load_songs

    songs = [song for folder in folders for song in load_songs(folder)[0]]
    settings = dict(model.provenance.get("cross_validation", {}).get("chosen", {}))
    out = []
    for fold in range(folds):
        train = [s for i, s in enumerate(songs) if i % folds != fold]
        test = [s for i, s in enumerate(songs) if i % folds == fold]
        melodies = [
            {"source": "synth", "name": song.name, "notes": song.notes, "tempo": song.sheet.tempo,
             "meter": song.sheet.meter if song.sheet.beats_per_bar == song.sheet.meter[0]
             else (song.sheet.beats_per_bar, 4), "offset": song.sheet.offset, "key": (song.tonic, song.mode)}
            for song in test
        ]  # fmt: skip
        out.append((fit(train, **settings), melodies))
    return out


def pair_examples(model: HarmonizerModel, melodies: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, list]:
    """Features and labels (1: major) of the melodies whose scale the chord model decodes right."""
    features, labels, kept = [], [], []
    for melody in melodies:
        scores = key_log_likelihoods(melody["notes"], tempo=melody["tempo"], meter=melody["meter"],
                                     offset=melody["offset"], model=model)  # fmt: skip
        best = max(scores, key=scores.get)
        major = best if best[1] == "major" else relative_key(best)
        truth = tuple(melody["key"])
        if truth not in (major, relative_key(major)):
            continue
        spb = LeadSheet(tempo=melody["tempo"], meter=melody["meter"]).seconds_per_beat
        cues = _MelodyCues(melody["notes"], spb)
        log_odds = model.key_temperature * (scores[major] - scores[relative_key(major)])
        features.append(cues.features(major, log_odds))
        labels.append(float(truth == major))
        kept.append(melody)
    return np.array(features), np.array(labels), kept


def fit_logistic(x: np.ndarray, y: np.ndarray, weights: np.ndarray, l2: float = 0.1) -> np.ndarray:
    """Weighted logistic regression by Newton's method, a small ridge on every coefficient but the constant's."""
    beta = np.zeros(x.shape[1])
    beta[0] = 1.0  # start from the chord model's own odds
    ridge = np.full(x.shape[1], l2)
    ridge[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        gradient = x.T @ (weights * (p - y)) + ridge * beta
        hessian = (x * (weights * p * (1 - p))[:, None]).T @ x + np.diag(ridge)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", action="append", default=[], help="a synth folder to fit on (repeatable)")
    parser.add_argument("--model", required=True, help="the model file to read and update (.json)")
    parser.add_argument("--major-tunes", type=int, default=300, help="ryansMammoth major tunes to use")
    parser.add_argument("--folds", type=int, default=3, help="folds of the synth songs' cross-fitted chord models")
    parser.add_argument("--pooled", action="store_true", help="every tune weighs alike (default: each set alike)")
    args = parser.parse_args(argv)

    model = HarmonizerModel.from_file(args.model)
    ryans = list(ryans_melodies(args.major_tunes))
    sets = {"ryans": pair_examples(model, ryans)}
    synth_count = 0
    if args.songs:
        folds = cross_fitted_synth(args.songs, model, args.folds)
        synth_count = sum(len(melodies) for _, melodies in folds)
        parts = [pair_examples(fold_model, melodies) for fold_model, melodies in folds]
        sets["synth"] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                         [m for p in parts for m in p[2]])  # fmt: skip
    x = np.concatenate([sets[name][0] for name in sets])
    y = np.concatenate([sets[name][1] for name in sets])
    # Every tune weighs alike (`--pooled`), or each set weighs alike and within it every tune. Either way the modes
    # keep their shares (most tunes are major: the fitted constant is the prior for major that a mode-balanced fit
    # would throw away).
    weights = []
    for name in sets:
        share = 1.0 / len(y) if args.pooled else 1.0 / (len(sets) * max(1, len(sets[name][1])))
        weights += [share] * len(sets[name][1])
    weights = np.array(weights) * len(y)  # mean weight 1: the ridge keeps its size whatever the counts
    beta = fit_logistic(x, y, weights)

    def accuracy(features, labels, coefficients):
        """Accuracy on the major tunes and on the minor ones."""
        predicted = (features @ coefficients) > 0
        return {mode: round(float(np.mean(predicted[labels == m] == bool(m))), 4) if (labels == m).any() else None
                for mode, m in (("major", 1), ("minor", 0))}  # fmt: skip

    baseline = np.eye(len(MODE_FEATURES))[0]  # the chord model's odds alone
    report = {name: {"pairs": int(len(sets[name][1])), "major": int(sets[name][1].sum()),
                     "accuracy_chord_model": accuracy(sets[name][0], sets[name][1], baseline),
                     "accuracy_fitted": accuracy(sets[name][0], sets[name][1], beta)}
              for name in sets}  # fmt: skip
    decision = {
        "coefficients": {name: round(float(b), 4) for name, b in zip(MODE_FEATURES, beta)},
        "provenance": {
            "fitted_on": {"synth": args.songs, "music21": "corpus/ryansMammoth (single-tune files, K: major/minor)"},
            "tunes": {"synth": synth_count, "ryans": len(ryans)},
            "synth_chord_models": f"fitted on the other {args.folds - 1} of {args.folds} folds",
            "pairs": report,
            "command": "PYTHONPATH=src python scripts/fit_key_mode.py "
            + " ".join(f"--songs {s}" for s in args.songs)
            + f" --major-tunes {args.major_tunes} --folds {args.folds}"
            + " --pooled" * args.pooled
            + f" --model {args.model}",
        },
    }
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fit_harmonizer import write_model  # one table row per line, as the chord model's fit writes the file

    model.mode_decision = decision
    write_model(model, args.model)
    print(json.dumps(decision, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
