"""Finding input files and loading them, with a clear reason for every file that cannot be used."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffusers_s2acc.audio import AUDIO_EXTENSIONS, UndecodableAudio, read_audio


SYNTH_METADATA = "metadata.json"
#: Sampling rates a file may have: below 8 kHz there is no music to caption, above 768 kHz it is not audio.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 768000
SYNTH_INDEX = "synth_index.json"


class RejectedInput(Exception):
    """A file that cannot enter the corpus; `str(error)` is the reason written to rejects.jsonl."""


@dataclass(frozen=True)
class InputFile:
    path: Path  # absolute
    relpath: str  # relative to the input root, with forward slashes: the file's identity in the corpus
    synth_metadata: Path | None = None  # metadata.json of a synth song, when the file is one's mix

    @property
    def key(self) -> str:
        import hashlib

        return hashlib.sha1(self.relpath.encode()).hexdigest()[:16]


@dataclass
class Audio:
    samples: np.ndarray  # (channels, n) float32: the layout of `diffusers_s2acc.audio`
    sampling_rate: int

    @property
    def duration(self) -> float:
        return self.samples.shape[-1] / self.sampling_rate


def _is_synth_song(directory: Path) -> bool:
    meta = directory / SYNTH_METADATA
    if not meta.is_file():
        return False
    try:
        return str(json.loads(meta.read_text()).get("format", "")).startswith("s2acc-synth/")
    except (ValueError, OSError):
        return False


def discover(root: str | Path) -> list[InputFile]:
    """Every file under `root`, sorted. Synth song folders contribute their mix only (stems, MIDI and metadata
    are side files); every other file is an input, and unsupported ones are rejected later with a reason."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"Input folder {root} does not exist or is not a folder.")
    found: list[InputFile] = []
    synth_dirs: set[Path] = set()
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.name == SYNTH_INDEX and path.parent == root:
            continue
        parent = path.parent
        if parent in synth_dirs or (parent not in synth_dirs and _is_synth_song(parent)):
            synth_dirs.add(parent)
            if path.stem == "mix" and path.suffix.lower() in AUDIO_EXTENSIONS:
                found.append(InputFile(path, path.relative_to(root).as_posix(), parent / SYNTH_METADATA))
            continue
        found.append(InputFile(path, path.relative_to(root).as_posix()))
    return found


def _non_finite_reason(samples: np.ndarray) -> str | None:
    """Why samples that are not all finite cannot enter the corpus, with the counts; `None` when all are finite."""
    finite = np.isfinite(samples)
    if finite.all():
        return None
    nan = int(np.isnan(samples).sum())
    inf = int(samples.size - finite.sum()) - nan
    return f"{nan + inf} of {samples.size} samples are not finite ({nan} NaN, {inf} infinite)"


def load_audio(item: InputFile, *, min_duration: float, silence_dbfs: float = -60.0) -> Audio:
    """Decode a file and check it is usable. Raises `RejectedInput` naming the problem.

    Files with any NaN or infinite sample are rejected, however few: such samples mean a broken writer or a float
    overflow, every statistic computed from them (loudness, silence, grades) is meaningless, and zeroing them would
    store clicks and drop-outs as music. The reason gives the counts.
    """
    path = item.path
    suffix = path.suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        raise RejectedInput(
            f"unsupported file type '{suffix or path.name}' (expected one of {', '.join(AUDIO_EXTENSIONS)})"
        )
    if path.stat().st_size == 0:
        raise RejectedInput("empty file (0 bytes)")
    try:
        audio = Audio(*read_audio(path))
    except UndecodableAudio as error:
        raise RejectedInput(error.reason) from None
    if audio.samples.size == 0:
        raise RejectedInput("no audio samples (empty stream)")
    if not MIN_SAMPLE_RATE <= audio.sampling_rate <= MAX_SAMPLE_RATE:
        raise RejectedInput(
            f"unsupported sample rate {audio.sampling_rate} Hz (expected {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)"
        )
    reason = _non_finite_reason(audio.samples)
    if reason is not None:
        raise RejectedInput(reason)
    if audio.duration < min_duration:
        raise RejectedInput(f"too short: {audio.duration:.2f} s < --min-duration {min_duration:g} s")
    peak = float(np.abs(audio.samples).max())
    rms_db = 20 * np.log10(float(np.sqrt(np.mean(audio.samples.astype(np.float64) ** 2))) + 1e-12)
    if peak < 1e-4 or rms_db < silence_dbfs:
        raise RejectedInput(f"silent: RMS {rms_db:.1f} dBFS below {silence_dbfs:g} dBFS")
    # A constant offset (DC) is loud by RMS but inaudible: what is heard is what varies around each channel's mean.
    samples = audio.samples.astype(np.float64)
    varying = samples - samples.mean(axis=-1, keepdims=True)
    varying_db = 20 * np.log10(float(np.sqrt(np.mean(varying**2))) + 1e-12)
    if varying_db < silence_dbfs:
        offset = float(np.abs(samples.mean(axis=-1)).max())
        raise RejectedInput(
            f"no sound: a constant offset (DC {offset:.3g}) with the rest at {varying_db:.1f} dBFS, below "
            f"{silence_dbfs:g} dBFS"
        )
    return audio
