"""Play along with a melody: its chart (suggested or given) played by an [`S2AccompanistPipeline`], aligned with it.

[`play_along`] reads the melody (a recording or a MIDI file, [`~analysis.melody_input.read_melody`]), suggests a
chart for it ([`~music.harmonizer.harmonize`]) unless one is given, and calls the pipeline with a lead sheet that
holds both, from the melody's first downbeat to the end of its last bar. The accompaniment is then placed on the
melody's own time axis (it starts on that downbeat) and mixed with the melody: a recording as it was given, a MIDI
melody rendered as a plain additive tone. A count-in of clicks on the beats before the first downbeat is optional.

This is a helper around an unchanged pipeline, not a sibling pipeline: the pipeline already takes a lead sheet with
chords and melody, and everything added here (reading, harmonising, aligning, mixing) happens outside denoising.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..analysis.melody_input import MelodyInput, read_melody
from ..audio import match_channels, resample
from ..music import LeadSheet, Segment, coerce_segments
from ..music.harmonizer import ChartSuggestion, harmonize


#: Level of the melody over the accompaniment in the mix (RMS ratio; about +3 dB).
MELODY_OVER_ACCOMPANIMENT = 1.4


@dataclass
class PlayAlongOutput:
    """What [`play_along`] made.

    Attributes:
        accompaniment (`np.ndarray`): `(channels, samples)` float32 at `sampling_rate`, on the melody's time axis
            (shifted by `lead_in_s`): silent until the first downbeat (count-in clicks before it when asked).
        mix (`np.ndarray`): The melody and the accompaniment together, same shape and axis, peak at most 0.99.
        sampling_rate (`int`): The pipeline's rate.
        lead_sheet (`LeadSheet`): What was played, on the melody's time axis: tempo, meter, first downbeat
            (`offset`), chords and melody. Edit its chart and pass it back as `lead_sheet=` to play another take.
        suggestion (`ChartSuggestion` or `None`): The harmoniser's suggestion with per-bar confidences (`None` when
            a chart was given).
        melody (`MelodyInput`): The melody as read: notes, tempo, meter, key.
        accompaniment_start_in_s (`float`): Where the accompaniment starts in the outputs.
        lead_in_s (`float`): Time added before the melody's start so that a count-in fits (0 without one, or when
            the melody starts late enough).
    """

    accompaniment: np.ndarray
    mix: np.ndarray
    sampling_rate: int
    lead_sheet: LeadSheet
    suggestion: ChartSuggestion | None
    melody: MelodyInput
    accompaniment_start_in_s: float
    lead_in_s: float


def _lead_sheet_for(melody: MelodyInput, lead_sheet: LeadSheet | Mapping[str, Any] | str) -> LeadSheet:
    """A given chart or lead sheet on the melody's grid and time axis, with the melody's notes."""
    if isinstance(lead_sheet, str):
        sheet = LeadSheet.from_chart(lead_sheet, bpm=melody.tempo, meter=melody.meter, offset=melody.offset)
    else:
        sheet = LeadSheet.from_dict(lead_sheet)
    if sheet.melody is None:
        sheet = LeadSheet(sheet.tempo, sheet.meter, sheet.chords, list(melody.notes), sheet.offset, sheet.repeats)
    return sheet


def _shift_segments(segments, start: float, end: float) -> list[Segment] | None:
    """Sections given on the melody's time axis, moved to the accompaniment's (which starts at `start`)."""
    parsed = coerce_segments(segments)
    if parsed is None:
        return None
    shifted = [
        Segment(max(0.0, s.start - start), min(s.end, end) - start, s.label, s.caption)
        for s in parsed
        if s.end > start + 1e-3 and s.start < end - 1e-3
    ]
    if not shifted:
        raise ValueError(
            f"`segments`: none of the sections reaches into the accompaniment ({start:.2f}-{end:.2f} s of the melody)."
        )
    return shifted


def render_notes(notes, sampling_rate: int, length: int) -> np.ndarray:
    """A MIDI melody as sound: each note an additive tone (fundamental and three partials) with a short attack and a
    decay, mono float32 of `length` samples. Plain by design: it is there so the mix can be heard, not judged."""
    out = np.zeros(length, dtype=np.float32)
    for note in notes:
        first = int(note.start * sampling_rate)
        count = min(length, int(note.end * sampling_rate)) - first
        if count <= 0:
            continue
        t = np.arange(count) / sampling_rate
        frequency = 440.0 * 2 ** ((note.pitch - 69) / 12)
        tone = sum(
            np.sin(2 * np.pi * frequency * k * t) / k**1.5 for k in range(1, 5) if frequency * k < sampling_rate / 2
        )
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-1.5 * t) * np.minimum(1.0, (count - np.arange(count)) / 200)
        out[first : first + count] += (0.3 * tone * envelope).astype(np.float32)
    return out


def count_in_clicks(beats: Sequence[tuple[float, bool]], sampling_rate: int, length: int) -> np.ndarray:
    """Clicks at `(time, is_downbeat)`: 30 ms decaying sine bursts, higher and louder on the downbeat."""
    out = np.zeros(length, dtype=np.float32)
    t = np.arange(int(0.03 * sampling_rate)) / sampling_rate
    for time, downbeat in beats:
        burst = (0.6 if downbeat else 0.4) * np.sin(2 * np.pi * (1760 if downbeat else 1320) * t) * np.exp(-t / 0.008)
        first = int(round(time * sampling_rate))
        stop = min(length, first + len(burst))
        if 0 <= first < stop:
            out[first:stop] += burst[: stop - first]
    return out


def suggest_chart(melody: MelodyInput, richness: str = "simple") -> ChartSuggestion:
    """The harmoniser's chart for a melody read with [`~analysis.melody_input.read_melody`], on its own grid: in the
    user's key where one was given, else in the key decoded jointly with the chords."""
    return harmonize(
        melody.notes,
        melody.key_tuple if melody.key_given else None,
        tempo=melody.tempo,
        meter=melody.meter,
        offset=melody.offset,
        richness=richness,
    )


