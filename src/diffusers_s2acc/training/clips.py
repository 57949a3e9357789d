"""Training clips: random windows of songs (audio, for the VAE) or of cached latents (for the DiT).

Randomness is drawn from `numpy.random.default_rng((seed, epoch, index))`, so a clip depends only on where it sits
in the run, never on what ran before: a resumed run sees exactly the clips an uninterrupted one would.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..audio import match_channels, resample
from ..corpus_schema import caption_from_row, lead_sheet_from_value, segments_from_value
from ..music.frames import FrameConditioning
from ..music.lead_sheet import LeadSheet
from ..music.structure import Segment, crop_segments
from .corpus import require_finite, row_name, song_from_row


class _EpochSeeded(Dataset):
    def __init__(self, seed: int):
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng((self.seed, self.epoch, index))


def _window_conditioning(
    segments: Sequence[Segment], sheet: LeadSheet | None, start: float, frames: int, frame_rate: float
) -> tuple[list[Segment], FrameConditioning]:
    end = start + frames / frame_rate
    window_segments = crop_segments(segments, start, end)
    window_sheet = sheet.crop(start, end) if sheet is not None else None
    return window_segments, FrameConditioning.build(frames, frame_rate, window_segments, window_sheet)


class AudioClipDataset(_EpochSeeded):
    """Random audio windows at the VAE's rate and channel count, with lead-sheet targets per latent frame.

    A row whose audio holds NaN or infinite samples raises a `ValueError` naming the row.
    """

    def __init__(self, corpus, sampling_rate: int, channels: int, hop_length: int, clip_frames: int, seed: int = 0):
        super().__init__(seed)
        self.corpus = corpus
        self.sampling_rate, self.channels, self.hop_length = sampling_rate, channels, hop_length
        self.clip_frames = clip_frames

    def __len__(self) -> int:
        return len(self.corpus)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.corpus[index]
        song = song_from_row(row)
        require_finite(song.audio, row_name(row, index), "audio")
        audio = resample(match_channels(song.audio, self.channels), song.sampling_rate, self.sampling_rate)
        clip = self.clip_frames * self.hop_length
        frame_rate = self.sampling_rate / self.hop_length
        # Start on a latent-frame boundary so targets line up with latent frames exactly.
        max_start_frame = max(0, (audio.shape[-1] - clip) // self.hop_length)
        start_frame = int(self._rng(index).integers(0, max_start_frame + 1))
        window = audio[:, start_frame * self.hop_length : start_frame * self.hop_length + clip]
        window = np.pad(window, ((0, 0), (0, clip - window.shape[-1])))
        _, cond = _window_conditioning(
            song.segments, song.lead_sheet, start_frame / frame_rate, self.clip_frames, frame_rate
        )
        return {"audio": torch.from_numpy(np.ascontiguousarray(window)), **cond.semantic_targets()}


class LatentClipDataset(_EpochSeeded):
    """Random windows of cached latents with their captions and per-frame conditioning.

    Rows come from [`cache_latents`]: `latents` `(frames, channels)`, `frame_rate`, `caption`, `segments`,
    `lead_sheet`. Captions, sections and lead sheets are read once, here, into `Segment`s and `LeadSheet`s (caches
    written before the columns were structured hold them as JSON text; they are converted the same way); each item
    then reads only its latents. Songs shorter than the clip are zero-padded; the padding frames carry no section,
    and `mask` (1 for real frames, 0 for padding) keeps them out of the loss. A row whose latents are not all finite
    raises a `ValueError` naming the row.
    """

    def __init__(self, cache, clip_frames: int, seed: int = 0):
        super().__init__(seed)
        columns = cache.select_columns([c for c in ("caption", "segments", "lead_sheet") if c in cache.column_names])
        self.songs = [
            (
                caption_from_row(row),
                segments_from_value(row.get("segments")),
                lead_sheet_from_value(row.get("lead_sheet")),
            )
            for row in columns.with_format(None)
        ]
        self.cache = cache.select_columns(["latents", "frame_rate"]).with_format("numpy")
        self.clip_frames = clip_frames

    def __len__(self) -> int:
        return len(self.cache)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.cache[index]
        latents = np.asarray(row["latents"], dtype=np.float32).T  # stored (frames, channels)
        require_finite(latents, row_name(row, index), "latent")
        frame_rate = float(row["frame_rate"])
        start = int(self._rng(index).integers(0, max(0, latents.shape[-1] - self.clip_frames) + 1))
        window = latents[:, start : start + self.clip_frames]
        mask = np.zeros(self.clip_frames, dtype=np.float32)
        mask[: window.shape[-1]] = 1.0
        window = np.pad(window, ((0, 0), (0, self.clip_frames - window.shape[-1])))
        caption, song_segments, sheet = self.songs[index]
        segments, cond = _window_conditioning(song_segments, sheet, start / frame_rate, self.clip_frames, frame_rate)
        return {
            "latents": torch.from_numpy(np.ascontiguousarray(window)),
            "mask": torch.from_numpy(mask),
            "caption": caption,
            "segments": segments,
            "conditioning": cond,
        }


def collate_latent_clips(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "latents": torch.stack([i["latents"] for i in items]),
        "mask": torch.stack([i["mask"] for i in items]),
        "captions": [i["caption"] for i in items],
        "segments": [i["segments"] for i in items],
        "conditioning": FrameConditioning.stack([i["conditioning"] for i in items]),
    }
