"""The semantic-VAE ablation's table script (train/recipes/ablation_table.py) on hand-made arm folders."""

import json
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "train" / "recipes" / "ablation_table.py"
sys.path.insert(0, str(SCRIPT.parent))
import ablation_table  # noqa: E402


def _eval(chords: list[float], fad: float) -> dict:
    rows = [
        {"id": f"spec{i}", "generated": {"chord_majmin": c, "tempo_acc1": 1.0, "boundary_f@3s": 0.5}}
        for i, c in enumerate(chords)
    ]
    mean = sum(chords) / len(chords)
    generated = {"chord_majmin": mean, "tempo_acc1": 1.0, "boundary_f@3s": 0.5, "caption_adherence": 0.9}
    return {
        "rows": rows,
        "generated": generated,
        "reconstruction": {"chord_majmin": 0.7, "tempo_acc1": 0.9},
        "fad": {"value": fad},
    }


def _arm(root: Path, weight: str, chords: list[float], losses: list[float], probe_chord: float) -> None:
    run = root / f"semantic_{weight}" / "dit_seed0"
    run.mkdir(parents=True)
    (run / "eval.json").write_text(json.dumps(_eval(chords, 100.0)))
    (run / "train_log.jsonl").write_text(
        "".join(json.dumps({"step": i + 1, "loss": loss}) + "\n" for i, loss in enumerate(losses))
    )
    vae = root / f"semantic_{weight}" / "vae"
    vae.mkdir()
    (vae / "train_log.jsonl").write_text(
        "".join(json.dumps({"step": s, "l1": 0.1, "stft": 2.0, "semantic": 1.0}) + "\n" for s in range(1, 5))
    )
    (root / f"semantic_{weight}" / "probe.json").write_text(json.dumps({"head_chord_accuracy": probe_chord}))


def test_paired_difference_is_exact_and_its_interval_holds_the_mean():
    a = {"x": 0.9, "y": 0.5, "z": 0.4, "only_a": 1.0}
    b = {"x": 0.5, "y": 0.5, "z": 0.6}
    d = ablation_table.paired_difference(a, b)
    assert d["specs"] == 3  # a spec only one arm scored is left out
    assert d["mean"] == pytest.approx((0.4 + 0.0 - 0.2) / 3)
    assert d["ci95"][0] <= d["mean"] <= d["ci95"][1]
    assert (d["wins"], d["ties"], d["losses"]) == (1, 1, 1)
    assert ablation_table.paired_difference(a, {})["specs"] == 0


def test_loss_curve_blocks_by_step():
    log = [{"step": s, "loss": float(s)} for s in range(1, 6)]
    assert ablation_table.loss_curve(log, "loss", 2) == {2: 1.5, 4: 3.5, 6: 5.0}


def test_table_script_on_two_arms(tmp_path):
    _arm(tmp_path, "0.1", [0.8, 0.6, 0.7], [1.0, 0.8, 0.6, 0.4], 0.3)
    _arm(tmp_path, "0", [0.5, 0.6, 0.4], [1.0, 0.9, 0.7, 0.5], 0.1)
    (tmp_path / "times.tsv").write_text("vae_semantic_0.1\t60\nvae_semantic_0.1\t60\ndit_semantic_0_seed0\t600\n")
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), "--json", str(tmp_path / "t.json"), "--block", "2"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    table = json.loads((tmp_path / "t.json").read_text())
    first, second = table["arms"]  # the semantic arm comes first
    assert (first, second) == ("semantic_0.1", "semantic_0")
    assert table["arms"][first]["DiT chord_majmin"] == "0.700 (1 seed)"
    assert table["arms"][first]["VAE wall-clock (min)"] == "2.0"  # a resumed stage's sessions add up
    assert table["arms"][second]["probe head_chord_accuracy"] == "0.100"
    assert table["paired"]["chord_majmin"]["mean"] == pytest.approx(0.2)
    assert table["paired"]["chord_majmin"]["wins"] == 2 and table["paired"]["chord_majmin"]["ties"] == 1
    assert table["loss_curves"]["semantic_0.1 DiT seed0"] == {"2": 0.9, "4": 0.5}
    assert "semantic_0.1 minus semantic_0" in out and "| chord_majmin | +0.200 |" in out


def test_table_script_refuses_a_folder_without_arms(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert result.returncode != 0 and "no semantic_* arm folders" in result.stderr
