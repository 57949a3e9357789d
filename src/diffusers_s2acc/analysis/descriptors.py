"""Measured descriptors of a stretch of audio: the facts a caption can state and a grader can check.

Everything here is computed from the shared `Features` (and optional transcribed notes), so captions, the
caption-audio agreement grade and later text-adherence metrics all describe the audio the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from diffusers_s2acc.music import ChordEvent, parse_chord

from .features import Features
from .key import Key, estimate_key


@dataclass
class Descriptors:
    tempo: float
    meter: int
    key: str  # "A minor"
    mode: str
    loudness_db: float  # mean frame RMS in dBFS
    relative_loudness_db: float  # against the whole recording
    dynamic_range_db: float  # p95 - p10 of frame dB
    brightness_hz: float  # median spectral centroid
    percussive_ratio: float
    bass_ratio: float  # share of chroma energy in the bass octaves, a proxy for a prominent bass line
    chords: list[str] = field(default_factory=list)
    chord_changes_per_bar: float = 0.0
    has_sevenths: bool = False
    note_density: float = 0.0  # transcribed notes per second
    mean_note_length: float = 0.0
    pitch_range: tuple[int, int] | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["pitch_range"] = list(self.pitch_range) if self.pitch_range else None
        return data

    # Words derived from numbers: used by the template captioner and by the agreement grader, so both agree on
    # what "fast" or "bright" means.
    @property
    def tempo_word(self) -> str:
        return tempo_word(self.tempo)

    @property
    def energy_word(self) -> str:
        if self.relative_loudness_db > 2.0 or self.loudness_db > -14:
            return "high"
        if self.relative_loudness_db < -3.0 or self.loudness_db < -30:
            return "low"
        return "medium"

    @property
    def brightness_word(self) -> str:
        if self.brightness_hz > 2600:
            return "bright"
        if self.brightness_hz < 1300:
            return "dark"
        return "balanced"

    @property
    def has_drums(self) -> bool:
        # Percussive share of mel energy: about 0.002 for a melody stem alone, 0.13-0.20 for MMA grooves with
        # drums, 0.07-0.13 for orchestral tracks with percussion (measured on synth stems and wesnoth tracks).
        return self.percussive_ratio > 0.08


def tempo_word(bpm: float) -> str:
    if bpm < 80:
        return "slow"
    if bpm < 112:
        return "moderate"
    if bpm < 140:
        return "upbeat"
    return "fast"


def describe(
    features: Features,
    start: float,
    end: float,
    *,
    tempo: float,
    meter: int,
    chords: list[ChordEvent] | None = None,
    notes: list[dict] | None = None,
    key: Key | None = None,
) -> Descriptors:
    """Descriptors of `[start, end)` seconds of the analysed recording. `key` (the song's key) is used when given:
    a key estimated from a few bars alone is less reliable than the whole song's."""
    a, b = features.frame(start), max(features.frame(end), features.frame(start) + 1)
    db = 20 * np.log10(features.rms + 1e-6)
    span_db = db[a:b]
    if key is None:
        key = estimate_key(features.chroma[:, a:b].sum(axis=1) + features.bass_chroma[:, a:b].sum(axis=1))
    bass_energy = features.bass_chroma[:, a:b].sum()
    bass_ratio = float(bass_energy / (bass_energy + features.chroma[:, a:b].sum() + 1e-9))
    inside = [c for c in chords or [] if c.end > start and c.start < end and c.symbol != "N.C."]
    bars = max((end - start) / (60.0 / tempo * meter), 1e-6)
    span_notes = [n for n in notes or [] if start <= n["start"] < end]
    return Descriptors(
        tempo=float(tempo),
        meter=int(meter),
        key=key.name,
        mode=key.mode,
        loudness_db=float(np.mean(span_db)),
        relative_loudness_db=float(np.mean(span_db) - np.mean(db)),
        dynamic_range_db=float(np.percentile(span_db, 95) - np.percentile(span_db, 10)),
        brightness_hz=float(np.median(features.centroid[a:b])),
        percussive_ratio=float(np.mean(features.percussive_ratio[a:b])),
        bass_ratio=bass_ratio,
        chords=list(dict.fromkeys(c.symbol for c in inside)),
        chord_changes_per_bar=float(max(len(inside) - 1, 0) / bars),
        has_sevenths=any(len(parse_chord(c.symbol).pitch_classes) >= 4 for c in inside),
        note_density=len(span_notes) / max(end - start, 1e-6),
        mean_note_length=float(np.mean([n["end"] - n["start"] for n in span_notes])) if span_notes else 0.0,
        pitch_range=(min(n["pitch"] for n in span_notes), max(n["pitch"] for n in span_notes)) if span_notes else None,
    )
