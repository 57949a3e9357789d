"""The work folder inside a corpus: per-file results and clips, which make runs resumable, shardable and idempotent.

`OUT/.work/results/<key>.json` is written atomically once a file is completely processed (clips first, result last),
so its presence with a matching fingerprint means "done": a rerun skips it, an interrupted file is simply redone.
Shards (`--process-index/--num-processes`, or the processes of `accelerate launch`) take disjoint files and write
disjoint results, so any number of processes or machines sharing the folder can work at once; `merge` then reads
all results.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .audio_io import InputFile


WORK = ".work"


class WorkDir:
    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.root = self.out / WORK
        self.results = self.root / "results"
        self.clips = self.root / "clips"

    def create(self) -> None:
        self.results.mkdir(parents=True, exist_ok=True)
        self.clips.mkdir(parents=True, exist_ok=True)

    def result_path(self, item: InputFile) -> Path:
        return self.results / f"{item.key}.json"

    def clip_dir(self, item: InputFile) -> Path:
        return self.clips / item.key

    def file_fingerprint(self, item: InputFile, config_fingerprint: str) -> dict[str, Any]:
        stat = item.path.stat()
        return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "config": config_fingerprint}

    def is_done(self, item: InputFile, config_fingerprint: str) -> bool:
        path = self.result_path(item)
        if not path.exists():
            return False
        try:
            result = json.loads(path.read_text())
        except ValueError:
            return False  # a torn write from an old crash: redo it
        return result.get("fingerprint") == self.file_fingerprint(item, config_fingerprint)

    def write_result(self, item: InputFile, result: dict[str, Any]) -> None:
        handle, tmp = tempfile.mkstemp(dir=self.results, suffix=".tmp")
        with os.fdopen(handle, "w") as stream:
            json.dump(result, stream)
        os.replace(tmp, self.result_path(item))

    def reset_clips(self, item: InputFile) -> Path:
        directory = self.clip_dir(item)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        return directory

    def iter_results(self) -> Iterator[dict[str, Any]]:
        for path in sorted(self.results.glob("*.json")):
            yield json.loads(path.read_text())


def shard(items: list[InputFile], process_index: int, num_processes: int) -> list[InputFile]:
    """Round-robin over the sorted list: balanced shards that do not depend on which files are already done."""
    if num_processes < 1 or not 0 <= process_index < num_processes:
        raise ValueError(f"Invalid shard {process_index} of {num_processes}.")
    return items[process_index::num_processes]
