import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
from pipeline_helpers import SEGMENTS

from diffusers_s2acc import presets
from diffusers_s2acc.cli import main


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipe")
    presets.build_pipeline("tiny").save_pretrained(path)
    return path


def test_generate_writes_audio_and_says_where(pipeline_dir, tmp_path, capsys):
    segments = tmp_path / "segments.json"
    segments.write_text(json.dumps(SEGMENTS))
    out = tmp_path / "sub" / "out.wav"
    code = main(
        [
            "generate",
            "--pipeline",
            str(pipeline_dir),
            "--prompt",
            "bossa nova guitar",
            "--segments",
            str(segments),
            "--lead-sheet",
            "C | Am",
            "--bpm",
            "240",
            "--steps",
            "2",
            "--seed",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    audio, rate = soundfile.read(out, always_2d=True)
    assert rate == 16000 and audio.shape == (16000, 1)  # duration from the segments
    assert str(out.resolve()) in capsys.readouterr().out


def test_same_seed_same_file(pipeline_dir, tmp_path):
    outs = [tmp_path / f"{i}.wav" for i in range(2)]
    for out in outs:
        assert (
            main(["generate", "--pipeline", str(pipeline_dir), "--duration", "0.3", "--steps", "2", "--out", str(out)])
            == 0
        )
    assert (soundfile.read(outs[0])[0] == soundfile.read(outs[1])[0]).all()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--lead-sheet", "C | Qm"], "--lead-sheet"),
        (["--duration", "-2"], "--duration"),
        (["--guidance", "nan"], "--guidance must be"),
        (["--segments", "missing.json"], "--segments: no such file"),
        (["--steps", "abc"], "invalid int value"),
        (["--out", "x.mp3"], "unsupported extension"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(pipeline_dir, tmp_path, capsys, extra, message):
    argv = ["generate", "--pipeline", str(pipeline_dir), "--steps", "1", "--out", str(tmp_path / "o.wav"), *extra]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_existing_output_is_never_overwritten_silently(pipeline_dir, tmp_path, capsys):
    out = tmp_path / "keep.wav"
    out.write_bytes(b"precious")
    assert main(["generate", "--pipeline", str(pipeline_dir), "--steps", "1", "--out", str(out)]) == 2
    assert out.read_bytes() == b"precious" and "--overwrite" in capsys.readouterr().err


def test_unknown_pipeline_is_one_line(tmp_path, capsys):
    code = main(["generate", "--pipeline", str(tmp_path / "nope"), "--out", str(tmp_path / "o.wav")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--pipeline: cannot load" in err and len(err.splitlines()) == 1


def test_console_script_entry_point(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "diffusers_s2acc.cli",
            "generate",
            "--pipeline",
            "tiny",
            "--duration",
            "0.2",
            "--steps",
            "1",
            "--out",
            str(tmp_path / "t.wav"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "UNTRAINED" in result.stderr and (tmp_path / "t.wav").exists()


def _run(argv, capsys):
    """Exit code and stderr, without the preset's expected UNTRAINED notice."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    lines = capsys.readouterr().err.strip().splitlines()
    return code, "\n".join(line for line in lines if "UNTRAINED" not in line)


def test_flac_output_reads_back_with_the_right_duration(tmp_path):
    # Issue 11, item 1: FLAC cannot hold FLOAT samples; it is written as 24-bit PCM.
    out = tmp_path / "x.flac"
    assert (
        main(
            ["generate", "--pipeline", "tiny", "--prompt", "p", "--steps", "2", "--duration", "0.5", "--out", str(out)]
        )
        == 0
    )
    info = soundfile.info(out)
    assert info.format == "FLAC" and info.subtype == "PCM_24" and info.duration == pytest.approx(0.5)


def _bad_inputs(tmp_path):
    (tmp_path / "latin1.json").write_bytes('[{"start": 0, "end": 1, "caption": "café"}]'.encode("latin-1"))
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("x")
    sheets = {
        "no_symbol.json": {"chords": [{"start": 0, "end": 1}]},
        "chart_string.json": {"chords": "C | Am"},
        "note.json": {"melody": [{"start": 0, "end": 1, "note": 60}]},
        "meter.json": {"meter": 3},
        "overlap.json": {"chords": [{"start": 0, "end": 2, "symbol": "C"}, {"start": 1, "end": 3, "symbol": "G"}]},
    }
    for name, sheet in sheets.items():
        (tmp_path / name).write_text(json.dumps(sheet))
    return [
        # item 4: wrong shapes and unreadable files are one line, rc 2
        (["--lead-sheet", str(tmp_path / "no_symbol.json")], "--lead-sheet:.*symbol"),
        (["--lead-sheet", str(tmp_path / "chart_string.json")], "--lead-sheet:.*`chords` must be a list"),
        (["--lead-sheet", str(tmp_path / "note.json")], "--lead-sheet:.*note"),
        (["--lead-sheet", str(tmp_path / "meter.json")], "--lead-sheet:.*Meter"),
        (["--lead-sheet", str(tmp_path / "overlap.json")], "--lead-sheet:.*overlap"),
        (["--segments", str(tmp_path / "latin1.json")], "--segments:.*not UTF-8"),
        (["--segments", str(tmp_path / "folder")], "--segments:.*folder"),
        (["--out", str(tmp_path / "afile" / "u.wav")], "--out:.*afile is a file"),
        (["--out", str(tmp_path / "folder")], "--out"),
        (["--device", "gpu"], "--device gpu"),
        # item 5: messages that name the real problem and the flag
        (["--lead-sheet", str(tmp_path / "missing.json")], "does not exist"),
        (["--pipeline", str(tmp_path / "nowhere")], "folder does not exist"),
        (["--pipeline", "./nowhere"], "folder does not exist"),
        (["--seed", str(2**80)], "--seed"),
        (["--duration", "10000"], "^s2acc generate: error: --duration=10000 exceeds"),
        (["--segments", str(tmp_path / "folder"), "--duration", "1"], "--segments"),
        # item 2: tempo and meter of nothing
        (["--bpm", "90"], "--bpm.*no --lead-sheet"),
        (["--meter", "6/8", "--lead-sheet", str(tmp_path / "meter.json")], "--meter.*sets its own"),
        # item 3: through the pipeline's check_inputs, named as the flag
        (["--lead-sheet", "C", "--lead-sheet-guidance", "nan"], "--lead-sheet-guidance must be a finite number >= 0"),
        (["--lead-sheet", "C", "--lead-sheet-guidance", "-5"], "--lead-sheet-guidance must be a finite number >= 0"),
        # the sampler's flags
        (["--guidance-interval", "0.5", "0.5"], "--guidance-interval must satisfy 0 <= start < stop <= 1"),
        (["--guidance-interval", "0", "2"], "--guidance-interval must satisfy"),
        (["--sampler", "fast"], "--sampler: invalid choice"),
    ]


def test_bad_inputs_and_files_are_one_line_errors_naming_the_flag(tmp_path, capsys):
    for extra, message in _bad_inputs(tmp_path):
        argv = ["generate", "--pipeline", "tiny", "--steps", "1", "--out", str(tmp_path / "o.wav"), *extra]
        code, err = _run(argv, capsys)
        assert code == 2 and len(err.splitlines()) == 1, (extra, err)
        assert re.search(message, err), (extra, err)
        assert "audio_length_in_s" not in err and "`segments`: `segments`" not in err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a CPU-only machine")
def test_cuda_device_on_a_cpu_build_is_one_line(tmp_path, capsys):
    code, err = _run(["generate", "--pipeline", "tiny", "--device", "cuda", "--out", str(tmp_path / "o.wav")], capsys)
    assert code == 2 and err.startswith("s2acc generate: error: --device cuda") and len(err.splitlines()) == 1


def test_evaluate_specs_folder_is_one_line(tmp_path, capsys):
    code, err = _run(["evaluate", "--pipeline", "tiny", "--specs", str(tmp_path)], capsys)
    assert code == 2 and "--specs:" in err and "folder" in err and len(err.splitlines()) == 1


def test_readme_synopsis_marks_prompt_optional():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "--prompt TEXT" not in readme.replace("[--prompt TEXT]", "")


def _fuzz_cases(tmp_path):
    """Seeded odd files and flag values: every one must end in one line on stderr and exit code 2."""
    import numpy as np

    rng = np.random.default_rng(11)
    files = []
    for index, name in enumerate(["r.json", "sön g 🎵.json", "%2e%2e%2fetc%2fpasswd.json", "-dash.json", "no_ext"]):
        for size in (0, 5, 300):
            path = tmp_path / f"{index}_{size}_{name}"
            path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            files.append(path)
    (tmp_path / "list.json").write_text("[1, 2, 3]")
    (tmp_path / "deep.json").write_text("[" * 5000)
    files += [tmp_path / "list.json", tmp_path / "deep.json"]
    cases = []
    for path in files:
        cases.append(["generate", f"--segments={path}"])
        cases.append(
            ["generate", f"--lead-sheet={path}"] if path.suffix == ".json" else ["generate", "--lead-sheet", "C | Qm"]
        )
        cases.append(["evaluate", f"--specs={path}"])
    values = {
        "--duration": ["inf", "nan", "-0", "1e309", "0"],
        "--bpm": ["nan", "0", "1e9", "-120"],
        "--meter": ["0/4", "4/0", "4/3", "a/b", "99/4", "4/4/4", ""],
        "--lead-sheet": ["", "|", "C | |", "% | C", "- C", "H7", "C/H", "Cmaj7#13#", "\u0000", "C" * 500],
        "--out": ["x.WAV.mp3", "../../x.aiff", "noext", str(tmp_path)],
        "--seed": ["-1e3", str(2**64), str(-(2**63) - 1)],
        "--device": ["gpu", "cuda:99", "", "meta:x"],
        "--pipeline": ["./nowhere", "~/no/such/pipeline", "a/b/c", str(tmp_path / "list.json")],
    }
    for flag, options in values.items():
        for value in options:
            extra = [f"{flag}={value}"] + (["--lead-sheet", "C | G"] if flag in ("--bpm", "--meter") else [])
            cases.append(["generate", *extra])
    return cases


def test_fuzzed_cli_arguments_end_in_one_line_and_exit_2(tmp_path, capsys):
    for argv in _fuzz_cases(tmp_path):
        command, extra = argv[0], argv[1:]
        if not any(a.startswith("--pipeline") for a in extra):
            extra = ["--pipeline", "tiny", *extra]
        if command == "generate" and not any(a.startswith("--out") for a in extra):
            extra = ["--out", str(tmp_path / "o.wav"), *extra]
        argv = [command, "--steps", "1", *extra]  # a case that wrongly succeeds stays fast
        code, err = _run(argv, capsys)
        assert code == 2 and len(err.splitlines()) == 1 and "error" in err, (argv, code, err)
        assert not (tmp_path / "o.wav").exists()


def test_bfloat16_generation_keeps_the_vae_float32(pipeline_dir, tmp_path, monkeypatch):
    """--dtype bfloat16 loads the transformer and text encoder in bf16 and the VAE's weights in float32; the file is
    finite float audio of the asked length."""
    import numpy as np
    import torch

    from diffusers_s2acc.cli import generate as generate_command

    loaded = {}
    real = generate_command._load_pipeline

    def spy(*args, **kwargs):
        loaded["pipe"] = real(*args, **kwargs)
        return loaded["pipe"]

    monkeypatch.setattr(generate_command, "_load_pipeline", spy)
    out = tmp_path / "bf16.wav"
    code = main(
        [
            "generate",
            "--pipeline",
            str(pipeline_dir),
            "--duration",
            "1",
            "--steps",
            "2",
            "--dtype",
            "bfloat16",
            "--lead-sheet",
            "C | G",
            "--bpm",
            "240",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    pipe = loaded["pipe"]
    assert pipe.transformer.dtype == torch.bfloat16 and pipe.text_encoder.dtype == torch.bfloat16
    assert pipe.vae.encoder.conv1.weight_v.dtype == torch.float32
    audio, rate = soundfile.read(out, always_2d=True)
    assert audio.shape == (rate, 1) and np.isfinite(audio).all()
    with pytest.raises(SystemExit) as refused:  # argparse refuses the choice: one line, exit code 2
        main(["generate", "--pipeline", str(pipeline_dir), "--dtype", "float16", "--out", str(tmp_path / "x.wav")])
    assert refused.value.code == 2


THREE_SECTIONS = [
    {"start": 0.0, "end": 1.0, "label": "verse", "caption": "soft piano"},
    {"start": 1.0, "end": 2.0, "label": "chorus", "caption": "loud drums"},
    {"start": 2.0, "end": 3.0, "label": "outro"},
]


@pytest.fixture(scope="module")
def piece(pipeline_dir, tmp_path_factory):
    """A generated 3-section piece: its folder, segments file, audio file and latents file."""
    folder = tmp_path_factory.mktemp("piece")
    (folder / "segments.json").write_text(json.dumps(THREE_SECTIONS))
    assert (
        main(
            [
                "generate",
                "--pipeline",
                str(pipeline_dir),
                "--segments",
                str(folder / "segments.json"),
                "--steps",
                "2",
                "--out",
                str(folder / "a.wav"),
                "--save-latents",
                str(folder / "a.safetensors"),
            ]
        )
        == 0
    )
    return folder


def test_repaint_a_section_from_audio_or_latents(pipeline_dir, piece, tmp_path):
    source, rate = soundfile.read(piece / "a.wav", dtype="float32")
    common = ["--pipeline", str(pipeline_dir), "--segments", str(piece / "segments.json"), "--steps", "2"]
    for name, flags in (
        ("audio", ["--audio", str(piece / "a.wav")]),
        ("latents", ["--latents", str(piece / "a.safetensors")]),
    ):
        out = tmp_path / f"{name}.wav"
        assert main(["repaint", *common, *flags, "--section", "2", "--seed", "5", "--out", str(out)]) == 0
        audio, _ = soundfile.read(out, dtype="float32")
        assert audio.shape == source.shape
        assert (
            audio[rate + rate // 4 : 2 * rate - rate // 4] != source[rate + rate // 4 : 2 * rate - rate // 4]
        ).any()
        if name == "audio":  # the source audio itself outside the region
            assert (audio[:rate] == source[:rate]).all() and (audio[2 * rate :] == source[2 * rate :]).all()


def test_extend_appends_after_the_input(pipeline_dir, piece, tmp_path):
    source, rate = soundfile.read(piece / "a.wav", dtype="float32")
    out = tmp_path / "longer.wav"
    assert (
        main(
            [
                "extend",
                "--pipeline",
                str(pipeline_dir),
                "--audio",
                str(piece / "a.wav"),
                "--duration",
                "4.5",
                "--steps",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    audio, _ = soundfile.read(out, dtype="float32")
    assert audio.shape == (int(4.5 * rate),)
    kept = len(source) - int(0.25 * rate)  # the source's last --crossfade seconds blend into the continuation
    assert (audio[:kept] == source[:kept]).all()


def test_repaint_and_extend_errors_are_one_line_naming_the_flag(pipeline_dir, piece, tmp_path, capsys):
    (tmp_path / "other.safetensors").write_bytes(b"not safetensors")
    segments, audio, latents = (str(piece / n) for n in ("segments.json", "a.wav", "a.safetensors"))
    cases = [
        (["repaint", "--audio", audio, "--segments", segments, "--section", "4"], "--section 4: .* 3 section"),
        (["repaint", "--audio", audio, "--section", "1"], "--section: .*no --segments"),
        (
            ["repaint", "--audio", audio, "--segments", segments, "--section", "1", "--start", "0"],
            "--section: .*not both",
        ),
        (["repaint", "--audio", audio], "--section N, or --start"),
        (["repaint", "--audio", audio, "--start", "2", "--end", "1"], "--end=1 <= --start=2"),
        (["repaint", "--audio", audio, "--start", "1", "--end", "9"], "--end=9 is past the end"),
        (["repaint", "--audio", audio, "--start", "1", "--strength", "0"], "--strength must be in"),
        (["repaint", "--audio", str(tmp_path / "missing.wav"), "--start", "1"], "--audio: no such file"),
        (["repaint", "--audio", segments, "--start", "1"], "--audio: .*Cannot read audio"),
        (
            ["repaint", "--latents", str(tmp_path / "other.safetensors"), "--start", "1"],
            "--latents: .*not a --save-latents",
        ),
        (["repaint", "--audio", audio, "--latents", latents, "--start", "1"], "not allowed with argument"),
        (["repaint", "--start", "1"], "one of the arguments --audio --latents is required"),
        (["repaint", "--audio", audio, "--start", "1", "--save-latents", str(tmp_path / "x.pt")], "--save-latents"),
        (["extend", "--audio", audio], "Nothing to generate: .*--duration"),
        (["extend", "--latents", latents, "--duration", "2"], "--duration=2 is shorter than the source"),
    ]
    for argv, message in cases:
        argv = [argv[0], "--pipeline", str(pipeline_dir), "--steps", "1", "--out", str(tmp_path / "o.wav"), *argv[1:]]
        code, err = _run(argv, capsys)
        assert code == 2 and len(err.splitlines()) == 1, (argv, err)
        assert re.search(message, err), (argv, err)
        assert not (tmp_path / "o.wav").exists()


def test_auto_dtype_is_int8_on_a_cpu_else_bfloat16_only_where_it_is_native(monkeypatch):
    """Emulated bf16 is slower than float32, so "auto" (the default) must look at the hardware; int8 kernels come
    first on a CPU."""
    import torch

    from diffusers_s2acc import devices
    from diffusers_s2acc.devices import resolve_dtype as _resolve_dtype

    assert devices.has_int8_kernels("cpu") and not devices.has_int8_kernels("cuda")  # torch's x86 CPU wheels have them
    assert _resolve_dtype("auto", "cpu") == "int8"  # first on a CPU that runs it (measured fastest on both kinds)
    # Without int8 kernels: bf16 only where it is native.
    monkeypatch.setattr(devices, "has_int8_kernels", lambda device="cpu": False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert _resolve_dtype("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert _resolve_dtype("auto", "cpu") == "float32"
    assert _resolve_dtype("float32", "cpu") == "float32" and _resolve_dtype("bfloat16", "cpu") == "bfloat16"
    assert _resolve_dtype("auto", "mps") == "float32"


def test_training_mixed_precision_auto_follows_the_hardware(monkeypatch):
    """`--mixed_precision auto` picks bf16 autocast only where bf16 is native, as `--dtype auto` does."""
    import torch

    from diffusers_s2acc.training.arguments import resolve_mixed_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert resolve_mixed_precision("auto") == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert resolve_mixed_precision("auto") == "no"
    assert resolve_mixed_precision("bf16") == "bf16" and resolve_mixed_precision(None) is None


def test_int8_quantises_the_transformer_blocks_and_stays_close_to_float32(pipeline_dir, tmp_path, capsys):
    """--dtype int8 (CPU): every linear layer of the transformer blocks becomes a dynamic int8 one, everything else
    stays float32, and the latents it samples stay close to float32's from the same noise; on another device it is
    a one-line error naming the problem."""
    import torch

    from diffusers_s2acc.devices import resolve_dtype
    from diffusers_s2acc.pretrained import load_pipeline

    quantized, reference = load_pipeline(str(pipeline_dir), "int8"), load_pipeline(str(pipeline_dir), "float32")
    blocks = [
        m for n, m in quantized.transformer.named_modules() if n.startswith("blocks.") and "Linear" in type(m).__name__
    ]
    assert blocks and all(type(m).__module__.startswith("torch.ao.nn.quantized") for m in blocks)
    assert isinstance(quantized.transformer.proj_in, torch.nn.Linear) and quantized.transformer.dtype == torch.float32
    kwargs = dict(
        prompt="piano", lead_sheet="C | G", audio_length_in_s=1.0, num_inference_steps=3, output_type="latent"
    )
    for pipe in (quantized, reference):
        pipe.set_progress_bar_config(disable=True)
    a, b = (p(**kwargs, generator=torch.Generator().manual_seed(0)).audios for p in (quantized, reference))
    assert torch.isfinite(a).all() and not torch.equal(a, b)
    assert float((a - b).norm() / b.norm()) < 0.1  # int8 rounding, not another sample
    with pytest.raises(ValueError, match="int8.*CPU only"):
        resolve_dtype("int8", "cuda")
    out = tmp_path / "int8.wav"
    argv = ["generate", "--pipeline", str(pipeline_dir), "--dtype", "int8", "--duration", "0.5", "--steps", "1"]
    assert main([*argv, "--out", str(out)]) == 0 and out.stat().st_size > 0
