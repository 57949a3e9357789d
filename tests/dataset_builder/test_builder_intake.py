"""Table-driven fuzz of the builder's file intake (issue 11): odd files end in a reject with a reason, never in a
traceback, and no good file is lost. Deterministic (seeded bytes) and fast: no build runs, only `discover` and
`load_audio`."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from dataset_builder.audio_io import RejectedInput, discover, load_audio


RNG = np.random.default_rng(11)
SR = 16000
MIN_DURATION = 1.0


def _music(seconds: float = 2.0, channels: int = 1, rate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t)
    return np.stack([tone * (1 - 0.05 * c) for c in range(channels)], axis=1).astype(np.float32)


def _wav_bytes(samples: np.ndarray, rate: int = SR, subtype: str = "FLOAT") -> bytes:
    import io

    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def _riff_header(channels: int, rate: int, data_bytes: int, bits: int = 16) -> bytes:
    """A PCM WAV header declaring whatever it is told to (0 channels, 4 GB of data, ...)."""
    block = max(channels, 1) * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, bits)
    return (
        b"RIFF"
        + struct.pack("<I", min(36 + data_bytes, 0xFFFFFFFF))
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def _partly(value: float) -> np.ndarray:
    samples = _music()
    samples[1000:1005] = value
    return samples


GOOD = _wav_bytes(_music())

# (file name, content, expected): expected is "accept" or a substring of the reject reason.
CASES = [
    # good files, in every shape a user has: none may be lost
    ("good.wav", GOOD, "accept"),
    ("stereo_pcm16.wav", _wav_bytes(_music(channels=2), subtype="PCM_16"), "accept"),
    ("eight_channels.wav", _wav_bytes(_music(channels=8)), "accept"),
    ("rate_11025.wav", _wav_bytes(_music(rate=11025), rate=11025), "accept"),
    ("sön g 🎵.wav", GOOD, "accept"),
    ("%2e%2e%2f..%2fetc%2fpasswd.wav", GOOD, "accept"),
    ("..hidden-looking.wav", GOOD, "skipped"),  # discover skips dot files (editor and OS side files)
    ("-rf --overwrite.wav", GOOD, "accept"),
    ("back\\slash.wav", GOOD, "accept"),
    # not finite: rejected with the counts, whether the whole file or a few samples
    (
        "nan.wav",
        _wav_bytes(np.full((SR * 2, 1), np.nan, dtype=np.float32)),
        "32000 of 32000 samples are not finite (32000 NaN",
    ),
    ("few_nan.wav", _wav_bytes(_partly(np.nan)), "5 of 32000 samples are not finite (5 NaN, 0 infinite)"),
    ("inf.wav", _wav_bytes(_partly(np.inf)), "(0 NaN, 5 infinite)"),
    ("minus_inf.wav", _wav_bytes(_partly(-np.inf)), "5 infinite"),
    # broken or hostile containers
    ("empty.wav", b"", "empty file"),
    ("header_only.wav", GOOD[:44], "undecodable"),
    ("cut_in_header.wav", GOOD[:20], "undecodable"),
    ("cut_mid_data.wav", GOOD[: len(GOOD) // 3], "too short"),
    ("zero_channels.wav", _riff_header(0, SR, 64) + bytes(64), "undecodable"),
    ("rate_1hz.wav", _riff_header(1, 1, 40) + bytes(40), "sample rate"),
    ("rate_4khz.wav", _wav_bytes(_music(rate=4000), rate=4000), "sample rate"),
    ("claims_4gb.wav", _riff_header(1, SR, 0xFFFFFFF0) + _music(0.1).astype("<i2").tobytes(), ""),
    ("silent.wav", _wav_bytes(np.zeros((SR * 2, 1), dtype=np.float32)), "silent"),
    # issue 21: a DC offset alone is loud by RMS and holds no sound
    ("dc_only.wav", _wav_bytes(np.full((SR * 2, 1), 0.3, dtype=np.float32)), "no sound: a constant offset (DC 0.3)"),
    ("notes.txt", b"hello", "unsupported file type"),
    ("noext", GOOD, "unsupported file type"),
]
# random bytes under every audio extension libsndfile or ffmpeg would be asked to read
CASES += [
    (f"random_{size}{ext}", RNG.integers(0, 256, size, dtype=np.uint8).tobytes(), "")
    for ext in (".wav", ".flac", ".ogg", ".aiff", ".mp3", ".m4a", ".opus")
    for size in (7, 4096)
]
# random bytes behind a valid-looking header
CASES += [
    ("riff_then_noise.wav", b"RIFF\x00\x10\x00\x00WAVEfmt " + RNG.integers(0, 256, 2000, dtype=np.uint8).tobytes(), "")
]


@pytest.fixture(scope="module")
def intake(tmp_path_factory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("intake")
    for name, content, _ in CASES:
        (root / name).write_bytes(content)
    outcomes: dict[str, object] = {}
    for item in discover(root):
        assert not item.relpath.startswith(("/", "..")) and (root / item.relpath).resolve().is_relative_to(
            root.resolve()
        )
        try:
            outcomes[item.relpath] = load_audio(item, min_duration=MIN_DURATION)
        except RejectedInput as reason:  # anything else is a traceback: the test fails on it
            outcomes[item.relpath] = reason
    return outcomes


@pytest.mark.parametrize("name, content, expected", CASES, ids=[c[0] for c in CASES])
def test_every_odd_file_is_rejected_with_a_reason_and_no_good_file_is_lost(intake, name, content, expected):
    if expected == "skipped":
        assert name not in intake
        return
    outcome = intake[name]
    if expected == "accept":
        assert not isinstance(outcome, RejectedInput), f"good file lost: {outcome}"
        assert np.isfinite(outcome.samples).all() and outcome.duration >= MIN_DURATION
    else:
        assert isinstance(outcome, RejectedInput), f"{name} entered the corpus"
        assert str(outcome).strip() and "\n" not in str(outcome) and expected in str(outcome)
