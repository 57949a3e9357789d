"""Reading a dataset_builder corpus (or any dataset with the same columns) into `Song`s for training.

Columns used (see [`diffusers_s2acc.corpus_schema`]): `audio` (a `datasets.Audio` feature), `segments`, `lead_sheet`
(may be null), `has_melody` (old corpora) and a global caption (`caption`, `prompt` or `description`). Audio is
decoded with soundfile from the stored bytes/path rather than through `datasets`' decoder: it needs no extra codec
package, and it never silently down-mixes a stereo file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..audio import decode_audio, match_channels, resample  # noqa: F401 (re-exported for old imports)
from ..corpus_schema import CAPTION_COLUMNS, caption_from_row, lead_sheet_from_value, segments_from_value
from ..music.lead_sheet import LeadSheet
from ..music.structure import Segment


__all__ = ["CAPTION_COLUMNS", "Song", "load_corpus", "require_finite", "row_name", "song_from_row"]


@dataclass
class Song:
    """One training example: audio `(channels, samples)` plus its descriptions."""

    audio: np.ndarray
    sampling_rate: int
    caption: str
    segments: list[Segment]
    lead_sheet: LeadSheet | None

    @property
    def duration(self) -> float:
        return self.audio.shape[-1] / self.sampling_rate


def load_corpus(
    dataset_name: str | None = None,
    train_data_dir: str | None = None,
    split: str = "train",
    max_samples: int | None = None,
):
    """Open a corpus as a `datasets.Dataset` with undecoded audio.

    `train_data_dir` is a folder written by `dataset_builder build` (`save_to_disk` layout) or a folder of parquet
    shards; `dataset_name` is a Hub dataset id (resolved from the local cache when offline). `max_samples` keeps the
    first rows only (`--max_train_samples`): not a seeded shuffle as in diffusers' scripts, so that runs with other
    seeds train on the same rows and can share one latent cache.
    """
    import datasets

    if (dataset_name is None) == (train_data_dir is None):
        raise ValueError("Pass exactly one of --dataset_name or --train_data_dir.")
    if train_data_dir is not None:
        if not os.path.isdir(train_data_dir):
            raise ValueError(f"--train_data_dir: {train_data_dir} is not a folder.")
        try:
            corpus = datasets.load_from_disk(train_data_dir)
        except FileNotFoundError:
            corpus = datasets.load_dataset(train_data_dir)
    else:
        corpus = datasets.load_dataset(dataset_name)
    if isinstance(corpus, datasets.DatasetDict):
        if split not in corpus:
            raise ValueError(f"The corpus has no {split!r} split (it has {', '.join(corpus)}).")
        corpus = corpus[split]
    if "audio" not in corpus.column_names:
        raise ValueError(f"The corpus has no 'audio' column (columns: {', '.join(corpus.column_names)}).")
    if isinstance(corpus.features["audio"], datasets.Audio):
        corpus = corpus.cast_column("audio", datasets.Audio(decode=False))
    if max_samples is not None:
        if max_samples < 1:
            raise ValueError(f"max_samples must be >= 1, got {max_samples}.")
        corpus = corpus.select(range(min(max_samples, len(corpus))))
    return corpus


def row_name(row: Mapping[str, Any], index: int) -> str:
    """How errors name a corpus row: its index, and its `id` when it has one."""
    return f"{index} (id {row['id']!r})" if isinstance(row.get("id"), str) else str(index)


def require_finite(values: np.ndarray, row: str, what: str) -> np.ndarray:
    """`values`, or a `ValueError` naming the row: one NaN in a batch turns the loss, then every weight, NaN."""
    finite = np.isfinite(values)
    if not finite.all():
        bad = values.size - int(finite.sum())
        raise ValueError(
            f"Corpus row {row}: {bad} of {values.size} {what} values are NaN or infinite; remove the row or rebuild "
            "the corpus (dataset_builder rejects such files)."
        )
    return values


def song_from_row(row: Mapping[str, Any]) -> Song:
    """Build a [`Song`] from one corpus row."""
    audio, rate = decode_audio(row["audio"])
    sheet = lead_sheet_from_value(row.get("lead_sheet"), row.get("has_melody"))
    return Song(audio, rate, caption_from_row(row), segments_from_value(row.get("segments")), sheet)
