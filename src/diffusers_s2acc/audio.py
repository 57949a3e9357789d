"""Audio in and out of the package: one array layout `(channels, samples)` float32, one name for the rate
(`sampling_rate`), one reader, one channel matcher, one resampler and one CLAP loader. Everything that reads,
down-mixes or resamples audio (training, evaluation, analysis, the Space, `dataset_builder`, `metrics/`) calls these.

Files are read with soundfile (WAV, FLAC, OGG, AIFF and whatever libsndfile supports) rather than through a decoder
that silently down-mixes: a stereo file stays stereo until [`match_channels`] is asked to change it. Formats
libsndfile lacks (m4a, opus, some mp3) are decoded by the `ffmpeg` binary when it is installed.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np


#: File types `read_audio` accepts (the dataset builder takes exactly these from an input folder).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".opus", ".m4a")
#: The ones libsndfile decodes itself: a failure there is a broken file, not a missing decoder.
SOUNDFILE_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif")


class UndecodableAudio(ValueError):
    """Audio that cannot be decoded; `reason` is the one-line cause (the dataset builder's reject reason)."""

    def __init__(self, source: Any, reason: str):
        # A path is named as the user typed it, not as `PosixPath('...')`.
        name = os.fspath(source) if isinstance(source, os.PathLike) else source
        super().__init__(f"Cannot read audio from {name!r}: {reason}")
        self.reason = reason


def pcm_to_float(array: Any) -> np.ndarray:
    """Samples as float32 in [-1, 1]: integer PCM (what `scipy.io.wavfile.read` returns) is scaled by its type's full
    scale (int16 by 2**15, unsigned 8-bit around 128, ...); float arrays are only cast.

    Raises:
        `ValueError` for arrays that hold no numbers (strings, objects, booleans, complex).
    """
    array = np.asarray(array)
    if array.dtype.kind == "f":
        return array.astype(np.float32, copy=False)
    if array.dtype.kind == "i":
        return (array.astype(np.float64) / float(2 ** (8 * array.dtype.itemsize - 1))).astype(np.float32)
    if array.dtype.kind == "u":
        half = float(2 ** (8 * array.dtype.itemsize - 1))
        return ((array.astype(np.float64) - half) / half).astype(np.float32)
    raise ValueError(f"audio samples must be float or integer PCM, got an array of {array.dtype}")


def decode_audio(value: Any) -> tuple[np.ndarray, int]:
    """A `datasets.Audio` cell (`{"array", "sampling_rate"}` or `{"bytes"/"path"}`) -> `(channels, samples)` float32
    and its sampling rate."""
    if isinstance(value, Mapping) and value.get("array") is not None:
        array = pcm_to_float(value["array"])
        return (array[None] if array.ndim == 1 else array), int(value["sampling_rate"])
    if isinstance(value, Mapping) and (value.get("bytes") or value.get("path")):
        return read_audio(io.BytesIO(value["bytes"]) if value.get("bytes") else value["path"])
    raise ValueError(f"Cannot decode audio cell of type {type(value).__name__}.")


def _decode_with_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    """Formats libsndfile lacks (m4a, opus, some mp3): decoded to float32 WAV by the ffmpeg binary."""
    import soundfile

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise UndecodableAudio(
            path, f"cannot decode {path.suffix} without ffmpeg (install it with scripts/install_system_deps.sh)"
        )
    result = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-f", "wav", "-acodec", "pcm_f32le", "-"], capture_output=True
    )
    if result.returncode != 0 or not result.stdout:
        # ffmpeg reports over several lines; a reason is one line (rejects.jsonl, the build summary).
        message = " ".join(result.stderr.decode(errors="replace").split())
        raise UndecodableAudio(path, f"corrupted or undecodable audio: {message[:200] or 'ffmpeg decoded nothing'}")
    data, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T), int(rate)


