"""Crash-safe `accelerate` checkpoints: a kill at any instant leaves the last complete checkpoint loadable.

`accelerator.save_state` writes into a hidden temporary folder; only when every process has finished writing does
the main process rename it to `checkpoint-<step>` (an atomic rename on POSIX file systems). Resuming with `latest`
therefore only ever sees complete checkpoints, and half-written temporary folders are removed on the next save.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from accelerate import Accelerator


_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_TEMPORARY_PREFIX = ".tmp-checkpoint-"
_STEP_FILE = "training_state.json"


def list_checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints in `output_dir`, oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))]
    return [p for _, p in sorted(found)]


def resolve_checkpoint(output_dir: str | os.PathLike, resume_from_checkpoint: str | None) -> Path | None:
    """`latest` (or a path / folder name) -> checkpoint folder; `None` when there is nothing to resume."""
    if not resume_from_checkpoint:
        return None
    if resume_from_checkpoint == "latest":
        checkpoints = list_checkpoints(output_dir)
        return checkpoints[-1] if checkpoints else None
    path = Path(resume_from_checkpoint)
    if not path.is_absolute() and not path.exists():
        path = Path(output_dir) / path
    if not (path / _STEP_FILE).exists():
        raise ValueError(f"--resume_from_checkpoint: {resume_from_checkpoint} is not a complete checkpoint.")
    return path


def save_checkpoint(
    accelerator: Accelerator, output_dir: str | os.PathLike, step: int, total_limit: int | None = None, **extra
) -> Path:
    """Save the full training state as `output_dir/checkpoint-<step>` atomically; keep at most `total_limit`."""
    root = Path(output_dir)
    final = root / f"checkpoint-{step}"
    temporary = root / f"{_TEMPORARY_PREFIX}{step}"
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        for stale in root.glob(f"{_TEMPORARY_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(temporary))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (temporary / _STEP_FILE).write_text(json.dumps({"step": step, **extra}))
        if final.exists():  # a rerun reaching the same step: the new state replaces the old one
            shutil.rmtree(final)
        os.replace(temporary, final)
        if total_limit is not None and total_limit > 0:
            for old in list_checkpoints(root)[:-total_limit]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator: Accelerator, checkpoint: Path) -> dict:
    """Restore the training state saved by [`save_checkpoint`]; returns its metadata (`step`, ...)."""
    accelerator.load_state(str(checkpoint))
    return json.loads((checkpoint / _STEP_FILE).read_text())
