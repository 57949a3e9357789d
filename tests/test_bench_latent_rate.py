"""bench/bench_latent_rate.py: the DiT's cost per second of audio at two latent rates, in one run."""

import json
import os
import sys

import pytest

from diffusers_s2acc.presets import vae_config


sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
import bench_latent_rate  # noqa: E402


def _config(tmp_path, name, **change):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**vae_config("tiny"), **change}))
    return str(path)


def test_a_lower_latent_rate_costs_less_per_second_of_audio(tmp_path):
    fast = _config(tmp_path, "hop128", downsampling_ratios=[4, 4, 8])  # 125 frames/s at 16 kHz
    slow = _config(tmp_path, "hop1024", downsampling_ratios=[4, 8, 32], latent_channels=16)  # 15.6 frames/s
    out = tmp_path / "rate.json"
    rows = bench_latent_rate.main(
        [
            "--vae",
            fast,
            "--vae",
            slow,
            "--transformer",
            "tiny",
            "--seconds",
            "8",
            "--iters",
            "3",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--json",
            str(out),
        ]
    )
    assert [row["frames"] for row in rows] == [1000, 125]
    assert rows[1]["latent_channels"] == 16 and rows[0]["cpu_ratio"] == 1.0
    # Eight times fewer frames: far less than half the work, whatever the machine is doing.
    assert rows[1]["cpu_ratio"] < 0.5
    assert json.loads(out.read_text())["rows"][1]["frames"] == 125


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--vae", "tiny"], "at least two --vae"),
        (["--vae", "tiny", "--vae", "tiny", "--seconds", "0"], "--seconds must be > 0"),
    ],
)
def test_bad_invocations_are_refused_before_work(argv, message, capsys):
    with pytest.raises(SystemExit):
        bench_latent_rate.main(argv)
    assert message in capsys.readouterr().err


def test_an_existing_json_is_kept_without_overwrite(tmp_path, capsys):
    out = tmp_path / "rate.json"
    out.write_text("mine")
    with pytest.raises(SystemExit):
        bench_latent_rate.main(["--vae", "tiny", "--vae", "tiny", "--json", str(out)])
    assert "exists; pass --overwrite" in capsys.readouterr().err and out.read_text() == "mine"


def test_the_callers_thread_count_is_restored(tmp_path):
    import torch

    before = torch.get_num_threads()
    fast = _config(tmp_path, "a", downsampling_ratios=[4, 4, 8])
    bench_latent_rate.main(
        [
            "--vae",
            fast,
            "--vae",
            fast,
            "--transformer",
            "tiny",
            "--seconds",
            "1",
            "--iters",
            "1",
            "--warmup",
            "0",
            "--threads",
            str(before + 1),
        ]
    )
    assert torch.get_num_threads() == before
