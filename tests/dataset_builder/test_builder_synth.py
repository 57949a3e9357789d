import hashlib
import json

import soundfile as sf
from builder_helpers import SR, run_cli

from diffusers_s2acc.music import LeadSheet, Segment, parse_chord


def test_synth_metadata_is_complete_and_consistent(tiny_synth):
    songs = sorted(p for p in tiny_synth.iterdir() if p.is_dir())
    assert [p.name for p in songs] == ["song_00000", "song_00001"]
    for song in songs:
        meta = json.loads((song / "metadata.json").read_text())
        for field in ("sections", "beats", "downbeats", "tempo", "key", "meter", "lead_sheet", "soundfont", "files"):
            assert field in meta, field
        audio, rate = sf.read(song / meta["files"]["mix"])
        assert rate == SR and abs(audio.shape[0] / rate - meta["duration"]) < 1e-6
        sections = [
            Segment.from_dict({k: s[k] for k in ("start", "end", "label", "caption")}) for s in meta["sections"]
        ]
        assert sections[0].start == 0.0
        for a, b in zip(sections, sections[1:]):
            assert abs(a.end - b.start) < 1e-6  # contiguous, no gaps
        assert all(s["instruments"] and s["groove"] and s["style"] for s in meta["sections"])
        sheet = LeadSheet.from_dict(meta["lead_sheet"])
        assert sheet.chords and all(parse_chord(c.symbol).root is not None for c in sheet.chords)
        # Downbeats are every bar's beats (12/8 has four) and section starts fall on downbeats.
        beats_per_bar = sheet.beats_per_bar
        assert meta["downbeats"] == meta["beats"][::beats_per_bar]
        for s in sections:
            assert min(abs(s.start - d) for d in meta["downbeats"]) < 1e-6
        assert "accompaniment" in meta["files"]
        if meta["lead_sheet"]["melody"]:
            assert (song / meta["files"]["melody"]).exists()


def test_synth_is_reproducible_and_resumes(tiny_synth, tmp_path):
    args = ["--n", "1", "--seed", "3", "--section-bars", "2", "--max-sections", "3", "--sample-rate", str(SR)]
    run_cli("synth", "--out", str(tmp_path), *args)

    def digest(path):
        return hashlib.sha1(path.read_bytes()).hexdigest()

    assert digest(tmp_path / "song_00000" / "mix.flac") == digest(tiny_synth / "song_00000" / "mix.flac")
    same = json.loads((tmp_path / "song_00000" / "metadata.json").read_text())
    assert same == json.loads((tiny_synth / "song_00000" / "metadata.json").read_text())
    # A rerun leaves finished songs untouched.
    stamp = (tmp_path / "song_00000" / "mix.flac").stat().st_mtime_ns
    run_cli("synth", "--out", str(tmp_path), *args)
    assert (tmp_path / "song_00000" / "mix.flac").stat().st_mtime_ns == stamp


def test_synth_rejects_bad_arguments(tmp_path):
    result = run_cli("synth", "--n", "0", "--out", str(tmp_path), check=False)
    assert result.returncode != 0 and "--n must be at least 1" in result.stderr
