"""All metrics of one clip against its spec: chord and tempo accuracy, boundary F-measure, caption adherence."""

from __future__ import annotations

import numpy as np

from .agreement import DescriptorAgreement
from .scores import boundary_scores, chord_scores, tempo_scores
from .specs import EvalSpec


def caption_adherence(analysis, spec: EvalSpec, audio: np.ndarray, sampling_rate: int, scorer=None) -> float:
    """Mean agreement between each section's caption (or the prompt, for uncaptioned spans) and what is measured
    in that section. Default scorer: [`DescriptorAgreement`] (tempo, key, meter, energy, tone and drum claims checked
    against measurements); pass a [`ClapAgreement`] for CLAP similarity."""
    from ..analysis.descriptors import describe

    scorer = scorer or DescriptorAgreement()
    spans = [(s.start, s.end, s.caption or spec.prompt) for s in spec.segments] or [(0.0, spec.duration, spec.prompt)]
    values = []
    for start, end, caption in spans:
        if not caption:
            continue
        descriptors = describe(
            analysis.features,
            start,
            end,
            tempo=analysis.grid.tempo,
            meter=analysis.grid.meter,
            chords=analysis.chords,
            key=analysis.key,
        )
        values.append(scorer(caption, descriptors, audio, sampling_rate)[0])
    return float(np.mean(values)) if values else float("nan")


def score_clip(audio: np.ndarray, sampling_rate: int, spec: EvalSpec, agreement=None) -> dict[str, float]:
    """Analyse `audio` `(channels, samples)` and score it against `spec`'s lead sheet, sections and captions."""
    from ..analysis.song import analyze_song, segment

    audio = audio[..., : int(spec.duration * sampling_rate)]
    analysis = analyze_song(audio, sampling_rate, melody=False)
    scores: dict[str, float] = {}
    sheet = spec.target_lead_sheet
    if sheet is not None and sheet.chords:
        scores.update(chord_scores(sheet.chords, analysis.chords))
    if sheet is not None:
        scores.update(tempo_scores(sheet.tempo, analysis.grid.tempo))
        scores["tempo_abs_error"] = abs(analysis.grid.tempo - sheet.tempo)
    if len(spec.segments) >= 2:
        scores.update(boundary_scores(spec.segments, segment(analysis), spec.duration))
    scores["caption_adherence"] = caption_adherence(analysis, spec, audio, sampling_rate, agreement)
    return scores
