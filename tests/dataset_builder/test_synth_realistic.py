"""`synth --render realistic`: a recorded per-song draw, deterministic, unlike `gm`, with stems that sum to the mix."""

import hashlib
import json
import random

import mido
import numpy as np
import pytest
import soundfile as sf
from builder_helpers import SR, need_binaries, run_cli

from dataset_builder.synth.realistic import draw_render, master, perform


TINY = ["--seed", "3", "--section-bars", "2", "--max-sections", "3", "--sample-rate", str(SR)]


@pytest.fixture(scope="session")
def tiny_realistic(tmp_path_factory):
    """Song 0 of the `tiny_synth` corpus (same seed and options), rendered realistically."""
    need_binaries()
    out = tmp_path_factory.mktemp("realistic")
    run_cli("synth", "--n", "1", "--out", str(out), *TINY, "--render", "realistic")
    return out


def _digest(path):
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _events(path):
    return [str(m) for t in mido.MidiFile(path).tracks for m in t if m.type not in ("text", "track_name")]


def _read(path, length=None):
    audio, rate = sf.read(path, always_2d=True)
    return audio if length is None else np.pad(audio, ((0, length - audio.shape[0]), (0, 0))), rate


def test_realistic_records_its_draw_and_stems_sum_to_the_mix(tiny_realistic):
    song = tiny_realistic / "song_00000"
    meta = json.loads((song / "metadata.json").read_text())
    render = meta["render"]
    assert render["mode"] == "realistic" and render["soundfont"] == meta["soundfont"]
    for key in ("drum_kit", "fluidsynth", "tracks", "melody", "master", "licences", "measured"):
        assert key in render, key
    assert set(render["licences"]) == {render["soundfont"]} | ({render["drum_kit"]} if render["drum_kit"] else set())
    assert all(t["name"] and 0 <= t["pan"] <= 127 and t["timing_sd_ms"] > 0 for t in render["tracks"])
    assert "synth.reverb.room-size" in render["fluidsynth"]
    mix, rate = _read(song / "mix.flac")
    assert rate == SR and np.isfinite(mix).all() and 0.01 < np.abs(mix).max() < 1.0
    stems = [
        _read(song / meta["files"][n], mix.shape[0])[0] for n in ("accompaniment", "melody") if n in meta["files"]
    ]
    # The master gain is applied to both stems, so they sum to the mix up to 16-bit rounding.
    assert np.abs(mix - np.sum(stems, axis=0)).max() <= 3 / 32768


def test_realistic_is_the_same_song_as_gm_rendered_differently(tiny_synth, tiny_realistic):
    gm = json.loads((tiny_synth / "song_00000" / "metadata.json").read_text())
    real = json.loads((tiny_realistic / "song_00000" / "metadata.json").read_text())
    assert "render" not in gm  # gm metadata is what it always was
    for key in ("lead_sheet", "lead_instrument", "mma_chart", "beats", "downbeats", "tempo", "key"):
        assert real[key] == gm[key], key
    # The same sections; only the last one ends with the audio, and the realistic render's reverb and humanised
    # timing may end the audio a little earlier or later than the GM render.
    assert [dict(s, end=None) for s in real["sections"][:-1]] == [dict(s, end=None) for s in gm["sections"][:-1]]
    assert [s["end"] for s in real["sections"][:-1]] == [s["end"] for s in gm["sections"][:-1]]
    last_real, last_gm = real["sections"][-1], gm["sections"][-1]
    assert {k: v for k, v in last_real.items() if k != "end"} == {k: v for k, v in last_gm.items() if k != "end"}
    # MuseScore General (drawn when installed) has long release tails: up to a few seconds more or less of ring-out.
    assert abs(last_real["end"] - last_gm["end"]) < 3.0
    assert _digest(tiny_realistic / "song_00000" / "mix.flac") != _digest(tiny_synth / "song_00000" / "mix.flac")
    # song.mid (the label source) is MMA's MIDI in both; only MMA's "Input filename" text (a temp path) differs.
    assert _events(tiny_realistic / "song_00000" / "song.mid") == _events(tiny_synth / "song_00000" / "song.mid")


