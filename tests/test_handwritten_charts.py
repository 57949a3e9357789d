"""The hand-written chart benchmark (bench/charts/handwritten.json): every chart parses, its sections tile it on bar
lines, a third or more are non-diatonic, and two charts render to a spec file that `load_specs` accepts."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `bench` and `dataset_builder` live at the repository root

from bench.handwritten import (  # noqa: E402
    beat_slots,
    chart_duration,
    chart_sheet,
    chart_tags,
    load_charts,
    mma_symbol,
    non_diatonic_chords,
    parse_key,
    tonality,
)
from diffusers_s2acc.music import normalize_label  # noqa: E402


CHARTS = load_charts()


def test_charts_parse_and_sections_tile_on_bar_lines():
    assert len(CHARTS) >= 40
    for chart in CHARTS:
        sheet = chart_sheet(chart)  # the project's parser; load_charts has already checked the tiling
        assert chart["meter"] in ("4/4", "3/4", "6/8", "12/8"), chart["id"]
        assert 60 <= chart["tempo"] <= 200, chart["id"]
        assert 16 - 1e-6 <= chart_duration(chart) <= 24 + 1e-6, chart["id"]
        assert 2 <= len(chart["sections"]) <= 4, chart["id"]
        bar = sheet.seconds_per_bar
        assert chart["sections"][0]["start"] == 0 and abs(chart["sections"][-1]["end"] - sheet.duration) < 1e-3
        for a, b in zip(chart["sections"], chart["sections"][1:]):
            assert abs(a["end"] - b["start"]) < 1e-3, chart["id"]
        for section in chart["sections"]:
            normalize_label(section["label"])
            assert section["caption"].strip(), chart["id"]
            for t in (section["start"], section["end"]):
                assert abs(t / bar - round(t / bar)) * bar < 1e-3, (chart["id"], t)
        beat_slots(sheet)  # every chord change falls on a beat, as MMA needs
        for event in sheet.chords:
            mma_symbol(event.symbol)  # MMA can spell every chord


def test_at_least_a_third_are_non_diatonic():
    tags = {c["id"]: chart_tags(c) for c in CHARTS}
    non_diatonic = [i for i, t in tags.items() if "non_diatonic" in t]
    assert 3 * len(non_diatonic) >= len(CHARTS)
    assert all(("diatonic" in t) != ("non_diatonic" in t) for t in tags.values())


def test_tonality_helper():
    def chart(text: str, key: str) -> dict:
        return {"id": "t", "chart": text, "tempo": 120, "meter": "4/4", "key": key}

    assert parse_key("Bb") == (10, "major") and parse_key("F#m") == (6, "minor")
    assert parse_key("D dorian") == (2, "dorian") and parse_key("A minor") == (9, "minor")
    with pytest.raises(ValueError):
        parse_key("H")
    assert tonality(chart("C | Am | F | G", "C")) == "diatonic"
    assert tonality(chart("Am | G | F | E", "Am")) == "diatonic"  # the raised seventh of minor
    assert non_diatonic_chords(chart("F7 | Bb7 | F7 | C7", "F")) == ["F7", "Bb7"]  # the blues' b7s
    assert tonality(chart("Dm7 | G7", "D dorian")) == "diatonic"
    assert tonality(chart("Dm7 | G7", "Dm")) == "non_diatonic"  # B natural is not in D minor
    assert tonality(chart("C | Ab | Bb | C", "C")) == "non_diatonic"  # borrowed bVI, bVII
    assert tonality(chart("C | N.C. | C", "C")) == "diatonic"
    assert mma_symbol("Bø7") == "Bm7b5" and mma_symbol("C°7") == "Cdim7" and mma_symbol("N.C.") == "z"
    assert mma_symbol("Db/F") == "C#/F"


def test_render_two_charts_to_specs(tmp_path):
    for binary in ("mma", "fluidsynth"):
        if shutil.which(binary) is None:
            pytest.skip(f"`{binary}` not installed; run scripts/install_system_deps.sh")
    from dataset_builder.synth.render import FluidSynthMissingError, find_soundfonts

    try:
        find_soundfonts()
    except FluidSynthMissingError as error:
        pytest.skip(str(error))
    from bench.render_handwritten import main
    from diffusers_s2acc.evaluation.specs import load_specs

    out = tmp_path / "bench"
    # A 6/8 chart (two bars per MMA 12/8 bar) and one with N.C. bars (MMA rests).
    assert main(["--out", str(out), "--only", "folk_68_d", "stop_time_a", "--sample-rate", "16000"]) == 0
    specs = load_specs(out / "specs.json")
    assert [s.id for s in specs] == ["folk_68_d_s0", "folk_68_d_s1", "stop_time_a_s0", "stop_time_a_s1"]
    assert [s.seed for s in specs] == [0, 1, 0, 1]
    raw = json.loads((out / "specs.json").read_text())
    assert raw[0]["reference"]["path"] == "folk_68_d/accompaniment.flac"
    tags = json.loads((out / "tags.json").read_text())
    assert "non_diatonic" in tags["stop_time_a_s0"] and "diatonic" in tags["folk_68_d_s1"]
    for spec in specs:
        audio, rate = spec.load_reference()
        assert rate == 16000 and audio.shape[-1] >= int(0.95 * spec.duration * rate)
        assert spec.lead_sheet.meter in ((6, 8), (4, 4)) and spec.duration == pytest.approx(
            chart_duration(next(c for c in CHARTS if spec.id.startswith(c["id"])))
        )
    assert "Time 4" in (out / "folk_68_d" / "accompaniment.mma").read_text()


def test_render_outputs_are_checked_before_any_render(tmp_path):
    """Issue 23: an --out under a file or a --json naming a folder is one line before minutes of rendering."""
    from bench.render_handwritten import main

    (tmp_path / "afile").write_text("x")
    (tmp_path / "scores.json").mkdir()
    for argv, message in (
        (["--out", str(tmp_path / "afile")], "error: --out: .*afile is a file, not a folder"),
        (["--out", str(tmp_path / "afile" / "bench")], "error: --out: .*afile is a file"),
        (["--out", str(tmp_path / "bench"), "--json", str(tmp_path / "scores.json")], "error: --json: .*is a folder"),
    ):
        with pytest.raises(SystemExit, match=message):
            main([*argv, "--only", "folk_68_d"])
    assert not (tmp_path / "bench").exists()


def test_report_json_is_checked_before_reading_and_never_replaces_an_input(tmp_path):
    """Issue 23: `report_handwritten --json` refuses an existing file without --overwrite, and its own inputs always,
    before it reads a score file."""
    from bench.report_handwritten import main

    scores, tags, out = tmp_path / "scores.json", tmp_path / "tags.json", tmp_path / "rows.json"
    scores.write_text("not json: would fail if it were read first")
    tags.write_text("{}")
    out.write_text("kept")
    with pytest.raises(SystemExit, match="error: --json: .*rows.json exists; pass --overwrite"):
        main(["--scores", str(scores), "--tags", str(tags), "--json", str(out)])
    with pytest.raises(SystemExit, match="error: --json: .*is an input of this run"):
        main(["--scores", str(scores), "--tags", str(tags), "--json", str(scores), "--overwrite"])
    assert out.read_text() == "kept" and scores.read_text().startswith("not json")
