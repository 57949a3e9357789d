"""One synth song: plan, MIDI, stems, mix and its exact metadata (sections, chords, beats, tempo, key, styles)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import mido
import numpy as np
import pretty_midi
import soundfile as sf

from diffusers_s2acc.music import ChordEvent, LeadSheet, Note, Segment

from .grooves import require_mma
from .melody import LEAD_INSTRUMENTS, compose, melody_midi
from .plan import SongPlan, draw_plan, genre_of
from .realistic import RENDER_MODES, draw_render, master, render_accompaniment, render_melody
from .render import bar_slots, mma_chart, render_midi, run_mma


SYNTH_FORMAT = "s2acc-synth/1"
METADATA_NAME = "metadata.json"


def _section_description(plan: SongPlan, index: int, melody_program: str | None, has_melody: bool) -> str:
    """Caption material: what the metadata knows for sure about one section."""
    section = plan.sections[index]
    groove = section.groove
    instruments = ", ".join(groove.instruments)
    parts = [
        f"{section.label.capitalize()} in a {genre_of(groove)} style "
        f"({groove.name}: {groove.description.rstrip('.')})",
        f"{plan.tempo:g} BPM in {plan.time_signature[0]}/{plan.time_signature[1]}, "
        + ("no fixed key" if plan.mode == "none" else f"key of {plan.key}"),
        f"instruments: {instruments}{', drums' if groove.has_drums else ''}",
    ]
    if has_melody and melody_program:
        parts.append(f"lead {melody_program} melody")
    return "; ".join(parts) + "."


def _split_stems(chart_midi: Path, workdir: Path, soundfont: str, sample_rate: int) -> dict[str, np.ndarray]:
    """Per-track stems: MMA's `-xTSplit` writes one MIDI per track; each is rendered alone."""
    mma = require_mma()
    source = chart_midi.with_suffix(".mma")
    subprocess.run(
        [mma, "-w", "-xTSplit", "-f", str(workdir / "track.mid"), str(source)], capture_output=True, check=True
    )
    stems = {}
    for midi in sorted(workdir.glob("track*.mid")):
        name = midi.stem.replace("track-", "").lower()
        stems[name] = render_midi(midi, soundfont, sample_rate, midi.with_suffix(".wav"))
    return stems


def _pad(arrays: list[np.ndarray]) -> list[np.ndarray]:
    length = max(a.shape[0] for a in arrays)
    return [np.pad(a, ((0, length - a.shape[0]), (0, 0))) for a in arrays]