def play_along(
    pipe,
    melody: str | os.PathLike | MelodyInput,
    *,
    lead_sheet: LeadSheet | Mapping[str, Any] | str | None = None,
    prompt: str | None = None,
    segments: Sequence[Segment | Mapping[str, Any]] | None = None,
    richness: str = "simple",
    count_in_bars: int = 0,
    track: str | int | None = None,
    bpm: float | None = None,
    meter: str | tuple[int, int] | None = None,
    key: str | tuple[int, str] | None = None,
    **pipeline_kwargs: Any,
) -> PlayAlongOutput:
    """Accompany a melody with `pipe` (an [`S2AccompanistPipeline`]).

    Args:
        pipe: The pipeline (any trained S2Accompanist pipeline).
        melody (`str`, path or [`MelodyInput`]): A recording (any rate, mono or stereo) or a MIDI file, or a melody
            already read with [`~analysis.melody_input.read_melody`].
        lead_sheet (`LeadSheet`, `dict` or chart `str`, *optional*): The chart to play instead of the suggestion. A
            chart string is laid on the melody's grid from its first downbeat; a `LeadSheet` or dict is on the
            melody's time axis (seconds from the start of the file). Its melody defaults to the melody's notes.
        prompt (`str`, *optional*), segments (*optional*): As for the pipeline; segment times are on the melody's
            time axis.
        richness (`str`, defaults to `"simple"`): The harmoniser's chord set (see
            [`~music.harmonizer.harmonize`]).
        count_in_bars (`int`, defaults to 0): Bars of clicks before the first downbeat (the outputs start earlier
            when the melody does not leave room for them).
        track, bpm, meter, key (*optional*): For [`~analysis.melody_input.read_melody`]; the user's values win.
        **pipeline_kwargs: Passed to the pipeline (`num_inference_steps`, `guidance_scale`, `generator`, ...).

    Returns:
        [`PlayAlongOutput`]

    Raises:
        ValueError: naming the argument (`melody`, `lead_sheet`, `segments`, `count_in_bars`, ...).
    """
    if isinstance(count_in_bars, bool) or not isinstance(count_in_bars, int) or not 0 <= count_in_bars <= 8:
        raise ValueError(f"`count_in_bars` must be a whole number of bars in [0, 8], got {count_in_bars!r}.")
    for reserved in ("lead_sheet", "audio_length_in_s", "output_type", "return_dict", "num_waveforms_per_prompt"):
        if reserved in pipeline_kwargs:
            raise ValueError(f"`{reserved}` is set by play_along; it cannot be passed through.")
    if not isinstance(melody, MelodyInput):
        melody = read_melody(melody, track=track, bpm=bpm, meter=meter, key=key)
    suggestion = None
    if lead_sheet is None:
        suggestion = suggest_chart(melody, richness)
        sheet = suggestion.lead_sheet
    else:
        try:
            sheet = _lead_sheet_for(melody, lead_sheet)
        except ValueError as error:
            raise ValueError(f"`lead_sheet`: {error}") from None
    start = sheet.offset
    last = max([n.end for n in melody.notes] + [c.end for c in sheet.chords])
    bars = max(1, math.ceil((last - start) / sheet.seconds_per_bar - 1e-3))
    end = start + bars * sheet.seconds_per_bar
    played = sheet.crop(start, end)
    played.repeats = False  # the chart covers the whole accompaniment: nothing to repeat
    output = pipe(
        prompt=prompt,
        segments=_shift_segments(segments, start, end),
        lead_sheet=played,
        audio_length_in_s=end - start,
        output_type="np",
        **pipeline_kwargs,
    )
    accompaniment = np.asarray(output.audios[0], dtype=np.float32)
    rate = int(pipe.vae.config.sampling_rate)
    channels = accompaniment.shape[0]

    count_in_s = count_in_bars * sheet.seconds_per_bar
    lead_in = max(0.0, count_in_s - start)
    lead = int(round(lead_in * rate))
    total = lead + max(int(round(max(melody.duration, end) * rate)), int(round(start * rate)) + accompaniment.shape[1])
    track_out = np.zeros((channels, total), dtype=np.float32)
    first = lead + int(round(start * rate))
    track_out[:, first : first + accompaniment.shape[1]] = accompaniment[:, : total - first]
    if count_in_bars:
        beats = [
            (lead_in + start - count_in_s + k * sheet.seconds_per_beat, k % sheet.beats_per_bar == 0)
            for k in range(count_in_bars * sheet.beats_per_bar)
        ]
        track_out += count_in_clicks(beats, rate, total)[None]

    if melody.audio is not None:
        tune = match_channels(resample(melody.audio, melody.sampling_rate, rate), channels)
    else:
        tune = np.repeat(
            render_notes(melody.notes, rate, int(round(melody.duration * rate)) + rate)[None], channels, 0
        )
    voice = np.zeros_like(track_out)
    voice[:, lead : lead + tune.shape[1]] = tune[:, : total - lead]
    rms_acc = float(np.sqrt(np.mean(accompaniment**2))) if accompaniment.size else 0.0
    rms_voice = float(np.sqrt(np.mean(tune**2))) if tune.size else 0.0
    if rms_acc > 1e-6 and rms_voice > 1e-6:
        voice *= MELODY_OVER_ACCOMPANIMENT * rms_acc / rms_voice
    mix = voice + track_out
    peak = float(np.abs(mix).max()) if mix.size else 0.0
    if peak > 0.99:
        mix *= 0.99 / peak
    return PlayAlongOutput(
        accompaniment=track_out,
        mix=mix.astype(np.float32),
        sampling_rate=rate,
        lead_sheet=sheet,
        suggestion=suggestion,
        melody=melody,
        accompaniment_start_in_s=lead_in + start,
        lead_in_s=lead_in,
    )
