"""Processing one input file end to end: load, separate, analyse, segment, lead sheets, captions, grades, clips."""

from __future__ import annotations

import json
import random
import time
import traceback
from typing import Any

import numpy as np
import soundfile as sf

from diffusers_s2acc.analysis.descriptors import describe
from diffusers_s2acc.analysis.song import analyze_song
from diffusers_s2acc.audio import resample
from diffusers_s2acc.music import LeadSheet
from diffusers_s2acc.music.phrasing import MusicFacts, facts_from_synth, user_prompt

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


def _oracle_sheet(synth: dict[str, Any] | None, melody: bool) -> LeadSheet | None:
    """The exact lead sheet of a synth song (chart, tempo, meter, melody), or None for other files."""
    if synth is None:
        return None
    sheet = dict(synth["lead_sheet"])
    if not melody or not sheet.get("melody"):
        sheet.pop("melody", None)
    return LeadSheet.from_dict(sheet)


def _clip_sheet(analysis, oracle: LeadSheet | None, start: float, end: float) -> dict[str, Any]:
    return (oracle.crop(start, end) if oracle is not None else analysis.lead_sheet(start, end)).to_dict()


def _song_clip(clips: list[dict[str, Any]], corpus_audio: np.ndarray, analysis, oracle, config, synth, item):
    """One clip spanning every kept section: the sections keep their captions and labels (clip-relative times), and
    the clip's caption is a short global prompt in the words users write (see `diffusers_s2acc.music.phrasing`)."""
    start, end = clips[0]["start"], clips[-1]["end"]
    grid = analysis.grid
    a, b = int(start * config.sample_rate), int(end * config.sample_rate)
    descriptors = describe(
        analysis.features,
        start,
        end,
        tempo=grid.tempo,
        meter=grid.meter,
        chords=analysis.chords,
        notes=analysis.notes,
        key=analysis.key,
    )
    rng = random.Random(f"{item.relpath}#song")
    if synth is not None:
        facts = facts_from_synth(synth)[0]
    else:
        facts = MusicFacts(genres=[], tempo=grid.tempo, meter=grid.meter, key=analysis.key.name)
    return {
        "index": 0,
        "start": start,
        "end": end,
        "label": "song",
        "segments": [
            {"start": c["start"] - start, "end": c["end"] - start, "label": c["label"], "caption": c["caption"]}
            for c in clips
        ],
        "caption": user_prompt(facts, rng),
        "lead_sheet": _clip_sheet(analysis, oracle, start, end),
        "descriptors": descriptors.to_dict(),
        "audio": corpus_audio[:, a:b],
        "sample_rate": config.sample_rate,
        "quality": float(np.mean([c["quality"] for c in clips])),
        "quality_measures": {"sections": [c["quality_measures"] for c in clips]},
        "agreement": float(np.mean([c["agreement"] for c in clips])),
        "agreement_measures": {"sections": [c["agreement_measures"] for c in clips]},
    }


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
    # Synth songs with oracle lead sheets take their melody from the metadata: transcribing it again is wasted time.
    oracle_melody = config.lead_sheets == "oracle" and item.synth_metadata is not None
    analysis = analyze_song(
        accompaniment.samples, accompaniment.sampling_rate, melody=config.melody and not oracle_melody
    )
    segments = stage["segmenter"](analysis, item)
    if not segments:
        raise RejectedInput("segmentation returned no sections")
    grid = analysis.grid
    synth = json.loads(item.synth_metadata.read_text()) if item.synth_metadata else None
    oracle = _oracle_sheet(synth, config.melody) if config.lead_sheets == "oracle" else None
    clip_dir = work.reset_clips(item)
    corpus_audio = resample(accompaniment.samples, accompaniment.sampling_rate, config.sample_rate)
    clips: list[dict[str, Any]] = []
    for index, segment in enumerate(segments):
        if segment.duration < config.min_segment:
            continue
        a, b = int(segment.start * config.sample_rate), int(segment.end * config.sample_rate)
        clip_audio = corpus_audio[:, a:b]  # (channels, samples)
        if clip_audio.shape[-1] < config.min_segment * config.sample_rate * 0.5:
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
                "lead_sheet": _clip_sheet(analysis, oracle, segment.start, segment.end),
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
        del clip["_descriptors"]
    by_index = {clip["index"]: clip["caption"] for clip in clips}
    song_segments = [{**s.to_dict(), "caption": by_index.get(i, "")} for i, s in enumerate(segments)]
    if config.clip_unit == "song":
        clips = [_song_clip(clips, corpus_audio, analysis, oracle, config, synth, item)]
    for clip in clips:
        clip["file"] = f"{clip['index']:03d}.flac"
        sf.write(clip_dir / clip["file"], clip["audio"].T, config.sample_rate, format="FLAC", subtype="PCM_16")
        del clip["audio"]
    return {
        "duration": audio.duration,
        "source_sample_rate": audio.sampling_rate,
        "channels": int(audio.samples.shape[0]),
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
