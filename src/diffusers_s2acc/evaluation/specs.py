"""Evaluation specs: what to generate (prompt, segments, lead sheet, duration, seed) and, optionally, the reference
recording to compare with. A spec file is a JSON list of

    {"id": "song_00150", "prompt": "...", "segments": [{start, end, label, caption}], "lead_sheet": {...},
     "duration": 10.0, "seed": 0, "reference": {"path": "song_00150/accompaniment.flac", "start": 0.0}}

Relative reference paths are resolved against the spec file's folder. An optional `"score_lead_sheet"` is what the
takes are scored against when it differs from what they are conditioned on: a spec that gives the model only the
melody (`lead_sheet` without chords) is still scored against the song's true chart. `s2acc make-specs` writes
reference paths relative to the spec file. Every key is checked: an unknown key, or a value of the wrong type (`"prompt": null`, a seed of 1.5, a NaN duration, a
negative reference start), is an error naming the spec and the field, never coerced.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..music.lead_sheet import LeadSheet
from ..music.structure import Segment, coerce_segments, crop_segments


#: What `specs_from_synth` may give the model of a song's lead sheet.
LEAD_SHEET_PARTS = ("chords", "melody", "chords+melody")


@dataclass
class EvalSpec:
    id: str
    prompt: str
    segments: list[Segment]
    lead_sheet: LeadSheet | None
    duration: float
    seed: int = 0
    reference_path: str | None = None
    reference_start: float = 0.0
    score_lead_sheet: LeadSheet | None = None

    @property
    def target_lead_sheet(self) -> LeadSheet | None:
        """The lead sheet the takes are scored against (`score_lead_sheet`, else `lead_sheet`)."""
        return self.score_lead_sheet if self.score_lead_sheet is not None else self.lead_sheet

    def load_reference(self) -> tuple[np.ndarray, int] | None:
        """Reference audio `(channels, samples)` over the spec's span, or None."""
        if self.reference_path is None:
            return None
        from ..audio import read_audio

        return read_audio(self.reference_path, start=self.reference_start, duration=self.duration)