def test_realistic_is_deterministic(tiny_realistic, tmp_path):
    run_cli("synth", "--n", "1", "--out", str(tmp_path), *TINY, "--render", "realistic")
    for name in ("mix.flac", "accompaniment.flac", "metadata.json"):
        assert _digest(tmp_path / "song_00000" / name) == _digest(tiny_realistic / "song_00000" / name), name
    # A resume with the other render mode is refused instead of mixing two renders in one corpus.
    result = run_cli("synth", "--n", "1", "--out", str(tmp_path), *TINY, check=False)
    assert result.returncode != 0 and "--render realistic" in result.stderr
    refused = run_cli(
        "synth", "--n", "1", "--out", str(tmp_path / "x"), "--render", "realistic", "--track-stems", check=False
    )
    assert refused.returncode != 0 and "--track-stems" in refused.stderr


def _midi(notes, channel=0):
    midi = mido.MidiFile(ticks_per_beat=192)
    track = mido.MidiTrack(
        [mido.MetaMessage("track_name", name="Chord-Piano"), mido.MetaMessage("set_tempo", tempo=500000)]
    )
    tick = 0
    events = sorted([(on, 1, p) for on, off, p in notes] + [(off, 0, p) for on, off, p in notes])
    for t, kind, pitch in events:
        track.append(mido.Message("note_on", channel=channel, note=pitch, velocity=80 * kind, time=t - tick))
        tick = t
    midi.tracks.append(track)
    return midi


def test_perform_humanises_without_overlaps_and_is_seeded():
    midi = _midi([(0, 96, 60), (96, 192, 60), (192, 384, 64)])
    draw, _ = draw_render(5, midi, gm_fonts=["/nonexistent/Font.sf2"])
    a = perform(midi, draw["tracks"], random.Random(1))
    b = perform(midi, draw["tracks"], random.Random(1))
    assert [str(m) for m in a.tracks[0]] == [str(m) for m in b.tracks[0]]
    controls = {m.control: m.value for m in a.tracks[0] if m.type == "control_change"}
    assert controls[10] == draw["tracks"][0]["pan"] and set(controls) == {7, 10, 91, 93}
    tick, sounding, ons = 0, {}, []
    for m in a.tracks[0]:
        tick += m.time
        if m.type == "note_on" and m.velocity:
            assert m.note not in sounding  # a note never starts over the same key still sounding
            sounding[m.note] = tick
            ons.append(tick)
        elif m.type in ("note_on", "note_off"):
            sounding.pop(m.note)
    assert len(ons) == 3 and ons != [0, 96, 192]
    kept = perform(midi, [], random.Random(1), keep=lambda channel, note: note == 64)
    assert [m.note for m in kept.tracks[0] if m.type == "note_on"] == [64]


def test_master_is_one_gain_for_both_stems():
    rng = np.random.default_rng(0)
    accompaniment = (rng.standard_normal((SR * 2, 2)) * np.linspace(0.01, 0.6, SR * 2)[:, None]).astype(np.float32)
    melody = (0.3 * np.sin(np.arange(SR) / SR * 2 * np.pi * 440))[:, None].repeat(2, 1).astype(np.float32)
    draw, _ = draw_render(0, _midi([(0, 96, 60)]), gm_fonts=["/nonexistent/Font.sf2"])
    acc, mel, mix, measured = master(accompaniment, melody, SR, draw)
    assert acc.shape == mel.shape == mix.shape == accompaniment.shape
    assert np.allclose(mix, acc + mel, atol=1e-6) and np.abs(mix).max() <= draw["master"]["peak_ceiling"] + 1e-6
    assert measured["max_gain_reduction_db"] > 0 and measured["loudness_method"] in ("rms", "lufs")
