import random

import numpy as np
import pytest
from builder_helpers import SR, song_like

from dataset_builder.audio_io import InputFile
from dataset_builder.stages.captioning import TemplateCaptioner, make_captioner, template_caption
from dataset_builder.stages.grading import SignalQuality, combined_grades, make_agreement, make_quality, top_mask
from dataset_builder.stages.segmentation import LearnedSegmenter, make_segmenter
from dataset_builder.stages.separation import NoSeparation, StemSeparation, make_separator
from diffusers_s2acc.analysis.descriptors import Descriptors
from diffusers_s2acc.evaluation.agreement import DescriptorAgreement, caption_claims


def descriptors(**overrides) -> Descriptors:
    base = dict(
        tempo=120.0,
        meter=4,
        key="A minor",
        mode="minor",
        loudness_db=-20.0,
        relative_loudness_db=0.0,
        dynamic_range_db=8.0,
        brightness_hz=2000.0,
        percussive_ratio=0.4,
        bass_ratio=0.5,
        chords=["Am", "F", "C", "G7"],
        chord_changes_per_bar=1.0,
        has_sevenths=True,
        note_density=8.0,
        mean_note_length=0.3,
        pitch_range=(40, 84),
    )
    return Descriptors(**{**base, **overrides})


def test_signal_quality_penalises_clipping_and_silence():
    clean = song_like(8.0)[None]  # (channels, samples)
    score_clean, measures = SignalQuality()(clean, SR)
    clipped = np.clip(clean * 20, -1, 1)
    score_clipped, _ = SignalQuality()(clipped, SR)
    half_silent = clean.copy()
    half_silent[:, : clean.shape[-1] // 2] = 0
    score_silent, silent_measures = SignalQuality()(half_silent, SR)
    assert score_clean > 0.5 and score_clipped < 0.2 and score_silent < score_clean
    assert silent_measures["silent_fraction"] > 0.4 and measures["clipped_fraction"] == 0.0


def test_signal_quality_sees_bandwidth():
    from scipy.signal import butter, sosfilt

    noise = np.random.default_rng(0).standard_normal(SR * 4).astype(np.float32) * 0.1
    full, _ = SignalQuality()(noise[None], SR)  # (channels, samples)
    lowpassed = sosfilt(butter(8, 1500, fs=SR, output="sos"), noise).astype(np.float32)
    _, measures = SignalQuality()(lowpassed[None], SR)
    assert measures["bandwidth_hz"] < 3500 and measures["score_bandwidth"] < 0.3


def test_agreement_checks_claims():
    d = descriptors()
    good, details = DescriptorAgreement()("An energetic chorus at 120 BPM in A minor with drums.", d, None, SR)
    assert good == 1.0 and details["claims"] >= 3
    bad, details = DescriptorAgreement()("A slow ballad at 70 BPM in F# major, no drums.", d, None, SR)
    assert bad < 0.5 and "no drums" in details["failed_claims"]
    assert DescriptorAgreement()("Nice music.", d, None, SR)[0] == 0.5
    # Relative major of A minor is C major: forgiven. Double tempo counts too.
    assert all(ok for _, ok in caption_claims("In C major at 240 BPM", d))


def test_template_captions_vary_and_state_measurements():
    d = descriptors()
    captions = {template_caption(d, "chorus", random.Random(seed)) for seed in range(12)}
    assert len(captions) >= 4
    for caption in captions:
        assert "A minor" in caption and "120 BPM" in caption
        assert DescriptorAgreement()(caption, d, None, SR)[0] == 1.0


def test_template_captioner_is_deterministic(tmp_path):
    clip = {"index": 2, "label": "verse", "descriptors": descriptors().to_dict()}
    item = InputFile(tmp_path / "x.wav", "x.wav")
    assert TemplateCaptioner()([clip], item) == TemplateCaptioner()([clip], item)


def test_combined_grade_and_top_fraction():
    grades = combined_grades([0.1, 0.9, 0.5, 0.7], [0.2, 0.8, 0.9, 0.1])
    assert grades.argmax() == 1 and grades.argmin() == 0
    mask = top_mask(grades, 0.5)
    assert mask.sum() == 2 and mask[1]
    with pytest.raises(ValueError, match="keep-top"):
        top_mask(grades, 0.0)


def test_backends_need_local_checkpoints(tmp_path):
    with pytest.raises(ValueError, match="--demucs-checkpoint"):
        make_separator("demucs")
    with pytest.raises(FileNotFoundError, match="not found"):
        make_separator("demucs", str(tmp_path / "missing.th"))
    with pytest.raises(ValueError, match="--lalm-path"):
        make_captioner("lalm")
    with pytest.raises(FileNotFoundError, match="LALM folder"):
        make_captioner("lalm", str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="--audiobox-checkpoint"):
        make_quality("audiobox")
    with pytest.raises(ValueError, match="--clap-path"):
        make_agreement("clap")
    with pytest.raises(ValueError, match="Unknown segmenter"):
        make_segmenter("magic")
    assert isinstance(make_separator("none"), NoSeparation) and isinstance(make_separator("stems"), StemSeparation)


def test_learned_segmenter_decodes_a_torchscript_model(tmp_path):
    torch = pytest.importorskip("torch")
    from diffusers_s2acc.analysis import analyze_song
    from diffusers_s2acc.music import SECTION_LABELS

    class Toy(torch.nn.Module):
        """Boundary at frame 200, label 'verse' before and 'chorus' after."""

        def forward(self, mel):
            frames = mel.shape[-1]
            index = torch.arange(frames)
            boundary = torch.where(index == 200, 10.0, -10.0)[None]
            labels = torch.full((1, frames, 8), -5.0)
            labels[0, :200, 1] = 5.0
            labels[0, 200:, 3] = 5.0
            return boundary, labels

    path = tmp_path / "toy.pt"
    torch.jit.save(torch.jit.script(Toy()), str(path))
    analysis = analyze_song(song_like(12.0), SR, melody=False)
    segments = LearnedSegmenter(str(path))(analysis, InputFile(tmp_path / "a.wav", "a.wav"))
    fps = analysis.features.sr / analysis.features.hop
    assert [s.label for s in segments] == [SECTION_LABELS[1], SECTION_LABELS[3]]
    assert abs(segments[1].start - 200 / fps) < 1e-6
