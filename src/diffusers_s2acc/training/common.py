"""What every training script shares: the flags users know from diffusers' examples, the accelerator, the
starting pipeline, a deterministic data order and the resumable step loop bookkeeping."""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

from ..presets import PRESETS


def add_common_args(parser: argparse.ArgumentParser, default_learning_rate: float) -> argparse.ArgumentParser:
    """Flags shared by `train_vae.py` and `train_dit.py`, named as in diffusers' example scripts."""
    parser.add_argument(
        "--pretrained_model_name_or_path",
        default="demo",
        help=f"pipeline folder, Hub repo id, or a preset ({', '.join(PRESETS)}) to start from random weights",
    )
    parser.add_argument("--dataset_name", default=None, help="Hub dataset id (read from the local cache when offline)")
    parser.add_argument("--train_data_dir", default=None, help="a dataset_builder output folder")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--logging_dir", default="logs", help="TensorBoard folder, relative to --output_dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train_batch_size", type=int, default=4)
    parser.add_argument("--max_train_steps", type=int, default=1000)
    parser.add_argument("--learning_rate", type=float, default=default_learning_rate)
    parser.add_argument("--lr_scheduler", default="constant_with_warmup")
    parser.add_argument("--lr_warmup_steps", type=int, default=100)
    parser.add_argument("--adam_beta1", type=float, default=0.9)
    parser.add_argument("--adam_beta2", type=float, default=0.999)
    parser.add_argument("--adam_weight_decay", type=float, default=1e-2)
    parser.add_argument("--max_grad_norm", type=float, default=1.0)
    parser.add_argument("--gradient_accumulation_steps", type=int, default=1)
    parser.add_argument("--gradient_checkpointing", action="store_true")
    parser.add_argument("--mixed_precision", choices=["no", "fp16", "bf16"], default=None)
    parser.add_argument("--checkpointing_steps", type=int, default=500)
    parser.add_argument("--checkpoints_total_limit", type=int, default=None)
    parser.add_argument("--resume_from_checkpoint", default=None, help='a checkpoint folder, or "latest"')
    parser.add_argument("--report_to", default="tensorboard", help='"tensorboard", "wandb", "all" or "none"')
    parser.add_argument("--dataloader_num_workers", type=int, default=0)
    return parser


def validate_common_args(args: argparse.Namespace) -> None:
    if (args.dataset_name is None) == (args.train_data_dir is None):
        raise SystemExit("error: pass exactly one of --dataset_name or --train_data_dir")
    for name in ("train_batch_size", "max_train_steps", "gradient_accumulation_steps", "checkpointing_steps"):
        if getattr(args, name) < 1:
            raise SystemExit(f"error: --{name} must be >= 1")
    if args.learning_rate <= 0 or not math.isfinite(args.learning_rate):
        raise SystemExit("error: --learning_rate must be a positive number")


def _has_accelerator() -> bool:
    xpu = getattr(torch, "xpu", None)
    return torch.cuda.is_available() or torch.backends.mps.is_available() or bool(xpu and xpu.is_available())


def make_accelerator(args: argparse.Namespace):
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration

    report_to = None if args.report_to == "none" else args.report_to
    return Accelerator(
        # Without an accelerator device, ask for CPU explicitly: under a multi-process launcher (torchrun, as
        # `accelerate launch --multi_gpu --num_processes 2` starts on any machine) accelerate then sets up
        # multi-CPU DDP over gloo; without it, each process would train alone.
        cpu=not _has_accelerator(),
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=report_to,
        project_config=ProjectConfiguration(
            project_dir=args.output_dir, logging_dir=str(Path(args.output_dir) / args.logging_dir)
        ),
    )


def start_run(args: argparse.Namespace):
    """Output folder, accelerator, logging format and seeds: the first lines of every training script."""
    import logging

    from accelerate.utils import set_seed

    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    accelerator = make_accelerator(args)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    set_seed(args.seed)
    if accelerator.is_main_process:
        print(f"Training on {accelerator.num_processes} process(es), {accelerator.distributed_type.value}, {accelerator.device}")
    if single_process_despite_request():
        logging.getLogger(__name__).warning(
            "`accelerate launch --cpu --num_processes N` starts a single process unless it is given an MPI "
            "`--mpirun_hostfile`. For N CPU processes on one machine use `accelerate launch --config_file "
            "train/configs/cpu_2proc.yaml` (or `--multi_gpu --num_processes N`, which falls back to CPU over gloo)."
        )
    return accelerator


def single_process_despite_request() -> bool:
    """True when `accelerate launch` was asked for several CPU processes (it then exports MASTER_ADDR) but its simple
    launcher started only this one: no launcher rank variables are set."""
    env = os.environ
    launcher_ranks = ("WORLD_SIZE", "RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
    return (
        env.get("ACCELERATE_USE_CPU", "").lower() in ("true", "1")
        and "MASTER_ADDR" in env
        and not any(name in env for name in launcher_ranks)
    )


def tracker_config(args: argparse.Namespace) -> dict:
    """Hyper-parameters as TensorBoard accepts them (scalars and strings only)."""
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in vars(args).items()}


def load_starting_pipeline(name_or_path: str):
    """A preset name builds a fresh pipeline; a folder or Hub repo id loads a trained one."""
    from ..pipelines.pipeline_s2accompanist import S2AccompanistPipeline
    from ..presets import build_pipeline

    if name_or_path in PRESETS and not os.path.isdir(name_or_path):
        return build_pipeline(name_or_path)
    return S2AccompanistPipeline.from_pretrained(name_or_path)


