"""Song structure: section labels and the `Segment` dataclass that carries a section's own caption."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence


#: Section labels the transformer embeds. Index 0 of the embedding table is reserved for "no section".
SECTION_LABELS = ("intro", "verse", "pre-chorus", "chorus", "bridge", "solo", "outro", "other")

_ALIASES = {
    "prechorus": "pre-chorus",
    "pre chorus": "pre-chorus",
    "pre_chorus": "pre-chorus",
    "refrain": "chorus",
    "hook": "chorus",
    "instrumental": "solo",
    "break": "bridge",
    "interlude": "bridge",
    "ending": "outro",
    "coda": "outro",
}


def normalize_label(label: str) -> str:
    """Map a section label (case-insensitive, common aliases allowed) onto [`SECTION_LABELS`].

    A trailing number is a section's occurrence, not part of its kind: `"Verse 1"` and `"chorus2"` are a verse and
    a chorus.

    Raises:
        ValueError: naming the label when it is unknown.
    """
    if not isinstance(label, str):
        raise ValueError(f"Section label must be a string, got {type(label).__name__}.")
    key = re.sub(r"[\s_-]*\d+$", "", label.strip().lower())
    key = _ALIASES.get(key, key)
    if key not in SECTION_LABELS:
        raise ValueError(f"Unknown section label {label!r}; expected one of {', '.join(SECTION_LABELS)}.")
    return key


def label_to_id(label: str) -> int:
    """Embedding index of a label: 1-based, 0 meaning "no section"."""
    return SECTION_LABELS.index(normalize_label(label)) + 1


@dataclass
class Segment:
    """One section of the piece, with its own description.

    Args:
        start (`float`): Start time in seconds.
        end (`float`): End time in seconds (exclusive).
        label (`str`): Section label, one of [`SECTION_LABELS`] (aliases such as "refrain" are accepted).
        caption (`str`, *optional*): What this section should sound like. Empty means "only the global prompt".
    """

    start: float
    end: float
    label: str = "other"
    caption: str = ""

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"Segment {name} must be a finite number of seconds, got {value!r}.")
            setattr(self, name, float(value))
        if self.start < 0:
            raise ValueError(f"Segment start must be >= 0, got {self.start}.")
        if self.end <= self.start:
            raise ValueError(f"Segment end ({self.end}) must be after its start ({self.start}).")
        self.label = normalize_label(self.label)
        if self.caption is None:
            self.caption = ""
        if not isinstance(self.caption, str):
            raise ValueError(f"Segment caption must be a string, got {type(self.caption).__name__}.")

    @property
    def duration(self) -> float:
        return self.end - self.start

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Segment":
        """Build from `{"start": 0, "end": 8, "label": "intro", "caption": "..."}`; `text` is accepted for caption."""
        if isinstance(data, Segment):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(f"A segment must be a mapping with start/end/label/caption, got {type(data).__name__}.")
        unknown = set(data) - {"start", "end", "label", "caption", "text"}
        if unknown:
            raise ValueError(f"Unknown segment field(s): {', '.join(sorted(unknown))}.")
        missing = {"start", "end"} - set(data)
        if missing:
            raise ValueError(f"Segment is missing field(s): {', '.join(sorted(missing))}.")
        caption = data.get("caption", data.get("text", ""))
        return cls(start=data["start"], end=data["end"], label=data.get("label", "other"), caption=caption)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def coerce_segments(segments: Sequence[Segment | Mapping[str, Any]] | None) -> list[Segment] | None:
    """Turn a list of `Segment`s or dicts into sorted `Segment`s, refusing overlaps.

    Messages do not name the argument: callers prefix their own (`segments` in the pipeline, a spec's id, ...).
    """
    if segments is None:
        return None
    if isinstance(segments, (str, bytes, Mapping)) or not isinstance(segments, Sequence):
        raise ValueError("must be a list of Segment objects or dicts.")
    parsed = sorted((Segment.from_dict(s) for s in segments), key=lambda s: s.start)
    if not parsed:
        raise ValueError("the list is empty; pass None for no sections.")
    for previous, current in zip(parsed, parsed[1:]):
        if current.start < previous.end - 1e-6:
            raise ValueError(
                f"sections overlap: [{previous.start}, {previous.end}) and [{current.start}, {current.end})."
            )
    return parsed


def segments_per_prompt(
    segments: Sequence[Segment | Mapping[str, Any]] | Sequence[Sequence[Segment | Mapping[str, Any]] | None] | None,
    batch_size: int,
) -> list[list[Segment] | None]:
    """
    The sections of each of `batch_size` prompts, each list coerced by [`coerce_segments`]: one list of segments (or
    dicts) is every prompt's; a list of such lists (or `None`s) holds one entry per prompt. No segments (`None` or an
    empty list) is `None` for every prompt.

    Messages do not name the argument: callers prefix their own (`segments` in the pipelines).
    """
    if not segments:
        return [None] * batch_size
    if isinstance(segments, list) and (segments[0] is None or not isinstance(segments[0], (Segment, Mapping))):
        if len(segments) != batch_size:
            raise ValueError(f"{len(segments)} lists of segments given for {batch_size} prompts.")
        return [coerce_segments(entry) for entry in segments]
    # Coerced once per prompt, as a list per prompt was: each prompt gets its own list.
    return [coerce_segments(segments) for _ in range(batch_size)]


def crop_segments(segments: Sequence[Segment], start: float, end: float) -> list[Segment]:
    """Segments overlapping `[start, end)`, clipped to it and shifted so that `start` becomes 0."""
    return [
        Segment(max(s.start, start) - start, min(s.end, end) - start, s.label, s.caption)
        for s in segments
        if s.end > start and s.start < end
    ]