def read_audio(
    source: str | os.PathLike | io.IOBase, start: float = 0.0, duration: float | None = None
) -> tuple[np.ndarray, int]:
    """Read a file (or file-like object) as `(channels, samples)` float32 and its sampling rate.

    Args:
        source: a path (any of [`AUDIO_EXTENSIONS`]; non-libsndfile formats need `ffmpeg`) or a file-like object.
        start: seconds to skip at the beginning.
        duration: seconds to read (default: to the end).

    Raises:
        `ValueError` when the file does not exist; [`UndecodableAudio`] (a `ValueError`) when it cannot be decoded.
    """
    import soundfile

    path = Path(source) if isinstance(source, (str, os.PathLike)) else None
    if not (isinstance(start, (int, float, np.number)) and math.isfinite(start) and start >= 0):
        # soundfile reads a negative start from the end of the file: never what a "seconds to skip" means.
        raise ValueError(f"start must be a number of seconds >= 0, got {start!r}")
    if path is not None and not path.is_file():
        raise ValueError(f"Audio file {os.fspath(source)!r} does not exist.")
    try:
        if start or duration is not None:
            rate = soundfile.info(source).samplerate
            first, frames = int(start * rate), -1 if duration is None else int(duration * rate)
            data, rate = soundfile.read(source, start=first, frames=frames, dtype="float32", always_2d=True)
        else:
            data, rate = soundfile.read(source, dtype="float32", always_2d=True)
    except (RuntimeError, ValueError, TypeError, soundfile.SoundFileError) as error:
        if path is None or path.suffix.lower() in SOUNDFILE_EXTENSIONS:
            raise UndecodableAudio(source, f"corrupted or undecodable audio: {error}") from None
        audio, rate = _decode_with_ffmpeg(path)
        first = int(start * rate)
        return audio[:, first : None if duration is None else first + int(duration * rate)], rate
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


#: File types [`write_audio`] writes: float32 WAV, 24-bit FLAC.
WRITE_EXTENSIONS = (".wav", ".flac")


def check_output_path(
    path: str | os.PathLike,
    overwrite: bool = False,
    extensions: tuple[str, ...] | None = None,
    folder: bool = False,
    protect: tuple[str | os.PathLike, ...] = (),
) -> Path:
    """Check, before any work is done, that `path` can be written, and return it as a `Path`.

    Every entry point (the CLI, the Space, the scripts) calls this for every output before it loads a model, so that
    a run never ends in a traceback after minutes of work, and nothing a user had is replaced without asking.

    Args:
        path: the file (or, with `folder=True`, the folder) to write.
        overwrite: allow replacing an existing file (never a folder by a file, or a file by a folder).
        extensions: the file types allowed (lower case, with the dot), e.g. [`WRITE_EXTENSIONS`].
        folder: `path` is a folder to write files into (created when missing).
        protect: files that must never be the output whatever `overwrite` says (the run's own inputs).

    Raises:
        `ValueError` with a one-line reason (callers prefix the flag or field that named the path).
    """
    path = Path(path)
    name = os.fspath(path)
    # A folder is named as one before its (usually empty) extension is: "unsupported extension ''" would send the
    # user looking for a typo in a name that is right, only of a folder.
    if not folder and path.is_dir():
        raise ValueError(f"{name} is a folder; name a file")
    if extensions is not None and not folder and path.suffix.lower() not in extensions:
        raise ValueError(f"unsupported extension {path.suffix!r} in {name}; use {' or '.join(extensions)}")
    for other in protect:
        if path.exists() and Path(other).exists() and os.path.samefile(path, other):
            raise ValueError(f"{name} is an input of this run; write the output elsewhere")
    if folder:
        if path.exists() and not path.is_dir():
            raise ValueError(f"{name} is a file, not a folder")
    elif path.exists() and not overwrite:
        raise ValueError(f"{name} exists; pass --overwrite to replace it")
    existing = path if folder and path.is_dir() else next((p for p in path.parents if p.exists()), Path("."))
    if not existing.is_dir():
        raise ValueError(f"{os.fspath(existing)} is a file, so {name} cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write to {os.fspath(existing)} (permission denied)")
    if path.exists() and not folder and not os.access(path, os.W_OK):
        raise ValueError(f"{name} is read-only")
    return path