def load_starting_vae(name_or_path: str, oobleck_path: str | None = None) -> "SemanticAutoencoder":  # noqa: F821
    """A converted Oobleck, a preset (random), a pipeline's `vae/`, a VAE folder, or a Hub repo's `vae/`."""
    from ..models.autoencoder_semantic import SemanticAutoencoder
    from ..presets import vae_config

    if oobleck_path is not None:
        from diffusers import AutoencoderOobleck

        subfolder = "vae" if os.path.isdir(os.path.join(oobleck_path, "vae")) else None
        return SemanticAutoencoder.from_oobleck(AutoencoderOobleck.from_pretrained(oobleck_path, subfolder=subfolder))
    if name_or_path in PRESETS and not os.path.isdir(name_or_path):
        return SemanticAutoencoder(**vae_config(name_or_path))
    if os.path.isdir(name_or_path) and not os.path.isdir(os.path.join(name_or_path, "vae")):
        return SemanticAutoencoder.from_pretrained(name_or_path)
    return SemanticAutoencoder.from_pretrained(name_or_path, subfolder="vae")


class EpochPermutationSampler(Sampler[int]):
    """Shuffles with a permutation seeded by `(seed, epoch)`: the order never depends on earlier random draws."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        return iter(np.random.default_rng((self.seed, self.epoch)).permutation(self.size).tolist())

    def __len__(self) -> int:
        return self.size


@dataclass
class StepPlan:
    """Where a (possibly resumed) run starts: epoch, batches to skip in it, and updates per epoch."""

    first_epoch: int
    skip_batches: int
    updates_per_epoch: int
    num_epochs: int


def plan_steps(global_step: int, batches_per_epoch: int, accumulation: int, max_train_steps: int) -> StepPlan:
    if batches_per_epoch < accumulation:
        raise SystemExit(
            f"error: an epoch has {batches_per_epoch} batches, fewer than --gradient_accumulation_steps={accumulation}"
        )
    updates = batches_per_epoch // accumulation
    return StepPlan(
        first_epoch=global_step // updates,
        skip_batches=(global_step % updates) * accumulation,
        updates_per_epoch=updates,
        num_epochs=math.ceil(max_train_steps / updates),
    )


def log_scalars_jsonl(path: Path, step: int, values: dict[str, float]) -> None:
    """Append one JSON line per step (the loss curve, readable without TensorBoard)."""
    import json

    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"step": step, **{k: float(v) for k, v in values.items()}}) + "\n")


def trainable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def truncate_jsonl(path: Path, step: int) -> None:
    """Drop log lines past `step`: after a resume, the steps a killed run logged beyond its checkpoint are redone."""
    import json

    if not path.exists():
        return
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


class ResumableRun:
    """The step bookkeeping both training scripts share: resuming from a checkpoint, walking epochs from the
    resumed position, and, after each optimizer step, logging and checkpointing.

    Usage::

        run = ResumableRun(accelerator, args, "s2acc-dit", dataloader)
        for batch in run.batches():
            ...  # forward, backward, optimizer step under accelerator.accumulate
            if accelerator.sync_gradients:
                run.end_step({"loss": loss})
    """

    def __init__(self, accelerator, args: argparse.Namespace, project_name: str, dataloader):
        from tqdm.auto import tqdm

        from .checkpointing import load_checkpoint, resolve_checkpoint

        self.accelerator, self.args, self.dataloader = accelerator, args, dataloader
        self.global_step = 0
        self.log_path = Path(args.output_dir) / "train_log.jsonl"
        checkpoint = resolve_checkpoint(args.output_dir, args.resume_from_checkpoint)
        if checkpoint is not None:
            self.global_step = load_checkpoint(accelerator, checkpoint)["step"]
            print(f"Resumed from {checkpoint} at step {self.global_step}")
        if accelerator.is_main_process:
            truncate_jsonl(self.log_path, self.global_step)  # steps a killed run logged after its last checkpoint
            accelerator.init_trackers(project_name, config=tracker_config(args))
        self.plan = plan_steps(self.global_step, len(dataloader), args.gradient_accumulation_steps, args.max_train_steps)
        self.progress = tqdm(
            range(args.max_train_steps),
            initial=self.global_step,
            desc="Steps",
            disable=not accelerator.is_local_main_process,
        )

    @property
    def done(self) -> bool:
        return self.global_step >= self.args.max_train_steps

    def batches(self) -> Iterator:
        for epoch in range(self.plan.first_epoch, self.plan.num_epochs):
            batches = self.dataloader
            if epoch == self.plan.first_epoch and self.plan.skip_batches:
                batches = self.accelerator.skip_first_batches(self.dataloader, self.plan.skip_batches)
            # accelerate's loaders re-seed the sampler and dataset from their own epoch counter when iterated, which
            # restarts at 0 in a resumed process: set it, so shuffling and crops follow the true epoch.
            batches.set_epoch(epoch)
            for batch in batches:
                if self.done:
                    return
                yield batch

    def end_step(self, values: dict[str, torch.Tensor | float]) -> dict[str, float]:
        """Count an optimizer step; average `values` over processes, log them, checkpoint when due."""
        from .checkpointing import save_checkpoint

        accelerator = self.accelerator
        self.global_step += 1
        means = {
            k: (accelerator.gather(v.detach().reshape(1)).mean().item() if torch.is_tensor(v) else float(v))
            for k, v in values.items()
        }
        self.progress.update(1)
        self.progress.set_postfix(loss=means.get("loss"))
        accelerator.log(means, step=self.global_step)
        if accelerator.is_main_process:
            log_scalars_jsonl(self.log_path, self.global_step, means)
        if self.global_step % self.args.checkpointing_steps == 0:
            save_checkpoint(accelerator, self.args.output_dir, self.global_step, self.args.checkpoints_total_limit)
        return means
