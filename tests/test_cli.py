import json
import subprocess
import sys

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
    code = main(["generate", "--pipeline", str(pipeline_dir), "--prompt", "bossa nova guitar", "--segments",
                 str(segments), "--lead-sheet", "C | Am", "--bpm", "240", "--steps", "2", "--seed", "3", "--out", str(out)])
    assert code == 0
    audio, rate = soundfile.read(out, always_2d=True)
    assert rate == 16000 and audio.shape == (16000, 1)  # duration from the segments
    assert str(out.resolve()) in capsys.readouterr().out


def test_same_seed_same_file(pipeline_dir, tmp_path):
    outs = [tmp_path / f"{i}.wav" for i in range(2)]
    for out in outs:
        assert main(["generate", "--pipeline", str(pipeline_dir), "--duration", "0.3", "--steps", "2", "--out", str(out)]) == 0
    assert (soundfile.read(outs[0])[0] == soundfile.read(outs[1])[0]).all()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--lead-sheet", "C | Qm"], "--lead-sheet"),
        (["--duration", "-2"], "--duration"),
        (["--guidance", "nan"], "guidance_scale"),
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
        [sys.executable, "-m", "diffusers_s2acc.cli", "generate", "--pipeline", "tiny", "--duration", "0.2",
         "--steps", "1", "--out", str(tmp_path / "t.wav")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "UNTRAINED" in result.stderr and (tmp_path / "t.wav").exists()
