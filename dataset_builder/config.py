"""Build options, and the fingerprint that decides whether a finished file's result is still valid."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path


# Part of every result fingerprint: bump it when an analysis changes, so reruns recompute instead of skipping.
BUILDER_VERSION = "0.1.4"


@dataclass
class BuildConfig:
    separation: str = "none"  # none | stems | demucs
    segmenter: str = "offline"  # offline | oracle | learned
    captioner: str = "template"  # template | metadata | lalm
    quality: str = "signal"  # signal | audiobox
    agreement: str = "descriptors"  # descriptors | clap
    melody: bool = True  # basic-pitch transcription for lead sheets
    lead_sheets: str = "estimated"  # estimated (from the audio) | oracle (synth metadata; others: estimated)
    clip_unit: str = "section"  # section (one clip per section) | song (one clip per song, every section in it)
    sample_rate: int = 44100  # corpus audio rate
    min_duration: float = 5.0  # shorter files are rejected
    min_segment: float = 2.0  # shorter sections are not turned into clips
    keep_top: float = 0.2
    demucs_checkpoint: str | None = None
    segmenter_checkpoint: str | None = None
    lalm_path: str | None = None
    audiobox_checkpoint: str | None = None
    clap_path: str | None = None

    def validate(self) -> None:
        if not 8000 <= self.sample_rate <= 96000:
            raise ValueError(f"--sample-rate must be in [8000, 96000], got {self.sample_rate}.")
        if self.min_duration <= 0 or self.min_segment <= 0:
            raise ValueError("--min-duration and --min-segment must be positive.")
        if self.lead_sheets not in ("estimated", "oracle"):
            raise ValueError(f"--lead-sheets must be estimated or oracle, got {self.lead_sheets!r}.")
        if self.clip_unit not in ("section", "song"):
            raise ValueError(f"--clip-unit must be section or song, got {self.clip_unit!r}.")
        if not 0 < self.keep_top <= 1:
            raise ValueError(f"--keep-top must be in (0, 1], got {self.keep_top}.")
        # Model backends need local weights; check before any file is processed so a typo fails the run at once
        # instead of rejecting every file with the same error.
        required = {
            ("separation", "demucs"): ("demucs_checkpoint", "--demucs-checkpoint"),
            ("segmenter", "learned"): ("segmenter_checkpoint", "--segmenter-checkpoint"),
            ("captioner", "lalm"): ("lalm_path", "--lalm-path"),
            ("quality", "audiobox"): ("audiobox_checkpoint", "--audiobox-checkpoint"),
            ("agreement", "clap"): ("clap_path", "--clap-path"),
        }
        for (stage, backend), (field, option) in required.items():
            if getattr(self, stage) != backend:
                continue
            path = getattr(self, field)
            if not path:
                raise ValueError(f"--{stage} {backend} needs {option} PATH (nothing is downloaded).")
            if not Path(path).exists():
                raise FileNotFoundError(f"{option} {path} does not exist.")

    def fingerprint(self) -> str:
        """Hash of every option that changes a file's result (not `keep_top`, which only acts at assembly)."""
        data = asdict(self)
        data.pop("keep_top")
        data["version"] = BUILDER_VERSION
        return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]

    def to_dict(self) -> dict:
        return asdict(self)
