#!/usr/bin/env python
"""VAE round-trip pictures and listening files for the model card: the reference beside each VAE's round trip.

    python scripts/render_vae_examples.py --vae s2acc-demo --vae runs/v4/final_plain \
        --specs runs/v4/specs_heldout.json --ids ID [ID ...] --real FILE [FILE ...] --out docs/examples/vae

For every clip (a held-out spec's reference window, or `--seconds` of a real recording from `--real-offset`):
`<name>.png`, a spectrogram up to the reference's Nyquist frequency (22.05 kHz at 44.1 kHz) of the reference and of
each VAE's round trip (linear frequency axis, so the band above 8 kHz that a 16 kHz model cannot carry is in view),
and Ogg Vorbis files of the reference and of the last `--vae`'s round trip (`--audio-vaes` sets how many, counted
from the last), `--seconds` long, to stay small in git.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

from diffusers_s2acc.audio import check_output_path, load_audio, to_mono
from diffusers_s2acc.evaluation.specs import load_specs


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_vae import load_vae, round_trip  # noqa: E402  (one home for loading a VAE and its round trip)


def _spectrogram(ax, audio: np.ndarray, rate: int, title: str) -> None:
    import librosa
    import librosa.display

    spectrum = librosa.amplitude_to_db(np.abs(librosa.stft(to_mono(audio), n_fft=2048, hop_length=512)), ref=1.0)
    librosa.display.specshow(
        spectrum, sr=rate, hop_length=512, x_axis="time", y_axis="linear", ax=ax, cmap="magma", vmin=-80, vmax=20
    )
    ax.axhline(8000, color="white", linestyle=":", linewidth=0.8)
    ax.set(title=title, xlabel="", ylim=(0, rate / 2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vae", action="append", required=True, help="shipped name, pipeline or VAE folder")
    parser.add_argument("--label", action="append", help="a title per --vae (default: its name)")
    parser.add_argument("--specs", help="spec file whose references are the synth clips")
    parser.add_argument("--ids", nargs="*", default=[])
    parser.add_argument("--real", nargs="*", default=[], help="real recordings")
    parser.add_argument("--real-offset", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--audio-vaes", type=int, default=1, help="write round-trip audio for the last N --vae")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.label is not None and len(args.label) != len(args.vae):
        parser.error("give one --label per --vae")
    if args.ids and not args.specs:
        parser.error("--ids needs --specs")
    try:
        check_output_path(args.out, overwrite=True, folder=True)
    except ValueError as error:
        parser.error(f"--out: {error}")
    labels = args.label or args.vae

    clips = []
    if args.ids:
        specs = {spec.id: spec for spec in load_specs(args.specs)}
        missing = [i for i in args.ids if i not in specs]
        if missing:
            parser.error(f"--ids not in {args.specs}: {', '.join(missing)}")
        for spec_id in args.ids:
            audio, rate = specs[spec_id].load_reference()
            name = "synth_" + spec_id.replace("/", "_").replace("@", "_at_")
            clips.append((name, f"held-out synth {spec_id}", audio[:, : int(args.seconds * rate)], rate))
    for path in args.real:
        audio, rate = load_audio(path)
        start = min(int(args.real_offset * rate), max(0, audio.shape[-1] - int(args.seconds * rate)))
        clip = audio[:, start : start + int(args.seconds * rate)]
        clips.append((f"real_{Path(path).stem}", f"real recording {Path(path).name}", clip, rate))
    if not clips:
        parser.error("nothing to render: give --ids or --real")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vaes = [load_vae(name) for name in args.vae]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for name, title, reference, rate in clips:
        decoded = [round_trip(vae, np.ascontiguousarray(reference), rate) for vae in vaes]
        figure, axes = plt.subplots(1 + len(vaes), 1, figsize=(9, 2.3 * (1 + len(vaes))), constrained_layout=True)
        _spectrogram(axes[0], reference, rate, f"reference ({rate} Hz, {reference.shape[0]} ch)")
        for ax, audio, label in zip(axes[1:], decoded, labels):
            _spectrogram(ax, audio, rate, f"round trip: {label}")
        figure.suptitle(f"{title} (dotted: 8 kHz)", fontsize=10)
        figure.savefig(out / f"{name}.png", dpi=60)
        plt.close(figure)
        # A 64-colour palette keeps each picture small in git; the plots lose nothing visible.
        with Image.open(out / f"{name}.png") as picture:
            picture.convert("RGB").quantize(colors=64).save(out / f"{name}.png", optimize=True)
        files = [f"{name}.reference.ogg"]
        soundfile.write(out / files[0], reference.T, rate, format="OGG", subtype="VORBIS")
        for audio, label, vae_name in list(zip(decoded, labels, args.vae))[len(vaes) - args.audio_vaes :]:
            tag = Path(vae_name).name
            files.append(f"{name}.{tag}.ogg")
            soundfile.write(out / files[-1], np.clip(audio, -1, 1).T, rate, format="OGG", subtype="VORBIS")
        index.append({"clip": name, "title": title, "png": f"{name}.png", "audio": files, "vaes": labels})
        print(f"wrote {name}.png and {len(files)} audio files")
    (out / "index.json").write_text(json.dumps(index, indent=1))


if __name__ == "__main__":
    main()
