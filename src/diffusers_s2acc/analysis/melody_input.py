"""A user's melody, from a recording or a MIDI file, as one monophonic line with its tempo, meter, bars and key.

A recording (any rate, mono or stereo: a voice, a whistle, one instrument) is transcribed with basic-pitch
([`melody.transcribe`]) and cleaned to one line ([`melody.monophonic_line`]); its tempo comes from the beat tracker
([`beats.track_beats`]). A MIDI file is read with pretty_midi: the melody is the instrument with the most notes, or
the one named; tempo and meter are the file's own. Where the bars fall is taken from the notes: a tune's long
notes start on downbeats more often than elsewhere, so of every meter and phase the one whose bar lines carry the
most note onset weight (duration-weighted) against its other beats wins, unless the harmoniser finds the melody
clearly more likely on another grid ([`harmonic_bars`]); for a recording, the tracked tempo and the beat phase are
first fitted to the note onsets ([`refine_beat_grid`]). The key is the harmoniser's, decoded jointly with the chords
over the 24 keys ([`~music.harmonizer.estimate_key`]). Any of tempo, meter and key that the user gives wins over
the estimate.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import read_audio, resample, to_mono
from ..music import LeadSheet, Note
from ..music.harmonizer import estimate_key as harmonic_key
from ..music.harmonizer import melody_log_likelihood, parse_key_name
from ..music.lead_sheet import MAX_TEMPO, MIN_TEMPO, _parse_meter
from ._deps import require
from .key import Key, estimate_key


MIDI_EXTENSIONS = (".mid", ".midi", ".smf", ".kar")
#: Below this peak level (-60 dBFS) a recording counts as silent.
SILENCE_PEAK = 1e-3
#: Fewer notes than this is no melody to harmonise.
MIN_NOTES = 3
#: A solo line sounds about one note at a time: summed note time over the time anything sounds. A transcriber's
#: octave ghosts and overlaps keep a real melody below ~1.5 (measured on the synth songs' melody stems); chords and
#: full mixes sit far above.
MAX_POLYPHONY = 2.0
#: Share of the note time (duration-weighted onsets) that must start within a fifth of a beat of the tracked grid.
MIN_ON_GRID = 0.6


@dataclass
class MelodyInput:
    """A melody ready to harmonise and to play along with.

    Attributes:
        notes (`list[Note]`): One monophonic line, seconds from the start of the source.
        tempo (`float`), meter (`tuple[int, int]`): As a [`LeadSheet`] counts them.
        offset (`float`): Time of the melody's first downbeat (notes before it are a pick-up).
        key (`Key`): Tonic, mode and confidence (1.0 where the user gave it).
        duration (`float`): Length of the source in seconds.
        source (`str`): `"audio"` or `"midi"`.
        audio (`np.ndarray`, *optional*): The recording, `(channels, samples)`, for audio sources.
        sampling_rate (`int`, *optional*): Its rate.
        key_given (`bool`, defaults to `False`): Whether `key` is the user's (the harmoniser then keeps it) or an
            estimate (the harmoniser decodes its own, the same unless the grid differs).
    """

    notes: list[Note]
    tempo: float
    meter: tuple[int, int]
    offset: float
    key: Key
    duration: float
    source: str
    audio: np.ndarray | None = None
    sampling_rate: int | None = None
    key_given: bool = False

    @property
    def key_tuple(self) -> tuple[int, str]:
        return self.key.tonic, self.key.mode

    def lead_sheet(self) -> LeadSheet:
        """The melody with its tempo, meter and first downbeat (no chords)."""
        return LeadSheet(tempo=self.tempo, meter=self.meter, melody=list(self.notes), offset=self.offset)


def _melody_error(message: str) -> ValueError:
    return ValueError(f"`melody`: {message}")


def _check_user_values(bpm: float | None, meter, key) -> tuple[tuple[int, int] | None, Key | None]:
    if bpm is not None and (
        isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not MIN_TEMPO <= bpm <= MAX_TEMPO
    ):
        raise ValueError(f"`bpm` must be a tempo in [{MIN_TEMPO:g}, {MAX_TEMPO:g}], got {bpm!r}.")
    parsed_meter = None
    if meter is not None:
        try:
            parsed_meter = _parse_meter(meter)
        except ValueError as error:
            raise ValueError(f"`meter`: {error}") from None
    parsed_key = None
    if key is not None:
        tonic, mode = parse_key_name(key) if not isinstance(key, Key) else (key.tonic, key.mode)
        parsed_key = Key(tonic, mode, 1.0)
    return parsed_meter, parsed_key


def melody_key(
    notes: list[Note], tempo: float | None = None, meter: tuple[int, int] = (4, 4), offset: float = 0.0
) -> Key:
    """Key of a melody. On its bar grid (`tempo` given): decoded jointly with its chords by the harmoniser
    ([`~music.harmonizer.estimate_key`]), confidence the key's posterior. Without one: its duration-weighted
    pitch-class profile against the key profiles ([`key.estimate_key`])."""
    if tempo is not None:
        (tonic, mode), confidence = harmonic_key(notes, tempo=tempo, meter=meter, offset=offset)
        return Key(tonic, mode, confidence)
    profile = np.zeros(12)
    for note in notes:
        profile[note.pitch % 12] += note.end - note.start
    return estimate_key(profile)


def find_bars(
    notes: list[Note], seconds_per_beat: float, beat_phase: float, meters: tuple[tuple[int, int], ...]
) -> tuple[tuple[int, int], float]:
    """The meter and first downbeat that put the most note weight on bar lines.

    Each candidate meter (beats per bar from the beat grid `beat_phase + k * seconds_per_beat`) and phase is scored
    by the mean onset weight (the duration of notes struck within a fifth of a beat of it, up to two beats each) on
    its downbeats minus that on its other beats; small bonuses for the phase that puts the first note on a
    downbeat and for 4/4 break ties (an even stream of equal notes has no meter of its own).

    Returns:
        `(meter, time of the first downbeat at or after the first note, less a quarter of a beat of tolerance)`.
    """
    first = notes[0].start
    # Count beats from the one nearest the first note: an empty beat before it would bias the off-beat means.
    first_beat = beat_phase + round((first - beat_phase) / seconds_per_beat) * seconds_per_beat
    # ... and up to the last onset (a trailing empty beat would count against one phase).
    num_beats = int(round((max(n.start for n in notes) - first_beat) / seconds_per_beat)) + 1
    weight = np.zeros(num_beats)
    for note in notes:
        position = (note.start - first_beat) / seconds_per_beat
        index = int(round(position))
        if 0 <= index < num_beats and abs(position - index) < 0.2:
            weight[index] += min(note.end - note.start, 2 * seconds_per_beat) / seconds_per_beat
    first_note_beat = int(round((first - first_beat) / seconds_per_beat))
    best: tuple[float, tuple[int, int], int] | None = None
    for meter in meters:
        beats_per_bar = LeadSheet(tempo=120, meter=meter).beats_per_bar
        if beats_per_bar < 2:
            return meter, first_beat
        for phase in range(beats_per_bar):
            on = weight[phase::beats_per_bar]
            off = np.delete(weight, np.arange(phase, num_beats, beats_per_bar))
            if not len(on) or not len(off):
                continue
            score = float(on.mean() - off.mean())
            if phase == first_note_beat % beats_per_bar:
                # Where the notes cannot tell (an even stream of equal notes), a tune starts on a downbeat.
                score += 0.05
            if beats_per_bar == 4:
                score += 0.03  # ... and in 4/4, the commonest meter
            if best is None or score > best[0] + 1e-9:
                best = (score, meter, phase)
    if best is None:
        return meters[0], first_beat
    _, meter, phase = best
    downbeat = first_beat + phase * seconds_per_beat
    beats_per_bar = LeadSheet(tempo=120, meter=meter).beats_per_bar
    while downbeat < first - 0.25 * seconds_per_beat:
        downbeat += beats_per_bar * seconds_per_beat
    return meter, downbeat


def _beat_period(meter: tuple[int, int], tempo: float) -> float:
    return LeadSheet(tempo=tempo, meter=meter).seconds_per_beat


#: A tempo read from the onsets alone needs this many notes and this share of their time on its beats: a search
#: over every tempo finds some grid that chance onsets half fit (40 onsets at random times passed 3 times in 200).
MIN_ONSET_TEMPO_NOTES = 24
MIN_ONSET_TEMPO_ON_GRID = 0.8


def tempo_from_onsets(notes: list[Note], slowest: float = 50.0, fastest: float = 220.0) -> float | None:
    """The beat tempo (beats per minute) whose grid the note onsets fit: of the tempi in `[slowest, fastest]` whose
    duration-weighted share of onsets within a fifth of a beat of the grid ([`_on_grid`]) is within 0.05 of the
    best, the slowest (a grid twice as fast fits every note as well: on the training songs' melody stems a wider
    margin picked half tempi), at the middle of its best plateau, if its share reaches [`MIN_ONSET_TEMPO_ON_GRID`];
    else None (also for fewer than [`MIN_ONSET_TEMPO_NOTES`] notes)."""
    if len(notes) < MIN_ONSET_TEMPO_NOTES:
        return None
    onsets = np.array([n.start for n in notes])
    weights = np.array([n.end - n.start for n in notes])
    # Steps of 0.05 %: over 200 beats the grid then drifts by less than a tenth of a beat between two of them.
    periods = 60.0 / np.exp(np.arange(math.log(slowest), math.log(fastest), 5e-4))
    angles = 2 * np.pi * onsets[None, :] / periods[:, None]
    phases = np.angle((weights[None, :] * np.exp(1j * angles)).sum(axis=1))
    distance = (angles - phases[:, None]) / (2 * np.pi)
    distance = (distance + 0.5) % 1.0 - 0.5
    shares = (weights[None, :] * (np.abs(distance) < 0.2)).sum(axis=1) / weights.sum()
    good = shares >= shares.max() - 0.05
    # The slowest run of good tempi (the tempo axis rises with the index) and the middle of its best plateau.
    first = int(np.argmax(good))
    last = first
    while last + 1 < len(good) and good[last + 1]:
        last += 1
    run = shares[first : last + 1]
    plateau = np.flatnonzero(run >= run.max() - 1e-9)
    best = first + int(plateau[len(plateau) // 2])
    if shares[best] < MIN_ONSET_TEMPO_ON_GRID:
        return None
    return float(60.0 / periods[best])


def refine_beat_grid(notes: list[Note], period: float, phase: float) -> tuple[float, float]:
    """Beat period and phase fitted to the note onsets: weighted least squares of the onsets within a fifth of a beat
    of the grid against their beat numbers, over the first quarter of the melody, then the first half, then all of
    it (each round re-assigns the onsets to the nearest beat of the last fit, so that a drift of more than half a
    beat by the end cannot put late onsets on the wrong beat).

    A beat tracker's tempo is a little off more often than not (0.3-0.5 %), which over a minute of melody drifts the
    bar lines by half a beat or more; the onsets themselves pin the grid down. The fit is kept only when at least 6
    onsets lie on the grid in every round and the period moves by less than 3 %.
    """
    onsets = np.array([n.start for n in notes])
    weights = np.array([min(n.end - n.start, 2 * period) for n in notes])
    fitted_period, fitted_phase = period, phase
    span = onsets.max() - onsets.min()
    for share in (0.25, 0.5, 1.0, 1.0):
        inside = onsets <= onsets.min() + share * span + 1e-9
        beats = np.round((onsets - fitted_phase) / fitted_period)
        near = inside & (np.abs((onsets - fitted_phase) / fitted_period - beats) < 0.2)
        if near.sum() < 6:
            return period, phase
        root = np.sqrt(weights[near])
        design = np.stack([np.ones(near.sum()), beats[near]], axis=1) * root[:, None]
        fitted_phase, fitted_period = np.linalg.lstsq(design, onsets[near] * root, rcond=None)[0]
    if not abs(fitted_period / period - 1.0) < 0.03:
        return period, phase
    return float(fitted_period), float(fitted_phase) % float(fitted_period)


#: Log-likelihood (nats) by which the harmoniser must prefer another bar grid to the onsets' choice to replace it.
#: On the training songs' melody stems (transcribed, 48 with the right tempo), the harmoniser's grid won by more
#: than 3 nats in 4 songs, all where it was right and the onsets' grid wrong, and by less in 3, all where it was
#: wrong.
HARMONIC_BAR_MARGIN = 3.0


def harmonic_bars(
    notes: list[Note],
    seconds_per_beat: float,
    beat_phase: float,
    meters: tuple[tuple[int, int], ...],
    tempo: float,
    found: tuple[tuple[int, int], float],
) -> tuple[tuple[int, int], float]:
    """The bar grid (meter and first downbeat) under which the harmoniser finds the melody most likely, where it
    beats `found` (the onsets' choice, [`find_bars`]) by more than [`HARMONIC_BAR_MARGIN`]: chords change on bar
    lines far more often than inside bars, so a grid a beat or two off leaves the melody's harmony unexplained."""
    first = notes[0].start
    first_beat = beat_phase + round((first - beat_phase) / seconds_per_beat) * seconds_per_beat

    def score(meter, offset):
        return melody_log_likelihood(notes, tempo=tempo, meter=meter, offset=offset)

    found = (found[0], max(0.0, found[1]))  # a first downbeat a hair before 0 (onset jitter) is at 0
    best_meter, best_offset = found
    found_score = best_score = score(*found)
    for meter in meters:
        beats_per_bar = LeadSheet(tempo=120, meter=meter).beats_per_bar
        for phase in range(beats_per_bar):
            offset = first_beat + phase * seconds_per_beat
            while offset < first - 0.25 * seconds_per_beat:
                offset += beats_per_bar * seconds_per_beat
            if offset < -0.25 * seconds_per_beat or (
                meter == found[0] and abs(offset - found[1]) < 0.25 * seconds_per_beat
            ):
                continue
            offset = max(0.0, offset)
            candidate = score(meter, offset)
            if candidate > best_score:
                best_meter, best_offset, best_score = meter, offset, candidate
    if best_score - found_score > HARMONIC_BAR_MARGIN:
        return best_meter, best_offset
    return found


def melody_from_audio(
    audio: np.ndarray,
    sampling_rate: int,
    *,
    bpm: float | None = None,
    meter: str | tuple[int, int] | None = None,
    key: str | tuple[int, str] | None = None,
) -> MelodyInput:
    """Transcribe a recorded melody (see the module docstring).

    Args:
        audio (`np.ndarray`): `(channels, samples)` or mono, any rate.
        sampling_rate (`int`): Its rate.
        bpm, meter, key (*optional*): The user's values; they win over the estimates.

    Raises:
        ValueError: naming `melody` for silence, no melody, polyphonic audio or a tempo that cannot be found (with
            what to do), or `bpm`, `meter`, `key` when invalid.
    """
    from .beats import track_beats
    from .features import ANALYSIS_SR, compute_features
    from .melody import monophonic_line, transcribe
    from .song import compile_analysis

    user_meter, user_key = _check_user_values(bpm, meter, key)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2 or audio.shape[-1] == 0:
        raise _melody_error(f"expected audio of shape (channels, samples), got {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise _melody_error("the recording holds NaN or infinite samples")
    duration = audio.shape[-1] / sampling_rate
    peak = float(np.abs(audio).max())
    if peak < SILENCE_PEAK:
        raise _melody_error(f"the recording is silent (peak {20 * math.log10(max(peak, 1e-12)):.0f} dBFS)")
    require("soxr")
    mono = resample(to_mono(audio), sampling_rate, ANALYSIS_SR)
    mono = mono / (np.abs(mono).max() + 1e-9) * 0.9  # basic-pitch's thresholds assume a healthy level
    heard = transcribe(mono, ANALYSIS_SR)
    if len(heard) < MIN_NOTES:
        raise _melody_error(
            f"no melody found: the transcriber heard {len(heard)} note(s) in {duration:.1f} s; record a sung, "
            "whistled or played tune (one line)"
        )
    total = sum(n["end"] - n["start"] for n in heard)
    sounding = _union_length([(n["start"], n["end"]) for n in heard])
    polyphony = total / max(sounding, 1e-9)
    if polyphony > MAX_POLYPHONY:
        raise _melody_error(
            f"the recording is polyphonic ({polyphony:.1f} notes at a time on average): give one melody line alone "
            "(a voice, whistle or solo instrument), not chords or a full mix"
        )
    notes = monophonic_line(heard, min_duration=0.06, merge_gap=0.03)
    if len(notes) < MIN_NOTES:
        raise _melody_error(f"no melody found: {len(notes)} note(s) after cleaning to one line")
    if bpm is not None:
        tempo = float(bpm)
        # The user's tempo: the beat phase from the notes (duration-weighted circular mean of onsets).
        period = _beat_period(user_meter or (4, 4), tempo)
        phase = _onset_phase(notes, period)
    else:
        compile_analysis()
        grid = track_beats(compute_features(mono, ANALYSIS_SR))
        beats = np.asarray(grid.beats, dtype=float)
        tempo = float(np.clip(grid.tempo, MIN_TEMPO, MAX_TEMPO))
        on_grid = _on_grid(notes, _beat_period(user_meter or (4, 4), tempo))
        if on_grid < MIN_ON_GRID:
            # The tracker follows the recording's loudness, which a solo line's swells and vibrato can mislead; the
            # notes' own onsets may still show a clear beat.
            found = tempo_from_onsets(notes)
            if found is not None:
                # The tempo whose beat lasts 60 / found seconds in the meter the beat is counted in.
                tempo = float(np.clip(found * _beat_period(user_meter or (4, 4), 60.0), MIN_TEMPO, MAX_TEMPO))
                on_grid = _on_grid(notes, _beat_period(user_meter or (4, 4), tempo))
        # The tracker always returns some beats; a tempo is only found when the tune's own notes fall on them.
        if len(beats) < 5 or len(notes) < 6 or on_grid < MIN_ON_GRID:
            raise _melody_error(
                f"the tempo cannot be found ({len(beats)} beat(s) tracked; {on_grid:.0%} of the note time starts on "
                "them); pass the tempo (bpm / --bpm)"
            )
        period = _beat_period(user_meter or (4, 4), tempo)
        # Beat phase from the note onsets (basic-pitch places them to ~10 ms; the tracker's beats lag them by a frame
        # or two), at the tracked tempo; then period and phase fitted to the onsets together.
        phase = _onset_phase(notes, period)
        refined, phase = refine_beat_grid(notes, period, phase)
        tempo, period = float(np.clip(tempo * period / refined, MIN_TEMPO, MAX_TEMPO)), refined
    meters = (user_meter,) if user_meter else ((4, 4), (3, 4))
    found_meter, offset = find_bars(notes, period, phase, meters)
    found_meter, offset = harmonic_bars(notes, period, phase, meters, tempo, (found_meter, offset))
    offset = max(0.0, offset)
    return MelodyInput(
        notes=notes,
        tempo=tempo,
        meter=found_meter,
        offset=offset,
        key=user_key or melody_key(notes, tempo, found_meter, offset),
        duration=duration,
        source="audio",
        audio=audio,
        sampling_rate=int(sampling_rate),
        key_given=user_key is not None,
    )


def _onset_phase(notes: list[Note], period: float) -> float:
    onsets = np.array([n.start for n in notes])
    weights = np.array([n.end - n.start for n in notes])
    return float(np.angle((weights * np.exp(2j * np.pi * onsets / period)).sum()) / (2 * np.pi) * period) % period


def _on_grid(notes: list[Note], period: float) -> float:
    """Duration-weighted share of the note onsets within a fifth of a beat of the best-phased grid of `period`."""
    phase = _onset_phase(notes, period)
    weights = np.array([n.end - n.start for n in notes])
    distance = np.array([((n.start - phase) / period + 0.5) % 1.0 - 0.5 for n in notes])
    return float(weights[np.abs(distance) < 0.2].sum() / weights.sum())


def _union_length(spans: list[tuple[float, float]]) -> float:
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(spans):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def melody_from_midi(
    path: str | os.PathLike,
    *,
    track: str | int | None = None,
    bpm: float | None = None,
    meter: str | tuple[int, int] | None = None,
    key: str | tuple[int, str] | None = None,
) -> MelodyInput:
    """Read the melody of a MIDI file (see the module docstring).

    Args:
        path: The `.mid` file.
        track (`str` or `int`, *optional*): The melody instrument: its name (case-insensitive) or its index among
            the file's instruments. Default: the pitched instrument with the most notes.
        bpm, meter, key (*optional*): The user's values; they win over the file's tempo and meter and the estimated
            key. A different `bpm` re-times nothing: it only sets the grid the chords are placed on.

    Raises:
        ValueError: naming `melody` for a file that cannot be read or has no notes, `track` for an unknown track.
    """
    from .melody import monophonic_line

    user_meter, user_key = _check_user_values(bpm, meter, key)
    pretty_midi = require("pretty_midi")
    path = Path(path)
    if not path.is_file():
        raise _melody_error(f"no such file {path}")
    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # mido and pretty_midi raise many types for a damaged file: one message for all
        raise _melody_error(f"{path} is not a readable MIDI file ({type(error).__name__}: {error})") from None
    pitched = [(i, inst) for i, inst in enumerate(midi.instruments) if not inst.is_drum and inst.notes]
    if not pitched:
        raise _melody_error(f"{path} has no notes (outside drum tracks)")
    if track is None:
        index, instrument = max(pitched, key=lambda item: len(item[1].notes))
    elif isinstance(track, int) and not isinstance(track, bool):
        if not 0 <= track < len(midi.instruments) or not midi.instruments[track].notes:
            raise ValueError(f"`track` {track}: the file has {len(midi.instruments)} instrument(s); {_tracks(midi)}")
        index, instrument = track, midi.instruments[track]
    else:
        named = [(i, inst) for i, inst in pitched if inst.name.strip().lower() == str(track).strip().lower()]
        if not named:
            raise ValueError(f"`track` {track!r}: no instrument with notes has that name; {_tracks(midi)}")
        index, instrument = named[0]
    raw = [
        {"start": float(n.start), "end": float(n.end), "pitch": int(n.pitch), "amplitude": n.velocity / 127}
        for n in instrument.notes
        if n.end > n.start
    ]
    notes = monophonic_line(raw, min_duration=0.03, merge_gap=0.0)
    if not notes:
        raise _melody_error(f"{path}: instrument {index} has no notes longer than 30 ms")
    _, tempi = midi.get_tempo_changes()
    tempo = float(bpm) if bpm is not None else float(np.clip(tempi[0] if len(tempi) else 120.0, MIN_TEMPO, MAX_TEMPO))
    signatures = midi.time_signature_changes
    file_meter = (signatures[0].numerator, signatures[0].denominator) if signatures else (4, 4)
    found_meter = user_meter or _parse_meter(file_meter)
    if bpm is None and user_meter is None:
        downbeats = [float(t) for t in midi.get_downbeats()]
        first = notes[0].start - 0.25 * _beat_period(found_meter, tempo)
        later = [t for t in downbeats if t >= first]
        offset = later[0] if later else notes[0].start
    else:
        period = _beat_period(found_meter, tempo)
        found_meter, offset = find_bars(notes, period, _onset_phase(notes, period), (found_meter,))
    offset = max(0.0, offset)
    return MelodyInput(
        notes=notes,
        tempo=tempo,
        meter=found_meter,
        offset=offset,
        key=user_key or melody_key(notes, tempo, found_meter, offset),
        duration=float(midi.get_end_time()),
        source="midi",
        key_given=user_key is not None,
    )


def _tracks(midi) -> str:
    names = [f"{i}: {inst.name or '(unnamed)'} ({len(inst.notes)} notes)" for i, inst in enumerate(midi.instruments)]
    return "instruments: " + ", ".join(names)


def read_melody(
    source: str | os.PathLike,
    *,
    track: str | int | None = None,
    bpm: float | None = None,
    meter: str | tuple[int, int] | None = None,
    key: str | tuple[int, str] | None = None,
) -> MelodyInput:
    """A melody from a file: MIDI ([`MIDI_EXTENSIONS`]) or audio (what [`diffusers_s2acc.audio.read_audio`] reads).

    Raises:
        ValueError: naming `melody` for a missing, unreadable or unusable file (see [`melody_from_audio`] and
            [`melody_from_midi`]).
    """
    path = Path(source)
    if path.is_dir():
        raise _melody_error(f"{path} is a folder, not an audio or MIDI file")
    if not path.is_file():
        raise _melody_error(f"no such file {path}")
    if path.suffix.lower() in MIDI_EXTENSIONS:
        return melody_from_midi(path, track=track, bpm=bpm, meter=meter, key=key)
    if track is not None:
        raise ValueError("`track` picks an instrument of a MIDI file; the melody is a recording")
    try:
        audio, rate = read_audio(path)
    except ValueError as error:
        raise _melody_error(f"{path} cannot be read as audio or MIDI ({error})") from None
    return melody_from_audio(audio, rate, bpm=bpm, meter=meter, key=key)
