"""Metrics: the shared scores, the evaluate.load modules and `s2acc evaluate`."""

import json
import os
from pathlib import Path

import evaluate
import numpy as np
import pytest
import soundfile
from synthetic_corpus import render, synth_song_folder

from diffusers_s2acc import LeadSheet, Segment, presets
from diffusers_s2acc.cli import main
from diffusers_s2acc.evaluation import chord_scores, frechet_distance, load_specs, seam_scores, tempo_scores
from diffusers_s2acc.evaluation.clip_scores import score_clip
from diffusers_s2acc.evaluation.run import vae_round_trip
from diffusers_s2acc.evaluation.specs import EvalSpec
from diffusers_s2acc.music import ChordEvent


METRICS = Path(__file__).resolve().parents[1] / "metrics"
SHEET = LeadSheet.from_chart("C | Am | F | G | C | Am | F | G", bpm=120)


@pytest.fixture(scope="module")
def rendered():
    return render(SHEET, 16.0, 16000)


def test_chord_and_tempo_scores_by_hand():
    reference = [ChordEvent(0, 2, "C"), ChordEvent(2, 4, "Am")]
    assert chord_scores(reference, [ChordEvent(0, 2, "C"), ChordEvent(2, 4, "A:min")])["chord_majmin"] == 1.0
    assert chord_scores(reference, [ChordEvent(0, 4, "C")])["chord_majmin"] == pytest.approx(0.5)
    assert chord_scores(reference, [])["chord_majmin"] == 0.0
    assert tempo_scores(120, 123) == {"tempo_acc1": 1.0, "tempo_acc2": 1.0}
    assert tempo_scores(120, 60) == {"tempo_acc1": 0.0, "tempo_acc2": 1.0}
    assert tempo_scores(120, 100) == {"tempo_acc1": 0.0, "tempo_acc2": 0.0}


def test_seam_scores_by_hand():
    before = np.arange(0.0, 10.0, 0.5)  # 120 BPM, beats on the half second, seam at 10 s
    assert seam_scores(before, np.arange(10.0, 15.0, 0.5), 10.0) == pytest.approx(
        {"seam_tempo_change": 0.0, "seam_tempo_ok": 1.0, "seam_phase_error": 0.0, "seam_phase_error_ms": 0.0}, abs=1e-9
    )
    shifted = seam_scores(before, np.arange(10.125, 15.0, 0.5), 10.0)  # a quarter of a beat late
    assert shifted["seam_phase_error"] == pytest.approx(0.25) and shifted["seam_phase_error_ms"] == pytest.approx(125)
    faster = seam_scores(before, np.arange(10.0, 15.0, 0.4), 10.0)  # 150 BPM after the seam
    assert faster["seam_tempo_change"] == pytest.approx(0.25) and faster["seam_tempo_ok"] == 0.0
    with pytest.raises(ValueError, match="3 beats after"):
        seam_scores(before, [10.0, 10.5], 10.0)


def test_frechet_distance_is_zero_for_one_set_and_grows_with_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 1.0) == pytest.approx(8.0, rel=0.05)


def test_clip_scores_separate_music_from_noise(rendered):
    spec = EvalSpec("s", "sine chords at 120 BPM", [Segment(0, 8, "verse"), Segment(8, 16, "chorus")], SHEET, 16.0)
    good = score_clip(rendered[None], 16000, spec)
    noise = score_clip(np.random.default_rng(0).normal(0, 0.1, (1, 16 * 16000)).astype(np.float32), 16000, spec)
    assert good["chord_majmin"] > 0.7 and good["tempo_acc2"] == 1.0
    assert noise["chord_majmin"] < 0.3 and good["chord_majmin"] > noise["chord_majmin"]
    assert {"boundary_f@0.5s", "boundary_f@3s", "caption_adherence"} <= good.keys()


