"""A tiny corpus in the dataset_builder layout, synthesised in memory: chords as sine tones, clicks on beats."""

import io
import json
from pathlib import Path

import numpy as np
import soundfile

from diffusers_s2acc import LeadSheet
from diffusers_s2acc.music import parse_chord


CHARTS = ["C | Am | F | G", "Dm | G7 | C | C", "Em | C | G | D", "F | Bb | C | F"]


def render(sheet: LeadSheet, duration: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration * rate)) / rate
    audio = np.zeros_like(t)
    for chord in sheet.chords:
        span = (t >= chord.start) & (t < chord.end)
        for pc in parse_chord(chord.symbol).pitch_classes:
            audio[span] += 0.1 * np.sin(2 * np.pi * 261.63 * 2 ** (pc / 12) * t[span])
    for time, downbeat in sheet.beat_times(duration):
        start = int(time * rate)
        click = rng.normal(0, 0.5 if downbeat else 0.25, 200) * np.exp(-np.arange(200) / 40)
        audio[start : start + 200] += click[: len(audio[start : start + 200])]
    return (audio / max(1.0, np.abs(audio).max())).astype(np.float32)


def make_corpus(path, num_songs: int = 4, rate: int = 16000, stereo: bool = False):
    import datasets

    rows = {"audio": [], "caption": [], "segments": [], "lead_sheet": []}
    for i in range(num_songs):
        bpm = [100, 120, 90, 110][i % 4]
        sheet = LeadSheet.from_chart(CHARTS[i % len(CHARTS)] + " | " + CHARTS[(i + 1) % len(CHARTS)], bpm=bpm)
        duration = sheet.duration
        audio = render(sheet, duration, rate, seed=i)
        if stereo:
            audio = np.stack([audio, 0.5 * audio], axis=-1)
        buffer = io.BytesIO()
        soundfile.write(buffer, audio, rate, format="WAV")
        half = round(duration / 2, 3)
        rows["audio"].append({"bytes": buffer.getvalue(), "path": f"song{i}.wav"})
        rows["caption"].append(f"synthetic sine chords at {bpm} BPM")
        rows["segments"].append(
            [
                {"start": 0.0, "end": half, "label": "verse", "caption": "quiet sine chords"},
                {"start": half, "end": duration, "label": "chorus", "caption": "the same chords, a new key"},
            ]
        )
        rows["lead_sheet"].append(json.dumps(sheet.to_dict()))
    # Encoded WAV bytes go in as a struct and are cast to `Audio` without re-encoding (which needs torchcodec).
    corpus = datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio(decode=False))
    corpus.save_to_disk(str(path))
    return path


def synth_song_folder(root: Path, song_id: str = "song_00000") -> Path:
    """A synth-style song folder (metadata and a silent reference) with three sections, without rendering: what
    `s2acc make-specs --synth` reads."""
    song = root / song_id
    song.mkdir(parents=True)
    soundfile.write(song / "accompaniment.flac", np.zeros(48 * 16000, dtype=np.float32), 16000)
    bar = 2.0
    sections = [("intro", 0, 8), ("verse", 8, 24), ("chorus", 24, 48)]
    meta = {
        "song_id": song_id,
        "duration": 48.0,
        "tempo": 120.0,
        "meter": "4/4",
        "key": "C major",
        "files": {"accompaniment": "accompaniment.flac"},
        "downbeats": [i * bar for i in range(24)],
        "sections": [
            {
                "start": a,
                "end": b,
                "label": label,
                "caption": f"{label} caption from the synth",
                "genre": "soft rock",
                "instruments": ["Piano1", "FretlessBass"],
                "drums": True,
                "style": "Easy beat.",
            }
            for label, a, b in sections
        ],
        "lead_sheet": LeadSheet.from_chart(" | ".join(["C", "Am", "F", "G"] * 6), bpm=120).to_dict(),
    }
    (song / "metadata.json").write_text(json.dumps(meta))
    return root
