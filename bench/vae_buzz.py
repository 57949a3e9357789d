"""Diagnostics of a spectral VAE's round trip that the main table (bench_vae.py) does not separate: the hop buzz and
whether pitch classes survive, on a few clips (issue 19).

- `comb excess dB`: the long-term spectrum of the round trip over the reference's (dB), averaged on the harmonics
  of `rate / 1024` (43.07 Hz at 44.1 kHz: twice the period of a 512-sample STFT hop) below 1.8 kHz, minus the same
  ratio averaged elsewhere in that band. 0: no buzz; an inverse-STFT decoder whose phases do not turn with the
  frame shows +20 dB;
- `frame chroma corr`: bench_vae.py's `chroma_corr` (mean per-frame correlation of the 12-bin CQT chroma of
  reference and round trip over the reference's sounding frames);
- `drone share`: the RMS of the round trip's synchronous average over the VAE's STFT window (`n_fft` samples, 2048
  for hop 512), over its whole RMS: the part that repeats with the window, a drone on the harmonics of
  `rate / n_fft` (21.5 Hz) that frame-constant phases emit (training.losses.PeriodicComponentLoss). Music alone
  gives a few percent (the reference's share is printed beside it).

    python bench/vae_buzz.py --vae runs/v4/vae_spectral_c32_700 \
        --clip runs/v4/songs_heldout/song_00000/accompaniment.flac@14 \
        --clip runs/v4/songs_heldout/song_00003/accompaniment.flac@20
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def long_term_spectrum(audio: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    frames = [
        np.abs(np.fft.rfft(audio[i : i + 8192] * np.hanning(8192))) ** 2 for i in range(0, len(audio) - 8192, 4096)
    ]
    return np.fft.rfftfreq(8192, 1 / rate), np.mean(frames, 0)


def periodic_share(audio: np.ndarray, period: int) -> float:
    from diffusers_s2acc.training.losses import period_average

    usable = len(audio) // period * period
    return float(period_average(torch.from_numpy(audio), period).std() / (audio[:usable].std() + 1e-12))


def comb_excess_db(reference: np.ndarray, decoded: np.ndarray, rate: int) -> float:
    freqs, ref = long_term_spectrum(reference, rate)
    _, dec = long_term_spectrum(decoded, rate)
    ratio = 10 * np.log10((dec + 1e-12) / (ref + 1e-12))
    on_comb = np.zeros_like(freqs, bool)
    for k in range(1, 40):
        on_comb |= np.abs(freqs - k * rate / 1024) < 3
    band = (freqs > 30) & (freqs < 1800)
    return float(ratio[on_comb & band].mean() - ratio[~on_comb & band].mean())


def main(argv: list[str] | None = None) -> None:
    import soundfile
    from bench_vae import chroma_correlation  # this script's folder is on sys.path when run as bench/vae_buzz.py

    from diffusers_s2acc.audio import match_channels, resample
    from diffusers_s2acc.training.loading import load_starting_vae

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vae", action="append", required=True)
    parser.add_argument("--clip", action="append", required=True, help="audio file@start seconds")
    parser.add_argument("--seconds", type=float, default=9.5)
    args = parser.parse_args(argv)
    for vae_name in args.vae:
        vae = load_starting_vae(vae_name).eval()
        rows = []
        for clip in args.clip:
            path, _, start = clip.rpartition("@")
            info = soundfile.info(path)
            audio, rate = soundfile.read(
                path,
                dtype="float32",
                start=int(float(start) * info.samplerate),
                frames=int(args.seconds * info.samplerate),
                always_2d=True,
            )
            audio = audio.T
            source = resample(match_channels(audio, vae.config.audio_channels), rate, vae.config.sampling_rate)
            with torch.no_grad():
                decoded = vae(torch.from_numpy(np.ascontiguousarray(source))[None]).sample[0].numpy()
            decoded = resample(decoded, vae.config.sampling_rate, rate)[:, : audio.shape[-1]]
            ref_mono, dec_mono = audio.mean(0), decoded.mean(0)
            corr = chroma_correlation(audio, decoded, rate)
            period = vae.decoder.n_fft * rate // vae.config.sampling_rate if hasattr(vae.decoder, "n_fft") else None
            shares = (periodic_share(ref_mono, period), periodic_share(dec_mono, period)) if period else None
            rows.append((comb_excess_db(ref_mono, dec_mono[: len(ref_mono)], rate), corr, shares))
        drone = [f"{d:.0%} (ref {r:.0%})" for _, _, (r, d) in rows] if rows[0][2] else "n/a (no STFT window)"
        print(
            f"{vae_name}: comb excess dB {[round(a, 1) for a, _, _ in rows]}; "
            f"frame chroma corr {[round(b, 3) for _, b, _ in rows]}; drone share {drone}"
        )


if __name__ == "__main__":
    main()
