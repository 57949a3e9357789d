"""mir_eval scores of an analysis against ground truth: one implementation for the dataset builder's `evaluate`,
the `metrics/` modules and `s2acc evaluate`."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..music.lead_sheet import ChordEvent
from ..music.structure import Segment


TEMPO_TOLERANCE = 0.04  # MIREX: within 4% of the reference tempo


def chord_scores(reference: Sequence[ChordEvent], estimate: Sequence[ChordEvent]) -> dict[str, float]:
    """Duration-weighted chord accuracy over the reference's span: `majmin` (the MIREX major/minor vocabulary)
    and `root`. Estimated time outside any estimated chord counts as "no chord"."""
    import mir_eval

    from ..analysis.chords import to_harte

    if not reference:
        raise ValueError("chord accuracy needs at least one reference chord")
    ref_intervals = np.array([[c.start, c.end] for c in reference], dtype=float)
    ref_labels = [to_harte(c.symbol) for c in reference]
    if estimate:
        est_intervals = np.array([[c.start, c.end] for c in estimate], dtype=float)
        est_labels = [to_harte(c.symbol) for c in estimate]
    else:
        est_intervals, est_labels = np.array([[0.0, ref_intervals.max()]]), ["N"]
    est_intervals, est_labels = mir_eval.util.adjust_intervals(
        est_intervals,
        est_labels,
        ref_intervals.min(),
        ref_intervals.max(),
        mir_eval.chord.NO_CHORD,
        mir_eval.chord.NO_CHORD,
    )
    merged, ref_labels, est_labels = mir_eval.util.merge_labeled_intervals(
        ref_intervals, ref_labels, est_intervals, est_labels
    )
    durations = mir_eval.util.intervals_to_durations(merged)
    return {
        "chord_majmin": float(
            mir_eval.chord.weighted_accuracy(mir_eval.chord.majmin(ref_labels, est_labels), durations)
        ),
        "chord_root": float(mir_eval.chord.weighted_accuracy(mir_eval.chord.root(ref_labels, est_labels), durations)),
    }


def tempo_scores(reference: float, estimate: float) -> dict[str, float]:
    """`tempo_acc1`: within 4%; `tempo_acc2`: within 4% of 1, 2, 1/2, 3 or 1/3 times the reference."""
    close = lambda factor: abs(estimate - factor * reference) <= TEMPO_TOLERANCE * factor * reference  # noqa: E731
    return {"tempo_acc1": float(close(1)), "tempo_acc2": float(any(close(f) for f in (1, 2, 0.5, 3, 1 / 3)))}


def segment_intervals(segments: Sequence[Segment], duration: float) -> np.ndarray:
    """`(n, 2)` section intervals for mir_eval, stretched to cover `[0, duration]` exactly."""
    bounds = np.array([[s.start, s.end] for s in segments], dtype=float)
    bounds[0, 0], bounds[-1, 1] = 0.0, duration
    return bounds


#: Tolerance windows (seconds) of the section-boundary F-measure, as in MIREX structural segmentation.
BOUNDARY_WINDOWS = (0.5, 3.0)


def boundary_scores(
    reference: Sequence[Segment], estimate: Sequence[Segment], duration: float, *, trim: bool = True
) -> dict[str, float]:
    """Section-boundary F-measure `boundary_f@{window}s` at 0.5 s and 3 s (mir_eval). Both segmentations are taken to
    span `[0, duration]`; with `trim` (the default) the start and end of the piece are not counted as boundaries."""
    import mir_eval

    ref, est = segment_intervals(reference, duration), segment_intervals(estimate, duration)
    return {
        f"boundary_f@{w:g}s": float(mir_eval.segment.detection(ref, est, window=w, trim=trim)[2])
        for w in BOUNDARY_WINDOWS
    }


def seam_scores(beats_before: Sequence[float], beats_after: Sequence[float], seam: float) -> dict[str, float]:
    """Beat continuity across a seam (where kept and regenerated audio meet), from beats tracked separately on each
    side of it.

    Each side's beats are fitted with a straight line (beat time against beat index): its slope is that side's beat
    period, and evaluating both lines at `seam` gives each side's beat phase there.

    Returns:
        `seam_tempo_change`: `|tempo_after / tempo_before - 1|`; `seam_tempo_ok`: 1.0 when that is within
        [`TEMPO_TOLERANCE`]; `seam_phase_error`: how far the after side's beats sit from the before side's grid at
        the seam, in beats, in `[0, 0.5]` (0 = the beat carries on in phase, 0.5 = off by half a beat);
        `seam_phase_error_ms`: the same in milliseconds at the before side's tempo.

    Raises:
        ValueError: with fewer than three beats on a side (no period to fit).
    """
    fits = []
    for name, beats in (("before", beats_before), ("after", beats_after)):
        beats = np.asarray(beats, dtype=float)
        if len(beats) < 3:
            raise ValueError(f"seam scores need at least 3 beats {name} the seam, got {len(beats)}")
        fits.append(np.polyfit(np.arange(len(beats)), beats, 1))  # (period, time of beat 0)
    (period_before, start_before), (period_after, start_after) = fits
    phase_before = (seam - start_before) / period_before
    phase_after = (seam - start_after) / period_after
    offset = (phase_before - phase_after + 0.5) % 1.0 - 0.5
    change = abs(period_before / period_after - 1.0)
    return {
        "seam_tempo_change": float(change),
        "seam_tempo_ok": float(change <= TEMPO_TOLERANCE),
        "seam_phase_error": float(abs(offset)),
        "seam_phase_error_ms": float(abs(offset) * period_before * 1000.0),
    }
