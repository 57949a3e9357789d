"""The opt-in realistic render (`synth --render realistic`): a per-song draw of soundfonts, performance and mix.

The default `gm` render plays MMA's MIDI through one GM soundfont with FluidSynth's defaults, so every song sounds
like the same quantised General-MIDI band. This mode draws, from the song's seed, everything a recording would vary
and records it in `metadata.json` under `"render"`:

- a melodic GM soundfont (FluidR3_GM, MuseScore General when installed) and, for the drums (MIDI channel 10), a
  multi-sampled AVL acoustic kit where installed: the kit-piece notes it covers are moved to their own MIDI file and
  rendered with the kit; latin/auxiliary percussion stays on the GM font's kit;
- humanised timing (a per-track offset and jitter, in ms) and velocity (a per-track spread), applied to the MIDI
  with mido so the chart MMA wrote (and `song.mid`, the label source) is untouched;
- per-track pan, level, reverb and chorus sends (MIDI CC 10, 7, 91, 93 at time 0: MMA writes only bank selects),
  and one FluidSynth reverb/chorus setting per song (`-o synth.reverb.*`, `synth.chorus.*`);
- a light master chain computed on the mix: gentle RMS compression and loudness normalisation (EBU R128 through
  pyloudnorm when installed, else RMS, recorded as `method`), with a peak ceiling. The chain is one time-varying
  gain, applied to the accompaniment and melody stems alike, so the stems still sum to the mix.

The accompaniment and the melody are rendered with the same draw (fonts, reverb, chorus); nothing here touches the
song's plan, chart or melody, which come from the same seed as in `gm` mode.
"""

from __future__ import annotations

import random
import struct
from functools import cache
from pathlib import Path
from typing import Any

import mido
import numpy as np

from .render import FLUIDSYNTH_GAIN, render_midi


RENDER_MODES = ("gm", "realistic")

#: Melodic GM soundfonts the realistic mode draws from (those installed). TimGM6mb is left out: at 6 MB it is the
#: thinnest-sounding font and the `gm` mode already covers it. MuseScore General (Debian
#: `musescore-general-soundfont`) is used by path when present; it is not installed by default.
REALISTIC_GM_FONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf2/MuseScore_General.sf2",
)
#: AVL acoustic drum kits (Debian `avldrums.lv2-soundfont`), one bank-0 preset each, kit pieces on GM drum notes.
DRUM_KITS = (
    "/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2",
    "/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2",
    "/usr/lib/lv2/avldrums.lv2/Black_Pearl_4_LV2.sf2",
    "/usr/lib/lv2/avldrums.lv2/Red_Zeppelin_4_LV2.sf2",
)
#: Licence of each source, by file name (recorded per song; see the table in dataset_builder/README.md).
LICENCES = {
    "FluidR3_GM.sf2": "MIT (Frank Wen; Debian fluid-soundfont-gm)",
    "TimGM6mb.sf2": "GPL-2 (Tim Brechbill; Debian timgm6mb-soundfont)",
    "MuseScore_General.sf3": "MIT (S. Christian Collins / MuseScore; Debian musescore-general-soundfont)",
    "MuseScore_General.sf2": "MIT (S. Christian Collins / MuseScore; Debian musescore-general-soundfont)",
    "Black_Pearl_4_LV2.sf2": "AVL Drumkits, CC BY-SA 3.0 upstream (Debian's copyright file lists GPL-2+)",
    "Red_Zeppelin_4_LV2.sf2": "AVL Drumkits, CC BY-SA 3.0 upstream (Debian's copyright file lists GPL-2+)",
}
#: GM drum notes sent to the AVL kit (kick 35 to ride 2 59, without the vibraslap 58): the kit pieces of a drum set.
#: Latin and auxiliary percussion (bongos, congas, shakers, ...) stays on the GM font's percussion bank.
KIT_NOTES = frozenset(set(range(35, 58)) | {59})
DRUM_CHANNEL = 9
# Sample blocks of the compressor's level detector.
_BLOCK_SECONDS = 0.005


def available(paths: tuple[str, ...]) -> list[str]:
    """The installed files among `paths`, one per file name (the same kit under two folders counts once)."""
    seen, found = set(), []
    for path in paths:
        if Path(path).is_file() and Path(path).name not in seen:
            seen.add(Path(path).name)
            found.append(path)
    return found


