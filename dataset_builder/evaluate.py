"""`evaluate`: score the builder's analysis of synth songs against their exact metadata, with mir_eval.

Reads the song-level analysis each build keeps in its work folder (boundaries, labels, chords, tempo, key, beats,
melody) and the synth `metadata.json` of the same song.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from diffusers_s2acc.evaluation.scores import boundary_scores, chord_scores, segment_intervals, tempo_scores
from diffusers_s2acc.music import ChordEvent, Segment

from .workdir import WorkDir


def _segments(items: list[dict]) -> list[Segment]:
    # Synth metadata sections carry more than a Segment (groove, instruments, ...): only the span and label count.
    return [Segment(s["start"], s["end"], s["label"]) for s in items]


def _chord_events(items: list[dict]) -> list[ChordEvent]:
    return [ChordEvent(c["start"], c["end"], c["symbol"]) for c in items if c["end"] > c["start"]]


def score_song(analysis: dict[str, Any], truth: dict[str, Any], duration: float) -> dict[str, float]:
    import mir_eval

    scores: dict[str, float] = {}
    reference, estimate = _segments(truth["sections"]), _segments(analysis["segments"])
    scores.update(boundary_scores(reference, estimate, duration, trim=False))
    scores.update({f"{k}_trim": v for k, v in boundary_scores(reference, estimate, duration).items()})
    scores["label_pairwise_f"] = mir_eval.segment.pairwise(
        segment_intervals(reference, duration),
        [s.label for s in reference],
        segment_intervals(estimate, duration),
        [s.label for s in estimate],
    )[2]

    scores.update(chord_scores(_chord_events(truth["lead_sheet"]["chords"]), _chord_events(analysis["chords"])))
    scores.update(tempo_scores(truth["tempo"], analysis["tempo"]))
    scores["key_acc"] = float(analysis["key"] == truth["key"])
    scores["key_mirex"] = mir_eval.key.weighted_score(truth["key"], analysis["key"])
    scores["meter_acc"] = float(analysis["meter"] == truth["meter"])
    scores["beat_f"] = mir_eval.beat.f_measure(np.array(truth["beats"]), np.array(analysis["beats"]))
    scores["downbeat_f"] = mir_eval.beat.f_measure(np.array(truth["downbeats"]), np.array(analysis["downbeats"]))
    melody = truth["lead_sheet"]["melody"]
    if melody and analysis.get("melody"):
        ref_notes = np.array([[n["start"], n["end"]] for n in melody])
        est_notes = np.array([[n["start"], n["end"]] for n in analysis["melody"]])
        ref_hz = mir_eval.util.midi_to_hz(np.array([n["pitch"] for n in melody], dtype=float))
        est_hz = mir_eval.util.midi_to_hz(np.array([n["pitch"] for n in analysis["melody"]], dtype=float))
        scores["melody_note_f"] = mir_eval.transcription.precision_recall_f1_overlap(
            ref_notes, ref_hz, est_notes, est_hz, offset_ratio=None
        )[2]
    return scores


def evaluate_corpus(corpus: str, input_dir: str | None = None) -> dict[str, Any]:
    """Mean scores over every synth song of a built corpus (plus the per-song scores)."""
    work = WorkDir(corpus)
    if input_dir is None:
        config_path = work.root / "build_config.json"
        if not config_path.exists():
            raise FileNotFoundError(f"{corpus} has no build record; pass --input SYNTH_DIR.")
        input_dir = json.loads(config_path.read_text())["input"]
    per_song: dict[str, dict[str, float]] = {}
    for result in work.iter_results():
        if result["status"] != "ok" or not result.get("synth_song_id"):
            continue
        metadata = Path(input_dir) / Path(result["source"]).parent / "metadata.json"
        if not metadata.exists():
            continue
        truth = json.loads(metadata.read_text())
        per_song[result["synth_song_id"]] = score_song(result["analysis"], truth, result["duration"])
    if not per_song:
        raise ValueError(f"No synth songs with ground truth found in {corpus} (input {input_dir}).")
    metrics = sorted({k for scores in per_song.values() for k in scores})
    means = {m: float(np.mean([s[m] for s in per_song.values() if m in s])) for m in metrics}
    counts = {m: sum(m in s for s in per_song.values()) for m in metrics}
    return {"songs": len(per_song), "mean": means, "count": counts, "per_song": per_song}


_DESCRIPTIONS = {
    "boundary_f@0.5s": "section boundary F-measure, 0.5 s window",
    "boundary_f@3s": "section boundary F-measure, 3 s window",
    "boundary_f@0.5s_trim": "same, first/last boundary excluded",
    "boundary_f@3s_trim": "same, first/last boundary excluded",
    "label_pairwise_f": "section label pairwise F (mir_eval)",
    "chord_majmin": "chord accuracy, mir_eval majmin",
    "chord_root": "chord root accuracy",
    "tempo_acc1": "tempo within 4 %",
    "tempo_acc2": "tempo within 4 %, octave errors allowed",
    "key_acc": "key exactly right",
    "key_mirex": "key MIREX weighted score",
    "meter_acc": "meter (3/4 vs 4/4) right",
    "beat_f": "beat F-measure",
    "downbeat_f": "downbeat F-measure",
    "melody_note_f": "melody note onset F (songs with a melody)",
}


def format_table(scores: dict[str, Any]) -> str:
    rows = [
        f"Analysis vs synth ground truth over {scores['songs']} songs",
        "",
        f"| {'metric':<22} | {'mean':>6} | {'songs':>5} | description |",
        f"|{'-' * 24}|{'-' * 8}|{'-' * 7}|---|",
    ]
    for metric, value in scores["mean"].items():
        rows.append(
            f"| {metric:<22} | {value:6.3f} | {scores['count'][metric]:5d} | {_DESCRIPTIONS.get(metric, '')} |"
        )
    return "\n".join(rows)
