"""The DiT's cost per second of audio at two VAEs' latent rates, one sampling step, same transformer width (issue 19).

A sampling step of `S2AccompanistPipeline` is one `S2DiTTransformer` forward over the latent frames of the piece
(batched over the guidance passes). This script times that forward for `--seconds` of audio at the frame rate and
latent width of each VAE given (`--vae`, any name `bench_vae.py` takes: `s2acc-demo`, a pipeline or VAE folder, a
VAE `config.json`), with the transformer architecture of `--transformer` (default: the shipped `s2acc-demo`'s) and
only its `in_channels` set to each VAE's latent width. Weights are random: the cost of a forward does not depend
on them.

Method: one process, `torch.set_num_threads(--threads)`; `--warmup` untimed forwards per rate, then `--iters` timed
ones alternating between the rates, so that background load and CPU steal hit every rate alike; the table reports
median wall time and median process CPU time (all threads; less sensitive to neighbours) per forward and per second
of audio, and each rate's ratio to the first VAE's. Guidance batch: `--batch` (3 = text and lead-sheet guidance, as
the CLI's defaults run).

    python bench/bench_latent_rate.py --vae s2acc-demo --vae runs/v4/sweep/s128x256c64h2048 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vae", action="append", required=True, help="a VAE (repeat; the first is the reference)")
    parser.add_argument(
        "--transformer", default="s2acc-demo", help="preset, shipped name, pipeline or transformer folder, config.json"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=3, help="guidance passes batched per step")
    parser.add_argument("--iters", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--json", default=None, help="also write the table as JSON here")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.batch < 1 or args.iters < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--seconds must be > 0, --batch, --iters and --threads >= 1, --warmup >= 0")
    if len(args.vae) < 2:
        parser.error("give at least two --vae to compare (the first is the reference)")
    if args.json:
        from diffusers_s2acc.audio import check_output_path

        try:
            check_output_path(args.json, overwrite=args.overwrite)
        except ValueError as error:
            parser.error(f"--json: {error}")
    return args


def transformer_config(name_or_path: str) -> dict:
    """A preset's transformer config, or the one saved in a pipeline or transformer folder or config.json."""
    from diffusers_s2acc import presets
    from diffusers_s2acc.models.transformer_s2dit import S2DiTTransformer
    from diffusers_s2acc.pretrained import SHIPPED_PIPELINES, is_preset, shipped_pipeline_path

    if is_preset(name_or_path):
        return presets.transformer_config(name_or_path)

    if name_or_path in SHIPPED_PIPELINES and not os.path.exists(name_or_path):
        name_or_path = shipped_pipeline_path(name_or_path)
    if os.path.isdir(os.path.join(name_or_path, "transformer")):
        name_or_path = os.path.join(name_or_path, "transformer")
    config = S2DiTTransformer.load_config(name_or_path)
    return {k: v for k, v in config.items() if not k.startswith("_")}


def vae_rate(name_or_path: str) -> tuple[float, int]:
    """(latent frames per second, latent channels) of a VAE (a `config.json` builds it with random weights)."""
    from diffusers_s2acc.training.loading import load_starting_vae

    vae = load_starting_vae(name_or_path)
    return vae.frame_rate, vae.config.latent_channels


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)  # a caller (a test, a notebook) keeps its own thread count


def _run(args: argparse.Namespace) -> list[dict]:
    from diffusers_s2acc.models.transformer_s2dit import S2DiTTransformer

    base = transformer_config(args.transformer)
    cases = []
    for name in args.vae:
        rate, channels = vae_rate(name)
        frames = max(1, round(args.seconds * rate))
        torch.manual_seed(0)
        model = S2DiTTransformer(**{**base, "in_channels": channels}).eval()
        if frames > model.config.max_frames:
            raise SystemExit(
                f"{args.seconds} s at {rate:.2f} frames/s is {frames} frames, over max_frames "
                f"{model.config.max_frames}: give fewer --seconds"
            )
        inputs = dict(
            hidden_states=torch.randn(args.batch, channels, frames),
            timestep=torch.full((args.batch,), 500.0),
            encoder_hidden_states=torch.randn(args.batch, 24, base["text_embed_dim"]),
        )
        cases.append(
            dict(
                vae=name,
                frame_rate=rate,
                latent_channels=channels,
                frames=frames,
                model=model,
                inputs=inputs,
                wall=[],
                cpu=[],
            )
        )
    with torch.no_grad():
        for case in cases:
            for _ in range(args.warmup):
                case["model"](**case["inputs"])
        for _ in range(args.iters):
            for case in cases:
                wall, cpu = time.perf_counter(), time.process_time()
                case["model"](**case["inputs"])
                case["wall"].append(time.perf_counter() - wall)
                case["cpu"].append(time.process_time() - cpu)
    rows = []
    for case in cases:
        wall, cpu = statistics.median(case["wall"]), statistics.median(case["cpu"])
        rows.append(
            dict(
                vae=case["vae"],
                frame_rate=round(case["frame_rate"], 3),
                latent_channels=case["latent_channels"],
                frames=case["frames"],
                wall_s=wall,
                cpu_s=cpu,
                wall_s_per_audio_s=wall / args.seconds,
                cpu_s_per_audio_s=cpu / args.seconds,
            )
        )
    for row in rows:
        row["cpu_ratio"] = row["cpu_s"] / rows[0]["cpu_s"]
        row["wall_ratio"] = row["wall_s"] / rows[0]["wall_s"]
    print(
        f"One DiT step (batch {args.batch}) over {args.seconds:g} s of audio, transformer {args.transformer} "
        f"(width {base['hidden_size']}, {base['num_layers']} layers), {args.threads} threads, median of "
        f"{args.iters}:\n"
    )
    print("| VAE | frames/s | latent ch | frames | wall s | CPU s | CPU s per audio s | CPU ratio | wall ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['vae']} | {row['frame_rate']:.2f} | {row['latent_channels']} | {row['frames']} | "
            f"{row['wall_s']:.4f} | {row['cpu_s']:.4f} | {row['cpu_s_per_audio_s']:.5f} | {row['cpu_ratio']:.3f} | "
            f"{row['wall_ratio']:.3f} |"
        )
    if args.json:
        from diffusers_s2acc.audio import write_atomically

        text = json.dumps({"args": vars(args), "rows": rows}, indent=1)
        write_atomically(args.json, lambda partial: partial.write_text(text))
    return rows


if __name__ == "__main__":
    main()