@cache
def preset_keys(path: str) -> frozenset[int]:
    """MIDI keys an SF2's preset zones cover (their `keyRange` generators), read from the RIFF `pdta` chunks.

    Used to send a drum note to an AVL kit only when the kit has a sample for it. An SF3/SF2 without preset key
    ranges covers every key.
    """
    data = Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise ValueError(f"{path} is not a SoundFont (RIFF sfbk) file.")
    chunks: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if cid == b"LIST" and data[pos + 8 : pos + 12] == b"pdta":
            sub = pos + 12
            while sub + 8 <= pos + 8 + size:
                sid, ssize = data[sub : sub + 4], struct.unpack("<I", data[sub + 4 : sub + 8])[0]
                chunks[sid] = data[sub + 8 : sub + 8 + ssize]
                sub += 8 + ssize + (ssize & 1)
        pos += 8 + size + (size & 1)
    bag, gen = chunks[b"pbag"], chunks[b"pgen"]
    starts = [struct.unpack("<H", bag[i : i + 2])[0] for i in range(0, len(bag), 4)]
    keys: set[int] = set()
    for first, last in zip(starts, starts[1:]):
        low, high, has_instrument = 0, 127, False
        for g in range(first, last):
            op = struct.unpack("<H", gen[4 * g : 4 * g + 2])[0]
            if op == 43:  # keyRange: low and high key bytes
                low, high = gen[4 * g + 2], gen[4 * g + 3]
            elif op == 41:  # instrument: the zone sounds (a zone without one is the global zone)
                has_instrument = True
        if has_instrument:
            keys.update(range(low, high + 1))
    return frozenset(keys)


def _role(name: str) -> str:
    """A track's role from MMA's track name (`Drum-Snare`, `Bass-Sax`, `Walk`, `Chord-Piano`, `melody`, ...)."""
    head = name.split("-")[0].lower()
    if head == "drum":
        return "drums"
    if head in ("bass", "walk"):
        return "bass"
    if head == "melody":
        return "lead"
    return "comping"


def _draw_track(rng: random.Random, name: str, channel: int, chorus: bool) -> dict[str, Any]:
    """Pan, level, sends and humanisation of one track; ranges by role (bass and kick stay near the centre)."""
    role = _role(name)
    spread = {"drums": 10, "bass": 8, "lead": 20, "comping": 50}[role]
    timing_sd = {"drums": (1.5, 5.0), "bass": (3.0, 8.0), "lead": (4.0, 12.0), "comping": (4.0, 12.0)}[role]
    # A drummer is the time reference; the others sit a little behind or ahead of it.
    offset = 0.0 if role == "drums" else rng.uniform(-6.0, 10.0)
    return {
        "name": name,
        "channel": channel + 1,  # 1-based, as musicians (and MMA) count MIDI channels
        "role": role,
        "pan": int(np.clip(64 + rng.randint(-spread, spread), 0, 127)),
        "level": round(rng.uniform(0.7, 1.1), 3),
        "reverb_send": rng.randint(15, 45) if role in ("drums", "bass") else rng.randint(30, 80),
        "chorus_send": rng.randint(10, 50) if chorus and role in ("comping", "lead") else 0,
        "timing_offset_ms": round(offset, 2),
        "timing_sd_ms": round(rng.uniform(*timing_sd), 2),
        "velocity_sd": round(rng.uniform(0.03, 0.1), 3),
    }


