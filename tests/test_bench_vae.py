"""bench/bench_vae.py: round trips are compared at the reference's rate and channels, so a VAE pays for what it
cannot carry (issue 19)."""

import auraloss
import numpy as np
import pytest
import torch

from bench.bench_vae import distances, main, round_trip
from diffusers_s2acc import SemanticAutoencoder
from diffusers_s2acc.presets import vae_config


RATE = 44100


@pytest.fixture(scope="module")
def stft():
    return auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=[1024, 256], hop_sizes=[256, 64], win_lengths=[1024, 256])


def _stereo_noise(seconds: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(0)
    left = rng.standard_normal(int(seconds * RATE)).astype(np.float32) * 0.1
    return np.stack([left, 0.5 * left + 0.05 * rng.standard_normal(left.shape).astype(np.float32)])


def test_identical_audio_is_at_distance_zero(stft):
    audio = _stereo_noise()
    d = distances(audio, audio.copy(), RATE, stft)
    assert d["mel_full"] == d["mel_0_8k"] == d["hf_energy_db"] == 0.0
    assert d["mrstft"] == pytest.approx(0.0, abs=1e-5) and d["stereo_corr"] == d["stereo_corr_ref"] < 1.0


def test_a_16k_mono_vae_is_returned_at_the_references_format_and_pays_for_the_missing_band(stft):
    torch.manual_seed(0)
    vae = SemanticAutoencoder(**vae_config("tiny")).eval()  # 16 kHz mono
    audio = _stereo_noise()
    decoded = round_trip(vae, audio, RATE)
    assert decoded.shape == audio.shape and decoded.dtype == np.float32
    assert np.array_equal(decoded[0], decoded[1])  # one channel, duplicated: no stereo image
    d = distances(audio, decoded, RATE, stft)
    assert d["stereo_corr"] == pytest.approx(1.0) and d["hf_energy_db"] < -20  # nothing above 8 kHz survives


def test_needs_something_to_measure_and_refuses_an_existing_json(tmp_path):
    with pytest.raises(SystemExit):
        main(["--vae", "s2acc-demo"])
    out = tmp_path / "vae.json"
    out.write_text("kept")
    with pytest.raises(SystemExit):
        main(["--vae", "s2acc-demo", "--real", str(tmp_path), "--json", str(out)])
    assert out.read_text() == "kept"


def test_chroma_correlation_keeps_pitch_classes_apart_from_their_sound():
    from bench.bench_vae import chroma_correlation

    t = np.arange(RATE) / RATE

    def chord(*freqs):
        tone = sum(np.sin(2 * np.pi * f * t) for f in freqs).astype(np.float32) * 0.1
        return np.stack([tone, tone])

    c_major, c_sharp_major = chord(261.6, 329.6, 392.0), chord(277.2, 349.2, 415.3)  # C-E-G against C#-F-G#
    assert chroma_correlation(c_major, c_major, RATE) == pytest.approx(1.0, abs=1e-6)
    # The same notes an octave higher keep their pitch classes; a chord a semitone away does not.
    assert chroma_correlation(c_major, chord(523.3, 659.3, 784.0), RATE) > 0.8
    assert chroma_correlation(c_major, c_sharp_major, RATE) < 0.2
