"""training.losses: the compressed complex STFT loss sees phase, which magnitude losses cannot; the chroma loss sees
the notes, and hardly an octave or a little noise."""

import math

import auraloss
import pytest
import torch

from diffusers_s2acc.training.losses import (
    ChromaSTFTLoss,
    CompressedComplexSTFTLoss,
    PeriodicComponentLoss,
    SemitoneSTFTLoss,
    semitone_filterbank,
)


def test_identical_audio_scores_zero_and_a_phase_flip_does_not():
    t = torch.arange(16384) / 16000
    tone = torch.sin(2 * math.pi * 440 * t)[None, None]
    loss = CompressedComplexSTFTLoss(fft_sizes=(1024, 512))
    assert loss(tone, tone).item() == 0.0
    # The same magnitudes with the opposite phase: invisible to a magnitude loss, not to this one.
    magnitude_only = auraloss.freq.STFTLoss(fft_size=1024, hop_size=256, win_length=1024)
    assert magnitude_only(-tone, tone).item() < 1e-3
    assert loss(-tone, tone).item() > 0.5 * loss(torch.zeros_like(tone), tone).item()


def test_gradients_reach_the_reconstruction_and_stereo_is_scored_per_channel():
    target = torch.randn(2, 2, 8192) * 0.1
    reconstruction = (target + 0.05 * torch.randn_like(target)).requires_grad_()
    value = CompressedComplexSTFTLoss()(reconstruction, target)
    value.backward()
    assert value.item() > 0 and reconstruction.grad.abs().sum() > 0
    swapped = target.flip(1)  # left and right exchanged
    assert CompressedComplexSTFTLoss()(swapped, target).item() > value.item()


def _triad(frequencies, seconds=1.5, sampling_rate=44100):
    t = torch.arange(int(seconds * sampling_rate)) / sampling_rate
    return sum(0.2 * torch.sin(2 * math.pi * f * t) for f in frequencies)[None, None]


def test_chroma_loss_weighs_wrong_notes_above_octaves_and_noise():
    loss = ChromaSTFTLoss(44100)
    c_major = _triad([261.63, 329.63, 392.00])
    assert loss(c_major, c_major).item() == 0.0
    octave_up = loss(_triad([523.25, 659.26, 783.99]), c_major).item()
    e_minor = loss(_triad([329.63, 392.00, 493.88]), c_major).item()  # two of three notes shared
    c_sharp = loss(_triad([277.18, 349.23, 415.30]), c_major).item()  # none shared
    noise = 0.006 * torch.randn(c_major.shape, generator=torch.Generator().manual_seed(0))
    assert loss(c_major + noise, c_major).item() < octave_up < e_minor < c_sharp
    # The magnitude loss the VAE already has ranks them the other way: a chord a semitone off is nearer to it than
    # the right chord an octave up, so it cannot teach the notes.
    mr_stft = auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=[2048, 1024], hop_sizes=[512, 256], win_lengths=[2048, 1024]
    )
    c_sharp_major, c_major_up = _triad([277.18, 349.23, 415.30]), _triad([523.25, 659.26, 783.99])
    assert mr_stft(c_sharp_major, c_major).item() < mr_stft(c_major_up, c_major).item()


def test_chroma_loss_trains_stereo_reconstructions():
    target = _triad([220.0, 261.63, 329.63]).repeat(2, 2, 1)
    reconstruction = (target + 0.05 * torch.randn_like(target)).requires_grad_()
    value = ChromaSTFTLoss(44100)(reconstruction, target)
    value.backward()
    assert value.item() > 0 and reconstruction.grad.abs().sum() > 0


def test_periodic_loss_sees_a_drone_on_the_window_harmonics_and_not_music():
    generator = torch.Generator().manual_seed(0)
    period, rate = 2048, 44100
    t = torch.arange(64 * period) / rate  # 3 s: the music's own period average shrinks with the clip
    # "Music": notes that do not repeat with the window, with a little noise.
    music = sum(0.1 * torch.sin(2 * math.pi * f * t + p) for f, p in [(196.0, 0.3), (246.9, 1.1), (293.7, 2.0)])
    music = (music + 0.01 * torch.randn(t.shape, generator=generator))[None, None]
    # What a decoder with frame-constant phases emits: sinusoids on the harmonics of rate / period, same level.
    drone = sum(0.1 * torch.sin(2 * math.pi * k * rate / period * t + k) for k in (9, 11, 14))[None, None]
    loss = PeriodicComponentLoss(period)
    assert loss(music, music).item() == 0.0
    assert loss(music + drone, music).item() > 5 * loss(music.roll(777, -1), music).item()
    assert loss(torch.zeros_like(music), music).item() < loss(music + drone, music).item()
    with pytest.raises(ValueError, match="shorter than one period"):
        loss(music[..., :1000], music[..., :1000])


def test_semitone_bands_weigh_every_octave_and_the_loss_hears_a_missing_bass():
    filters = semitone_filterbank(44100, 16384, 41.2, 108)
    assert filters.shape == (108, 8193) and torch.allclose(filters.sum(1), torch.ones(108))
    centre = torch.fft.rfftfreq(16384, 1 / 44100)[filters[0].argmax()]
    assert abs(centre.item() - 41.2) < 44100 / 16384  # the lowest band sits on E1
    loss = SemitoneSTFTLoss(44100)
    with_bass = _triad([65.41, 261.63, 329.63, 392.00])
    without_bass = _triad([261.63, 329.63, 392.00])
    assert loss(with_bass, with_bass).item() == 0.0
    # A missing bass note costs more than noise 30 dB down across the whole band.
    noise = 0.006 * torch.randn(with_bass.shape, generator=torch.Generator().manual_seed(0))
    assert loss(without_bass, with_bass).item() > 3 * loss(with_bass + noise, with_bass).item()
    # Bands above the Nyquist frequency are left out at low rates.
    assert SemitoneSTFTLoss(16000).filters.shape[0] < 108