def draw_render(
    seed: int, midi: mido.MidiFile, gm_fonts: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, str | None]]:
    """The per-song render draw (JSON-serialisable, file names only) and the paths of its two fonts, from the song's
    seed and the tracks of MMA's MIDI. `gm_fonts` replaces [`REALISTIC_GM_FONTS`] (the `--soundfont` option).

    The draw uses its own random stream, so the song's plan, melody and lead instrument are those of `gm` mode.
    """
    rng = random.Random(f"render-{seed}")
    fonts = gm_fonts or available(REALISTIC_GM_FONTS)
    if not fonts:
        raise FileNotFoundError("No GM soundfont for --render realistic; run scripts/install_system_deps.sh.")
    kits = available(DRUM_KITS)
    font = rng.choice(fonts)
    kit = rng.choice(kits) if kits else None
    chorus = rng.random() < 0.5
    tracks = []
    for track in midi.tracks:
        channels = sorted({m.channel for m in track if hasattr(m, "channel")})
        if channels:
            tracks.append(_draw_track(rng, track.name or f"ch{channels[0] + 1}", channels[0], chorus))
    sources = [font] + ([kit] if kit else [])
    draw = {
        "mode": "realistic",
        "soundfont": Path(font).name,
        "drum_kit": Path(kit).name if kit else None,
        "drum_kit_notes": sorted(KIT_NOTES & preset_keys(kit)) if kit else [],
        "fluidsynth": {
            "synth.gain": FLUIDSYNTH_GAIN,
            "synth.reverb.active": 1,
            "synth.reverb.room-size": round(rng.uniform(0.2, 0.85), 3),
            "synth.reverb.damp": round(rng.uniform(0.1, 0.6), 3),
            "synth.reverb.width": round(rng.uniform(0.5, 1.0), 3),
            "synth.reverb.level": round(rng.uniform(0.3, 0.8), 3),
            "synth.chorus.active": int(chorus),
            "synth.chorus.nr": rng.randint(2, 4),
            "synth.chorus.level": round(rng.uniform(0.8, 2.0), 3),
            "synth.chorus.speed": round(rng.uniform(0.2, 0.6), 3),
            "synth.chorus.depth": round(rng.uniform(3.0, 10.0), 3),
        },
        "tracks": tracks,
        "melody": _draw_track(rng, "melody", 0, chorus),
        "master": {
            "compressor": {
                "threshold_below_p95_db": round(rng.uniform(2.0, 6.0), 2),
                "ratio": round(rng.uniform(1.5, 3.0), 2),
                "attack_ms": round(rng.uniform(5.0, 30.0), 1),
                "release_ms": round(rng.uniform(80.0, 300.0), 1),
            },
            "target_loudness_db": round(rng.uniform(-20.0, -15.0), 2),
            "peak_ceiling": 0.95,
        },
        "licences": {Path(p).name: LICENCES.get(Path(p).name, "unknown (user-supplied font)") for p in sources},
    }
    return draw, {"soundfont": font, "drum_kit": kit}


def _tempo(midi: mido.MidiFile) -> int:
    for track in midi.tracks:
        for msg in track:
            if msg.type == "set_tempo":
                return msg.tempo
    return 500000


