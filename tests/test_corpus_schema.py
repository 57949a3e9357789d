"""The corpus schema is defined once (diffusers_s2acc.corpus_schema): the builder writes it, training reads it, and
the latent cache keeps sections and lead sheets as structured columns, while caches written before (JSON text) still
read the same."""

import json

import datasets
import numpy as np
import pytest

from diffusers_s2acc.corpus_schema import (
    corpus_features,
    latent_cache_features,
    lead_sheet_from_value,
    segments_from_value,
)
from diffusers_s2acc.music import LeadSheet, Note, Segment
from diffusers_s2acc.training.clips import LatentClipDataset
from diffusers_s2acc.training.corpus import song_from_row


SEGMENTS = [Segment(0.0, 2.0, "intro", "soft piano"), Segment(2.0, 5.0, "chorus", "full band")]
SHEET = LeadSheet.from_chart("C | Am | F | G", bpm=96.0)
SHEET_WITH_MELODY = LeadSheet(tempo=96.0, chords=SHEET.chords, melody=[Note(0.5, 1.0, 64), Note(1.0, 2.0, 67)])


def _cache_rows(structured: bool) -> dict:
    rng = np.random.default_rng(0)
    rows = {"latents": [], "frame_rate": [], "caption": [], "segments": [], "lead_sheet": [], "source_index": []}
    for index, sheet in enumerate([SHEET, SHEET_WITH_MELODY, None]):
        segments = [s.to_dict() for s in SEGMENTS]
        rows["latents"].append(rng.standard_normal((40, 4)).astype(np.float32))
        rows["frame_rate"].append(8.0)
        rows["caption"].append(f"song {index}")
        if structured:
            rows["segments"].append(segments)
            rows["lead_sheet"].append(sheet.to_dict() if sheet else None)
        else:  # what cache_latents wrote before the columns were structured
            rows["segments"].append(json.dumps(segments))
            rows["lead_sheet"].append(json.dumps(sheet.to_dict()) if sheet else None)
        rows["source_index"].append(index)
    return rows


def test_old_json_latent_cache_reads_the_same_as_a_structured_one(tmp_path):
    new = datasets.Dataset.from_dict(_cache_rows(structured=True), features=latent_cache_features(4))
    old = datasets.Dataset.from_dict(_cache_rows(structured=False))
    assert old.features["segments"] == datasets.Value("string")  # really the old layout
    new.save_to_disk(str(tmp_path / "new"))
    old.save_to_disk(str(tmp_path / "old"))
    new_items = LatentClipDataset(datasets.load_from_disk(str(tmp_path / "new")), clip_frames=16, seed=3)
    old_items = LatentClipDataset(datasets.load_from_disk(str(tmp_path / "old")), clip_frames=16, seed=3)
    assert new_items.songs == old_items.songs
    assert new_items.songs[0][2] == SHEET and new_items.songs[1][2].melody == SHEET_WITH_MELODY.melody
    assert new_items.songs[2][2] is None and new_items.songs[0][1] == SEGMENTS
    for index in range(3):
        a, b = new_items[index], old_items[index]
        assert a["caption"] == b["caption"] == f"song {index}" and a["segments"] == b["segments"]
        assert a["latents"].equal(b["latents"]) and a["mask"].equal(b["mask"])
        for key, value in vars(a["conditioning"]).items():
            other = getattr(b["conditioning"], key)
            assert value.equal(other) if hasattr(value, "equal") else value == other, key


def test_items_do_not_parse_the_conditioning_again(monkeypatch):
    cache = datasets.Dataset.from_dict(_cache_rows(structured=True), features=latent_cache_features(4))
    dataset = LatentClipDataset(cache, clip_frames=16)

    def refuse(*args, **kwargs):
        raise AssertionError("parsed per item")

    import diffusers_s2acc.corpus_schema as schema
    import diffusers_s2acc.training.clips as clips

    for module in (schema, clips):
        for name in ("segments_from_value", "lead_sheet_from_value", "caption_from_row", "_maybe_json"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, refuse)
    monkeypatch.setattr(LeadSheet, "from_dict", refuse)
    item = dataset[1]
    assert item["conditioning"] is not None and item["caption"] == "song 1"


def test_corpus_rows_keep_an_unknown_melody_unknown(tmp_path):
    """The builder writes a null melody for "unknown"; corpora written before wrote [] plus has_melody false."""
    features = datasets.Features(
        {k: corpus_features()[k] for k in ("caption", "segments", "lead_sheet", "has_melody")}
    )
    rows = [
        {
            "caption": "a",
            "segments": [s.to_dict() for s in SEGMENTS],
            "lead_sheet": SHEET.to_dict(),
            "has_melody": False,
        },
        {"caption": "b", "segments": [], "lead_sheet": {**SHEET.to_dict(), "melody": []}, "has_melody": False},
        {"caption": "c", "segments": [], "lead_sheet": SHEET_WITH_MELODY.to_dict(), "has_melody": True},
        {"caption": "d", "segments": [], "lead_sheet": None, "has_melody": False},
    ]
    corpus = datasets.Dataset.from_list(rows, features=features)
    assert corpus[0]["lead_sheet"]["melody"] is None  # stored as null, not as []
    silence = {"array": np.zeros(8, dtype=np.float32), "sampling_rate": 8000}
    songs = [song_from_row({**row, "audio": silence}) for row in corpus]
    assert songs[0].lead_sheet.melody is None and songs[0].segments == SEGMENTS
    assert songs[1].lead_sheet.melody is None and songs[1].lead_sheet.chords == SHEET.chords
    assert songs[2].lead_sheet.melody == SHEET_WITH_MELODY.melody
    assert songs[3].lead_sheet is None and songs[3].segments == [] and songs[3].caption == "d"


def test_bad_cells_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="lead_sheet cell"):
        lead_sheet_from_value([1, 2])
    with pytest.raises(ValueError, match="Unknown segment field"):
        segments_from_value([{"start": 0, "end": 1, "bars": 4}])
