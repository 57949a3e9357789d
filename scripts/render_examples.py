#!/usr/bin/env python
"""Listening examples and pictures for the model card: generated audio beside the reference render.

    python scripts/render_examples.py --specs specs.json --ids ID [ID ...] --out docs/examples [--pipeline s2acc-demo]

For every chosen spec: `<id>.generated.ogg` and `<id>.reference.ogg` (Ogg Vorbis at the model's rate, small enough
for git) and `<id>.png`, which shows for the reference and the generated audio a log-frequency spectrogram and a
chromagram with the asked-for chord chart (roots and section boundaries) drawn over it, plus a line of what the
project's chord analysis hears.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import soundfile
import torch
from PIL import Image

from diffusers_s2acc import S2AccompanistPipeline
from diffusers_s2acc.audio import check_output_path, match_channels, resample, to_mono
from diffusers_s2acc.evaluation.specs import load_specs
from diffusers_s2acc.music.chords import PITCH_CLASS_NAMES, parse_chord
from diffusers_s2acc.music.structure import crop_segments
from diffusers_s2acc.pretrained import DEFAULT_PIPELINE


def _panel(axes, audio: np.ndarray, rate: int, spec, title: str) -> None:
    import librosa
    import librosa.display

    from diffusers_s2acc.analysis.song import analyze_song

    mono = to_mono(audio)
    spectrum = librosa.amplitude_to_db(np.abs(librosa.stft(mono, n_fft=1024, hop_length=256)), ref=np.max)
    librosa.display.specshow(spectrum, sr=rate, hop_length=256, x_axis="time", y_axis="log", ax=axes[0], cmap="magma")
    axes[0].set(title=f"{title}: spectrogram", xlabel="", ylim=(40, rate / 2))
    chroma = librosa.feature.chroma_cqt(y=mono, sr=rate, hop_length=512)
    librosa.display.specshow(chroma, sr=rate, hop_length=512, x_axis="time", y_axis="chroma", ax=axes[1], cmap="Greys")
    heard = analyze_song(audio, rate, melody=False).chords
    for chord in spec.lead_sheet.chords:
        root = parse_chord(chord.symbol).root
        if root is not None:
            axes[1].hlines(root, chord.start, chord.end, colors="tab:red", linewidth=3, alpha=0.8)
            axes[1].text(chord.start, 11.6, chord.symbol, color="tab:red", fontsize=7, va="top")
    for chord in heard:
        root = parse_chord(chord.symbol).root
        if root is not None:
            axes[1].hlines(root - 0.3, chord.start, chord.end, colors="tab:blue", linewidth=2)
    for segment in spec.segments:
        for ax in axes:
            ax.axvline(segment.start, color="tab:green", linestyle="--", linewidth=1)
        axes[1].text(segment.start + 0.1, -0.4, segment.label, color="tab:green", fontsize=8)
    axes[1].set(title=f"{title}: chroma; red = chart root, blue = root the analysis hears, green = sections")
    axes[1].set_yticks(range(12), PITCH_CLASS_NAMES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE)
    parser.add_argument("--specs", required=True)
    parser.add_argument("--ids", nargs="+", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=None, help="default: the pipeline's recommended_settings()")
    parser.add_argument(
        "--lead-sheet-guidance", type=float, default=None, help="default: the pipeline's recommended_settings()"
    )
    parser.add_argument("--seconds", type=float, default=None, help="cut each example to this length")
    args = parser.parse_args()
    # Outputs are checked before any work (a traceback after a long run would lose it).
    if args.out is not None:
        try:
            check_output_path(args.out, overwrite=True, folder=True)
        except ValueError as error:
            raise SystemExit(f"error: --out: {error}") from None

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    specs = {spec.id: spec for spec in load_specs(args.specs)}
    missing = [i for i in args.ids if i not in specs]
    if missing:
        raise SystemExit(f"error: --ids not in {args.specs}: {', '.join(missing)}")
    pipe = S2AccompanistPipeline.from_pretrained(args.pipeline)
    pipe.set_progress_bar_config(disable=True)
    rate = pipe.vae.config.sampling_rate
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for spec_id in args.ids:
        spec = specs[spec_id]
        if args.seconds and args.seconds < spec.duration:
            spec = dataclasses.replace(
                spec,
                duration=args.seconds,
                segments=crop_segments(spec.segments, 0.0, args.seconds),
                lead_sheet=spec.lead_sheet.crop(0.0, args.seconds) if spec.lead_sheet else None,
            )
        generated = pipe(
            prompt=spec.prompt,
            segments=spec.segments or None,
            lead_sheet=spec.lead_sheet,
            audio_length_in_s=spec.duration,
            num_inference_steps=args.steps,
            lead_sheet_guidance_scale=args.lead_sheet_guidance,
            generator=torch.Generator().manual_seed(spec.seed),
        ).audios[0]
        reference, reference_rate = spec.load_reference()
        reference = resample(match_channels(reference, generated.shape[0]), reference_rate, rate)
        name = spec_id.replace("/", "_").replace("@", "_at_")
        for kind, audio in (("generated", generated), ("reference", reference)):
            peak = max(float(np.abs(audio).max()), 1e-6)
            soundfile.write(out / f"{name}.{kind}.ogg", (audio / peak * 0.9).T, rate, format="OGG", subtype="VORBIS")
        figure, axes = plt.subplots(4, 1, figsize=(11, 10), constrained_layout=True)
        _panel(axes[:2], reference, rate, spec, "reference render")
        _panel(axes[2:], generated, rate, spec, "generated")
        figure.suptitle(f"{spec_id}: \u201c{spec.prompt}\u201d", fontsize=10)
        figure.savefig(out / f"{name}.png", dpi=70)
        # A 128-colour palette keeps each picture under 100 kB in git; the plots lose nothing visible.
        with Image.open(out / f"{name}.png") as picture:
            picture.convert("RGB").quantize(colors=128).save(out / f"{name}.png", optimize=True)
        plt.close(figure)
        index.append(
            {"id": spec_id, "prompt": spec.prompt, "files": [f"{name}.{k}.ogg" for k in ("generated", "reference")]}
        )
        print(f"wrote {name}.png and its audio")
    (out / "index.json").write_text(json.dumps(index, indent=1))


if __name__ == "__main__":
    main()
