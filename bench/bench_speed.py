#!/usr/bin/env python
"""Speed levers of one loaded pipeline, in one run: solvers, step counts and guidance intervals, as wall time for a
fixed piece, beside one denoising step of a peer DiT of equal size.

    python bench/bench_speed.py                                   # the shipped default against Euler at 25 steps
    python bench/bench_speed.py --levers default euler-25 unipc-10 unipc-10@0-0.5 unipc-8@0-0.4 --repeats 5
    python bench/bench_speed.py --pipeline PATH --seconds 20 --dtype float32 --json out.json

A lever is `default` (the pipeline as loaded: its scheduler and its `recommended_settings()`) or
`<solver>-<steps>[@<start>-<stop>]`: `euler` (FlowMatchEulerDiscreteScheduler, the training scheduler), or `unipc`
(UniPCMultistepScheduler with flow sigmas, order 2; like Euler one model evaluation per step), `<steps>` denoising steps and guidance only on the steps `start <= i / steps < stop` (the pipeline's
`guidance_interval`; without `@` every step is guided). Text and lead-sheet guidance scales are the pipeline's
recommended ones for every lever.

Every lever is warmed up once, then timed `--repeats` times, interleaved so that background load (the VM's steal
time, other jobs) affects all alike; medians are printed with every run. `--dtype auto` picks bfloat16 where the CPU
computes it natively and float32 elsewhere, as `s2acc generate` does.

The peer is diffusers' `StableAudioDiTModel` (the DiT of Stable Audio Open) built with our transformer's depth,
width, heads and in/out channels and fed the same number of latent frames, the same batch (one row per guidance
branch) and the same dtype: the line "ours / peer" compares one transformer pass (median over `--peer-repeats`),
the cost that a step is made of. Figures depend on the machine: compare levers only within one run.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import torch

from diffusers_s2acc import LeadSheet, S2AccompanistPipeline, Segment
from diffusers_s2acc.audio import check_output_path
from diffusers_s2acc.devices import DTYPES, resolve_dtype
from diffusers_s2acc.pipelines.sampling_utils import make_flow_scheduler
from diffusers_s2acc.pretrained import DEFAULT_PIPELINE, load_pipeline


LEVER = re.compile(r"^(euler|unipc)-(\d+)(?:@([\d.]+)-([\d.]+))?$")


def make_scheduler(solver: str, pipe: S2AccompanistPipeline):
    """The scheduler of `solver` with the pipeline's flow shift and training timesteps: `euler` is the pipeline's
    reference sampler's (`pipe.sampling_scheduler("reference")`), `unipc` UniPC (order 2) on flow sigmas."""
    if solver == "euler":
        return pipe.sampling_scheduler("reference")
    return make_flow_scheduler(solver, pipe.scheduler.config)


def parse_lever(text: str) -> dict:
    """`default` or `<solver>-<steps>[@<start>-<stop>]` as pipeline settings; a SystemExit naming a bad one."""
    if text == "default":
        return {"name": text}
    match = LEVER.match(text)
    if match is None:
        raise SystemExit(f"error: --levers: {text!r} is not 'default' or <euler|unipc>-<steps>[@<start>-<stop>]")
    solver, steps, start, stop = match.groups()
    interval = (0.0, 1.0) if start is None else (float(start), float(stop))
    return {"name": text, "solver": solver, "num_inference_steps": int(steps), "guidance_interval": interval}


def piece(seconds: float) -> dict:
    """The timed piece: two sections, a four-chord chart, text and lead-sheet guidance."""
    return {
        "prompt": "warm pop accompaniment",
        "segments": [
            Segment(0.0, seconds / 2, "verse", "soft piano and bass"),
            Segment(seconds / 2, seconds, "chorus", "full band"),
        ],
        "lead_sheet": LeadSheet.from_chart("C | Am | F | G", bpm=120),
        "audio_length_in_s": seconds,
    }


def time_lever(pipe: S2AccompanistPipeline, schedulers: dict, lever: dict, seconds: float) -> float:
    kwargs = piece(seconds)
    if lever["name"] != "default":
        kwargs.update(num_inference_steps=lever["num_inference_steps"], guidance_interval=lever["guidance_interval"])
    pipe.scheduler = schedulers[lever.get("solver", "default")]
    start = time.perf_counter()
    pipe(**kwargs, generator=torch.Generator().manual_seed(0))
    return time.perf_counter() - start


def _is_int8(module) -> bool:
    return type(module).__module__.startswith("torch.ao.nn.quantized")


