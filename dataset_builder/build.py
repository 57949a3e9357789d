"""`build` and `merge`: run the stages over an input folder (resumable, sharded, parallel) and assemble the corpus."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .audio_io import discover
from .config import BuildConfig
from .corpus import assemble
from .process import process_file
from .workdir import WorkDir, shard


CONFIG_NAME = "build_config.json"


def distributed_shard() -> tuple[int, int, Any]:
    """(process index, process count, accelerate state) under `accelerate launch`; (0, 1, None) otherwise."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1, None
    import torch
    from accelerate import PartialState

    # On a machine without GPUs, `accelerate launch --multi_gpu` (or torchrun) still starts the processes; the
    # state must then be told to use CPU (gloo) or it silently treats every process as the only one.
    state = PartialState(cpu=not torch.cuda.is_available())
    return state.process_index, state.num_processes, state


def run_build(
    input_dir: str,
    out: str,
    config: BuildConfig,
    *,
    num_workers: int = 1,
    process_index: int | None = None,
    num_processes: int | None = None,
    push_to_hub: str | None = None,
) -> dict[str, Any]:
    """Process this shard's unfinished files, then (single process, or main process after the others) assemble."""
    config.validate()
    started = time.time()
    state = None
    if process_index is None and num_processes is None:
        process_index, num_processes, state = distributed_shard()
    elif process_index is None or num_processes is None:
        raise ValueError("Give both --process-index and --num-processes, or neither.")
    work = WorkDir(out)
    work.create()
    _record_config(Path(out), config, input_dir)
    items = shard(discover(input_dir), process_index, num_processes)
    fingerprint = config.fingerprint()
    todo = [item for item in items if not work.is_done(item, fingerprint)]
    skipped = len(items) - len(todo)
    counts = {"processed": 0, "rejected": 0, "skipped_done": skipped}
    label = f"build [{process_index + 1}/{num_processes}]"
    if num_workers <= 1 or len(todo) <= 1:
        for item in tqdm(todo, desc=label, unit="file"):
            result = process_file(item, config, out)
            counts["processed" if result["status"] == "ok" else "rejected"] += 1
    else:
        with ProcessPoolExecutor(num_workers) as pool:
            futures = [pool.submit(process_file, item, config, out) for item in todo]
            for future in tqdm(as_completed(futures), total=len(futures), desc=label, unit="file"):
                counts["processed" if future.result()["status"] == "ok" else "rejected"] += 1
    summary: dict[str, Any] = {"shard": f"{process_index + 1}/{num_processes}", **counts}
    if state is not None:
        state.wait_for_everyone()
    if num_processes == 1 or (state is not None and state.is_main_process):
        summary["corpus"] = assemble(out, config.keep_top, config.to_dict(), push_to_hub=push_to_hub)
    summary["seconds"] = round(time.time() - started, 1)
    return summary


def _record_config(out: Path, config: BuildConfig, input_dir: str) -> None:
    """Remember the options and input a corpus was built with; `merge` and `evaluate` read them."""
    path = out / ".work" / CONFIG_NAME
    path.write_text(json.dumps({**config.to_dict(), "input": str(Path(input_dir).resolve())}, indent=1))


def run_merge(out: str, keep_top: float | None = None, push_to_hub: str | None = None) -> dict[str, Any]:
    """Assemble the corpus from every shard's results (after separate `--process-index` runs)."""
    path = Path(out) / ".work" / CONFIG_NAME
    if not path.exists():
        raise FileNotFoundError(f"{out} has no build results to merge (missing {path}).")
    config = json.loads(path.read_text())
    if keep_top is not None:
        config["keep_top"] = keep_top
    return assemble(out, config["keep_top"], config, push_to_hub=push_to_hub)