def write_atomically(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Write a file atomically: `write(partial)` fills a hidden file beside `path`, which is then renamed to `path`,
    so an interrupted run (or a full disk) never leaves a truncated file under the real name, and a download never
    serves a half-written one. The one file writer of the package: [`write_audio`] and the Space's pictures use it.

    Raises:
        whatever `write` raises (the partial file is removed first), or `OSError` when the folder cannot be made.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
    return path


def write_audio(path: str | os.PathLike, audio: np.ndarray, sampling_rate: int) -> Path:
    """Write `(channels, samples)` audio to a .wav (float32) or .flac (24-bit, clipped) file, atomically (see
    [`write_atomically`]).

    Raises:
        `ValueError` for an unsupported extension or audio without samples (a file of 0 frames plays as nothing).
    """
    import soundfile

    path = Path(path)
    audio = np.asarray(audio)
    if path.suffix.lower() not in WRITE_EXTENSIONS:
        raise ValueError(f"unsupported extension {path.suffix!r} in {os.fspath(path)}; use .wav or .flac")
    if audio.ndim != 2 or audio.shape[-1] == 0:
        raise ValueError(f"no audio to write to {os.fspath(path)} (shape {audio.shape})")
    fmt = path.suffix.lstrip(".").upper()

    def write(partial: Path) -> None:
        if fmt == "FLAC":
            # FLAC stores integers only (libsndfile refuses FLOAT): 24-bit, clipped so out-of-range samples do not wrap.
            soundfile.write(partial, np.clip(audio.T, -1.0, 1.0), sampling_rate, subtype="PCM_24", format=fmt)
        else:
            soundfile.write(partial, audio.T, sampling_rate, subtype="FLOAT", format=fmt)

    return write_atomically(path, write)


def match_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Mono <-> stereo by averaging or duplicating; anything else is refused."""
    if audio.shape[0] == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True)
    if audio.shape[0] == 1:
        return np.repeat(audio, channels, axis=0)
    raise ValueError(f"Cannot map {audio.shape[0]} audio channels to {channels}.")


def to_mono(audio: np.ndarray) -> np.ndarray:
    """`(channels, samples)` or `(samples,)` audio -> `(samples,)` float32, channels averaged."""
    audio = np.asarray(audio)
    if audio.ndim not in (1, 2):
        raise ValueError(f"Audio must be (channels, samples) or (samples,), got shape {audio.shape}.")
    return (audio.mean(axis=0) if audio.ndim == 2 else audio).astype(np.float32, copy=False)


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """High-quality resampling (soxr) along the last axis of `(samples,)` or `(channels, samples)` audio."""
    if source_rate == target_rate:
        return audio
    import soxr

    return np.ascontiguousarray(soxr.resample(audio.T, source_rate, target_rate).T.astype(np.float32))


def load_clap(model_path: str | os.PathLike, device: str = "cpu"):
    """A local transformers CLAP model folder (e.g. a copy of laion/larger_clap_music) as `(model, processor)`, the
    model in eval mode on `device`. Nothing is downloaded.

    Raises:
        `FileNotFoundError` naming the folder when it does not exist.
    """
    from transformers import ClapModel, ClapProcessor

    if not Path(model_path).is_dir():
        raise FileNotFoundError(f"CLAP model folder {model_path} not found.")
    model = ClapModel.from_pretrained(model_path, local_files_only=True).to(device).eval()
    return model, ClapProcessor.from_pretrained(model_path, local_files_only=True)


def clap_audio(audio: np.ndarray, sampling_rate: int, processor) -> tuple[np.ndarray, int]:
    """`audio` as a CLAP processor wants it: mono at the processor's sampling rate."""
    rate = processor.feature_extractor.sampling_rate
    return resample(to_mono(audio), sampling_rate, rate), rate
