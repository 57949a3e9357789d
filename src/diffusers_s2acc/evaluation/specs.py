"""Evaluation specs: what to generate (prompt, segments, lead sheet, duration, seed) and, optionally, the reference
recording to compare with. A spec file is a JSON list of

    {"id": "song_00150", "prompt": "...", "segments": [{start, end, label, caption}], "lead_sheet": {...},
     "duration": 10.0, "seed": 0, "reference": {"path": "song_00150/accompaniment.flac", "start": 0.0}}

Relative reference paths are resolved against the spec file's folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..music.lead_sheet import LeadSheet
from ..music.structure import Segment, coerce_segments, crop_segments


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

    def load_reference(self) -> tuple[np.ndarray, int] | None:
        """Reference audio `(channels, samples)` over the spec's span, or None."""
        if self.reference_path is None:
            return None
        import soundfile

        info = soundfile.info(self.reference_path)
        start = int(self.reference_start * info.samplerate)
        audio, rate = soundfile.read(
            self.reference_path, start=start, frames=int(self.duration * info.samplerate), dtype="float32", always_2d=True
        )
        return audio.T, rate


def load_specs(path: str | os.PathLike) -> list[EvalSpec]:
    """Read and validate a spec file (errors name the spec and the field)."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"spec file {path} does not exist") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"spec file {path} is not valid JSON: {error.msg} (line {error.lineno})") from None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"spec file {path} must hold a non-empty list of specs")
    specs = []
    for index, entry in enumerate(entries):
        name = entry.get("id", f"#{index}") if isinstance(entry, dict) else f"#{index}"
        try:
            specs.append(_parse_spec(entry, index, path.parent))
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"spec {name}: {error}") from None
    return specs


def _parse_spec(entry: dict[str, Any], index: int, root: Path) -> EvalSpec:
    segments = coerce_segments(entry.get("segments")) or []
    sheet = LeadSheet.from_dict(entry["lead_sheet"]) if entry.get("lead_sheet") else None
    duration = entry.get("duration") or (segments[-1].end if segments else sheet.duration if sheet else None)
    if not isinstance(duration, (int, float)) or duration <= 0:
        raise ValueError("needs a positive duration (or segments / a lead sheet to take it from)")
    reference = entry.get("reference")
    path = None
    if reference:
        path = str(root / reference["path"]) if not os.path.isabs(reference["path"]) else reference["path"]
        if not os.path.exists(path):
            raise ValueError(f"reference audio {path} does not exist")
    return EvalSpec(
        id=str(entry.get("id", index)),
        prompt=str(entry.get("prompt", "")),
        segments=segments,
        lead_sheet=sheet,
        duration=float(duration),
        seed=int(entry.get("seed", index)),
        reference_path=path,
        reference_start=float(reference.get("start", 0.0)) if reference else 0.0,
    )


def specs_from_synth(synth_dir: str | os.PathLike, duration: float, stem: str = "accompaniment") -> list[dict]:
    """Specs for the first `duration` seconds of every `dataset_builder synth` song in `synth_dir`, with the song's
    exact sections, captions and lead sheet, and its `stem` recording as reference."""
    specs = []
    for metadata_path in sorted(Path(synth_dir).glob("*/metadata.json")):
        meta = json.loads(metadata_path.read_text(encoding="utf-8"))
        sections = [Segment(s["start"], s["end"], s["label"], s.get("caption", "")) for s in meta["sections"]]
        span = min(duration, float(meta["duration"]))
        sheet = LeadSheet.from_dict({k: v for k, v in meta["lead_sheet"].items() if k != "melody"}).crop(0.0, span)
        specs.append(
            {
                "id": meta["song_id"],
                "prompt": f"{meta['meter']} accompaniment in {meta['key']} at {round(meta['tempo'])} BPM",
                "segments": [s.to_dict() for s in crop_segments(sections, 0.0, span)],
                "lead_sheet": sheet.to_dict(),
                "duration": span,
                "seed": len(specs),
                "reference": {"path": str(metadata_path.parent / meta["files"][stem]), "start": 0.0},
            }
        )
    if not specs:
        raise ValueError(f"no synth songs (*/metadata.json) in {synth_dir}")
    return specs
