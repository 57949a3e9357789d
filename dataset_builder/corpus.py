"""Assembling the corpus from per-file results: grades, top fraction, `save_to_disk`, parquet shards, rejects."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from diffusers_s2acc.corpus_schema import corpus_features

from .config import BUILDER_VERSION
from .stages.grading import combined_grades, top_mask
from .workdir import WorkDir


# The schema is the package's: training reads exactly what the builder writes.
FEATURES = corpus_features()


def collect(work: WorkDir) -> tuple[list[dict], list[dict]]:
    """(accepted results, rejected results), sorted by source path so assembly is deterministic."""
    accepted, rejected = [], []
    for result in work.iter_results():
        (accepted if result["status"] == "ok" else rejected).append(result)
    accepted.sort(key=lambda r: r["source"])
    rejected.sort(key=lambda r: r["source"])
    return accepted, rejected


def _rows(work: WorkDir, accepted: list[dict], grades: np.ndarray, top: np.ndarray, backends: str) -> Iterator[dict]:
    position = 0
    for result in accepted:
        analysis = result["analysis"]
        for clip in result["clips"]:
            path = work.clips / result["key"] / clip["file"]
            sheet = clip["lead_sheet"]
            duration = clip["end"] - clip["start"]
            yield {
                "id": f"{result['key']}_{clip['index']:03d}",
                "audio": {"bytes": path.read_bytes(), "path": f"{result['key']}_{clip['file']}"},
                "caption": clip["caption"],
                "label": clip["label"],
                # Song-level clips (--clip-unit song) carry every section; section clips are one section.
                "segments": clip.get("segments")
                or [{"start": 0.0, "end": duration, "label": clip["label"], "caption": clip["caption"]}],
                "song_segments": analysis["segments"],
                "lead_sheet": sheet,  # LeadSheet.to_dict(): melody is null when unknown
                "has_melody": sheet["melody"] is not None,
                "key": analysis["key"],
                "tempo": analysis["tempo"],
                "meter": analysis["meter"],
                "duration": duration,
                "quality": clip["quality"],
                "agreement": clip["agreement"],
                "grade": float(grades[position]),
                "top": bool(top[position]),
                "descriptors": json.dumps(clip["descriptors"]),
                "grading": json.dumps({"quality": clip["quality_measures"], "agreement": clip["agreement_measures"]}),
                "provenance": {
                    "source": result["source"],
                    "source_start": clip["start"],
                    "source_end": clip["end"],
                    "section_index": clip["index"],
                    "synth_song_id": result.get("synth_song_id"),
                    "backends": backends,
                    "builder_version": BUILDER_VERSION,
                },
            }
            position += 1


def assemble(
    out: str | Path,
    keep_top: float,
    config: dict[str, Any],
    *,
    parquet_shard_rows: int = 500,
    push_to_hub: str | None = None,
) -> dict[str, Any]:
    """Write the corpus into `out` from every result in its work folder. Running it twice gives the same corpus."""
    from .card import write_card

    out = Path(out)
    work = WorkDir(out)
    accepted, rejected = collect(work)
    clips = [clip for result in accepted for clip in result["clips"]]
    grades = combined_grades([c["quality"] for c in clips], [c["agreement"] for c in clips])
    top = top_mask(grades, keep_top) if clips else np.zeros(0, dtype=bool)
    backends = json.dumps({k: config[k] for k in ("separation", "segmenter", "captioner", "quality", "agreement")})
    with (out / "rejects.jsonl").open("w") as stream:
        for result in rejected:
            stream.write(json.dumps({"source": result["source"], "reason": result["reason"]}) + "\n")
    for stale in list(out.glob("data-*.arrow")) + [out / "dataset_info.json", out / "state.json"]:
        stale.unlink(missing_ok=True)
    shutil.rmtree(out / "data", ignore_errors=True)
    summary = {
        "files": len(accepted) + len(rejected),
        "accepted": len(accepted),
        "rejected": len(rejected),
        "clips": len(clips),
        "top_clips": int(top.sum()),
        "hours": sum(c["end"] - c["start"] for c in clips) / 3600,
    }
    if not clips:
        write_card(out, None, summary, rejected, config)
        return summary
    cache = tempfile.mkdtemp(prefix="s2acc-build-", dir=work.root)
    try:
        dataset = datasets.Dataset.from_generator(
            _rows,
            features=FEATURES,
            cache_dir=cache,
            gen_kwargs={"work": work, "accepted": accepted, "grades": grades, "top": top, "backends": backends},
        )
        dataset.save_to_disk(str(out))
        shards = max(1, int(np.ceil(len(dataset) / parquet_shard_rows)))
        (out / "data").mkdir()
        for index in range(shards):
            dataset.shard(shards, index, contiguous=True).to_parquet(
                str(out / "data" / f"train-{index:05d}-of-{shards:05d}.parquet")
            )
        write_card(out, dataset, summary, rejected, config)
        if push_to_hub:
            dataset.push_to_hub(push_to_hub)
            from huggingface_hub import HfApi

            HfApi().upload_file(
                path_or_fileobj=str(out / "README.md"),
                path_in_repo="README.md",
                repo_id=push_to_hub,
                repo_type="dataset",
            )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return summary
