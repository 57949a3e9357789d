"""Per-frame conditioning embeddings of the S2DiT transformer: song structure and lead sheet."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..music.frames import NUM_BEAT_IDS, NUM_MELODY_IDS


class StructureEmbedding(nn.Module):
    """Section label (index 0 = no section, a learned null) plus relative position inside the section."""

    def __init__(self, num_labels: int, dim: int, num_frequencies: int = 8):
        super().__init__()
        self.label = nn.Embedding(num_labels + 1, dim)
        self.register_buffer("frequencies", math.pi * torch.arange(1, num_frequencies + 1).float(), persistent=False)
        self.position = nn.Linear(2 * num_frequencies, dim)

    def forward(self, section_ids: torch.Tensor, section_position: torch.Tensor) -> torch.Tensor:
        angles = section_position.float()[..., None] * self.frequencies
        features = torch.cat([angles.sin(), angles.cos()], dim=-1)
        position = self.position(features.to(self.position.weight.dtype))
        # Frames outside any section carry only the learned "no section" embedding.
        position = position * (section_ids > 0)[..., None].to(position.dtype)
        return self.label(section_ids) + position


class LeadSheetEmbedding(nn.Module):
    """Chord class, chord pitch classes, melody pitch and beat/downbeat; id 0 of each table is the learned "absent"."""

    def __init__(self, num_chord_classes: int, dim: int):
        super().__init__()
        self.chord = nn.Embedding(num_chord_classes + 1, dim)
        self.pitch_classes = nn.Linear(12, dim, bias=False)
        self.melody = nn.Embedding(NUM_MELODY_IDS, dim)
        self.beat = nn.Embedding(NUM_BEAT_IDS, dim)

    def forward(
        self,
        chord_ids: torch.Tensor,
        pitch_classes: torch.Tensor,
        melody_ids: torch.Tensor,
        beat_ids: torch.Tensor,
    ) -> torch.Tensor:
        pitch = self.pitch_classes(pitch_classes.to(self.pitch_classes.weight.dtype))
        return self.chord(chord_ids) + pitch + self.melody(melody_ids) + self.beat(beat_ids)