def synthesize_song(
    song_id: str,
    seed: int,
    out_dir: str | os.PathLike,
    *,
    soundfonts: list[str],
    sample_rate: int = 44100,
    melody_prob: float = 0.7,
    section_bars: int | None = None,
    max_sections: int | None = None,
    track_stems: bool = False,
    families: list[str] | None = None,
    tonics: list[int] | None = None,
    charts: str = "mixed",
    chart_families: list[str] | None = None,
    render: str = "gm",
    render_fonts: list[str] | None = None,
) -> dict[str, Any]:
    """Write `out_dir/<song_id>/` (mix.flac, accompaniment.flac, melody.flac, MIDI, MMA chart, metadata.json).

    `render="gm"` plays MMA's MIDI through one of `soundfonts` with FluidSynth's defaults; `"realistic"` draws fonts
    (`render_fonts` or the installed defaults, plus an AVL drum kit), performance and mix from the seed (see
    [`realistic`]) and records the draw under `"render"`. Plan, chart and melody are the same in both.

    The song directory is assembled in a temporary sibling and renamed into place, so an interrupted run never
    leaves a half-written song that a rerun would mistake for a finished one.
    """
    if render not in RENDER_MODES:
        raise ValueError(f"Unknown render mode {render!r}; choose from {', '.join(RENDER_MODES)}.")
    if render == "realistic" and track_stems:
        raise ValueError("--track-stems is not supported with --render realistic yet.")
    out_dir = Path(out_dir)
    final = out_dir / song_id
    if (final / METADATA_NAME).exists():
        done = json.loads((final / METADATA_NAME).read_text())
        if done.get("render", {}).get("mode", "gm") != render:  # a resume must not mix two renders in one corpus
            raise ValueError(
                f"{final} was rendered with --render {done.get('render', {}).get('mode', 'gm')}, "
                f"not {render}; use another --out."
            )
        return done
    rng = random.Random(f"song-{seed}")
    plan = draw_plan(
        song_id,
        seed,
        section_bars=section_bars,
        max_sections=max_sections,
        families=families,
        tonics=tonics,
        charts=charts,
        chart_families=chart_families,
    )
    soundfont = soundfonts[rng.randrange(len(soundfonts))]
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{song_id}-", dir=out_dir))
    try:
        midi_path = run_mma(mma_chart(plan), work)
        midi = pretty_midi.PrettyMIDI(str(midi_path))
        downbeats = [float(t) for t in midi.get_downbeats()]
        beats = [float(t) for t in midi.get_beats()]
        tempo = float(midi.get_tempo_changes()[1][0])
        beat_seconds = 60.0 / tempo
        end_of_music = plan.total_bars * plan.meter * beat_seconds
        downbeats = [t for t in downbeats if t < end_of_music - 1e-3]
        beats = [t for t in beats if t < end_of_music - 1e-3]
        if len(downbeats) != plan.total_bars:
            # A groove file whose MIDI time signature disagrees with its `Time` (vienesewaltz writes 4/4 over
            # three-beat bars): the bars are MMA's, every `meter` beats.
            downbeats = beats[:: plan.meter]
        realistic = None
        if render == "realistic":
            realistic, fonts = draw_render(seed, mido.MidiFile(str(midi_path)), render_fonts)
            accompaniment = render_accompaniment(midi_path, realistic, fonts, seed, sample_rate, work)
        else:
            accompaniment = render_midi(midi_path, soundfont, sample_rate, work / "accompaniment.wav")
        stems = {"accompaniment": accompaniment}
        has_melody = rng.random() < melody_prob
        melody_notes, lead_name = None, None
        if has_melody:
            program, lead_name = rng.choice(LEAD_INSTRUMENTS)
            melody_notes = compose(plan, downbeats + [end_of_music], beat_seconds, rng)
            melody_midi(melody_notes, program, str(work / "melody.mid"))
            if realistic is not None:
                stems["melody"] = render_melody(work / "melody.mid", realistic, fonts, seed, sample_rate, work)
            else:
                stems["melody"] = render_midi(work / "melody.mid", soundfont, sample_rate, work / "melody.wav")
        if track_stems:
            stems.update({f"track_{k}": v for k, v in _split_stems(midi_path, work, soundfont, sample_rate).items()})
        if realistic is not None:
            # One master gain for both stems: the written stems sum to the written mix.
            stems["accompaniment"], melody, mix, measured = master(
                stems["accompaniment"], stems.get("melody"), sample_rate, realistic
            )
            if melody is not None:
                stems["melody"] = melody
            realistic["measured"] = measured
        else:
            mix_parts = _pad([stems["accompaniment"]] + ([stems["melody"] * 0.9] if has_melody else []))
            mix = np.sum(mix_parts, axis=0)
            peak = float(np.abs(mix).max())
            if peak > 0.99:  # keep the mix unclipped; stems are scaled alike so they still sum to the mix
                mix /= peak / 0.99
        duration = mix.shape[0] / sample_rate
        files = {"mix": "mix.flac"}
        sf.write(work / "mix.flac", mix, sample_rate, subtype="PCM_16")
        for name, audio in stems.items():
            if name != "accompaniment" and name != "melody" and not track_stems:
                continue
            files[name] = f"{name}.flac"
            sf.write(work / f"{name}.flac", audio, sample_rate, subtype="PCM_16")
        shutil.copy(midi_path, work / "song.mid")

        sections, chords, bar = [], [], 0
        for index, section in enumerate(plan.sections):
            start = downbeats[bar]
            end = downbeats[bar + section.bars] if bar + section.bars < len(downbeats) else duration
            for offset, symbols in enumerate(section.chords):
                bar_start = downbeats[bar + offset]
                bar_end = downbeats[bar + offset + 1] if bar + offset + 1 < len(downbeats) else end_of_music
                slots = bar_slots(symbols, plan.meter)
                for (beat, symbol), nxt in zip(slots, slots[1:] + [(plan.meter, None)]):
                    chords.append(
                        ChordEvent(
                            bar_start + beat * beat_seconds, min(bar_start + nxt[0] * beat_seconds, bar_end), symbol
                        )
                    )
            caption = _section_description(
                plan, index, lead_name, has_melody and section.label not in ("intro", "outro")
            )
            sections.append(
                {
                    **Segment(start, end, section.label, caption).to_dict(),
                    "bars": section.bars,
                    "groove": section.groove.name,
                    "genre": genre_of(section.groove),
                    "style": section.groove.description,
                    "instruments": list(section.groove.instruments),
                    "drums": section.groove.has_drums,
                }
            )
            bar += section.bars
        # Merge repeated consecutive symbols (a chord held over a barline is one event).
        merged: list[ChordEvent] = []
        for event in chords:
            if merged and merged[-1].symbol == event.symbol and abs(merged[-1].end - event.start) < 1e-6:
                merged[-1].end = event.end
            else:
                merged.append(event)
        sheet = LeadSheet(
            tempo=tempo,
            meter=plan.time_signature,
            chords=merged,
            melody=None if melody_notes is None else [Note(**n) for n in melody_notes],
            offset=0.0,
        )
        metadata = {
            "format": SYNTH_FORMAT,
            "song_id": song_id,
            "seed": seed,
            "sample_rate": sample_rate,
            "duration": duration,
            "tempo": tempo,
            "meter": f"{plan.time_signature[0]}/{plan.time_signature[1]}",
            "key": plan.key,
            "charts": charts,
            **({"chart_family": plan.chart_family, "chart_style": plan.chart_style} if charts != "classic" else {}),
            "soundfont": Path(soundfont).name if realistic is None else realistic["soundfont"],
            "lead_instrument": lead_name,
            "files": files,
            "sections": sections,
            "beats": beats,
            "downbeats": downbeats,
            "lead_sheet": sheet.to_dict(),
            "mma_chart": mma_chart(plan),
            **({"render": realistic} if realistic is not None else {}),
        }
        (work / METADATA_NAME).write_text(json.dumps(metadata, indent=1))
        for leftover in list(work.glob("*.mid")) + list(work.glob("*.mma")):
            if leftover.name != "song.mid":
                leftover.unlink()
        for leftover in work.glob("*.wav"):
            leftover.unlink()
        work.chmod(0o755)  # mkdtemp creates 0700
        if final.exists():
            shutil.rmtree(final)
        os.replace(work, final)
        (final / "accompaniment.mma").write_text(metadata["mma_chart"])
        return metadata
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