def test_metric_modules_load_with_evaluate(rendered):
    predictions = [rendered]
    chord = evaluate.load(str(METRICS / "chord_accuracy")).compute(
        predictions=predictions, references=[json.dumps(SHEET.to_dict())], sampling_rate=16000
    )
    tempo = evaluate.load(str(METRICS / "tempo_accuracy")).compute(
        predictions=predictions, references=[120.0], sampling_rate=16000
    )
    fad = evaluate.load(str(METRICS / "frechet_audio_distance")).compute(
        predictions=[rendered, rendered[::-1].copy()],
        references=[rendered, rendered[::-1].copy()],
        sampling_rate=16000,
    )
    assert chord["chord_majmin"] > 0.7 and tempo["tempo_acc2"] == 1.0
    assert fad["fad"] == pytest.approx(0.0, abs=1e-3) and fad["embedding"] == "mel-chroma"
    for name, reference in [
        ("boundary_f_measure", json.dumps([{"start": 0, "end": 8}, {"start": 8, "end": 16}])),
        ("caption_adherence", "a bright 120 BPM piece in C major"),
    ]:
        result = evaluate.load(str(METRICS / name)).compute(
            predictions=predictions, references=[reference], sampling_rate=16000
        )
        assert all(0.0 <= v <= 1.0 for v in result.values())


def test_specs_validate_with_clear_errors(tmp_path):
    path = tmp_path / "specs.json"
    path.write_text(json.dumps([{"id": "a", "prompt": "x", "lead_sheet": {"chart": "C | Qm"}}]))
    with pytest.raises(ValueError, match="spec a: .*Qm"):
        load_specs(path)
    path.write_text(json.dumps([{"id": "b", "prompt": "x", "duration": 4, "reference": {"path": "missing.wav"}}]))
    with pytest.raises(ValueError, match="spec b: reference audio"):
        load_specs(path)
    path.write_text("[")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_specs(path)


def test_s2acc_evaluate_prints_generated_and_reference_metrics(tmp_path, rendered, capsys):
    pipe_dir = tmp_path / "pipe"
    presets.build_pipeline("tiny").save_pretrained(pipe_dir)
    soundfile.write(tmp_path / "ref.wav", rendered[: 8 * 16000], 16000)
    specs = [
        {
            "id": f"s{i}",
            "prompt": "sine chords",
            "segments": [{"start": 0, "end": 4, "label": "verse"}, {"start": 4, "end": 8, "label": "chorus"}],
            "lead_sheet": {"tempo": 120, "chart": "C | Am | F | G"},
            "reference": {"path": "ref.wav"},
        }
        for i in range(2)
    ]
    (tmp_path / "specs.json").write_text(json.dumps(specs))
    out = tmp_path / "scores.json"
    code = main(
        [
            "evaluate",
            "--pipeline",
            str(pipe_dir),
            "--specs",
            str(tmp_path / "specs.json"),
            "--steps",
            "2",
            "--json",
            str(out),
            "--reconstruction",
        ]
    )
    assert code == 0
    report = capsys.readouterr().out
    assert "| metric | generated | reconstruction | reference |" in report and "FAD (mel-chroma" in report
    result = json.loads(out.read_text())
    assert result["reference"]["chord_majmin"] > 0.7 > result["generated"]["chord_majmin"]
    # The untrained tiny VAE destroys the music: its round trip scores like noise, not like the reference.
    assert result["reconstruction"]["chord_majmin"] < 0.5 and "reconstruction" in result["rows"][0]
    assert len(result["rows"]) == 2 and result["fad"]["value"] > 0


def test_vae_round_trip_returns_the_vae_rate_and_length():
    vae = presets.build_pipeline("tiny").vae
    stereo_44k = np.random.default_rng(0).standard_normal((2, 57_330)).astype(np.float32)  # 1.3 s, not a whole hop
    out = vae_round_trip(vae, stereo_44k, 44100)
    assert out.shape == (1, round(57_330 * 16000 / 44100)) and out.dtype == np.float32 and np.isfinite(out).all()


