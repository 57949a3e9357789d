"""Issue 23 (and the overlapping items of issue 21): odd inputs a new user tries. Nothing a user had is lost, edits
touch only what they name, the chart language reads as musicians write, and misuse is one clear error.

Every test here failed on main when the issue was filed (2c9ac13~1), except the guards of behaviour that was already
right (the documented no-chord spellings, `C C | %`, `generate --out` under a file, a `duration` given as a string):
docs/issue23_audit.md lists each finding, its test and what the old code did. All use the untrained `tiny` preset
(16 kHz mono, hop 128: 125 latent frames/s), so they take seconds.
"""

import json
import logging
import os
import re

import numpy as np
import pytest
import soundfile
import torch
from synthetic_corpus import synth_song_folder

from diffusers_s2acc import LeadSheet, S2AccompanistPipeline
from diffusers_s2acc.audio import check_output_path, pcm_to_float, read_audio, write_audio
from diffusers_s2acc.cli import main
from diffusers_s2acc.evaluation import run
from diffusers_s2acc.evaluation.run import evaluate_specs
from diffusers_s2acc.evaluation.specs import load_specs
from diffusers_s2acc.music.chords import parse_chord


RATE, FPS, HOP = 16000, 125, 128
SECTIONS = [
    {"start": 0.0, "end": 1.0, "label": "verse", "caption": "soft piano"},
    {"start": 1.0, "end": 2.0, "label": "chorus", "caption": "loud drums"},
    {"start": 2.0, "end": 3.0, "label": "outro", "caption": "fading strings"},
]


