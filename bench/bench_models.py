"""Benchmark diffusers_s2acc's models against their diffusers counterparts on the same machine, in one run.

1. `S2DiTTransformer` vs `StableAudioDiTModel` at matched parameter count (within 3 %), same batch, number of latent
   frames, text tokens and text width: median time of an inference forward (`torch.no_grad()`, eval mode) and of a
   full training step (forward, MSE loss, backward, `AdamW.step`, `zero_grad`). Both models share the hidden size,
   depth and head width (64); StableAudioDiT keeps its own design (grouped-query cross-attention with half the KV
   heads, 4x SwiGLU, a prepended global token, partial rotary computed once outside the model as its pipeline does),
   and S2DiT's `ff_inner_dim` is solved so that the two totals match. S2DiT gets default (all-global) caption
   segments and absent lead-sheet features, which still run its full conditioning path.

2. `SemanticAutoencoder` vs `AutoencoderOobleck` with identical weights (`SemanticAutoencoder.from_oobleck`): decode
   of 10 s and 60 s of latents, untiled and tiled (each model's own `enable_tiling()` with its default tile sizes),
   time and peak memory, plus the max abs difference of tiled vs untiled output and of ours vs theirs.

Method.
- Every measurement runs in its own child process forked from this one (`multiprocessing` "fork" context). The parent
  only imports the libraries (so children do not pay ~7 s of imports each) and never runs a torch op, so no OpenMP
  thread pool exists at fork time; each child sets `torch.set_num_threads(--threads)` (default: all cores).
- DiT timing: `--warmup` untimed iterations of each model, then `--iters` / `--train-iters` timed ones, alternating
  between the two models so that background load hits both alike; median wall time (`time.perf_counter`, the
  table) and median process CPU time (`time.process_time`, all threads; far less sensitive to competing processes,
  so the verdict uses it: on an idle machine the two agree, on a shared one wall time mostly measures the neighbours).
- VAE timing: each configuration is decoded `--vae-iters` times (default 1, to fit the budget) after a warm-up on a
  short clip; median wall and CPU time. On a busy machine the single-shot wall times are indicative only.
- Peak memory of a decode = peak resident set size during the decode minus the resident set size just before it,
  measured in a fresh process after the model is built and warmed up on a short clip. The peak is read from the
  kernel's high-water mark (`VmHWM`, the same counter as `getrusage(RUSAGE_SELF).ru_maxrss`), which is reset to the
  current RSS right before the decode by writing "5" to `/proc/self/clear_refs`; otherwise the high-water mark of
  model construction could hide a smaller decode peak. RSS (rather than `tracemalloc`, which does not see torch's
  C++ allocations, or the profiler, which slows the ops down) counts every byte the process really touches. Where
  `clear_refs` is not writable it falls back to `ru_maxrss` minus the RSS before the decode (an upper bound).
  In these processes glibc's mmap threshold is fixed at 1 MiB (`mallopt`), so every freed tensor of 1 MiB or more
  leaves RSS at once; with glibc's adaptive default, freed blocks up to 32 MiB stay resident and the same decode read
  anywhere from 12 to 241 MiB depending on allocation history. This also makes the decodes page-fault more (slower),
  equally for both models.
- "Flat" tiled memory: the decode's activation memory (peak minus the output waveform, which necessarily grows with
  the duration) at 60 s is at most `--flat-tolerance` (default 10 %) above that at 10 s.

The default configuration is sized for a 2-core CPU (under 5 minutes); see `--help` for larger ones (`--device cuda`
times on a GPU, where peak memory is read from `torch.cuda.max_memory_allocated` instead).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


# OpenMP threads sleep instead of spinning while they wait (must be set before torch loads libgomp; an explicit
# OMP_WAIT_POLICY in the environment wins). On a shared machine spinning threads wait for peers that the scheduler
# has preempted: with the load average at ~7 on 2 cores, the DiT phase took 129 s spinning and 28 s passive. It
# applies to both sides alike.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
warnings.filterwarnings("ignore")

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderOobleck
from diffusers.models.autoencoders.autoencoder_oobleck import OobleckDecoder
from diffusers.models.embeddings import get_1d_rotary_pos_embed
from diffusers.models.transformers.stable_audio_transformer import StableAudioDiTModel

from diffusers_s2acc.audio import check_output_path
from diffusers_s2acc.models.autoencoder_semantic import SemanticAutoencoder
from diffusers_s2acc.models.transformer_s2dit import S2DiTTransformer


HEAD_DIM = 64
MIB = 2**20
M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
STARTED = time.perf_counter()


# ----------------------------------------------------------------------------------------------------------------------
# Process isolation, timing and memory
# ----------------------------------------------------------------------------------------------------------------------


def log(message: str) -> None:
    """Progress on stderr, stamped with the time since the benchmark started."""
    print(f"[{time.perf_counter() - STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def _child(conn, fn: Callable[..., Any], args: tuple, threads: int) -> None:
    try:
        torch.set_num_threads(threads)
        conn.send(fn(*args))
    except BaseException as error:  # report any failure to the parent instead of hanging it
        conn.send(RuntimeError(f"{fn.__name__}{args[:3]} failed: {error!r}"))
    finally:
        conn.close()


def run_isolated(fn: Callable[..., Any], *args: Any, threads: int) -> Any:
    """Run `fn(*args)` in a freshly forked process and return its (picklable) result."""
    context = mp.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, fn, args, threads))
    process.start()
    sender.close()
    result = receiver.recv()
    process.join()
    if isinstance(result, BaseException):
        raise result
    return result


def interleaved_median_times(
    fns: dict[str, Callable[[], Any]], warmup: int, iters: int, device: str
) -> dict[str, dict[str, float]]:
    """Median wall time and median process CPU time (s) of each `fns[name]()` after `warmup` untimed calls of each.

    The timed calls alternate between the functions (A B A B ...), so that a change of background load on the machine
    affects all of them alike instead of whichever happened to run last. CPU time (all threads of this process) is
    reported alongside wall time because it is far less sensitive to other processes competing for the cores.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(iters):
        for name, fn in fns.items():
            _sync(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            _sync(device)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {
        name: {
            "wall_s": statistics.median(wall[name]),
            "cpu_s": statistics.median(cpu[name]),
            "all_wall_s": wall[name],
        }
        for name in fns
    }


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class PeakMemory:
    """Peak memory (bytes) used between `start()` and `peak()`, above what was resident at `start()`."""

    def __init__(self, device: str):
        self.device = device

    def start(self) -> None:
        gc.collect()
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            return
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # reset the high-water mark (VmHWM / ru_maxrss) to the current RSS
        except OSError:
            pass
        self.base = _proc_status_kib("VmRSS") * 1024

    def peak(self) -> int:
        if self.device.startswith("cuda"):
            return torch.cuda.max_memory_allocated() - self.base
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.base


# ----------------------------------------------------------------------------------------------------------------------
# DiT comparison
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class DiTSetup:
    hidden_size: int
    num_layers: int
    batch: int
    frames: int
    text_tokens: int
    text_dim: int
    latent_channels: int
    warmup: int
    iters: int
    train_iters: int
    device: str
    seed: int


def stable_audio_config(setup: DiTSetup) -> dict[str, Any]:
    heads = setup.hidden_size // HEAD_DIM
    return dict(
        sample_size=setup.frames,
        in_channels=setup.latent_channels,
        out_channels=setup.latent_channels,
        num_layers=setup.num_layers,
        attention_head_dim=HEAD_DIM,
        num_attention_heads=heads,
        num_key_value_attention_heads=max(1, heads // 2),
        cross_attention_dim=setup.hidden_size,
        cross_attention_input_dim=setup.text_dim,
        global_states_input_dim=2 * setup.text_dim,
    )


def s2dit_config(setup: DiTSetup, ff_inner_dim: int) -> dict[str, Any]:
    return dict(
        in_channels=setup.latent_channels,
        hidden_size=setup.hidden_size,
        num_layers=setup.num_layers,
        num_attention_heads=setup.hidden_size // HEAD_DIM,
        ff_inner_dim=ff_inner_dim,
        text_embed_dim=setup.text_dim,
        max_frames=max(2048, setup.frames),
    )


def count_parameters(cls: type, config: dict[str, Any]) -> int:
    """Parameter count of `cls(**config)`, built on the meta device (no memory, no compute)."""
    with torch.device("meta"):
        return sum(p.numel() for p in cls(**config).parameters())


def matched_ff_inner_dim(setup: DiTSetup, target: int, multiple: int = 16) -> int:
    """S2DiT's SwiGLU width whose total parameter count is closest to `target` (the count is affine in it)."""
    low, high = (count_parameters(S2DiTTransformer, s2dit_config(setup, width)) for width in (multiple, 2 * multiple))
    per_unit = (high - low) / multiple
    width = multiple + (target - low) / per_unit
    return max(multiple, multiple * round(width / multiple))


def dit_inputs(setup: DiTSetup) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]:
    """Identical noisy latents, timesteps and caption tokens for both models, plus each model's extra inputs."""
    generator = torch.Generator().manual_seed(setup.seed)
    shape = (setup.batch, setup.latent_channels, setup.frames)
    latents = torch.randn(shape, generator=generator)
    target = torch.randn(shape, generator=generator)
    sigma = torch.rand(setup.batch, generator=generator)
    tokens = torch.randn(setup.batch, setup.text_tokens, setup.text_dim, generator=generator)
    ours = dict(hidden_states=latents, timestep=sigma * 1000, encoder_hidden_states=tokens)
    theirs = dict(
        hidden_states=latents,
        timestep=sigma,
        encoder_hidden_states=tokens,
        global_hidden_states=torch.randn(setup.batch, 1, 2 * setup.text_dim, generator=generator),
        # As StableAudioPipeline: partial rotary over half the head, for the frames plus the prepended global token.
        rotary_embedding=get_1d_rotary_pos_embed(
            HEAD_DIM // 2, setup.frames + 1, use_real=True, repeat_interleave_real=False
        ),
    )
    move = lambda inputs: {
        k: tuple(t.to(setup.device) for t in v) if isinstance(v, tuple) else v.to(setup.device)
        for k, v in inputs.items()
    }
    return move(ours), move(theirs), target.to(setup.device)


def training_step(model: torch.nn.Module, inputs: dict[str, Any], target: torch.Tensor) -> Callable[[], None]:
    """A closure running one full training step: forward, MSE loss, backward, AdamW update, zero_grad."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        loss = F.mse_loss(model(**inputs, return_dict=False)[0], target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def dit_benchmark(setup: DiTSetup) -> dict[str, Any]:
    """Child process: build both transformers at matched size and time them on the same inputs."""
    theirs_config = stable_audio_config(setup)
    ours_config = s2dit_config(
        setup, matched_ff_inner_dim(setup, count_parameters(StableAudioDiTModel, theirs_config))
    )
    ours_inputs, theirs_inputs, target = dit_inputs(setup)
    specs = {
        "StableAudioDiTModel": (StableAudioDiTModel, theirs_config, theirs_inputs),
        "S2DiTTransformer": (S2DiTTransformer, ours_config, ours_inputs),
    }
    results: dict[str, Any] = {"setup": asdict(setup)}
    models, inputs = {}, {}
    for name, (cls, config, model_inputs) in specs.items():
        torch.manual_seed(setup.seed)
        models[name], inputs[name] = cls(**config).to(setup.device).eval(), model_inputs
        results[name] = {"config": config, "params": sum(p.numel() for p in models[name].parameters())}

    with torch.no_grad():
        forwards = {name: (lambda m=m, x=inputs[name]: m(**x, return_dict=False)) for name, m in models.items()}
        timed = interleaved_median_times(forwards, setup.warmup, setup.iters, setup.device)
    for name, times in timed.items():
        results[name]["forward"] = times
    log("  DiT inference forwards timed")

    steps = {name: training_step(m.train(), inputs[name], target) for name, m in models.items()}
    for name, times in interleaved_median_times(steps, setup.warmup, setup.train_iters, setup.device).items():
        results[name]["train_step"] = times
    log("  DiT training steps timed")
    return results


# ----------------------------------------------------------------------------------------------------------------------
# VAE comparison
# ----------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodeJob:
    model: str  # "AutoencoderOobleck" or "SemanticAutoencoder"
    tiled: bool
    seconds: float


@dataclass
class VAESetup:
    config: dict[str, Any]
    warmup: int
    iters: int
    device: str
    seed: int
    s2_tile_frames: int | None = None  # SemanticAutoencoder.tile_latent_frames; None keeps the model's default

    @property
    def hop_length(self) -> int:
        return math.prod(self.config["downsampling_ratios"])

    def frames(self, seconds: float) -> int:
        return math.ceil(seconds * self.config["sampling_rate"] / self.hop_length)


def build_vae(name: str, setup: VAESetup) -> torch.nn.Module:
    """The diffusers Oobleck VAE, or ours converted from it (so both decoders carry identical weights).

    Only decoding is benchmarked, so the encoder (80 % of the parameters, 2-3 s of random initialisation per process)
    is left uninitialised: the model is built on the meta device, allocated with `to_empty`, and only its decoder is
    rebuilt with seeded random weights.
    """
    c = setup.config
    with torch.device("meta"):
        model = AutoencoderOobleck(**c)
    model.to_empty(device="cpu")
    torch.manual_seed(setup.seed)
    model.decoder = OobleckDecoder(
        channels=c["decoder_channels"],
        input_channels=c["decoder_input_channels"],
        audio_channels=c["audio_channels"],
        upsampling_ratios=c["downsampling_ratios"][::-1],
        channel_multiples=c["channel_multiples"],
    )
    if name == "SemanticAutoencoder":
        model = SemanticAutoencoder.from_oobleck(model)
    gc.collect()
    return model.to(setup.device).eval()


def _allocate_large_blocks_with_mmap() -> None:
    """Make glibc return every freed block of 1 MiB or more to the OS, so that RSS tracks live tensors.

    By default glibc raises its mmap threshold adaptively (up to 32 MiB) and keeps freed heap blocks resident, so the
    RSS high-water mark of a decode would depend on what earlier allocations left behind, not on the model.
    """
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, MIB)
    except OSError:  # not glibc: measure with the default allocator
        pass


def decode_benchmark(job: DecodeJob, setup: VAESetup) -> dict[str, Any]:
    """Child process: time one decode configuration and measure its peak memory; return the waveform too."""
    _allocate_large_blocks_with_mmap()
    model = build_vae(job.model, setup)
    if job.tiled:
        model.enable_tiling()
        if job.model == "SemanticAutoencoder" and setup.s2_tile_frames:
            model.tile_latent_frames = setup.s2_tile_frames
    generator = torch.Generator().manual_seed(setup.seed + 1)
    latents = torch.randn(1, setup.config["decoder_input_channels"], setup.frames(job.seconds), generator=generator)
    latents = latents.to(setup.device)
    decode = lambda z: model.decode(z).sample
    with torch.no_grad():
        for _ in range(setup.warmup):  # short clip: warms kernels and allocator without raising the memory baseline
            decode(latents[..., :32])
        memory = PeakMemory(setup.device)
        memory.start()
        times, cpu_times, audio = [], [], None
        for _ in range(setup.iters):
            audio = None  # free the previous output so that it is not counted twice
            _sync(setup.device)
            start, start_cpu = time.perf_counter(), time.process_time()
            audio = decode(latents)
            _sync(setup.device)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - start_cpu)
        peak = memory.peak()
    return {
        **asdict(job),
        "time_s": statistics.median(times),
        "cpu_s": statistics.median(cpu_times),
        "peak_mib": peak / MIB,
        "output_mib": audio.numel() * audio.element_size() / MIB,
        "audio": audio.cpu().numpy(),  # numpy: torch tensors would be sent as shared memory that dies with the child
    }


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max())


def vae_benchmark(setup: VAESetup, seconds: list[float], threads: int) -> dict[str, Any]:
    """Every (model, tiled, duration) decode in its own process; then output differences between them."""
    runs = {}
    for duration in seconds:
        for tiled in (False, True):
            for name in ("AutoencoderOobleck", "SemanticAutoencoder"):
                job = DecodeJob(name, tiled, duration)
                runs[job] = run_isolated(decode_benchmark, job, setup, threads=threads)
                log(
                    f"  decoded {duration:g} s, {name}, {'tiled' if tiled else 'untiled'}: {runs[job]['time_s']:.2f} s"
                )
    diffs = {}
    for duration in seconds:

        def audio(name: str, tiled: bool, duration: float = duration) -> np.ndarray:
            return runs[DecodeJob(name, tiled, duration)]["audio"]

        diffs[f"{duration:g}s"] = {
            "ours_tiled_vs_untiled": max_abs_diff(
                audio("SemanticAutoencoder", True), audio("SemanticAutoencoder", False)
            ),
            "theirs_tiled_vs_untiled": max_abs_diff(
                audio("AutoencoderOobleck", True), audio("AutoencoderOobleck", False)
            ),
            "ours_vs_theirs_untiled": max_abs_diff(
                audio("SemanticAutoencoder", False), audio("AutoencoderOobleck", False)
            ),
        }
    decodes = [{k: v for k, v in run.items() if k != "audio"} for run in runs.values()]
    return {"setup": asdict(setup), "decodes": decodes, "max_abs_diff": diffs}


# ----------------------------------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------------------------------


def dit_table(dit: dict[str, Any]) -> list[str]:
    theirs, ours = dit["StableAudioDiTModel"], dit["S2DiTTransformer"]
    s = dit["setup"]
    rows = [
        (
            f"### DiT: batch {s['batch']}, {s['frames']} latent frames, {s['text_tokens']} text tokens x "
            f"{s['text_dim']}, hidden {s['hidden_size']}, {s['num_layers']} layers, head dim {HEAD_DIM} "
            f"(S2DiT ff_inner_dim={ours['config']['ff_inner_dim']})"
        ),
        "",
        "| metric | StableAudioDiTModel | S2DiTTransformer (ours) | ours / theirs |",
        "|---|---:|---:|---:|",
        f"| parameters | {theirs['params'] / 1e6:.2f} M | {ours['params'] / 1e6:.2f} M | {ours['params'] / theirs['params']:.3f} |",
    ]
    for key, label in (("forward", "inference forward"), ("train_step", "training step fwd+bwd+AdamW")):
        for clock, unit in (("wall_s", "median wall"), ("cpu_s", "median CPU time")):
            a, b = theirs[key][clock], ours[key][clock]
            rows.append(f"| {label}, {unit} | {a * 1e3:.0f} ms | {b * 1e3:.0f} ms | {b / a:.3f} |")
    return rows


def _decode(vae: dict[str, Any], name: str, tiled: bool, seconds: float) -> dict[str, Any]:
    return next(d for d in vae["decodes"] if (d["model"], d["tiled"], d["seconds"]) == (name, tiled, seconds))


def vae_table(vae: dict[str, Any], seconds: list[float]) -> list[str]:
    c = vae["setup"]["config"]
    rows = [
        (
            f"### VAE decode: {c['sampling_rate']} Hz, {c['audio_channels']} ch, "
            f"decoder_channels={c['decoder_channels']}, latent {c['decoder_input_channels']} ch, "
            f"strides {c['downsampling_ratios']}, batch 1"
        ),
        "",
        "| audio | mode | Oobleck time | ours time | time ours/theirs (wall) | (CPU) | Oobleck peak | ours peak | peak ours/theirs |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for duration in seconds:
        for tiled in (False, True):
            theirs = _decode(vae, "AutoencoderOobleck", tiled, duration)
            ours = _decode(vae, "SemanticAutoencoder", tiled, duration)
            rows.append(
                f"| {duration:g} s | {'tiled' if tiled else 'untiled'} | {theirs['time_s']:.2f} s | {ours['time_s']:.2f} s "
                f"| {ours['time_s'] / theirs['time_s']:.3f} | {ours['cpu_s'] / theirs['cpu_s']:.3f} "
                f"| {theirs['peak_mib']:.0f} MiB | {ours['peak_mib']:.0f} MiB "
                f"| {ours['peak_mib'] / theirs['peak_mib']:.3f} |"
            )
    rows += [
        "",
        "| audio | max abs diff: ours tiled vs untiled | Oobleck tiled vs untiled | ours vs Oobleck (untiled) |",
        "|---|---:|---:|---:|",
    ]
    for duration, d in vae["max_abs_diff"].items():
        rows.append(
            f"| {duration} | {d['ours_tiled_vs_untiled']:.2e} | {d['theirs_tiled_vs_untiled']:.2e} "
            f"| {d['ours_vs_theirs_untiled']:.2e} |"
        )
    return rows


def activation_mib(decode: dict[str, Any]) -> float:
    """Decode peak minus its output waveform, which any decoder must hold."""
    return decode["peak_mib"] - decode["output_mib"]


def verdicts(results: dict[str, Any], tolerance: float, noise: float) -> list[str]:
    lines = []
    if "dit" in results:
        dit = results["dit"]
        ours, theirs = dit["S2DiTTransformer"], dit["StableAudioDiTModel"]
        ratio = {
            (k, clock): ours[k][clock] / theirs[k][clock]
            for k in ("forward", "train_step")
            for clock in ("cpu_s", "wall_s")
        }
        worst = max(ratio[k, "cpu_s"] for k in ("forward", "train_step"))
        verdict = "PASS" if worst <= 1.0 else f"PASS within {noise:.0%} timing noise" if worst <= 1 + noise else "FAIL"
        lines.append(
            f"- DiT no slower than StableAudioDiT at equal size (judged on CPU time, robust to other processes): "
            f"{verdict} (CPU time: forward x{ratio['forward', 'cpu_s']:.3f}, training step "
            f"x{ratio['train_step', 'cpu_s']:.3f}; wall time: forward x{ratio['forward', 'wall_s']:.3f}, training step "
            f"x{ratio['train_step', 'wall_s']:.3f})"
        )
    if "vae" in results:
        vae, (short, long) = results["vae"], (min(results["seconds"]), max(results["seconds"]))
        for name in ("SemanticAutoencoder", "AutoencoderOobleck"):
            a, b = (activation_mib(_decode(vae, name, True, s)) for s in (short, long))
            ok = b <= (1 + tolerance) * a
            target = "target" if name == "SemanticAutoencoder" else "reference"
            lines.append(
                f"- {target}: {name} tiled decode peak flat {short:g} s -> {long:g} s (activations within "
                f"{tolerance:.0%}): {'PASS' if ok else 'FAIL'} ({a:.0f} MiB -> {b:.0f} MiB excluding the output, x{b / a:.2f})"
            )
    return lines


# ----------------------------------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count(), help="torch intra-op threads (default: all cores)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("dit", "vae"), help="run one comparison only")
    parser.add_argument("--json", metavar="PATH", help="also write all results as JSON")
    dit = parser.add_argument_group("DiT")
    dit.add_argument("--dit-hidden", type=int, default=384, help="hidden size of both models (multiple of 64)")
    dit.add_argument("--dit-layers", type=int, default=8)
    dit.add_argument("--batch", type=int, default=2)
    dit.add_argument("--frames", type=int, default=256, help="latent frames (sequence length)")
    dit.add_argument("--text-tokens", type=int, default=128)
    dit.add_argument("--text-dim", type=int, default=768, help="width of the text encoder's token states")
    dit.add_argument(
        "--noise",
        type=float,
        default=0.05,
        help="a DiT slowdown up to this fraction is reported as timing noise rather than a failure",
    )
    dit.add_argument("--warmup", type=int, default=1, help="untimed iterations before each DiT measurement")
    dit.add_argument("--iters", type=int, default=5, help="timed inference forwards")
    dit.add_argument("--train-iters", type=int, default=3, help="timed training steps")
    vae = parser.add_argument_group("VAE")
    vae.add_argument(
        "--vae-channels",
        type=int,
        default=16,
        help="decoder_channels (Stable Audio Open: 128; decode cost grows with its square)",
    )
    vae.add_argument("--latent-channels", type=int, default=64)
    vae.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0], help="decoded durations")
    vae.add_argument("--vae-warmup", type=int, default=1, help="untimed decodes of a 32-frame clip")
    vae.add_argument("--vae-iters", type=int, default=1, help="timed decodes per configuration")
    vae.add_argument(
        "--s2-tile-frames",
        type=int,
        help="override SemanticAutoencoder.tile_latent_frames (default: the model's own, 256)",
    )
    vae.add_argument("--flat-tolerance", type=float, default=0.10)
    return parser.parse_args(argv)


def vae_config(args: argparse.Namespace) -> dict[str, Any]:
    """Stable Audio Open's Oobleck layout (44.1 kHz stereo, hop 2048) with a configurable decoder width."""
    return dict(
        encoder_hidden_size=2 * args.latent_channels,  # `from_oobleck` requires it; the encoder is not timed
        decoder_channels=args.vae_channels,
        decoder_input_channels=args.latent_channels,
        downsampling_ratios=[2, 4, 4, 8, 8],
        channel_multiples=[1, 2, 4, 8, 16],
        audio_channels=2,
        sampling_rate=44100,
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    # Outputs are checked before any work (a traceback after a long run would lose it).
    if args.json is not None:
        try:
            check_output_path(args.json, overwrite=True, extensions=(".json",))
        except ValueError as error:
            raise SystemExit(f"error: --json: {error}") from None
    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "torch": torch.__version__,
            "device": args.device,
        },
        "seconds": args.seconds,
        "load_average_at_start": os.getloadavg(),
    }
    if args.only in (None, "dit"):
        log("timing DiTs ...")
        setup = DiTSetup(
            args.dit_hidden,
            args.dit_layers,
            args.batch,
            args.frames,
            args.text_tokens,
            args.text_dim,
            args.latent_channels,
            args.warmup,
            args.iters,
            args.train_iters,
            args.device,
            args.seed,
        )
        results["dit"] = run_isolated(dit_benchmark, setup, threads=args.threads)
    if args.only in (None, "vae"):
        log("timing VAE decodes ...")
        setup = VAESetup(
            vae_config(args), args.vae_warmup, args.vae_iters, args.device, args.seed, args.s2_tile_frames
        )
        results["vae"] = vae_benchmark(setup, args.seconds, args.threads)
    results["wall_s"] = time.perf_counter() - started
    results["load_average_at_end"] = os.getloadavg()

    m = results["machine"]
    load = lambda key: "/".join(f"{x:.1f}" for x in results[key])
    lines = [
        (
            f"## bench_models: {m['device']}, {m['threads']} threads of {m['cpus']} cores, torch {m['torch']} "
            f"(load average 1/5/15 min: {load('load_average_at_start')} at start, {load('load_average_at_end')} at end)"
        ),
        "",
    ]
    if "dit" in results:
        lines += dit_table(results["dit"]) + [""]
    if "vae" in results:
        lines += vae_table(results["vae"], args.seconds) + [""]
    lines += ["### Verdicts", ""] + verdicts(results, args.flat_tolerance, args.noise)
    lines += ["", f"(benchmark wall time {results['wall_s']:.0f} s)"]
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