def test_evaluate_seeds_and_no_lead_sheet_floor(tmp_path, rendered, capsys):
    """--seeds 2 generates each spec twice (seeds s and s + 1000, different audio); --no-lead-sheet-floor adds the
    no_lead_sheet column, generated with the lead sheet dropped and scored against the same chart."""
    pipe_dir = tmp_path / "pipe"
    presets.build_pipeline("tiny").save_pretrained(pipe_dir)
    soundfile.write(tmp_path / "ref.wav", rendered[: 8 * 16000], 16000)
    specs = [
        {
            "id": "s0",
            "prompt": "sine chords",
            "lead_sheet": {"tempo": 120, "chart": "C | Am | F | G"},
            "duration": 8,
            "seed": 3,
            "reference": {"path": "ref.wav"},
        }
    ]
    (tmp_path / "specs.json").write_text(json.dumps(specs))
    out, audio = tmp_path / "scores.json", tmp_path / "audio"
    code = main(
        [
            "evaluate",
            "--pipeline",
            str(pipe_dir),
            "--specs",
            str(tmp_path / "specs.json"),
            "--steps",
            "2",
            "--json",
            str(out),
            "--seeds",
            "2",
            "--no-lead-sheet-floor",
            "--save-audio",
            str(audio),
        ]
    )
    assert code == 0
    assert "| metric | generated | no_lead_sheet | reference |" in capsys.readouterr().out
    result = json.loads(out.read_text())
    row = result["rows"][0]
    assert len(row["generated_takes"]) == 2 and len(row["no_lead_sheet_takes"]) == 2
    assert sorted(p.name for p in audio.iterdir()) == [
        "s0_seed1003.wav",
        "s0_seed1003_no_lead_sheet.wav",
        "s0_seed3.wav",
        "s0_seed3_no_lead_sheet.wav",
    ]
    first, second = (soundfile.read(audio / f"s0_seed{s}.wav")[0] for s in (3, 1003))
    assert not np.allclose(first, second)
    assert (
        main(["evaluate", "--pipeline", str(pipe_dir), "--specs", str(tmp_path / "specs.json"), "--seeds", "0"]) == 2
    )
    assert (
        main(
            [
                "evaluate",
                "--pipeline",
                str(pipe_dir),
                "--specs",
                str(tmp_path / "specs.json"),
                "--lead-sheet-guidance",
                "nan",
            ]
        )
        == 2
    )


def test_make_specs_windows_cross_boundaries_and_heldout_wording(tmp_path):
    from diffusers_s2acc.evaluation.specs import specs_from_synth

    root = synth_song_folder(tmp_path / "synth")
    specs = specs_from_synth(root, 12.0, windows="boundaries", windows_per_song=2)
    assert len(specs) == 2 and len({s["reference"]["start"] for s in specs}) == 2
    for spec in specs:
        start = spec["reference"]["start"]
        assert start % 2.0 == pytest.approx(0.0)  # on a downbeat
        assert len(spec["segments"]) >= 2 and spec["duration"] == 12.0  # crosses a section boundary
        assert spec["segments"][0]["start"] == 0.0 and spec["segments"][-1]["end"] == pytest.approx(12.0)
        assert spec["lead_sheet"]["chords"][0]["start"] == 0.0
        assert spec["segments"][0]["caption"].endswith("caption from the synth")
    heldout = specs_from_synth(root, 12.0, windows="boundaries", windows_per_song=2, phrasing="heldout")
    assert [s["reference"] for s in heldout] == [s["reference"] for s in specs]  # same windows, other words
    assert all("caption from the synth" not in seg["caption"] for s in heldout for seg in s["segments"])
    assert heldout[0]["prompt"] != specs[0]["prompt"]
    with pytest.raises(ValueError, match="phrasing"):
        specs_from_synth(root, 12.0, phrasing="poetic")
    out = tmp_path / "specs.json"
    assert (
        main(["make-specs", "--synth", str(root), "--duration", "12", "--windows", "boundaries", "--out", str(out)])
        == 0
    )
    assert len(load_specs(out)) == 1


