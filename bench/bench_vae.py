#!/usr/bin/env python
"""VAE round trips side by side, in one run: held-out synth songs (scored against their charts) and real recordings.

    python bench/bench_vae.py --vae s2acc-demo --vae runs/v4/vae_w16c64h2048 --specs runs/v4/specs_heldout.json \
        --real /usr/share/games/wesnoth/1.16/data/core/music --json runs/v4/bench_vae.json

Each `--vae` is a shipped pipeline name (its `vae/`), a pipeline folder, or a `SemanticAutoencoder` folder. Every clip
is encoded at the VAE's rate and channel count (the posterior's mode, as `s2acc evaluate`'s round trip does),
decoded, and compared with the reference at the reference's own rate (44.1 kHz stereo for the realistic synth songs):

- `mrstft`: auraloss' multi-resolution STFT distance at the reference's rate and channels. A mono VAE's output is
  duplicated to both channels and a 16 kHz VAE's output upsampled, so the band it cannot carry counts against it;
- `mel_full` / `mel_0_8k`: mean absolute difference of log-mel spectrograms (dB, 128 bands) over the full band at
  the reference's rate, and over 0-8 kHz of 16 kHz mono down-mixes (the band every VAE here can carry);
- `hf_energy_db`: energy above 8 kHz of the round trip relative to the reference's (0 dB: all of it kept);
- `stereo_corr` (round trip) beside `stereo_corr_ref`: the inter-channel correlation of each (1.0 for mono);
- `chroma_corr`: the mean, over the reference's sounding frames, of the correlation between the reference's and the
  round trip's 12-bin chroma (librosa CQT chroma of 22.05 kHz mono down-mixes): whether the pitch classes survive,
  without a chord recogniser in between (1: the same pitch-class profile in every frame; near 0: unrelated);
- `chord_majmin` of the round trip against the spec's chart, beside the reference's own (synth specs only); for real
  recordings, `chord_agreement`: the chords recognised in the round trip scored against those recognised in the
  reference (how much of the harmony a listener's transcription would keep);
- `decode_s_per_s`: seconds to decode one second of audio (median of `--repeats` decodes of a `--decode-seconds`
  latent, after a warm-up).

Real recordings are clipped to `--real-seconds` from `--real-offset` into each file (the first `--real-files`
files, sorted by name). Compare figures only within one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from diffusers_s2acc.audio import check_output_path, load_audio, match_channels, resample, to_mono


def load_vae(name: str):
    """A `SemanticAutoencoder` from a shipped name, a pipeline folder (its `vae/`) or a VAE folder, in eval mode."""
    from diffusers_s2acc.training.loading import load_starting_vae

    try:
        return load_starting_vae(name).eval()
    except (OSError, ValueError) as error:
        raise SystemExit(f"error: --vae {name}: {error}") from None


def log_mel(audio: np.ndarray, rate: int, fmax: float) -> np.ndarray:
    """`(channels, bands, frames)` log-mel in dB (floor -100 dB), 128 bands up to `fmax`."""
    import librosa

    n_fft = 2048 if rate > 22050 else 1024
    mel = librosa.feature.melspectrogram(
        y=audio, sr=rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=128, fmax=fmax, power=2.0
    )
    return 10 * np.log10(np.maximum(mel, 1e-10))


def band_energy_db(audio: np.ndarray, rate: int, low_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(to_mono(audio))) ** 2
    freqs = np.fft.rfftfreq(audio.shape[-1], 1 / rate)
    return float(10 * np.log10(spectrum[freqs >= low_hz].sum() + 1e-12))


def stereo_correlation(audio: np.ndarray) -> float:
    if audio.shape[0] < 2 or audio[0].std() < 1e-8 or audio[1].std() < 1e-8:
        return 1.0
    return float(np.corrcoef(audio[0], audio[1])[0, 1])


@torch.no_grad()
def round_trip(vae, audio: np.ndarray, rate: int) -> np.ndarray:
    """`audio` at its own rate and channels -> through `vae` -> back at `rate` with `audio`'s channel count."""
    from diffusers_s2acc.evaluation.run import vae_round_trip

    decoded = vae_round_trip(vae, audio, rate)
    decoded = resample(match_channels(decoded, audio.shape[0]), vae.config.sampling_rate, rate)
    n = min(decoded.shape[-1], audio.shape[-1])
    return np.pad(decoded[:, :n], ((0, 0), (0, audio.shape[-1] - n)))


