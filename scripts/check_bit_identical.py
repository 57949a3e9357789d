"""Fingerprint the shipped model's output for fixed seeds, to show that a refactor leaves behaviour bit-identical.

It generates with `s2acc-demo` (float32, CPU) a 4-s piece from a lead sheet ("C | Am | F | G" at 100 BPM) and two
sections, then repaints a region of that take and extends it, once with the recommended sampler and once with
`sampler="reference"` (3 steps each, to keep it fast), and prints the SHA-256 of every output's waveform and
latents. Run it before a change with `--save before.json` and after it with `--compare before.json`: any differing
hash is listed and the exit status is 1.

    PYTHONPATH=src python scripts/check_bit_identical.py --save /tmp/before.json
    PYTHONPATH=src python scripts/check_bit_identical.py --compare /tmp/before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch


os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT = "warm indie pop accompaniment"
SEGMENTS = [
    {"start": 0.0, "end": 2.0, "label": "verse", "caption": "fingerpicked acoustic guitar, brushed drums"},
    {"start": 2.0, "end": 4.0, "label": "chorus", "caption": "full band, bright piano chords"},
]
EXTENDED_SEGMENTS = SEGMENTS + [{"start": 4.0, "end": 6.0, "label": "outro", "caption": "soft piano alone"}]


def _sha256(array: np.ndarray | torch.Tensor) -> str:
    array = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
    array = np.ascontiguousarray(array)
    # The dtype and shape are part of the fingerprint: equal bytes of a different layout are a different output.
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(header + array.tobytes()).hexdigest()


def fingerprints(pretrained: str, steps: int) -> dict[str, str]:
    from diffusers_s2acc import LeadSheet, S2AccompanistPipeline, S2AccompanistRepaintPipeline

    torch.manual_seed(0)
    pipe = S2AccompanistPipeline.from_pretrained(pretrained, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    repaint = S2AccompanistRepaintPipeline.from_pipe(pipe)
    repaint.set_progress_bar_config(disable=True)
    lead_sheet = LeadSheet.from_chart("C | Am | F | G", bpm=100)
    hashes = {}
    for sampler in (None, "reference"):
        name = sampler or "recommended"
        take = pipe(
            prompt=PROMPT,
            segments=SEGMENTS,
            lead_sheet=lead_sheet,
            audio_length_in_s=4.0,
            num_inference_steps=steps,
            sampler=sampler,
            generator=torch.Generator().manual_seed(0),
        )
        hashes[f"{name}/generate/audios"] = _sha256(take.audios)
        hashes[f"{name}/generate/latents"] = _sha256(take.latents)
        edit = repaint(
            prompt=PROMPT,
            segments=SEGMENTS,
            lead_sheet=lead_sheet,
            source_audio=take.audios[0],
            source_latents=take.latents,
            region_start_in_s=1.0,
            region_end_in_s=3.0,
            num_inference_steps=steps,
            sampler=sampler,
            generator=torch.Generator().manual_seed(1),
        )
        hashes[f"{name}/repaint/audios"] = _sha256(edit.audios)
        hashes[f"{name}/repaint/latents"] = _sha256(edit.latents)
        extension = repaint(
            prompt=PROMPT,
            segments=EXTENDED_SEGMENTS,
            lead_sheet=lead_sheet,
            source_audio=take.audios[0],
            num_inference_steps=steps,
            sampler=sampler,
            generator=torch.Generator().manual_seed(2),
        )
        hashes[f"{name}/extend/audios"] = _sha256(extension.audios)
        hashes[f"{name}/extend/latents"] = _sha256(extension.latents)
    return hashes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pretrained", default="s2acc-demo", help="shipped model name or folder")
    parser.add_argument("--steps", type=int, default=3, help="denoising steps of every call")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--save", help="write the hashes to this JSON file")
    group.add_argument("--compare", help="compare with the hashes in this JSON file; exit 1 on any difference")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the thread count can change float reductions; fix it so runs are comparable
    hashes = fingerprints(args.pretrained, args.steps)
    for key, value in hashes.items():
        print(f"{value}  {key}")
    if args.save:
        with open(args.save, "w", encoding="utf-8") as handle:
            json.dump(hashes, handle, indent=2)
    if args.compare:
        with open(args.compare, encoding="utf-8") as handle:
            expected = json.load(handle)
        differing = sorted(k for k in expected.keys() | hashes.keys() if expected.get(k) != hashes.get(k))
        if differing:
            print("DIFFERENT: " + ", ".join(differing), file=sys.stderr)
            return 1
        print(f"bit-identical: all {len(hashes)} hashes match {args.compare}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
