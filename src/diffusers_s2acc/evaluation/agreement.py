"""Caption-audio agreement: how far what a caption claims is what the audio holds.

One implementation for the dataset builder's grading (`--agreement`), the caption-adherence metric of
`s2acc evaluate` and `metrics/caption_adherence`:

- [`caption_claims`] parses a caption's checkable claims (tempo, key, meter, energy, tone, drums) and checks each
  against measured [`Descriptors`];
- [`DescriptorAgreement`] (the offline default) scores the share of claims the measurements support;
- [`ClapAgreement`] scores the CLAP audio-text cosine similarity from a local CLAP model folder.

Scorers take audio in the package's layout, `(channels, samples)` (or mono), and its `sampling_rate`.
"""

from __future__ import annotations

import re
from typing import Protocol

import numpy as np

from ..analysis.descriptors import Descriptors, tempo_word
from ..audio import clap_audio, load_clap
from ..devices import default_device
from ..music.chords import parse_chord


class AgreementScorer(Protocol):
    name: str

    def __call__(
        self, caption: str, descriptors: Descriptors, audio: np.ndarray, sampling_rate: int
    ) -> tuple[float, dict]:
        """Agreement in [0, 1] of `caption` with `audio` (`(channels, samples)` or mono) and its measured
        `descriptors`, and the measures behind it."""


_TEMPO_WORDS = {
    "slow": "slow",
    "ballad-paced": "slow",
    "moderate": "moderate",
    "mid-tempo": "moderate",
    "upbeat": "upbeat",
    "lively": "upbeat",
    "fast": "fast",
    "driving": None,
}
_ENERGY_WORDS = {
    "soft": "low",
    "quiet": "low",
    "gentle": "low",
    "restrained": "low",
    "calm": "low",
    "energetic": "high",
    "loud": "high",
    "powerful": "high",
    "intense": "high",
}
_BRIGHT_WORDS = {
    "bright": "bright",
    "crisp": "bright",
    "airy": "bright",
    "dark": "dark",
    "mellow": "dark",
    "warm": "dark",
}
_KEY = re.compile(r"\b([A-G](?:#|b)?)[ -](major|minor)\b")
_BPM = re.compile(r"\b(\d{2,3})\s*BPM\b", re.IGNORECASE)
_METER = re.compile(r"\b([2-9])/4\b")


def _tempo_ok(claimed: float, measured: float) -> bool:
    # Half/double tempo is the same music counted differently; accept it.
    return any(abs(claimed * f - measured) <= 0.06 * measured for f in (0.5, 1.0, 2.0))


def caption_claims(caption: str, d: Descriptors) -> list[tuple[str, bool]]:
    """Every checkable claim in `caption` with whether the measured descriptors support it."""
    text = caption.lower()
    claims: list[tuple[str, bool]] = []
    for match in _BPM.finditer(caption):
        claims.append((f"tempo {match.group(1)} BPM", _tempo_ok(float(match.group(1)), d.tempo)))
    if not _BPM.search(caption):
        for word, bucket in _TEMPO_WORDS.items():
            if bucket and re.search(rf"\b{word}\b", text):
                claims.append(
                    (
                        f"tempo '{word}'",
                        tempo_word(d.tempo) == bucket
                        or tempo_word(d.tempo * 2) == bucket
                        or tempo_word(d.tempo / 2) == bucket,
                    )
                )
                break
    for match in _KEY.finditer(caption):
        claimed_root = parse_chord(match.group(1)).root
        measured_root = parse_chord(d.key.split()[0]).root
        same = claimed_root == measured_root and match.group(2) == d.mode
        # The relative major/minor shares every note: a common, forgivable disagreement.
        relative = (match.group(2) != d.mode) and (
            (claimed_root - measured_root) % 12 == (3 if match.group(2) == "major" else 9)
        )
        claims.append((f"key {match.group(1)} {match.group(2)}", same or relative))
    for match in _METER.finditer(caption):
        claims.append(
            (
                f"meter {match.group(0)}",
                int(match.group(1)) == d.meter or (int(match.group(1)) in (2, 4) and d.meter in (2, 4)),
            )
        )
    for word, bucket in _ENERGY_WORDS.items():
        if re.search(rf"\b{word}\b", text):
            claims.append((f"energy '{word}'", d.energy_word == bucket or d.energy_word == "medium"))
            break
    for word, bucket in _BRIGHT_WORDS.items():
        if re.search(rf"\b{word}\b", text):
            claims.append((f"tone '{word}'", d.brightness_word in (bucket, "balanced")))
            break
    if re.search(r"\b(no|without) (drums|percussion)\b", text):
        claims.append(("no drums", not d.has_drums))
    elif re.search(r"\b(drums|percussion|drum kit|beat)\b", text):
        claims.append(("drums", d.has_drums))
    return claims


class DescriptorAgreement:
    """Share of the caption's checkable claims (tempo, key, meter, energy, tone, drums) that the measured
    descriptors support. Captions with no checkable claim score 0.5: nothing is known either way."""

    name = "descriptors"

    def __call__(
        self, caption: str, descriptors: Descriptors, audio: np.ndarray, sampling_rate: int
    ) -> tuple[float, dict]:
        claims = caption_claims(caption, descriptors)
        if not claims:
            return 0.5, {"claims": 0, "failed_claims": []}
        passed = sum(ok for _, ok in claims)
        return passed / len(claims), {"claims": len(claims), "failed_claims": [c for c, ok in claims if not ok]}


class ClapAgreement:
    """Cosine similarity of CLAP audio and text embeddings (transformers `ClapModel`, e.g. a local copy of
    laion/larger_clap_music), mapped from [-1, 1] to [0, 1]."""

    name = "clap"

    def __init__(self, model_path: str, device: str | None = None):
        self.device = device or default_device()
        self.model, self.processor = load_clap(model_path, self.device)

    def __call__(
        self, caption: str, descriptors: Descriptors, audio: np.ndarray, sampling_rate: int
    ) -> tuple[float, dict]:
        import torch

        mono, rate = clap_audio(audio, sampling_rate, self.processor)
        inputs = self.processor(
            text=[caption], audios=[mono], sampling_rate=rate, return_tensors="pt", padding=True
        ).to(self.device)
        with torch.no_grad():
            outputs = self.model(**inputs)
        a = torch.nn.functional.normalize(outputs.audio_embeds, dim=-1)
        t = torch.nn.functional.normalize(outputs.text_embeds, dim=-1)
        cosine = float((a * t).sum())
        return (cosine + 1) / 2, {"clap_cosine": cosine}