def perform(midi: mido.MidiFile, tracks: list[dict[str, Any]], rng: random.Random, keep: Any = None) -> mido.MidiFile:
    """A humanised copy of `midi`: per-track CCs at time 0, note timing and velocity varied as `tracks` says.

    `keep(channel, note) -> bool` selects the notes to keep (the drum split); other messages are always kept.
    Timing is shifted per note (on and off together), clamped at 0, and a note never overlaps the next one on the
    same key (FluidSynth would cut the new one short).
    """
    by_channel = {t["channel"] - 1: t for t in tracks}
    ticks_per_ms = midi.ticks_per_beat / (_tempo(midi) / 1000.0)
    out = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat)
    for track in midi.tracks:
        events: list[tuple[int, int, mido.Message]] = []  # (tick, order, message); order: others < off < on
        notes: list[list] = []  # [on_tick, off_tick, channel, note, velocity]
        pending: dict[tuple[int, int], list[list]] = {}
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                note = [tick, None, msg.channel, msg.note, msg.velocity]
                notes.append(note)
                pending.setdefault((msg.channel, msg.note), []).append(note)
            elif msg.type in ("note_off", "note_on"):
                queue = pending.get((msg.channel, msg.note))
                if queue:
                    queue.pop(0)[1] = tick
            elif msg.type != "end_of_track":
                events.append((tick, 0, msg))
        channels = sorted({n[2] for n in notes} | {m.channel for _, _, m in events if hasattr(m, "channel")})
        for channel in channels:
            if channel in by_channel:
                t = by_channel[channel]
                for control, value in (
                    (7, round(100 * t["level"])),
                    (10, t["pan"]),
                    (91, t["reverb_send"]),
                    (93, t["chorus_send"]),
                ):
                    events.append(
                        (
                            0,
                            0,
                            mido.Message(
                                "control_change", channel=channel, control=control, value=int(np.clip(value, 0, 127))
                            ),
                        )
                    )
        end = tick
        by_key: dict[tuple[int, int], list[list]] = {}
        for on, off, channel, pitch, velocity in notes:
            if keep is not None and not keep(channel, pitch):
                continue
            t = by_channel.get(channel)
            off = end if off is None else off
            if t is not None:
                shift = round((t["timing_offset_ms"] + rng.gauss(0.0, t["timing_sd_ms"])) * ticks_per_ms)
                velocity = int(np.clip(round(velocity * (1.0 + rng.gauss(0.0, t["velocity_sd"]))), 1, 127))
                on, off = max(0, on + shift), max(0, off + shift)
            by_key.setdefault((channel, pitch), []).append([on, max(off, on + 1), channel, pitch, velocity])
        for key_notes in by_key.values():
            key_notes.sort(key=lambda n: n[0])
            for this, nxt in zip(key_notes, key_notes[1:]):
                this[1] = max(this[0] + 1, min(this[1], nxt[0]))
            for on, off, channel, pitch, velocity in key_notes:
                events.append((on, 2, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
                events.append((off, 1, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        events.sort(key=lambda e: (e[0], e[1]))
        new = mido.MidiTrack()
        new.name = track.name
        last = 0
        for tick, _, msg in events:
            if msg.type == "track_name":
                continue
            new.append(msg.copy(time=tick - last))
            last = tick
        new.append(mido.MetaMessage("end_of_track", time=0))
        out.tracks.append(new)
    return out


def _as_kit_part(midi: mido.MidiFile) -> mido.MidiFile:
    """The drum channel moved to channel 1, program 0, bank 0: an AVL kit's only preset (FluidSynth reads channel
    10 from the percussion bank 128, which the AVL files do not have)."""
    out = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat)
    for track in midi.tracks:
        new = mido.MidiTrack()
        for msg in track:
            if hasattr(msg, "channel"):
                if msg.channel != DRUM_CHANNEL or msg.type == "program_change":
                    new.append(mido.MetaMessage("text", text="", time=msg.time))  # keeps the timing
                    continue
                msg = msg.copy(channel=0)
            new.append(msg)
        out.tracks.append(new)
    out.tracks[0].insert(0, mido.Message("program_change", channel=0, program=0, time=0))
    return out


def _pad_sum(parts: list[np.ndarray]) -> np.ndarray:
    length = max(p.shape[0] for p in parts)
    return np.sum([np.pad(p, ((0, length - p.shape[0]), (0, 0))) for p in parts], axis=0)


def render_accompaniment(
    midi_path: Path, draw: dict[str, Any], fonts: dict[str, str], seed: int, sample_rate: int, work: Path
) -> np.ndarray:
    """MMA's MIDI performed and rendered: GM font for melodic tracks (and uncovered drum notes), AVL kit for the kit."""
    midi = mido.MidiFile(str(midi_path))
    rng = random.Random(f"perform-{seed}")
    kit_notes = set(draw["drum_kit_notes"])
    settings = {k: v for k, v in draw["fluidsynth"].items() if k != "synth.gain"}
    performed = perform(midi, draw["tracks"], rng)  # one humanisation for both parts, so they stay in time
    performed.save(str(work / "performed.mid"))
    on_kit = lambda channel, note: channel == DRUM_CHANNEL and note in kit_notes  # noqa: E731
    gm_part = perform(performed, [], rng, keep=lambda c, n: not on_kit(c, n))
    gm_part.save(str(work / "gm_part.mid"))
    parts = [render_midi(work / "gm_part.mid", fonts["soundfont"], sample_rate, work / "gm_part.wav", settings)]
    if draw["drum_kit"] and kit_notes:
        kit_part = _as_kit_part(perform(performed, [], rng, keep=on_kit))
        if any(m.type == "note_on" for t in kit_part.tracks for m in t):
            kit_part.save(str(work / "kit_part.mid"))
            parts.append(
                render_midi(work / "kit_part.mid", fonts["drum_kit"], sample_rate, work / "kit.wav", settings)
            )
    return _pad_sum(parts)


def render_melody(
    midi_path: Path, draw: dict[str, Any], fonts: dict[str, str], seed: int, sample_rate: int, work: Path
) -> np.ndarray:
    """The lead melody with the song's draw (same font, reverb and chorus as the accompaniment)."""
    midi = mido.MidiFile(str(midi_path))
    performed = perform(midi, [draw["melody"]], random.Random(f"perform-melody-{seed}"))
    performed.save(str(work / "melody_performed.mid"))
    settings = {k: v for k, v in draw["fluidsynth"].items() if k != "synth.gain"}
    return render_midi(work / "melody_performed.mid", fonts["soundfont"], sample_rate, work / "melody.wav", settings)


def _loudness_db(audio: np.ndarray, sample_rate: int) -> tuple[float, str]:
    """Integrated loudness: LUFS through pyloudnorm when installed, else RMS in dBFS (both over the whole mix)."""
    try:
        import pyloudnorm  # optional: not in the project's dependencies

        return float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio)), "lufs"
    except ImportError:
        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
        return 20.0 * np.log10(max(rms, 1e-9)), "rms"


def compressor_gain(audio: np.ndarray, sample_rate: int, settings: dict[str, float]) -> np.ndarray:
    """A gentle feed-forward RMS compressor's gain, `(samples,)`: the threshold sits `threshold_below_p95_db` under
    the 95th percentile of 5 ms block levels, so it acts on the loudest passages of each song whatever its level."""
    block = max(1, int(round(_BLOCK_SECONDS * sample_rate)))
    n_blocks = int(np.ceil(audio.shape[0] / block))
    padded = np.pad(audio, ((0, n_blocks * block - audio.shape[0]), (0, 0)))
    power = np.mean(np.square(padded, dtype=np.float64).reshape(n_blocks, block, -1), axis=(1, 2))
    level = 10.0 * np.log10(np.maximum(power, 1e-12))
    threshold = float(np.percentile(level, 95)) - settings["threshold_below_p95_db"]
    target = -np.maximum(level - threshold, 0.0) * (1.0 - 1.0 / settings["ratio"])
    attack = np.exp(-_BLOCK_SECONDS * 1000.0 / settings["attack_ms"])
    release = np.exp(-_BLOCK_SECONDS * 1000.0 / settings["release_ms"])
    smoothed = np.empty_like(target)
    state = 0.0
    for i, value in enumerate(target):  # one step per 5 ms block: cheap even for long songs
        coefficient = attack if value < state else release
        state = coefficient * state + (1.0 - coefficient) * value
        smoothed[i] = state
    centres = (np.arange(n_blocks) + 0.5) * block
    gain_db = np.interp(np.arange(audio.shape[0]), centres, smoothed)
    return (10.0 ** (gain_db / 20.0)).astype(np.float32)


def master(
    accompaniment: np.ndarray, melody: np.ndarray | None, sample_rate: int, draw: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, dict[str, float]]:
    """Compression, loudness normalisation and a peak ceiling as one gain applied to both stems.

    Returns `(accompaniment, melody, mix, measured)`; `mix == accompaniment + melody` exactly (before the FLAC's
    16-bit quantisation). The melody's level is its draw's `level` times 0.9, the `gm` mode's melody gain.
    """
    parts = [accompaniment] + ([melody * 0.9] if melody is not None else [])
    length = max(p.shape[0] for p in parts)
    parts = [np.pad(p, ((0, length - p.shape[0]), (0, 0))) for p in parts]
    mix = np.sum(parts, axis=0)
    settings = draw["master"]
    gain = compressor_gain(mix, sample_rate, settings["compressor"])
    loudness, method = _loudness_db(mix * gain[:, None], sample_rate)
    scalar = 10.0 ** ((settings["target_loudness_db"] - loudness) / 20.0)
    peak = float(np.abs(mix * gain[:, None]).max()) * scalar
    if peak > settings["peak_ceiling"]:
        scalar *= settings["peak_ceiling"] / peak
    gain = (gain * scalar)[:, None].astype(np.float32)
    parts = [(p * gain).astype(np.float32) for p in parts]
    mix = np.sum(parts, axis=0)
    measured = {
        "loudness_method": method,
        "loudness_before_db": round(loudness, 2),
        "loudness_after_db": round(_loudness_db(mix, sample_rate)[0], 2),
        "max_gain_reduction_db": round(float(-20.0 * np.log10(max(gain.min() / scalar, 1e-9))), 2),
        "normalisation_gain_db": round(float(20.0 * np.log10(scalar)), 2),
        "peak": round(float(np.abs(mix).max()), 4),
    }
    return parts[0], (parts[1] if melody is not None else None), mix, measured