def load_specs(path: str | os.PathLike) -> list[EvalSpec]:
    """Read and validate a spec file (errors name the spec and the field)."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"spec file {path} does not exist") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"spec file {path} is not valid JSON: {error.msg} (line {error.lineno})") from None
    except RecursionError:
        raise ValueError(f"spec file {path} is nested too deeply to be a spec file") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"spec file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except OSError as error:  # a folder, a file without read permission, ...
        raise ValueError(f"cannot read spec file {path}: {error.strerror or error}") from None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"spec file {path} must hold a non-empty list of specs")
    specs = []
    for index, entry in enumerate(entries):
        name = entry.get("id", f"#{index}") if isinstance(entry, dict) else f"#{index}"
        if not isinstance(entry, dict):
            raise ValueError(f"spec {name}: must be an object with prompt, segments, ..., got {type(entry).__name__}")
        try:
            specs.append(_parse_spec(entry, index, path.parent))
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"spec {name}: {error}") from None
    return specs


SPEC_KEYS = ("id", "prompt", "segments", "lead_sheet", "score_lead_sheet", "duration", "seed", "reference")
REFERENCE_KEYS = ("path", "start")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_spec(entry: dict[str, Any], index: int, root: Path) -> EvalSpec:
    unknown = sorted(set(entry) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} (a spec has {', '.join(SPEC_KEYS)})")
    if "id" in entry and not (isinstance(entry["id"], str) and entry["id"].strip()) and not _number(entry["id"]):
        raise ValueError(f"`id` must be a non-empty string, got {entry['id']!r}")
    prompt = entry.get("prompt", "")
    if not isinstance(prompt, str):
        raise ValueError(f'`prompt` must be a string ("" for none), got {prompt!r}')
    segments = coerce_segments(entry.get("segments")) or []
    sheet = LeadSheet.from_dict(entry["lead_sheet"]) if entry.get("lead_sheet") is not None else None
    score_sheet = LeadSheet.from_dict(entry["score_lead_sheet"]) if entry.get("score_lead_sheet") is not None else None
    duration = entry.get("duration")
    if duration is None:
        duration = segments[-1].end if segments else sheet.duration if sheet else None
    if not _number(duration) or duration <= 0:
        raise ValueError(
            f"`duration` must be a positive number of seconds (or come from segments / a lead sheet), got {duration!r}"
        )
    seed = entry.get("seed", index)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"`seed` must be an integer, got {seed!r}")
    reference = entry.get("reference")
    path, start = None, 0.0
    if reference is not None:
        if not isinstance(reference, dict) or not isinstance(reference.get("path"), str):
            raise ValueError(f'`reference` must be {{"path": "...", "start": seconds}}, got {reference!r}')
        unknown = sorted(set(reference) - set(REFERENCE_KEYS))
        if unknown:
            raise ValueError(f"`reference`: unknown key(s) {', '.join(unknown)} (it has path, start)")
        start = reference.get("start", 0.0)
        if not _number(start) or start < 0:
            raise ValueError(f"`reference.start` must be a number of seconds >= 0, got {start!r}")
        path = str(root / reference["path"]) if not os.path.isabs(reference["path"]) else reference["path"]
        if not os.path.exists(path):
            raise ValueError(f"reference audio {path} does not exist")
    return EvalSpec(
        id=str(entry.get("id", index)),
        prompt=prompt,
        segments=segments,
        lead_sheet=sheet,
        duration=float(duration),
        seed=seed,
        reference_path=path,
        reference_start=float(start),
        score_lead_sheet=score_sheet,
    )


def _reference_path(path: Path, relative_to: str | os.PathLike | None) -> str:
    """`path` as a spec file in `relative_to` names it (absolute when that is None or on another drive)."""
    path = Path(path).resolve()
    if relative_to is None:
        return str(path)
    try:
        return os.path.relpath(path, Path(relative_to).resolve())
    except ValueError:  # Windows: another drive has no relative path
        return str(path)


def _phrased(meta: dict, sections: list[Segment], phrasing: str, rng) -> tuple[str, list[Segment]]:
    """The global prompt and section captions of a synth song in the words of `phrasing` (see `music.phrasing`)."""
    from ..music.phrasing import facts_from_synth, section_caption, user_prompt

    song, facts = facts_from_synth(meta)
    prompt = user_prompt(song, rng, phrasing)
    if phrasing == "train":  # the training corpus captions sections with the synth's own descriptions
        return prompt, sections
    captions = [section_caption(f, rng, phrasing) for f in facts]
    return prompt, [Segment(s.start, s.end, s.label, c) for s, c in zip(sections, captions)]


def specs_from_synth(
    synth_dir: str | os.PathLike,
    duration: float,
    stem: str = "accompaniment",
    windows: str = "opening",
    windows_per_song: int = 1,
    phrasing: str = "train",
    seed: int = 0,
    lead_sheet_parts: str = "chords",
    relative_to: str | os.PathLike | None = None,
) -> list[dict]:
    """Specs from `dataset_builder synth` songs in `synth_dir`, with the songs' exact sections, lead sheets and their
    `stem` recording as reference.

    Args:
        windows: `"opening"` takes the first `duration` seconds of each song; `"boundaries"` takes
            `windows_per_song` windows from inside each song, each starting on a downbeat and crossing at least one
            section boundary (what users ask for: a short prompt over several sections).
        phrasing: `"train"` words the global prompt as the training corpus does; `"heldout"` uses prompt and section
            caption wordings that no training caption uses (`diffusers_s2acc.music.phrasing`), for an
            out-of-distribution set.
        seed: Draws the windows and wordings reproducibly.
        lead_sheet_parts: What the model is given besides tempo and meter: `"chords"` (the chart, as v1/v2 were
            evaluated), `"melody"` (the melody notes only; songs without a melody are skipped; the takes are still
            scored against the chart, through `score_lead_sheet`), or `"chords+melody"`.
        relative_to: The folder of the spec file these specs go to: reference paths are written relative to it, as
            [`load_specs`] resolves them (by default they are absolute).
    """
    import random

    from ..music.phrasing import PHRASINGS

    if windows not in ("opening", "boundaries"):
        raise ValueError(f"windows must be 'opening' or 'boundaries', got {windows!r}")
    if phrasing not in PHRASINGS:
        raise ValueError(f"phrasing must be one of {', '.join(PHRASINGS)}, got {phrasing!r}")
    if windows_per_song < 1:
        raise ValueError(f"windows_per_song must be >= 1, got {windows_per_song}")
    if lead_sheet_parts not in LEAD_SHEET_PARTS:
        raise ValueError(f"lead_sheet_parts must be one of {', '.join(LEAD_SHEET_PARTS)}, got {lead_sheet_parts!r}")
    specs = []
    for metadata_path in sorted(Path(synth_dir).glob("*/metadata.json")):
        meta = json.loads(metadata_path.read_text(encoding="utf-8"))
        # Separate draws for wording and windows: both phrasings of a song get the same windows.
        rng = random.Random(f"{seed}-{meta['song_id']}-windows")
        sections = [Segment(s["start"], s["end"], s["label"], s.get("caption", "")) for s in meta["sections"]]
        prompt, sections = _phrased(meta, sections, phrasing, random.Random(f"{seed}-{meta['song_id']}-{phrasing}"))
        song_duration = float(meta["duration"])
        starts = [0.0]
        if windows == "boundaries":
            downbeats = [float(t) for t in meta["downbeats"]] or [0.0]
            boundaries = [s.start for s in sections[1:] if 0 < s.start < song_duration]
            rng.shuffle(boundaries)
            starts = []
            for boundary in boundaries[:windows_per_song]:
                # The boundary lands between 25% and 75% of the window; the window starts on the downbeat before.
                target = max(0.0, min(boundary - rng.uniform(0.25, 0.75) * duration, song_duration - duration))
                start = max([d for d in downbeats if d <= target + 1e-6], default=0.0)
                starts.append(start)
        if "melody" in lead_sheet_parts and not meta["lead_sheet"].get("melody"):
            continue  # a song rendered without a melody has none to give
        chart = LeadSheet.from_dict({k: v for k, v in meta["lead_sheet"].items() if k != "melody"})
        given = {k: v for k, v in meta["lead_sheet"].items() if k != "melody" or "melody" in lead_sheet_parts}
        if "chords" not in lead_sheet_parts:
            given.pop("chords", None)
        sheet_all = LeadSheet.from_dict(given)
        for index, start in enumerate(starts):
            span = min(duration, song_duration - start)
            name = meta["song_id"] if windows == "opening" else f"{meta['song_id']}@{start:.2f}"
            specs.append(
                {
                    "id": name,
                    "prompt": prompt,
                    "segments": [s.to_dict() for s in crop_segments(sections, start, start + span)],
                    "lead_sheet": sheet_all.crop(start, start + span).to_dict(),
                    **(
                        {"score_lead_sheet": chart.crop(start, start + span).to_dict()}
                        if lead_sheet_parts == "melody"
                        else {}
                    ),
                    "duration": span,
                    "seed": len(specs),
                    "reference": {
                        "path": _reference_path(metadata_path.parent / meta["files"][stem], relative_to),
                        "start": start,
                    },
                }
            )
    if not specs and "melody" in lead_sheet_parts and any(Path(synth_dir).glob("*/metadata.json")):
        raise ValueError(f"no synth song in {synth_dir} has a melody (lead_sheet_parts={lead_sheet_parts!r})")
    if not specs:
        raise ValueError(f"no synth songs (*/metadata.json) in {synth_dir}")
    return specs
