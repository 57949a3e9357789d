"""Audio in and out of the package: one array layout `(channels, samples)` float32, one name for the rate
(`sampling_rate`), one loader, one channel matcher and one resampler.

Files are read with soundfile (WAV, FLAC, OGG and whatever libsndfile supports) rather than through a decoder that
silently down-mixes: a stereo file stays stereo until [`match_channels`] is asked to change it.
"""

from __future__ import annotations

import io
import os
from typing import Any, Mapping

import numpy as np


def decode_audio(value: Any) -> tuple[np.ndarray, int]:
    """A `datasets.Audio` cell (`{"array", "sampling_rate"}` or `{"bytes"/"path"}`) -> `(channels, samples)` float32
    and its sampling rate."""
    if isinstance(value, Mapping) and value.get("array") is not None:
        array = np.asarray(value["array"], dtype=np.float32)
        return (array[None] if array.ndim == 1 else array), int(value["sampling_rate"])
    if isinstance(value, Mapping) and (value.get("bytes") or value.get("path")):
        return read_audio(io.BytesIO(value["bytes"]) if value.get("bytes") else value["path"])
    raise ValueError(f"Cannot decode audio cell of type {type(value).__name__}.")


def read_audio(source: str | os.PathLike | io.IOBase) -> tuple[np.ndarray, int]:
    """Read a file (or file-like object) as `(channels, samples)` float32 and its sampling rate."""
    import soundfile

    if isinstance(source, (str, os.PathLike)) and not os.path.isfile(source):
        raise ValueError(f"Audio file {os.fspath(source)!r} does not exist.")
    try:
        data, rate = soundfile.read(source, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise ValueError(f"Cannot read audio from {source!r}: {error}") from None
    return np.ascontiguousarray(data.T), int(rate)


def load_audio(
    source: str | os.PathLike | io.IOBase | Mapping[str, Any],
    sampling_rate: int | None = None,
    channels: int | None = None,
) -> tuple[np.ndarray, int]:
    """Read audio from a path, a file-like object or a `datasets.Audio` cell, then resample it to `sampling_rate` and
    match it to `channels` when they are given.

    Returns:
        `(audio, sampling_rate)`: `audio` is `(channels, samples)` float32.
    """
    audio, rate = decode_audio(source) if isinstance(source, Mapping) else read_audio(source)
    if channels is not None:
        audio = match_channels(audio, channels)
    if sampling_rate is not None:
        audio, rate = resample(audio, rate, sampling_rate), int(sampling_rate)
    return audio, rate


def match_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Mono <-> stereo by averaging or duplicating; anything else is refused."""
    if audio.shape[0] == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True)
    if audio.shape[0] == 1:
        return np.repeat(audio, channels, axis=0)
    raise ValueError(f"Cannot map {audio.shape[0]} audio channels to {channels}.")


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """High-quality resampling (soxr) along the last axis."""
    if source_rate == target_rate:
        return audio
    import soxr

    return np.ascontiguousarray(soxr.resample(audio.T, source_rate, target_rate).T.astype(np.float32))
