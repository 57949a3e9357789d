"""The corpus schema, defined once: the columns `dataset_builder` writes, the training scripts read, and the latent
cache keeps.

Sections and lead sheets are structured columns (lists of structs), never JSON strings, so nothing is parsed per
item. A lead sheet's `melody` is null when the melody is unknown; an empty list means "transcribed, no notes". Old
corpora wrote an empty melody plus `has_melody: false`, and old latent caches wrote sections and lead sheets as
JSON strings: [`segments_from_value`] and [`lead_sheet_from_value`] read every form.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from .music.lead_sheet import LeadSheet
from .music.structure import Segment, coerce_segments


#: Columns a global caption may be stored under, in order of preference.
CAPTION_COLUMNS = ("caption", "prompt", "description", "global_caption")


def segment_feature() -> dict:
    """One section: `{start, end, label, caption}` (seconds)."""
    import datasets

    return {
        "start": datasets.Value("float64"),
        "end": datasets.Value("float64"),
        "label": datasets.Value("string"),
        "caption": datasets.Value("string"),
    }


def lead_sheet_feature() -> dict:
    """[`LeadSheet.to_dict`]: tempo, meter (`"4/4"`), offset, chords and melody (null when unknown)."""
    import datasets

    chord = {"start": datasets.Value("float64"), "end": datasets.Value("float64"), "symbol": datasets.Value("string")}
    note = {"start": datasets.Value("float64"), "end": datasets.Value("float64"), "pitch": datasets.Value("int32")}
    return {
        "tempo": datasets.Value("float64"),
        "meter": datasets.Value("string"),
        "offset": datasets.Value("float64"),
        "chords": [chord],
        "melody": [note],
    }


def corpus_features():
    """`datasets.Features` of a corpus written by `python -m dataset_builder build` (one row per clip)."""
    import datasets

    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "audio": datasets.Audio(mono=False),  # keep the stereo image on decode (the paper's VAE is stereo)
            "caption": datasets.Value("string"),
            "label": datasets.Value("string"),
            "segments": [segment_feature()],  # sections inside the clip, clip-relative times
            "song_segments": [segment_feature()],  # the whole source's segmentation, absolute times
            "lead_sheet": lead_sheet_feature(),
            "has_melody": datasets.Value("bool"),  # lead_sheet.melody is not null (a filter for melody-only training)
            "key": datasets.Value("string"),
            "tempo": datasets.Value("float64"),
            "meter": datasets.Value("string"),
            "duration": datasets.Value("float64"),
            "quality": datasets.Value("float64"),
            "agreement": datasets.Value("float64"),
            "grade": datasets.Value("float64"),
            "top": datasets.Value("bool"),
            "descriptors": datasets.Value("string"),  # JSON: measured features behind the caption and agreement grade
            "grading": datasets.Value("string"),  # JSON: quality and agreement measures
            "provenance": {
                "source": datasets.Value("string"),
                "source_start": datasets.Value("float64"),
                "source_end": datasets.Value("float64"),
                "section_index": datasets.Value("int32"),
                "synth_song_id": datasets.Value("string"),
                "backends": datasets.Value("string"),
                "builder_version": datasets.Value("string"),
            },
        }
    )


def latent_cache_features(latent_channels: int):
    """`datasets.Features` of a latent cache (`diffusers_s2acc.training.latent_cache.cache_latents`)."""
    import datasets

    return datasets.Features(
        {
            # Frames first: `datasets` arrays may only vary in their first dimension.
            "latents": datasets.Array2D(shape=(None, latent_channels), dtype="float32"),
            "frame_rate": datasets.Value("float64"),
            "caption": datasets.Value("string"),
            "segments": [segment_feature()],
            "lead_sheet": lead_sheet_feature(),
            "source_index": datasets.Value("int64"),
        }
    )


def _maybe_json(value: Any) -> Any:
    # Old latent caches (and hand-made datasets) store these columns as JSON text.
    return json.loads(value) if isinstance(value, str) and value.strip()[:1] in "[{" else value


def segments_from_value(value: Any) -> list[Segment]:
    """A `segments` cell (a list of structs, JSON text, or null) as `Segment`s (empty when there are none)."""
    return coerce_segments(_maybe_json(value) or None) or []


def lead_sheet_from_value(value: Any, has_melody: bool | None = None) -> LeadSheet | None:
    """A `lead_sheet` cell (a struct, JSON text, or null) as a `LeadSheet`, or None.

    The melody is unknown (None) when the cell's melody is null or empty, or when `has_melody` is False (corpora
    written before the melody was nullable): a transcription that found no note is no evidence of rests.
    """
    sheet = _maybe_json(value) or None
    if sheet is None or isinstance(sheet, LeadSheet):
        return sheet
    if not isinstance(sheet, Mapping):
        raise ValueError(f"A lead_sheet cell must be a struct, JSON text or null, got {type(sheet).__name__}.")
    sheet = {k: v for k, v in sheet.items() if v is not None}
    if has_melody is False or not sheet.get("melody"):
        sheet.pop("melody", None)
    return LeadSheet.from_dict(sheet)


def caption_from_row(row: Mapping[str, Any]) -> str:
    """A row's global caption (the first string among [`CAPTION_COLUMNS`]), or ""."""
    return next((row[c] for c in CAPTION_COLUMNS if isinstance(row.get(c), str)), "")
