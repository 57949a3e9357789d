#!/usr/bin/env python
"""Write a trained pipeline folder as a shipped one, with the sampler its model card recommends.

    python train/recipes/ship.py runs/v3/dit pretrained/s2acc-demo --scheduler unipc --steps 8 \
        --guidance-interval 0 0.5

The folder is written by `diffusers_s2acc.pretrained.save_shipped_pipeline` (safetensors only, the packaged text
encoder not stored again, written beside its place and renamed). `--scheduler unipc` stores diffusers'
`UniPCMultistepScheduler` on flow sigmas (order 2, one model evaluation per step) with the trained scheduler's flow
shift; `euler` keeps `FlowMatchEulerDiscreteScheduler`. `--steps`, `--guidance-interval`, `--guidance` and
`--lead-sheet-guidance` become the folder's recommended settings (`model_index.json`); unset ones keep the source
folder's. A file whose weights equal the destination's current one (the VAE when only the DiT was trained) is left
byte for byte as it was, so git stores no second copy.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from safetensors.torch import load_file

from diffusers_s2acc.pipelines.sampling_utils import make_flow_scheduler
from diffusers_s2acc.pretrained import load_pipeline, save_shipped_pipeline


def _same_weights(a: Path, b: Path) -> bool:
    import torch

    first, second = load_file(a), load_file(b)
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="trained pipeline folder (e.g. the output_dir of train/train_dit.py)")
    parser.add_argument("destination", type=Path, help="shipped folder to write (replaced)")
    parser.add_argument("--scheduler", choices=("unipc", "euler"), default="euler")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--guidance", type=float, default=None)
    parser.add_argument("--lead-sheet-guidance", type=float, default=None)
    parser.add_argument("--guidance-interval", type=float, nargs=2, default=None, metavar=("START", "STOP"))
    args = parser.parse_args()

    pipe = load_pipeline(args.source, "float32")
    # The trained flow shift, whichever scheduler the source stores; register_modules: model_index.json names it.
    pipe.register_modules(scheduler=make_flow_scheduler(args.scheduler, pipe.scheduler.config))
    updates = {
        "default_num_inference_steps": args.steps,
        "default_guidance_scale": args.guidance,
        "default_lead_sheet_guidance_scale": args.lead_sheet_guidance,
        "default_guidance_interval": list(args.guidance_interval) if args.guidance_interval else None,
    }
    pipe.register_to_config(**{key: value for key, value in updates.items() if value is not None})
    pipe.resolve_guidance_interval()  # the stored interval is a valid one
    with tempfile.TemporaryDirectory() as keep:
        kept = {}
        if args.destination.is_dir():
            for old in args.destination.rglob("*.safetensors"):
                relative = old.relative_to(args.destination)
                kept[relative] = shutil.copy2(old, Path(keep) / "__".join(relative.parts))
        folder = save_shipped_pipeline(pipe, args.destination)
        for relative, old in kept.items():
            new = folder / relative
            if new.exists() and _same_weights(new, Path(old)):
                shutil.copy2(old, new)
    print(f"wrote {folder}: {type(pipe.scheduler).__name__}, {pipe.recommended_settings()}")


if __name__ == "__main__":
    main()
