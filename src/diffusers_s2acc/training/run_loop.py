"""The resumable run loop both training scripts share: a deterministic data order, where a resumed run starts, the
loss log, and the step bookkeeping (resume, epochs, logging, checkpoints) of [`ResumableRun`]."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


def tracker_config(args: argparse.Namespace) -> dict:
    """Hyper-parameters as TensorBoard accepts them (scalars and strings only)."""
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in vars(args).items()}


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
        self.plan = plan_steps(
            self.global_step, len(dataloader), args.gradient_accumulation_steps, args.max_train_steps
        )
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