def test_make_specs_writes_reference_paths_the_spec_file_resolves(tmp_path, monkeypatch, capsys):
    """Issue 23: make-specs wrote paths relative to the working folder; evaluate reads them relative to the spec
    file. Run from elsewhere, with a relative --synth and --out in another folder, the references must be found."""
    synth_song_folder(tmp_path / "data" / "synth")
    monkeypatch.chdir(tmp_path / "data")
    out = tmp_path / "specs" / "s.json"
    assert main(["make-specs", "--synth", "synth", "--duration", "2", "--out", str(out)]) == 0
    assert not os.path.isabs(json.loads(out.read_text())[0]["reference"]["path"])  # the folder moves as a whole
    monkeypatch.chdir(tmp_path)
    (spec,) = load_specs(out)
    assert spec.load_reference()[0].shape[-1] == 2 * 16000
    assert main(["make-specs", "--synth", "data/synth", "--out", str(out)]) == 2  # exists: never silently replaced
    assert "--overwrite" in capsys.readouterr().err


def test_train_and_heldout_wordings_never_coincide():
    import random

    from diffusers_s2acc.music.phrasing import MusicFacts, section_caption, user_prompt

    facts = MusicFacts(
        genres=["folk"],
        tempo=100,
        meter=3,
        key="D minor",
        instruments=["AcousticGuitar"],
        drums=False,
        label="chorus",
        style="Strummed.",
    )
    for make in (user_prompt, section_caption):
        train = {make(facts, random.Random(i), "train") for i in range(200)}
        heldout = {make(facts, random.Random(i), "heldout") for i in range(200)}
        assert len(train) > 1 and len(heldout) > 1 and not train & heldout
        assert all("folk" in t for t in train | heldout)
        assert all("chorus" in t.lower() for t in train | heldout) or make is user_prompt
    with pytest.raises(ValueError, match="phrasing"):
        user_prompt(facts, random.Random(0), "other")


def test_melody_only_specs_are_scored_against_the_true_chart(tmp_path):
    """`--lead-sheet-parts melody` gives the takes the melody (no chords) and scores them against the chart."""
    from diffusers_s2acc.evaluation.clip_scores import score_clip
    from diffusers_s2acc.evaluation.specs import specs_from_synth

    root = synth_song_folder(tmp_path / "synth")
    with pytest.raises(ValueError, match="has a melody"):  # songs without a melody are skipped: none left
        specs_from_synth(root, 12.0, lead_sheet_parts="melody")
    meta_path = root / "song_00000" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["lead_sheet"]["melody"] = [{"start": 0.5 * i, "end": 0.5 * i + 0.4, "pitch": 72} for i in range(96)]
    meta_path.write_text(json.dumps(meta))

    chords_only = specs_from_synth(root, 12.0)
    assert "melody" not in chords_only[0]["lead_sheet"] or not chords_only[0]["lead_sheet"]["melody"]
    [spec] = specs_from_synth(root, 12.0, lead_sheet_parts="melody")
    assert spec["lead_sheet"]["melody"] and not spec["lead_sheet"].get("chords")
    assert spec["score_lead_sheet"]["chords"] == chords_only[0]["lead_sheet"]["chords"]
    [both] = specs_from_synth(root, 12.0, lead_sheet_parts="chords+melody")
    assert both["lead_sheet"]["chords"] and both["lead_sheet"]["melody"] and "score_lead_sheet" not in both
    with pytest.raises(ValueError, match="lead_sheet_parts"):
        specs_from_synth(root, 12.0, lead_sheet_parts="drums")

    out = tmp_path / "specs.json"
    out.write_text(json.dumps([spec]))
    [loaded] = load_specs(out)
    assert loaded.lead_sheet.chords == [] and loaded.target_lead_sheet.chords
    # Audio of the chart's chords scores against the chart, although the model was given no chords.
    rate = 16000
    t = np.arange(int(12 * rate)) / rate
    chart = {0: (0, 4, 7), 1: (9, 0, 4), 2: (5, 9, 0), 3: (7, 11, 2)}
    audio = sum(
        np.sin(2 * np.pi * 261.63 * 2 ** (pc / 12) * t) * ((t // 2).astype(int) % 4 == bar)
        for bar, pcs in chart.items()
        for pc in pcs
    )
    scores = score_clip(audio[None].astype(np.float32) * 0.2, rate, loaded)
    assert scores["chord_majmin"] >= 0.5  # chance for four majmin chords of 24 is about 0.04
