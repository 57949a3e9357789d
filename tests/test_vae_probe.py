"""`s2acc probe-vae`: semantic-head and linear-probe accuracies of a VAE's latent."""

import json

import pytest
import torch
from synthetic_corpus import make_corpus

from diffusers_s2acc import SemanticAutoencoder
from diffusers_s2acc.cli import main
from diffusers_s2acc.evaluation.vae_probe import IGNORE_INDEX, encode_probe_frames, fit_linear_probe, probe_vae
from diffusers_s2acc.presets import vae_config
from diffusers_s2acc.training.corpus import load_corpus


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    return make_corpus(root / "fit", num_songs=2), make_corpus(root / "eval", num_songs=2)


def test_linear_probe_recovers_a_linearly_coded_label_and_not_noise():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (3000,), generator=generator)
    codes = torch.randn(5, 16, generator=generator)
    coded = codes[labels] + 0.3 * torch.randn(3000, 16, generator=generator)
    labels[::7] = IGNORE_INDEX  # unknown frames are left out of the fit
    probe = fit_linear_probe(coded[:2000], labels[:2000], num_classes=5)
    known = labels[2000:] != IGNORE_INDEX
    accuracy = (probe(coded[2000:]).argmax(-1)[known] == labels[2000:][known]).float().mean()
    assert accuracy > 0.95
    noise = torch.randn(3000, 16, generator=generator)
    probe = fit_linear_probe(noise[:2000], labels[:2000], num_classes=5)
    accuracy = (probe(noise[2000:]).argmax(-1)[known] == labels[2000:][known]).float().mean()
    assert accuracy < 0.4  # five balanced classes: chance is 0.2


def test_probe_report_counts_frames_and_scores_the_head(corpora):
    torch.manual_seed(0)
    vae = SemanticAutoencoder(**vae_config("tiny"))
    fit_rows, eval_rows = (load_corpus(train_data_dir=str(p)) for p in corpora)
    frames = encode_probe_frames(vae, eval_rows, max_seconds=4.0)
    assert frames.num_songs == 2
    assert frames.latents.shape == (frames.num_frames, vae.config.latent_channels)
    assert frames.num_frames == 2 * int(4.0 * vae.config.sampling_rate) // vae.hop_length
    # A head that always answers class k scores exactly the share of frames whose chord is k.
    chord = frames.targets["chord"]
    k = int(torch.mode(chord[chord != IGNORE_INDEX]).values)
    with torch.no_grad():
        vae.semantic_head.chord.weight.zero_()
        vae.semantic_head.chord.bias.zero_()
        vae.semantic_head.chord.bias[k] = 1.0
    report = probe_vae(vae, fit_rows, eval_rows, max_seconds=4.0)
    share = float((chord[chord != IGNORE_INDEX] == k).float().mean())
    assert report.head_chord_accuracy == pytest.approx(share)
    assert report.head_melody_accuracy is None  # the synthetic corpus has no melody
    assert report.fit_songs == report.eval_songs == 2
    for value in (report.head_pitch_class_f1, report.head_beat_f1, report.linear_probe_chord_accuracy):
        assert 0.0 <= value <= 1.0


def test_probe_vae_cli(corpora, tmp_path, capsys):
    torch.manual_seed(0)
    SemanticAutoencoder(**vae_config("tiny")).save_pretrained(tmp_path / "vae")
    fit, held = corpora
    out = tmp_path / "probe.json"
    args = ["probe-vae", "--vae", str(tmp_path / "vae"), "--fit-data", str(fit), "--eval-data", str(held)]
    assert main(args + ["--seconds", "3", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["eval_songs"] == 2 and report["details"]["max_seconds"] == 3.0
    assert "linear_probe_chord_accuracy" in capsys.readouterr().out
    assert (
        main(["probe-vae", "--vae", str(tmp_path / "missing"), "--fit-data", str(fit), "--eval-data", str(held)]) == 2
    )
    assert "--vae" in capsys.readouterr().err
    assert main(args[:-1] + [str(tmp_path / "nowhere")]) == 2
    assert "--eval-data" in capsys.readouterr().err
    assert main(args + ["--seconds", "0"]) == 2
    assert "--seconds" in capsys.readouterr().err