def _seed(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def original(pipes):
    return pipes[0]("pop", segments=SECTIONS, num_inference_steps=2, generator=_seed(0))


def _run(argv, capsys):
    """Exit code, stdout and stderr (without the preset's expected UNTRAINED notice)."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    captured = capsys.readouterr()
    err = "\n".join(line for line in captured.err.strip().splitlines() if "UNTRAINED" not in line)
    return code, captured.out, err


def _one_line_error(code, err, pattern):
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, (code, err)
    assert re.search(pattern, err), err
    assert "PosixPath" not in err


def _spec_file(folder, specs=None):
    path = folder / "specs.json"
    path.write_text(json.dumps(specs or [{"id": "a", "prompt": "pop", "duration": 0.5, "seed": 0}]))
    return path


# ------------------------------------------------------------------------------------------ data loss


def test_evaluate_json_never_overwrites_a_file(tmp_path, capsys):
    specs = _spec_file(tmp_path)
    scores = tmp_path / "scores.json"
    scores.write_text("precious")
    code, _, err = _run(["evaluate", "--pipeline", "tiny", "--specs", str(specs), "--json", str(scores)], capsys)
    _one_line_error(code, err, "--json: .*exists; pass --overwrite")
    assert scores.read_text() == "precious"


def test_evaluate_json_never_overwrites_the_spec_file(tmp_path, capsys):
    specs = _spec_file(tmp_path)
    before = specs.read_text()
    for extra in ([], ["--overwrite"]):  # not even when asked: the spec file is this run's input
        code, _, err = _run(
            ["evaluate", "--pipeline", "tiny", "--specs", str(specs), "--json", str(specs), *extra], capsys
        )
        _one_line_error(code, err, "--json: .*input of this run")
        assert specs.read_text() == before


def test_evaluate_save_audio_refuses_two_takes_with_one_file_before_any_work(tmp_path, capsys):
    specs = _spec_file(
        tmp_path,
        [
            {"id": "a", "prompt": "pop", "duration": 0.5, "seed": 1000},
            {"id": "a", "prompt": "rock", "duration": 0.5, "seed": 0},
        ],
    )
    argv = [
        "evaluate",
        "--pipeline",
        "tiny",
        "--specs",
        str(specs),
        "--seeds",
        "2",
        "--save-audio",
        str(tmp_path / "a"),
    ]
    code, _, err = _run(argv, capsys)
    _one_line_error(code, err, "--save-audio: .*'a' and 'a' would both save their take as a_seed1000.wav")
    assert not (tmp_path / "a").exists()


def test_evaluate_save_audio_keeps_existing_takes_without_overwrite(tmp_path, capsys):
    specs = _spec_file(tmp_path)
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a_seed0.wav").write_bytes(b"precious")
    argv = ["evaluate", "--pipeline", "tiny", "--specs", str(specs), "--save-audio", str(tmp_path / "clips")]
    code, _, err = _run(argv, capsys)
    _one_line_error(code, err, "--save-audio: .*a_seed0.wav exists")
    assert (tmp_path / "clips" / "a_seed0.wav").read_bytes() == b"precious"


def test_bad_save_latents_parent_is_refused_before_the_audio_is_written(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "o.wav"
    argv = ["generate", "--pipeline", "tiny", "--steps", "1", "--duration", "0.2", "--out", str(out)]
    code, _, err = _run([*argv, "--save-latents", str(tmp_path / "afile" / "l.safetensors")], capsys)
    _one_line_error(code, err, "--save-latents: .*afile is a file")
    assert not out.exists()


def test_evaluate_keeps_the_scores_made_before_an_interruption_or_a_failure(tmp_path, monkeypatch, capsys):
    specs = _spec_file(tmp_path, [{"id": i, "prompt": "pop", "duration": 0.5, "seed": 0} for i in "abc"])
    scores = tmp_path / "scores.json"
    argv = ["evaluate", "--pipeline", "tiny", "--specs", str(specs), "--steps", "1", "--json", str(scores)]
    for stop, code_wanted, pattern in (
        (KeyboardInterrupt(), 130, "interrupted after 2 of 3 specs"),
        (ValueError("boom"), 2, "boom"),
    ):
        calls = []

        def score(audio, rate, spec, agreement, stop=stop, calls=calls):
            # Scoring is not what is tested (and takes a minute on the CPU): the third spec stops the run.
            calls.append(spec.id)
            if len(calls) == 3:
                raise stop
            return {"level": float(np.abs(audio).mean())}

        monkeypatch.setattr(run, "score_clip", score)
        code, _, err = _run([*argv, "--overwrite"], capsys)
        assert code == code_wanted and len(err.splitlines()) == 1, (code, err)
        assert re.search(pattern, err) and f"scores of the 2 spec(s) done are in {scores}" in err, err
        kept = json.loads(scores.read_text())
        assert kept["partial"] == "2 of 3 specs" and [row["id"] for row in kept["rows"]] == ["a", "b"]


def test_fad_on_one_clip_keeps_every_other_score(pipes, tmp_path, monkeypatch):
    pipe, _ = pipes
    reference = tmp_path / "ref.wav"
    soundfile.write(reference, np.random.default_rng(0).normal(0, 0.1, RATE // 2).astype(np.float32), RATE)
    specs = load_specs(
        _spec_file(tmp_path, [{"id": "a", "prompt": "pop", "duration": 0.5, "reference": {"path": "ref.wav"}}])
    )
    # Scoring is not what is tested (and takes a minute on the CPU): FAD is, with every other score kept.
    monkeypatch.setattr(run, "score_clip", lambda audio, rate, spec, agreement: {"level": float(np.abs(audio).mean())})
    result = evaluate_specs(pipe, specs, num_inference_steps=1)
    assert result["fad"]["value"] is None and "two" in result["fad"]["note"]
    assert result["generated"] and result["reference"] and len(result["rows"]) == 1


# ------------------------------------------------------------------------------------------ edits


def test_repaint_of_a_source_not_in_whole_frames_keeps_every_sample_outside_and_its_length(pipes, original):
    _, repaint = pipes
    source = original.audios[0][:, : 3 * RATE - 37]  # a trimmed file: segments now end 2.3 ms after it
    assert source.shape[-1] % HOP
    out = repaint("pop", segments=SECTIONS, source_audio=source, section=1, num_inference_steps=2, generator=_seed(1))
    kept = out.audios[0, :, : source.shape[-1]]  # compared before the length: main changed the last 0.25 s too
    np.testing.assert_array_equal(kept[:, :RATE], source[:, :RATE])
    np.testing.assert_array_equal(kept[:, 2 * RATE :], source[:, 2 * RATE :])
    assert out.audios.shape[-1] == source.shape[-1]


def test_repaint_region_borders_inside_a_frame_keep_every_sample_outside(pipes, original):
    _, repaint = pipes
    source = original.audios[0]
    # 0.5 s and 1.3 s are 62.5 and 162.5 frames: the latent region rounds to whole frames, the audio may not.
    out = repaint(
        "pop",
        segments=SECTIONS,
        source_audio=source,
        region_start_in_s=0.5,
        region_end_in_s=1.3,
        num_inference_steps=2,
        generator=_seed(1),
    )
    first, last = RATE // 2, int(1.3 * RATE)
    assert first % HOP and last % HOP
    np.testing.assert_array_equal(out.audios[0, :, :first], source[:, :first])
    np.testing.assert_array_equal(out.audios[0, :, last:], source[:, last:])
    assert (
        np.abs(
            out.audios[0, :, first + RATE // 4 : last - RATE // 4] - source[:, first + RATE // 4 : last - RATE // 4]
        ).max()
        > 1e-3
    )


def test_repaint_does_not_silently_grow_the_source(pipes, original):
    _, repaint = pipes
    longer = SECTIONS + [{"start": 3.0, "end": 5.0, "label": "outro", "caption": "more"}]
    with pytest.raises(
        ValueError, match=r"`segments` end at 5 s, after the source's end \(3.000 s\).*audio_length_in_s"
    ):
        repaint("pop", segments=longer, source_latents=original.latents, section=1, num_inference_steps=1)
    asked = repaint(
        "pop",
        segments=longer,
        source_latents=original.latents,
        section=1,
        audio_length_in_s=5.0,
        num_inference_steps=1,
    )
    assert asked.latents.shape[-1] == 5 * FPS


def test_section_counts_the_segments_in_the_order_given(pipes, original):
    _, repaint = pipes
    shuffled = [SECTIONS[2], SECTIONS[0], SECTIONS[1]]
    by_section = repaint(
        "pop", segments=shuffled, source_latents=original.latents, section=0, num_inference_steps=2, generator=_seed(1)
    )
    by_time = repaint(
        "pop",
        segments=shuffled,
        source_latents=original.latents,
        region_start_in_s=2.0,
        region_end_in_s=3.0,
        num_inference_steps=2,
        generator=_seed(1),
    )
    assert torch.equal(by_section.latents, by_time.latents)
    assert torch.equal(by_section.latents[..., : 2 * FPS], original.latents[..., : 2 * FPS])


def test_chained_edits_through_latents_keep_the_original_audio(tmp_path, capsys):
    (tmp_path / "s.json").write_text(json.dumps(SECTIONS))
    common = ["--pipeline", "tiny", "--segments", str(tmp_path / "s.json"), "--steps", "1"]
    assert main(["generate", *common, "--out", str(tmp_path / "a.wav")]) == 0
    source, _ = soundfile.read(tmp_path / "a.wav", dtype="float32")
    first = ["--audio", str(tmp_path / "a.wav"), "--section", "3", "--seed", "1"]
    latents = tmp_path / "b.safetensors"
    assert main(["repaint", *common, *first, "--out", str(tmp_path / "b.wav"), "--save-latents", str(latents)]) == 0
    second = ["--latents", str(latents), "--section", "2", "--seed", "2", "--out", str(tmp_path / "c.wav")]
    assert main(["repaint", *common, *second]) == 0
    chained, _ = soundfile.read(tmp_path / "c.wav", dtype="float32")
    assert chained.shape == source.shape
    assert (chained[:RATE] == source[:RATE]).all()  # never touched: the original audio, not its VAE reconstruction


def test_repaint_defaults_to_a_new_seed_and_says_which(tmp_path, capsys):
    (tmp_path / "s.json").write_text(json.dumps(SECTIONS))
    common = ["--pipeline", "tiny", "--segments", str(tmp_path / "s.json"), "--steps", "1"]
    assert main(["generate", *common, "--out", str(tmp_path / "a.wav")]) == 0
    source, _ = soundfile.read(tmp_path / "a.wav", dtype="float32")
    capsys.readouterr()
    argv = ["repaint", *common, "--audio", str(tmp_path / "a.wav"), "--section", "2"]
    code, out, _ = _run([*argv, "--out", str(tmp_path / "b.wav")], capsys)
    assert main([*argv, "--seed", "0", "--out", str(tmp_path / "same_seed.wav")]) == 0
    repainted, _ = soundfile.read(tmp_path / "b.wav", dtype="float32")
    same_seed, _ = soundfile.read(tmp_path / "same_seed.wav", dtype="float32")
    # Not the source's own noise (seed 0) again: that redraws the section the source already has.
    assert np.abs(repainted[RATE : 2 * RATE] - same_seed[RATE : 2 * RATE]).max() > 1e-3
    assert code == 0 and re.search(r"seed \d+ \(pass --seed \d+ to repeat", out)


# ------------------------------------------------------------------------------------------ Python API misuse


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(generator=0), "`generator` must be a torch.Generator"),
        (dict(generator=[_seed(0)], num_waveforms_per_prompt=2), "`generator` is a list of 1 generators.*2 samples"),
        (dict(num_waveforms_per_prompt=True), "`num_waveforms_per_prompt` must be a positive integer"),
        (dict(latents=np.zeros((1, 8, 63), np.float32)), "`latents` must be a torch.Tensor"),
        (dict(callback_on_step_end=lambda *args: None), "`callback_on_step_end` must return a dict"),
        (dict(audio_length_in_s=0.00001), "`audio_length_in_s`=1e-05 is shorter than one latent frame"),
        (dict(negative_prompt="x", negative_prompt_embeds=torch.zeros(1, 2, 32)), "not both"),
        (dict(negative_prompt_embeds=torch.zeros(2, 2, 32)), "`negative_prompt_embeds` must have shape \\(1,"),
    ],
)
def test_api_misuse_is_a_value_error_naming_the_argument(pipes, kwargs, message):
    pipe, _ = pipes
    with pytest.raises(ValueError, match=message):
        pipe("pop", audio_length_in_s=kwargs.pop("audio_length_in_s", 0.5), num_inference_steps=1, **kwargs)


def test_prepare_latents_checks_the_generator_list(pipes):
    pipe, _ = pipes
    with pytest.raises(ValueError, match="`generator` is a list of 1"):
        pipe.prepare_latents((2, 8, 10), torch.device("cpu"), [_seed(0)])


def test_dtype_as_a_string_names_the_argument(pipes, tmp_path):
    pipes[0].save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="`dtype` must be a torch.dtype"):
        S2AccompanistPipeline.from_pretrained(tmp_path, dtype="bfloat16")


def test_numpy_scalars_are_numbers(pipes, original):
    pipe, repaint = pipes
    out = pipe(
        "pop",
        audio_length_in_s=np.float32(0.5),
        num_inference_steps=np.int64(1),
        guidance_scale=np.float32(3.0),
        num_waveforms_per_prompt=np.int64(1),
        generator=_seed(0),
    )
    assert out.audios.shape == (1, 1, RATE // 2)
    edit = repaint(
        "pop",
        source_latents=original.latents,
        region_start_in_s=np.float64(1.0),
        region_end_in_s=np.float32(2.0),
        repaint_strength=np.float32(1.0),
        num_inference_steps=1,
    )
    assert torch.equal(edit.latents[..., :FPS], original.latents[..., :FPS])
    assert LeadSheet(tempo=np.float32(100.0)).tempo == 100.0


def test_integer_pcm_is_scaled(pipes, original):
    _, repaint = pipes
    source = original.audios[0]
    pcm = np.round(np.clip(source, -1, 1 - 2**-15) * 2**15).astype(np.int16)  # what scipy.io.wavfile.read returns
    scaled = pcm.astype(np.float32) / 2**15  # written out, not through pcm_to_float: the test must not share a bug
    for given in (pcm, torch.from_numpy(pcm)):
        out = repaint(
            "pop", segments=SECTIONS, source_audio=given, section=1, num_inference_steps=1, generator=_seed(1)
        )
        assert np.abs(out.audios).max() <= 1.5  # taken as float, int16 samples are thousands
        np.testing.assert_array_equal(out.audios[0, :, :RATE], scaled[:, :RATE])
    np.testing.assert_array_equal(pcm_to_float(pcm), scaled)


# ------------------------------------------------------------------------------------------ issue 21 items


def test_prompt_embeds_without_text_encoder_never_encode_a_negative_prompt(pipes):
    pipe, _ = pipes
    prompt_embeds = pipe.encode_prompt("warm jazz trio")
    negative_embeds = pipe.encode_prompt("")
    bare = S2AccompanistPipeline(**{**pipe.components, "text_encoder": None, "tokenizer": None})
    bare.set_progress_bar_config(disable=True)
    common = dict(audio_length_in_s=0.5, num_inference_steps=2)
    out = bare(prompt_embeds=prompt_embeds, negative_prompt_embeds=negative_embeds, generator=_seed(0), **common)
    full = pipe(prompt="warm jazz trio", negative_prompt="", generator=_seed(0), **common)
    np.testing.assert_allclose(out.audios, full.audios, atol=1e-5)
    assert np.isfinite(bare(prompt_embeds=prompt_embeds, generator=_seed(0), **common).audios).all()


def test_callback_step_index_counts_across_windows(pipes):
    pipe, _ = pipes
    steps = []
    pipe(
        "pop",
        audio_length_in_s=20.0,
        num_inference_steps=1,
        generator=_seed(0),
        callback_on_step_end=lambda p, i, t, kw: steps.append(i) or {},
    )
    assert len(steps) > 2 and steps == list(range(len(steps)))  # a progress bar rises once, 0 to the end


# ------------------------------------------------------------------------------------------ chart language


@pytest.mark.parametrize(
    "chart, expected",
    [
        ("C | - G | %", [("C", 0, 3), ("G", 3, 4), ("C", 4, 5), ("G", 5, 6)]),  # % repeats the bar as it sounded
        ("C | Am\nF | G", [("C", 0, 2), ("Am", 2, 4), ("F", 4, 6), ("G", 6, 8)]),  # a line end is a bar line
        ("| C | Am |\n\n| F | G |", [("C", 0, 2), ("Am", 2, 4), ("F", 4, 6), ("G", 6, 8)]),
        ("C C | %", [("C", 0, 1), ("C", 1, 2), ("C", 2, 3), ("C", 3, 4)]),
    ],
)
def test_charts_read_rows_and_repeats_as_written(chart, expected):
    chords = LeadSheet.from_chart(chart, bpm=120).chords
    assert [(c.symbol, c.start, c.end) for c in chords] == [
        (s, pytest.approx(a), pytest.approx(b)) for s, a, b in expected
    ]


def test_triangle_alone_is_a_major_seventh():
    assert parse_chord("CΔ").name == "C:maj7" and parse_chord("C\u2206").name == "C:maj7"
    assert parse_chord("CΔ").pitch_classes == parse_chord("Cmaj7").pitch_classes


@pytest.mark.parametrize("symbol", ["x", "X", "none", "n", "", "  "])
def test_only_documented_no_chord_spellings(symbol):
    with pytest.raises(ValueError, match="chord symbol"):
        parse_chord(symbol)


@pytest.mark.parametrize("symbol", ["N.C.", "n.c.", "NC", "nc", "N"])
def test_documented_no_chord_spellings_are_no_chord(symbol):
    assert parse_chord(symbol).is_no_chord


@pytest.mark.parametrize(
    "data, message",
    [
        ({"chart": "C | G", "chords": [{"start": 0, "end": 1, "symbol": "C"}]}, "both `chart` and `chords`"),
        ({"chart": "C", "bars": ["C"]}, "both `chart` and `bars`"),
        ({"tempo": 90, "bpm": 120, "chart": "C"}, "both `tempo` and `bpm`"),
    ],
)
def test_lead_sheet_json_with_conflicting_keys_is_refused(data, message):
    with pytest.raises(ValueError, match=message):
        LeadSheet.from_dict(data)


def test_guidance_that_switches_off_lead_sheet_guidance_is_refused_on_the_command_line(tmp_path, capsys):
    code, _, err = _run(
        ["generate", "--pipeline", "tiny", "--lead-sheet", "C", "--guidance", "1", "--lead-sheet-guidance", "3"]
        + ["--out", str(tmp_path / "o.wav")],
        capsys,
    )
    _one_line_error(code, err, "--guidance 1 turns guidance off, and with it --lead-sheet-guidance 3")
    assert not (tmp_path / "o.wav").exists()


def test_guidance_that_switches_off_lead_sheet_guidance_is_warned_once_in_python(pipes, caplog):
    pipe, _ = pipes
    with caplog.at_level(logging.WARNING):
        pipe(
            "pop",
            lead_sheet="C",
            guidance_scale=1.0,
            lead_sheet_guidance_scale=3.0,
            audio_length_in_s=0.5,
            num_inference_steps=2,
        )
    warnings = [r for r in caplog.records if "lead_sheet_guidance_scale" in r.getMessage()]
    assert len(warnings) == 1 and "no effect" in warnings[0].getMessage()


# ------------------------------------------------------------------------------------------ specs and flags


def test_tiny_duration_is_refused_not_a_zero_byte_file(tmp_path, capsys):
    out = tmp_path / "o.flac"
    code, _, err = _run(["generate", "--pipeline", "tiny", "--duration", "0.00001", "--out", str(out)], capsys)
    _one_line_error(code, err, "--duration=1e-05 is shorter than one latent frame")
    assert not out.exists()
    with pytest.raises(ValueError, match="no audio"):
        write_audio(out, np.zeros((1, 0), np.float32), RATE)
    assert not out.exists()


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"prompt": None, "duration": 1}, "`prompt` must be a string"),
        ({"prompt": "p", "duration": 1, "temperature": 3}, "unknown key.*temperature"),
        ({"prompt": "p", "duration": "10"}, "`duration` must be a positive number"),
        ({"prompt": "p", "duration": float("nan")}, "`duration` must be a positive number"),
        ({"prompt": "p", "duration": 1, "seed": 1.5}, "`seed` must be an integer"),
        ({"prompt": "p", "duration": 1, "seed": "3"}, "`seed` must be an integer"),
        ({"prompt": "p", "duration": 1, "reference": {"path": "r.wav", "start": -2}}, "reference.start"),
        ({"prompt": "p", "duration": 1, "reference": {"path": "r.wav", "stat": 2}}, "unknown key.*stat"),
    ],
)
def test_spec_values_are_refused_not_coerced(tmp_path, entry, message):
    soundfile.write(tmp_path / "r.wav", np.zeros(RATE, np.float32), RATE)
    with pytest.raises(ValueError, match=message):
        load_specs(_spec_file(tmp_path, [{"id": "s", **entry}]))


def test_negative_start_never_reads_from_the_end(tmp_path):
    soundfile.write(tmp_path / "r.wav", np.arange(RATE, dtype=np.float32) / RATE, RATE)
    with pytest.raises(ValueError, match="start must be a number of seconds >= 0"):
        read_audio(tmp_path / "r.wav", start=-0.5, duration=0.1)


def test_evaluate_limit_below_one_is_refused(tmp_path, capsys):
    code, _, err = _run(
        ["evaluate", "--pipeline", "tiny", "--specs", str(_spec_file(tmp_path)), "--limit", "-1"], capsys
    )
    _one_line_error(code, err, "--limit must be >= 1")


# ------------------------------------------------------------------------------------------ output paths


_GENERATE = ["generate", "--pipeline", "tiny", "--steps", "1", "--duration", "0.2"]
_EVALUATE = ["evaluate", "--pipeline", "tiny", "--specs", "{tmp}/specs.json"]
_MAKE_SPECS = ["make-specs", "--synth", "{tmp}/synth"]  # a real song: main read --synth first

# Each output flag pointed under a file ({tmp}/afile), at a folder, or at a file the user has; one case each, so a
# case main got right cannot hide one it got wrong.
OUTPUT_CASES = {
    "generate --out under a file": ([*_GENERATE, "--out", "{tmp}/afile/x.wav"], "--out: .*afile is a file"),
    "generate --save-latents under a file": (
        [*_GENERATE, "--out", "{tmp}/o.wav", "--save-latents", "{tmp}/afile/x.safetensors"],
        "--save-latents: .*afile is a file",
    ),
    "evaluate --json under a file": ([*_EVALUATE, "--json", "{tmp}/afile/x.json"], "--json: .*afile is a file"),
    "evaluate --json a folder": ([*_EVALUATE, "--json", "{tmp}/folder"], "--json: .*folder is a folder"),
    "evaluate --save-audio under a file": ([*_EVALUATE, "--save-audio", "{tmp}/afile/x"], "--save-audio: .*afile"),
    "evaluate --save-audio a file": ([*_EVALUATE, "--save-audio", "{tmp}/afile"], "--save-audio: .*not a folder"),
    "make-specs --out a folder": ([*_MAKE_SPECS, "--out", "{tmp}/folder"], "--out: .*folder is a folder"),
    "make-specs --out under a file": ([*_MAKE_SPECS, "--out", "{tmp}/afile/x.json"], "--out: .*afile is a file"),
    "make-specs --out an existing file": (
        [*_MAKE_SPECS, "--out", "{tmp}/specs.json"],
        "--out: .*specs.json exists; pass --overwrite",
    ),
    "make-specs --duration nan": (
        [*_MAKE_SPECS, "--duration", "nan", "--out", "{tmp}/n.json"],
        "--duration must be a positive number of seconds, got nan",
    ),
    "probe-vae --json under a file": (
        ["probe-vae", "--fit-data", ".", "--eval-data", ".", "--json", "{tmp}/afile/x.json"],
        "--json: .*afile is a file",
    ),
}


@pytest.mark.parametrize("case", list(OUTPUT_CASES))
def test_output_paths_that_cannot_be_written_are_one_line_before_any_work(tmp_path, capsys, case):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "folder").mkdir()
    _spec_file(tmp_path)
    synth_song_folder(tmp_path / "synth")
    argv, message = OUTPUT_CASES[case]
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    code, _, err = _run([arg.format(tmp=tmp_path) for arg in argv], capsys)
    _one_line_error(code, err, message)
    after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    assert after == before  # nothing written, nothing replaced


@pytest.mark.parametrize(
    "flag, argv",
    [
        ("--out", ["generate", "--pipeline", "tiny", "--steps", "1", "--duration", "0.2", "--out", "{ro}/o.wav"]),
        (
            "--save-latents",
            ["generate", "--pipeline", "tiny", "--steps", "1", "--duration", "0.2", "--out", "{tmp}/o.wav"]
            + ["--save-latents", "{ro}/l.safetensors"],
        ),
        ("--json", ["evaluate", "--pipeline", "tiny", "--specs", "{tmp}/specs.json", "--json", "{ro}/s.json"]),
        ("--save-audio", ["evaluate", "--pipeline", "tiny", "--specs", "{tmp}/specs.json", "--save-audio", "{ro}"]),
        ("--out", ["make-specs", "--synth", "{tmp}/synth", "--out", "{ro}/specs.json"]),
    ],
)
def test_unwritable_folders_are_refused_before_any_work(tmp_path, monkeypatch, capsys, flag, argv):
    # Tests may run as root, whom no permission bit stops: the folder's os.access answer is what is simulated, and
    # the file written anyway on main (rc 0) is the failure that stands for main's traceback after the work.
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    _spec_file(tmp_path)
    synth_song_folder(tmp_path / "synth")
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: False if str(path) == str(read_only) else real_access(path, mode)
    )
    argv = [arg.format(tmp=tmp_path, ro=read_only) for arg in argv]
    code, _, err = _run(argv, capsys)
    _one_line_error(code, err, f"{flag}: cannot write to .*read_only \\(permission denied\\)")
    assert not any(read_only.iterdir()) and not (tmp_path / "o.wav").exists()
    with pytest.raises(ValueError, match="permission denied"):
        check_output_path(read_only / "o.wav")


# ------------------------------------------------------------------------------------------ messages


@pytest.fixture
def source_file(original, tmp_path):
    src = tmp_path / "a.wav"
    soundfile.write(src, original.audios[0].T, RATE, subtype="FLOAT")
    return src


_COMMON = ["--pipeline", "tiny", "--steps", "1"]


def test_crossfade_message_speaks_seconds(tmp_path, capsys):
    code, _, err = _run(
        ["generate", *_COMMON, "--out", str(tmp_path / "o.wav"), "--duration", "1", "--crossfade", "10"], capsys
    )
    _one_line_error(code, err, r"--crossfade \(10 s\) plus the window context \(3 s\)")
    assert "frames" not in err


def test_extend_names_only_flags_it_has(source_file, tmp_path, capsys):
    code, _, err = _run(["extend", *_COMMON, "--out", str(tmp_path / "o.wav"), "--audio", str(source_file)], capsys)
    _one_line_error(code, err, r"Nothing to generate: make --duration .* reach past the source's end \(3.000 s\)")
    assert "--section" not in err and "--start" not in err


def test_repaint_past_the_end_points_to_extend(source_file, tmp_path, capsys):
    argv = ["repaint", *_COMMON, "--out", str(tmp_path / "o.wav"), "--audio", str(source_file)]
    code, _, err = _run([*argv, "--start", "4", "--end", "5"], capsys)
    _one_line_error(code, err, "s2acc extend")


def test_errors_show_the_path_as_typed_not_a_posixpath(tmp_path, capsys):
    (tmp_path / "bad.mp3").write_bytes(b"ID3 nonsense")  # decoded by ffmpeg, or refused for want of it
    argv = ["repaint", *_COMMON, "--out", str(tmp_path / "o.wav"), "--audio", str(tmp_path / "bad.mp3")]
    code, _, err = _run([*argv, "--start", "0"], capsys)
    _one_line_error(code, err, "--audio: .*Cannot read audio from '.*bad.mp3'")
