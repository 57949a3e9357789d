"""Accompaniment extraction: remove the lead (vocals, or a synth song's melody) before the song is cut up.

Backends: `none` (keep the mix), `stems` (a synth song's own accompaniment stem), `demucs` (Demucs from a local
checkpoint; needs the `demucs` package). The paper trains on instrumentals only, so real songs with vocals should
go through `demucs`; instrumental collections can use `none`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from diffusers_s2acc.audio import match_channels, read_audio, resample

from ..audio_io import Audio, InputFile
from . import default_device


class Separator(Protocol):
    name: str

    def __call__(self, audio: Audio, item: InputFile) -> Audio: ...


class NoSeparation:
    name = "none"

    def __call__(self, audio: Audio, item: InputFile) -> Audio:
        return audio


class StemSeparation:
    """Use the accompaniment stem written by `synth` (falls back to the mix for files that are not synth songs)."""

    name = "stems"

    def __call__(self, audio: Audio, item: InputFile) -> Audio:
        if item.synth_metadata is None:
            return audio
        files = json.loads(item.synth_metadata.read_text()).get("files", {})
        stem = files.get("accompaniment")
        if stem is None:
            return audio
        return Audio(*read_audio(item.synth_metadata.parent / stem))


class DemucsSeparation:
    """Demucs (htdemucs family) from a local checkpoint: accompaniment = sum of every source except vocals."""

    name = "demucs"

    def __init__(self, checkpoint: str, device: str | None = None):
        path = Path(checkpoint)
        if not path.exists():
            raise FileNotFoundError(f"Demucs checkpoint {checkpoint} not found (pass --demucs-checkpoint PATH).")
        try:
            import torch
            from demucs.apply import apply_model
            from demucs.states import load_model
        except ImportError as error:
            raise ImportError("The demucs backend needs `pip install demucs` (and a local checkpoint).") from error
        self._torch, self._apply = torch, apply_model
        package = torch.load(str(path), map_location="cpu", weights_only=False)
        self.model = load_model(package).eval()
        self.device = device or default_device()
        self.model.to(self.device)

    def __call__(self, audio: Audio, item: InputFile) -> Audio:
        torch = self._torch
        rate = self.model.samplerate
        # Demucs separates stereo mixes: a mono file is duplicated, a multichannel one refused by match_channels.
        samples = resample(match_channels(audio.samples, 2), audio.sampling_rate, rate)
        mix = torch.from_numpy(np.ascontiguousarray(samples))[None].to(self.device)
        with torch.no_grad():
            sources = self._apply(self.model, mix, device=self.device, progress=False)[0]
        keep = [i for i, name in enumerate(self.model.sources) if name != "vocals"]
        accompaniment = sources[keep].sum(dim=0).cpu().numpy().astype(np.float32)
        return Audio(accompaniment, rate)


def make_separator(name: str, demucs_checkpoint: str | None = None) -> Separator:
    if name == "none":
        return NoSeparation()
    if name == "stems":
        return StemSeparation()
    if name == "demucs":
        if not demucs_checkpoint:
            raise ValueError("--separation demucs needs --demucs-checkpoint PATH (no weights are downloaded).")
        return DemucsSeparation(demucs_checkpoint)
    raise ValueError(f"Unknown separation backend {name!r}; choose none, stems or demucs.")