def distances(reference: np.ndarray, decoded: np.ndarray, rate: int, stft) -> dict[str, float]:
    ref_t, dec_t = torch.from_numpy(reference)[None].float(), torch.from_numpy(decoded)[None].float()
    ref16, dec16 = (resample(to_mono(a)[None], rate, 16000) for a in (reference, decoded))
    return {
        "mrstft": float(stft(dec_t, ref_t)),
        "mel_full": float(np.abs(log_mel(reference, rate, rate / 2) - log_mel(decoded, rate, rate / 2)).mean()),
        "mel_0_8k": float(np.abs(log_mel(ref16, 16000, 8000) - log_mel(dec16, 16000, 8000)).mean()),
        "hf_energy_db": band_energy_db(decoded, rate, 8000) - band_energy_db(reference, rate, 8000),
        "stereo_corr": stereo_correlation(decoded),
        "stereo_corr_ref": stereo_correlation(reference),
        "chroma_corr": chroma_correlation(reference, decoded, rate),
    }


def chroma_correlation(reference: np.ndarray, decoded: np.ndarray, rate: int) -> float:
    import librosa

    ref, dec = (resample(to_mono(a)[None], rate, 22050)[0] for a in (reference, decoded))
    ref_chroma, dec_chroma = (librosa.feature.chroma_cqt(y=a, sr=22050) for a in (ref, dec))
    n = min(ref_chroma.shape[1], dec_chroma.shape[1])
    ref_chroma, dec_chroma = ref_chroma[:, :n], dec_chroma[:, :n]
    rms = librosa.feature.rms(y=ref, hop_length=512)[0][:n]
    sounding = rms > 0.1 * rms.max() if rms.size and rms.max() > 0 else np.zeros(n, bool)
    values = [
        np.corrcoef(ref_chroma[:, t], dec_chroma[:, t])[0, 1]
        for t in np.flatnonzero(sounding)
        if ref_chroma[:, t].std() > 1e-6 and dec_chroma[:, t].std() > 1e-6
    ]
    return float(np.mean(values)) if values else float("nan")


def chord_agreement(reference: np.ndarray, decoded: np.ndarray, rate: int) -> float:
    from diffusers_s2acc.analysis.song import analyze_song
    from diffusers_s2acc.evaluation.scores import chord_scores

    ref_chords = analyze_song(reference, rate, melody=False).chords
    return chord_scores(ref_chords, analyze_song(decoded, rate, melody=False).chords)["chord_majmin"]


def decode_speed(vae, seconds: float, repeats: int) -> float:
    frames = max(1, round(seconds * vae.frame_rate))
    latents = torch.randn(1, vae.config.latent_channels, frames, generator=torch.Generator().manual_seed(0))
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            start = time.perf_counter()
            vae.decode(latents)
            if i:  # the first decode is a warm-up
                times.append(time.perf_counter() - start)
    return statistics.median(times) / (frames / vae.frame_rate)


def real_clips(folder: str, files: int, offset: float, seconds: float) -> list[tuple[str, np.ndarray, int]]:
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".ogg", ".flac", ".wav", ".mp3"})
    if not paths:
        raise SystemExit(f"error: --real {folder}: no .ogg/.flac/.wav/.mp3 files")
    clips = []
    for path in paths[:files]:
        audio, rate = load_audio(path)
        start = min(int(offset * rate), max(0, audio.shape[-1] - int(seconds * rate)))
        clips.append((path.name, np.ascontiguousarray(audio[:, start : start + int(seconds * rate)]), rate))
    return clips


def mean(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(values)) if values else None


