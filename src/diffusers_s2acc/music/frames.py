"""Rasterising segments and lead sheets onto the latent frame grid.

Frame `i` covers `[i / frame_rate, (i + 1) / frame_rate)` seconds. Every id tensor reserves 0 for "absent" (not
given), so any part of the conditioning can be left out at inference and dropped during training.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import torch

from .chords import parse_chord
from .lead_sheet import LeadSheet
from .structure import Segment, label_to_id


#: `beat_ids` values.
BEAT_ABSENT, BEAT_NONE, BEAT_ON, BEAT_DOWNBEAT = 0, 1, 2, 3
#: `melody_ids` values: 0 absent, 1 rest, 2 + MIDI pitch for a note.
MELODY_ABSENT, MELODY_REST = 0, 1
NUM_MELODY_IDS = 2 + 128
NUM_BEAT_IDS = 4
IGNORE_INDEX = -100


@dataclass
class FrameConditioning:
    """Per-frame conditioning for one clip (unbatched) or a batch (leading batch dimension).

    Attributes:
        section_ids: `(T,)` long, 0 = no section, else 1 + index in `SECTION_LABELS`.
        section_position: `(T,)` float in `[0, 1]`, position of the frame inside its section.
        segment_ids: `(T,)` long, 1-based index of the caption segment covering the frame, 0 = none.
        chord_ids: `(T,)` long, 0 = absent, else 1 + chord class (so 1 = explicit "no chord").
        pitch_classes: `(T, 12)` float, the chord's pitch classes (all zero when absent).
        melody_ids: `(T,)` long, see `MELODY_*`.
        beat_ids: `(T,)` long, see `BEAT_*`.
    """

    section_ids: torch.Tensor
    section_position: torch.Tensor
    segment_ids: torch.Tensor
    chord_ids: torch.Tensor
    pitch_classes: torch.Tensor
    melody_ids: torch.Tensor
    beat_ids: torch.Tensor

    @classmethod
    def empty(cls, num_frames: int) -> "FrameConditioning":
        zeros = torch.zeros(num_frames, dtype=torch.long)
        return cls(
            section_ids=zeros.clone(),
            section_position=torch.zeros(num_frames),
            segment_ids=zeros.clone(),
            chord_ids=zeros.clone(),
            pitch_classes=torch.zeros(num_frames, 12),
            melody_ids=zeros.clone(),
            beat_ids=zeros.clone(),
        )

    @classmethod
    def build(
        cls,
        num_frames: int,
        frame_rate: float,
        segments: Sequence[Segment] | None = None,
        lead_sheet: LeadSheet | None = None,
    ) -> "FrameConditioning":
        """Rasterise `segments` and `lead_sheet` onto `num_frames` frames at `frame_rate` frames per second."""
        cond = cls.empty(num_frames)
        if segments:
            _fill_structure(cond, segments, frame_rate)
        if lead_sheet is not None:
            _fill_lead_sheet(cond, lead_sheet, frame_rate)
        return cond

    @classmethod
    def stack(cls, items: Sequence["FrameConditioning"]) -> "FrameConditioning":
        """Batch unbatched items along a new first dimension."""
        return cls(**{f.name: torch.stack([getattr(i, f.name) for i in items]) for f in fields(cls)})

    @classmethod
    def cat(cls, items: Sequence["FrameConditioning"]) -> "FrameConditioning":
        """Concatenate batches along the batch dimension."""
        return cls(**{f.name: torch.cat([getattr(i, f.name) for i in items]) for f in fields(cls)})

    def to(self, device: torch.device | str) -> "FrameConditioning":
        return FrameConditioning(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def repeat_interleave(self, repeats: int) -> "FrameConditioning":
        return FrameConditioning(
            **{f.name: getattr(self, f.name).repeat_interleave(repeats, dim=0) for f in fields(self)}
        )

    def transformer_kwargs(self) -> dict[str, torch.Tensor]:
        """Keyword arguments for [`S2DiTTransformer.forward`]."""
        return {
            "section_ids": self.section_ids,
            "section_position": self.section_position,
            "frame_segment_ids": self.segment_ids,
            "chord_ids": self.chord_ids,
            "pitch_classes": self.pitch_classes,
            "melody_ids": self.melody_ids,
            "beat_ids": self.beat_ids,
        }

    def semantic_targets(self) -> dict[str, torch.Tensor]:
        """Targets for [`SemanticAutoencoder.semantic_loss`]; absent frames are `IGNORE_INDEX` (or masked)."""
        known_chord = self.chord_ids > 0
        return {
            "chord": torch.where(known_chord, self.chord_ids - 1, IGNORE_INDEX),
            "pitch_classes": self.pitch_classes,
            "pitch_classes_mask": known_chord,
            "melody": torch.where(self.melody_ids > 0, self.melody_ids - 1, IGNORE_INDEX),
            "beat": torch.where(self.beat_ids > 0, self.beat_ids - 1, IGNORE_INDEX),
        }


def _frame_range(start: float, end: float, frame_rate: float, num_frames: int) -> tuple[int, int]:
    """Frames whose centre lies in `[start, end)`."""
    first = max(0, int(round(start * frame_rate)))
    last = min(num_frames, int(round(end * frame_rate)))
    return first, last


def _fill_structure(cond: FrameConditioning, segments: Sequence[Segment], frame_rate: float) -> None:
    num_frames = cond.section_ids.shape[0]
    for index, segment in enumerate(segments, start=1):
        first, last = _frame_range(segment.start, segment.end, frame_rate, num_frames)
        if last <= first:
            continue
        cond.section_ids[first:last] = label_to_id(segment.label)
        cond.segment_ids[first:last] = index
        span = max(last - first - 1, 1)
        cond.section_position[first:last] = torch.arange(last - first, dtype=torch.float32) / span


def _fill_lead_sheet(cond: FrameConditioning, sheet: LeadSheet, frame_rate: float) -> None:
    num_frames = cond.chord_ids.shape[0]
    for event in sheet.chords:
        first, last = _frame_range(event.start, event.end, frame_rate, num_frames)
        chord = parse_chord(event.symbol)
        cond.chord_ids[first:last] = chord.index + 1
        cond.pitch_classes[first:last] = 0.0
        for pc in chord.pitch_classes:
            cond.pitch_classes[first:last, pc] = 1.0
    if sheet.melody is not None:
        cond.melody_ids[:] = MELODY_REST
        for note in sheet.melody:
            first, last = _frame_range(note.start, note.end, frame_rate, num_frames)
            cond.melody_ids[first:last] = 2 + note.pitch
    # Beats are given implicitly by tempo, meter and offset, so they are known over the whole clip.
    cond.beat_ids[:] = BEAT_NONE
    for time, is_downbeat in sheet.beat_times(until=num_frames / frame_rate):
        frame = int(time * frame_rate + 1e-6)  # guard against 5.3999.. landing a frame early
        if 0 <= frame < num_frames:
            cond.beat_ids[frame] = BEAT_DOWNBEAT if is_downbeat else BEAT_ON
