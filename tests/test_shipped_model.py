"""The trained default pipeline shipped in `pretrained/`: it loads offline, its configs match its weights, it does
not duplicate the packaged text encoder, and it follows a chord chart better than with the lead sheet dropped."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from diffusers_s2acc import LeadSheet, S2AccompanistPipeline, S2DiTTransformer, Segment, SemanticAutoencoder
from diffusers_s2acc.pretrained import DEFAULT_PIPELINE, shipped_pipeline_path


@pytest.fixture(scope="module")
def folder() -> Path:
    return Path(shipped_pipeline_path(DEFAULT_PIPELINE))


@pytest.fixture(scope="module")
def pipe(folder):
    pipe = S2AccompanistPipeline.from_pretrained(DEFAULT_PIPELINE)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_shipped_folder_is_small_safetensors_without_a_second_text_encoder(folder):
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".bin", ".pt", ".pth", ".ckpt", ".pkl")]
    assert not (folder / "text_encoder").exists() and not (folder / "tokenizer").exists()
    assert sum(p.stat().st_size for p in files) < 60e6


@pytest.mark.parametrize("name, cls", [("vae", SemanticAutoencoder), ("transformer", S2DiTTransformer)])
def test_configs_match_weights(folder, name, cls):
    """Every tensor the config's model has is in the file with the same shape, and nothing else is."""
    model = cls.from_config(cls.load_config(folder / name))
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    with safe_open(str(folder / name / "diffusion_pytorch_model.safetensors"), "pt") as weights:
        stored = {k: tuple(weights.get_slice(k).get_shape()) for k in weights.keys()}
    assert stored == expected


def test_loads_by_name_with_the_packaged_text_encoder(pipe, folder):
    from diffusers_s2acc.pretrained import packaged_text_encoder_components

    packaged = packaged_text_encoder_components()["text_encoder"].state_dict()
    assert all(torch.equal(v, packaged[k]) for k, v in pipe.text_encoder.state_dict().items())
    assert pipe.vae.config.scaling_factor != 1.0  # calibrated by train_vae.py
    same = S2AccompanistPipeline.from_pretrained(str(folder))
    assert all(torch.equal(a, b) for a, b in zip(same.transformer.parameters(), pipe.transformer.parameters()))


def _majmin(pipe, sheet: LeadSheet, seconds: float, with_sheet: bool, seed: int) -> float:
    from diffusers_s2acc.analysis.song import analyze_song
    from diffusers_s2acc.evaluation.scores import chord_scores

    audio = pipe(
        prompt="pop accompaniment",
        segments=[
            Segment(0.0, seconds / 2, "verse", "piano and bass"),
            Segment(seconds / 2, seconds, "chorus", "band"),
        ],
        lead_sheet=sheet if with_sheet else None,
        audio_length_in_s=seconds,
        num_inference_steps=12,
        generator=torch.Generator().manual_seed(seed),
    ).audios[0]
    assert np.isfinite(audio).all() and np.abs(audio).max() > 1e-3  # not silence
    analysis = analyze_song(audio, pipe.vae.config.sampling_rate, melody=False)
    return chord_scores(sheet.chords, analysis.chords)["chord_majmin"]


def test_follows_a_two_chord_chart_better_than_without_it(pipe):
    """Two chords a fourth apart, two bars each at 120 BPM, with the CLI's lead-sheet guidance: the chord accuracy of
    what it plays, measured by the project's own analysis, must clearly beat the same seeds with the lead sheet
    dropped (the learned null lead sheet)."""
    sheet = LeadSheet.from_chart("A | A | D | D", bpm=120)
    seconds = sheet.duration
    with_chart = np.mean([_majmin(pipe, sheet, seconds, True, seed) for seed in (0, 1)])
    without = np.mean([_majmin(pipe, sheet, seconds, False, seed) for seed in (0, 1)])
    # The held-out evaluation measured 0.82 with the chart and 0.11 without (model_card.md, v2); these are floors well
    # above what the no-chart pipeline reaches, not the expected figures.
    assert with_chart >= 0.35, (with_chart, without)
    assert with_chart >= without + 0.25, (with_chart, without)


def test_recommended_settings_are_the_model_cards_and_everyones_default(pipe):
    """One default: the settings in the model card are what `pipe(...)`, the CLI, the Space and evaluate use."""
    import re

    from diffusers_s2acc.cli import _build_parser
    from diffusers_s2acc.space.controller import SpaceApp

    card = (Path(__file__).resolve().parents[1] / "model_card.md").read_text(encoding="utf-8")
    line = next(line for line in card.split("\n\n") if line.startswith("Recommended settings:"))
    stated = {key: float(value) for key, value in re.findall(r"`(\w+)=([\d.]+)`", line)}
    interval = re.search(r"`guidance_interval=\(([\d.]+), ([\d.]+)\)`", line)
    recommended = dict(pipe.recommended_settings())
    assert recommended.pop("guidance_interval") == (float(interval[1]), float(interval[2]))
    assert stated == {k: float(v) for k, v in recommended.items()}
    assert f"`{type(pipe.scheduler).__name__}`" in line  # the card names the scheduler the folder stores
    assert pipe.sampling_settings() == tuple(recommended.values())
    parser = _build_parser()
    for command in (["generate", "--prompt", "x", "--out", "o.wav"], ["evaluate", "--specs", "s.json"]):
        args = parser.parse_args(command)
        assert (args.steps, args.guidance, args.lead_sheet_guidance) == (None, None, None)  # filled from the pipe
    assert SpaceApp(pipe).recommended == pipe.recommended_settings()