def main(argv: list[str] | None = None) -> None:
    import auraloss

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vae", action="append", required=True, help="shipped name, pipeline or VAE folder")
    parser.add_argument("--specs", help="spec file of held-out synth windows (s2acc make-specs)")
    parser.add_argument("--limit", type=int, help="only the first N specs")
    parser.add_argument("--real", help="folder of real recordings")
    parser.add_argument("--real-files", type=int, default=4)
    parser.add_argument("--real-offset", type=float, default=30.0)
    parser.add_argument("--real-seconds", type=float, default=20.0)
    parser.add_argument("--decode-seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the table here")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.specs is None and args.real is None:
        parser.error("give --specs, --real or both")
    if args.json:
        try:
            check_output_path(args.json, overwrite=args.overwrite, protect=(args.specs,) if args.specs else ())
        except ValueError as error:
            parser.error(f"--json: {error}")

    from diffusers_s2acc.evaluation.clip_scores import score_clip
    from diffusers_s2acc.evaluation.specs import load_specs

    stft = auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=[2048, 1024, 512, 256], hop_sizes=[512, 256, 128, 64], win_lengths=[2048, 1024, 512, 256]
    )
    specs = load_specs(args.specs)[: args.limit] if args.specs else []
    synth = [(s, *ref) for s in specs if (ref := s.load_reference()) is not None]
    real = real_clips(args.real, args.real_files, args.real_offset, args.real_seconds) if args.real else []
    # Reference scores once: they do not depend on the VAE.
    reference_majmin = {s.id: score_clip(a, r, s).get("chord_majmin") for s, a, r in synth}

    results = {}
    for name in args.vae:
        vae = load_vae(name)
        config = vae.config
        entry = {
            "sampling_rate": config.sampling_rate,
            "audio_channels": config.audio_channels,
            "latent_channels": config.latent_channels,
            "frame_rate": vae.frame_rate,
            "parameters": sum(p.numel() for p in vae.parameters()),
            "decode_s_per_s": decode_speed(vae, args.decode_seconds, args.repeats),
        }
        for label, clips in (("synth", synth), ("real", real)):
            rows = []
            for item in clips:
                if label == "synth":
                    spec, audio, rate = item
                    decoded = round_trip(vae, audio, rate)
                    row = {"id": spec.id, **distances(audio, decoded, rate, stft)}
                    row["chord_majmin"] = score_clip(decoded, rate, spec).get("chord_majmin")
                    row["chord_majmin_ref"] = reference_majmin[spec.id]
                else:
                    clip_name, audio, rate = item
                    decoded = round_trip(vae, audio, rate)
                    row = {"id": clip_name, **distances(audio, decoded, rate, stft)}
                    row["chord_agreement"] = chord_agreement(audio, decoded, rate)
                rows.append(row)
                print(
                    f"{name} {label} {row['id']}: "
                    + " ".join(f"{k}={v:.3f}" for k, v in row.items() if isinstance(v, float)),
                    file=sys.stderr,
                    flush=True,
                )
            if rows:
                keys = [k for k in rows[0] if k != "id"]
                entry[label] = {"clips": len(rows), **{k: mean(rows, k) for k in keys}, "rows": rows}
        results[name] = entry

    columns = ["mrstft", "mel_full", "mel_0_8k", "hf_energy_db", "stereo_corr", "stereo_corr_ref", "chroma_corr"]
    print(
        "| VAE | set | rate / ch / latent / Hz | "
        + " | ".join(columns)
        + " | chords (round trip / ref) | decode s/s |"
    )
    print("|---|---|---|" + "---|" * (len(columns) + 2))
    for name, entry in results.items():
        shape = (
            f"{entry['sampling_rate']} / {entry['audio_channels']} / {entry['latent_channels']} / "
            f"{entry['frame_rate']:.1f}"
        )
        for label in ("synth", "real"):
            if label not in entry:
                continue
            e = entry[label]
            chords = (
                f"{e['chord_majmin']:.3f} / {e['chord_majmin_ref']:.3f}"
                if label == "synth"
                else f"{e['chord_agreement']:.3f} (agreement)"
            )
            cells = " | ".join(f"{e[c]:.3f}" for c in columns)
            print(
                f"| {name} | {label} ({e['clips']}) | {shape} | {cells} | {chords} | {entry['decode_s_per_s']:.3f} |"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
