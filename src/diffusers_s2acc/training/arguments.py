"""The start of every training script: the flags users know from diffusers' example scripts, their checks, and the
accelerator, logging and seeds they set up."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import torch

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
    parser.add_argument(
        "--max_train_samples",
        type=int,
        default=None,
        help="train on the corpus' first N rows only (the same rows for every seed, so a latent cache fits them all)",
    )
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
    parser.add_argument(
        "--mixed_precision",
        choices=["auto", "no", "fp16", "bf16"],
        default=None,
        help='"auto": bf16 autocast where the device computes bf16 natively (CUDA with bf16, CPUs with AVX512-BF16 or '
        "AMX), else none: on an AVX2-only CPU emulated bf16 is several times slower than float32",
    )
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
    if args.max_train_samples is not None and args.max_train_samples < 1:
        raise SystemExit("error: --max_train_samples must be >= 1")
    if args.learning_rate <= 0 or not math.isfinite(args.learning_rate):
        raise SystemExit("error: --learning_rate must be a positive number")


def _has_accelerator() -> bool:
    xpu = getattr(torch, "xpu", None)
    return torch.cuda.is_available() or torch.backends.mps.is_available() or bool(xpu and xpu.is_available())


def resolve_mixed_precision(name: str | None) -> str | None:
    """`--mixed_precision auto` -> "bf16" where this process's device computes bf16 natively, else "no"."""
    if name != "auto":
        return name
    from ..devices import default_device, has_native_bf16

    return "bf16" if has_native_bf16(default_device()) else "no"


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
        mixed_precision=resolve_mixed_precision(args.mixed_precision),
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
        print(
            f"Training on {accelerator.num_processes} process(es), {accelerator.distributed_type.value}, {accelerator.device}"
        )
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