def peer_step_ratio(pipe: S2AccompanistPipeline, seconds: float, repeats: int) -> dict:
    """Median seconds of one transformer pass, ours against `StableAudioDiTModel` of the same size and input."""
    from diffusers import StableAudioDiTModel
    from diffusers.models.embeddings import get_1d_rotary_pos_embed

    ours = pipe.transformer
    config = ours.config
    dtype = next(ours.parameters()).dtype
    frames = pipe.latent_shape(1, seconds)[2]
    branches = 3  # unconditional, text only, full: the recommended lead-sheet guidance
    heads = config.num_attention_heads
    # Same depth, width, heads and channels; grouped key/value heads as Stable Audio Open has them (half the heads).
    peer = StableAudioDiTModel(
        sample_size=frames,
        in_channels=config.in_channels,
        out_channels=config.in_channels,
        num_layers=config.num_layers,
        attention_head_dim=config.hidden_size // heads,
        num_attention_heads=heads,
        num_key_value_attention_heads=max(1, heads // 2),
        cross_attention_dim=config.hidden_size,
        cross_attention_input_dim=pipe.text_encoder.config.hidden_size,
        global_states_input_dim=pipe.text_encoder.config.hidden_size,
        time_proj_dim=256,
    ).eval()
    torch.nn.Module.to(peer, dtype)
    kwargs = piece(seconds)
    captured = {}

    def capture(module, args, kw):
        # The sampler passes latents and timestep positionally, the conditioning by keyword.
        captured.update(kw, **dict(zip(("hidden_states", "timestep"), args)))

    handle = ours.register_forward_pre_hook(capture, with_kwargs=True)
    # Every branch in the captured pass (a guided step), whatever guidance interval the pipeline recommends.
    pipe(**kwargs, num_inference_steps=1, guidance_interval=(0.0, 1.0), generator=torch.Generator().manual_seed(0))
    handle.remove()
    hidden = captured.pop("hidden_states")
    if hidden.shape[0] != branches:  # the peer is fed `branches` rows: compare passes of equal batch only
        raise SystemExit(f"error: the captured pass has {hidden.shape[0]} rows, the peer's {branches}")
    timestep = captured.pop("timestep")
    text_tokens = captured["encoder_hidden_states"].shape[1]
    peer_inputs = {
        "hidden_states": torch.randn(branches, config.in_channels, frames, dtype=dtype),
        "timestep": torch.full((branches,), 500, dtype=torch.long),
        "encoder_hidden_states": torch.randn(branches, text_tokens, pipe.text_encoder.config.hidden_size, dtype=dtype),
        "global_hidden_states": torch.randn(branches, 1, pipe.text_encoder.config.hidden_size, dtype=dtype),
        # As StableAudioPipeline builds it: half the head dimension, one position per frame (+1: its duration token).
        "rotary_embedding": get_1d_rotary_pos_embed(
            peer.config.attention_head_dim // 2, frames + 1, use_real=True, repeat_interleave_real=False
        ),
    }

    def run(model, args, kw) -> float:
        start = time.perf_counter()
        model(*args, **kw)
        return time.perf_counter() - start

    results = {"ours": [], "peer": []}
    with torch.no_grad():
        run(ours, (hidden,), dict(captured, timestep=timestep))
        run(peer, (), peer_inputs)
        for _ in range(repeats):
            results["ours"].append(run(ours, (hidden,), dict(captured, timestep=timestep)))
            results["peer"].append(run(peer, (), peer_inputs))
    return {
        "frames": frames,
        "batch": hidden.shape[0],
        # Dynamic int8 linear layers keep their weights packed, outside `parameters()`: count them as well.
        "params_ours": sum(p.numel() for p in ours.parameters())
        + sum(m.weight().numel() + (m.bias() is not None) * m.bias().numel() for m in ours.modules() if _is_int8(m)),
        "params_peer": sum(p.numel() for p in peer.parameters()),
        "ours_s": statistics.median(results["ours"]),
        "peer_s": statistics.median(results["peer"]),
        "runs": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--levers", nargs="+", default=["default", "euler-25"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-repeats", type=int, default=10, help="0 skips the peer comparison")
    parser.add_argument("--dtype", choices=DTYPES, default="auto")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    levers = [parse_lever(text) for text in args.levers]
    if args.repeats < 1:
        raise SystemExit("error: --repeats must be >= 1")
    if args.json is not None:
        try:
            check_output_path(args.json, overwrite=True, extensions=(".json",))
        except ValueError as error:
            raise SystemExit(f"error: --json: {error}") from None

    dtype = resolve_dtype(args.dtype, "cpu")
    pipe = load_pipeline(args.pipeline, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    schedulers = {"default": pipe.scheduler}
    for lever in levers:
        if "solver" in lever and lever["solver"] not in schedulers:
            schedulers[lever["solver"]] = make_scheduler(lever["solver"], pipe)
    times: dict[str, list[float]] = {lever["name"]: [] for lever in levers}
    for lever in levers:  # warm-up: first-call allocations and kernel selection
        time_lever(pipe, schedulers, lever, args.seconds)
    for _ in range(args.repeats):
        for lever in levers:
            times[lever["name"]].append(time_lever(pipe, schedulers, lever, args.seconds))
    pipe.scheduler = schedulers["default"]
    medians = {name: statistics.median(values) for name, values in times.items()}
    settings = pipe.recommended_settings()
    print(
        f"{args.pipeline} ({dtype}, torch threads {torch.get_num_threads()}): {args.seconds:g} s of audio; default = "
        f"{type(schedulers['default']).__name__}, {settings}"
    )
    for name, value in medians.items():
        runs = ", ".join(f"{v:.2f}" for v in times[name])
        print(f"  {name:18s} median {value:6.2f} s  real-time factor {value / args.seconds:5.3f}  (runs: {runs})")
    peer = None
    if args.peer_repeats > 0:
        peer = peer_step_ratio(pipe, args.seconds, args.peer_repeats)
        print(
            f"  one transformer pass, {peer['frames']} frames x batch {peer['batch']}: ours {peer['ours_s'] * 1e3:.1f} ms "
            f"({peer['params_ours'] / 1e6:.2f}M params), StableAudioDiTModel {peer['peer_s'] * 1e3:.1f} ms "
            f"({peer['params_peer'] / 1e6:.2f}M params): ours / peer {peer['ours_s'] / peer['peer_s']:.2f}"
        )
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(
                {"args": vars(args), "dtype": dtype, "times": times, "medians": medians, "peer": peer},
                stream,
                indent=1,
            )


if __name__ == "__main__":
    main()
