"""Processing one input file end to end: load, separate, analyse, segment, lead sheets, captions, grades, clips."""

from __future__ import annotations

import json
import time
import traceback
from typing import Any

import numpy as np
import soundfile as sf

from diffusers_s2acc.analysis.descriptors import describe
from diffusers_s2acc.analysis.song import analyze_song

from .audio_io import InputFile, RejectedInput, load_audio
from .config import BuildConfig
from .stages.captioning import make_captioner
from .stages.grading import make_agreement, make_quality
from .stages.segmentation import make_segmenter
from .stages.separation import make_separator
from .workdir import WorkDir


_STAGES: dict[str, Any] = {}


def stages(config: BuildConfig) -> dict[str, Any]:
    """Stage objects, built once per process (model backends load their weights here)."""
    key = config.fingerprint()
    if _STAGES.get("key") != key:
        _STAGES.clear()
        _STAGES.update(
            key=key,
            separator=make_separator(config.separation, config.demucs_checkpoint),
            segmenter=make_segmenter(config.segmenter, config.segmenter_checkpoint),
            captioner=make_captioner(config.captioner, config.lalm_path),
            quality=make_quality(config.quality, config.audiobox_checkpoint),
            agreement=make_agreement(config.agreement, config.clap_path),
        )
    return _STAGES


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples
    import soxr

    return soxr.resample(samples, rate, target).astype(np.float32)


def process_file(item: InputFile, config: BuildConfig, out: str) -> dict[str, Any]:
    """Process `item` and write its result (and clips) into the work folder. Never raises for a bad input: the
    result then has `status: rejected` and the reason. Returns the result."""
    work = WorkDir(out)
    fingerprint = work.file_fingerprint(item, config.fingerprint())
    started = time.time()
    base = {"source": item.relpath, "key": item.key, "fingerprint": fingerprint}
    try:
        result = _process(item, config, work)
        result = {**base, "status": "ok", **result}
    except RejectedInput as reason:
        result = {**base, "status": "rejected", "reason": str(reason)}
    except Exception as error:  # an analysis failure on one file must not stop a run over thousands
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        result = {**base, "status": "rejected", "reason": f"processing error: {detail}"}
    result["seconds"] = round(time.time() - started, 3)
    work.write_result(item, result)
    return result


def _process(item: InputFile, config: BuildConfig, work: WorkDir) -> dict[str, Any]:
    stage = stages(config)
    audio = load_audio(item, min_duration=config.min_duration)
    accompaniment = stage["separator"](audio, item)
    analysis = analyze_song(accompaniment.samples, accompaniment.sample_rate, melody=config.melody)
    segments = stage["segmenter"](analysis, item)
    if not segments:
        raise RejectedInput("segmentation returned no sections")
    grid = analysis.grid
    clip_dir = work.reset_clips(item)
    corpus_audio = _resample(accompaniment.samples, accompaniment.sample_rate, config.sample_rate)
    clips: list[dict[str, Any]] = []
    for index, segment in enumerate(segments):
        if segment.duration < config.min_segment:
            continue
        a, b = int(segment.start * config.sample_rate), int(segment.end * config.sample_rate)
        clip_audio = corpus_audio[a:b]
        if clip_audio.shape[0] < config.min_segment * config.sample_rate * 0.5:
            continue
        descriptors = describe(
            analysis.features,
            segment.start,
            segment.end,
            tempo=grid.tempo,
            meter=grid.meter,
            chords=analysis.chords,
            notes=analysis.notes,
            key=analysis.key,
        )
        clips.append(
            {
                "index": index,
                "start": segment.start,
                "end": segment.end,
                "label": segment.label,
                "lead_sheet": analysis.lead_sheet(segment.start, segment.end).to_dict(),
                "descriptors": descriptors.to_dict(),
                "audio": clip_audio,
                "sample_rate": config.sample_rate,
                "_descriptors": descriptors,
            }
        )
    if not clips:
        raise RejectedInput(f"no section is at least --min-segment {config.min_segment:g} s long")
    captions = stage["captioner"](clips, item)
    for clip, caption in zip(clips, captions):
        clip["caption"] = caption
        clip["quality"], clip["quality_measures"] = stage["quality"](clip["audio"], config.sample_rate)
        clip["agreement"], clip["agreement_measures"] = stage["agreement"](
            caption, clip["_descriptors"], clip["audio"], config.sample_rate
        )
        clip["file"] = f"{clip['index']:03d}.flac"
        sf.write(clip_dir / clip["file"], clip["audio"], config.sample_rate, format="FLAC", subtype="PCM_16")
        del clip["audio"], clip["_descriptors"]
    by_index = {clip["index"]: clip["caption"] for clip in clips}
    song_segments = [{**s.to_dict(), "caption": by_index.get(i, "")} for i, s in enumerate(segments)]
    synth = json.loads(item.synth_metadata.read_text()) if item.synth_metadata else None
    return {
        "duration": audio.duration,
        "source_sample_rate": audio.sample_rate,
        "channels": int(audio.samples.shape[1]),
        "synth_song_id": synth["song_id"] if synth else None,
        "analysis": {
            "tempo": grid.tempo,
            "meter": f"{grid.meter}/4",
            "key": analysis.key.name,
            "beats": [round(float(t), 4) for t in grid.beats],
            "downbeats": [round(float(t), 4) for t in grid.downbeats],
            "chords": [{"start": c.start, "end": c.end, "symbol": c.symbol} for c in analysis.chords],
            "melody": None if analysis.melody is None else [vars(n).copy() for n in analysis.melody],
            "segments": song_segments,
        },
        "clips": clips,
    }
