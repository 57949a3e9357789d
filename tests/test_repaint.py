"""Repainting a region, extending a piece and generating pieces longer than the transformer's window."""

import numpy as np
import pytest
import soundfile
import torch

from diffusers_s2acc import S2AccompanistRepaintPipeline, presets
from diffusers_s2acc.audio import load_audio
from diffusers_s2acc.pipelines.repaint_windows import plan_windows, region_weights


# The tiny preset: 16 kHz mono, hop 128 (125 latent frames/s), transformer window 1024 frames (8.19 s).
SECTIONS = [
    {"start": 0.0, "end": 1.0, "label": "verse", "caption": "soft piano"},
    {"start": 1.0, "end": 2.0, "label": "chorus", "caption": "loud drums"},
    {"start": 2.0, "end": 3.0, "label": "outro", "caption": "fading strings"},
]
RATE, FPS = 16000, 125


def _seed(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def original(pipes):
    return pipes[0]("pop", segments=SECTIONS, lead_sheet="C | G", num_inference_steps=3, generator=_seed(0))


def _repaint(repaint, seed=1, **kwargs):
    kwargs = {"prompt": "pop", "segments": SECTIONS, "num_inference_steps": 3, **kwargs}
    return repaint(generator=_seed(seed), **kwargs)


# ---------------------------------------------------------------------------------------------------- planning


def test_region_weights_keep_outside_and_ramp_inside_the_region():
    weights = region_weights(100, [(40, 60)], known_frames=100, crossfade_frames=4)
    assert (weights[:40] == 0).all() and (weights[60:] == 0).all() and (weights[44:56] == 1).all()
    assert (weights[40:44] > 0).all() and (weights[40:44] < 1).all() and (torch.diff(weights[40:45]) > 0).all()
    assert torch.equal(weights[56:60], weights[40:44].flip(0))
    extension = region_weights(100, [], known_frames=70, crossfade_frames=4)
    assert (extension[:70] == 0).all() and (extension[70:] == 1).all()  # nothing known past the end to fade from


def test_a_piece_that_fits_is_one_window():
    (window,) = plan_windows(torch.ones(1000), max_frames=1024, context_frames=300, crossfade_frames=30)
    assert (window.start, window.end) == (0, 1000) and window.generates_everything


def test_long_pieces_are_full_windows_that_continue_each_other():
    windows = plan_windows(torch.ones(5000), max_frames=1024, context_frames=300, crossfade_frames=30)
    assert all(w.end - w.start == 1024 for w in windows) and windows[0].start == 0 and windows[-1].end == 5000
    for previous, window in zip(windows, windows[1:]):
        assert window.start < previous.end - 300  # the previous window's last frames are the context
        assert (window.weights[: previous.end - 30 - window.start] == 0).all()
        fade = window.weights[previous.end - 30 - window.start : previous.end - window.start]
        assert (fade > 0).all() and (fade < 1).all()  # cross-fade over frames both windows generate
    covered = torch.zeros(5000, dtype=torch.bool)
    for window in windows:
        covered[window.start : window.end] |= window.weights > 0
    assert covered.all()


def test_a_region_inside_a_long_piece_gets_context_on_both_sides():
    weights = region_weights(5000, [(2000, 2500)], known_frames=5000, crossfade_frames=30)
    (window,) = plan_windows(weights, max_frames=1024, context_frames=300, crossfade_frames=30)
    assert window.start < 2000 - 200 and window.end > 2500 + 200 and window.end - window.start == 1024


def test_windows_must_advance():
    with pytest.raises(ValueError, match="half the window"):
        plan_windows(torch.ones(5000), max_frames=1024, context_frames=500, crossfade_frames=100)


# ---------------------------------------------------------------------------------------------------- repaint


def test_latents_in_outside_the_region_is_bit_exact_and_the_seed_changes_the_inside(pipes, original):
    _, repaint = pipes
    a = _repaint(repaint, seed=1, source_latents=original.latents, section=1)
    b = _repaint(repaint, seed=2, source_latents=original.latents, section=1)
    inside = slice(1 * FPS, 2 * FPS)
    for out in (a, b):
        assert out.latents.shape == original.latents.shape
        assert torch.equal(out.latents[..., : inside.start], original.latents[..., : inside.start])
        assert torch.equal(out.latents[..., inside.stop :], original.latents[..., inside.stop :])
        assert not torch.equal(out.latents[..., inside], original.latents[..., inside])
    assert (a.latents[..., inside] - b.latents[..., inside]).abs().mean() > 0.1
    assert not np.array_equal(a.audios[..., RATE : 2 * RATE], b.audios[..., RATE : 2 * RATE])


def test_region_in_seconds_equals_the_same_section(pipes, original):
    _, repaint = pipes
    by_section = _repaint(repaint, source_latents=original.latents, section=1)
    by_seconds = _repaint(repaint, source_latents=original.latents, region_start_in_s=1.0, region_end_in_s=2.0)
    assert torch.equal(by_section.latents, by_seconds.latents)


def test_audio_in_keeps_the_source_audio_outside_the_region(pipes, original):
    _, repaint = pipes
    source = original.audios[0]
    out = _repaint(repaint, source_audio=source, section=1)
    assert out.audios.shape == original.audios.shape
    np.testing.assert_array_equal(out.audios[0, :, :RATE], source[:, :RATE])
    np.testing.assert_array_equal(out.audios[0, :, 2 * RATE :], source[:, 2 * RATE :])
    fade = int(0.25 * RATE)
    assert (
        np.abs(out.audios[0, :, RATE + fade : 2 * RATE - fade] - source[:, RATE + fade : 2 * RATE - fade]).max() > 1e-3
    )


def test_audio_file_at_another_rate_in_stereo_is_matched_once(pipes, original, tmp_path):
    _, repaint = pipes
    path = tmp_path / "source.wav"
    stereo = np.repeat(original.audios[0], 2, axis=0)
    soundfile.write(path, load_audio({"array": stereo, "sampling_rate": RATE}, 22050)[0].T, 22050, subtype="FLOAT")
    expected, _ = load_audio(path, RATE, 1)
    out = _repaint(repaint, source_audio=str(path), section=1)
    kept = min(expected.shape[-1], RATE)
    np.testing.assert_array_equal(out.audios[0, :, :kept], expected[:, :kept])
    # The VAE round trip of the kept part is close to the source (the splice is not a different piece).
    np.testing.assert_allclose(out.audios[0, :, :kept], original.audios[0, :, :kept], atol=0.05)


def test_lower_repaint_strength_keeps_more_of_the_source(pipes, original):
    _, repaint = pipes
    inside = slice(1 * FPS, 2 * FPS)
    distance = {
        strength: (
            _repaint(repaint, source_latents=original.latents, section=1, repaint_strength=strength).latents
            - original.latents
        )[..., inside]
        .abs()
        .mean()
        for strength in (1.0, 0.34)
    }
    assert distance[0.34] < distance[1.0]


# ---------------------------------------------------------------------------------------------------- extend


def test_extension_starts_with_the_input(pipes, original):
    _, repaint = pipes
    longer = SECTIONS + [{"start": 3.0, "end": 4.5, "label": "outro", "caption": "a long fade"}]
    by_latents = _repaint(repaint, segments=longer, source_latents=original.latents)
    assert by_latents.latents.shape[-1] == 563  # ceil(4.5 s * 125 frames/s)
    assert torch.equal(by_latents.latents[..., : 3 * FPS], original.latents)
    by_audio = _repaint(repaint, segments=longer, source_audio=original.audios[0])
    assert by_audio.audios.shape == (1, 1, int(4.5 * RATE))
    kept = 3 * RATE - int(0.25 * RATE)  # then the source's last 0.25 s fade into its reconstruction
    np.testing.assert_array_equal(by_audio.audios[0, :, :kept], original.audios[0, :, :kept])
    assert np.abs(by_audio.audios[0, :, 3 * RATE :]).max() > 0


def test_extension_past_the_window_continues_window_by_window(pipes, original):
    _, repaint = pipes
    out = _repaint(repaint, source_latents=original.latents, audio_length_in_s=20.0)
    assert out.latents.shape == (1, 8, 20 * FPS) and torch.isfinite(out.latents).all()
    assert torch.equal(out.latents[..., : 3 * FPS], original.latents)


# ---------------------------------------------------------------------------------------------------- long pieces


def test_a_piece_longer_than_the_window_comes_from_one_call(pipes):
    pipe, _ = pipes
    sections = [{"start": 2.5 * i, "end": 2.5 * (i + 1), "label": "verse", "caption": f"part {i}"} for i in range(8)]
    assert 20.0 > pipe.max_audio_length_in_s
    windows = []
    out = pipe(
        "pop",
        segments=sections,
        lead_sheet="C | G | Am | F",
        num_inference_steps=2,
        generator=_seed(0),
        callback_on_step_end=lambda p, i, t, kw: windows.append(kw["latents"].shape[-1]) or {},
    )
    assert out.audios.shape == (1, 1, 20 * RATE) and np.isfinite(out.audios).all()
    assert out.latents.shape == (1, 8, 20 * FPS)
    assert len(windows) > 2 * 2 and set(windows) == {1024}  # every window has the transformer's full length
    again = pipe("pop", segments=sections, lead_sheet="C | G | Am | F", num_inference_steps=2, generator=_seed(0))
    np.testing.assert_array_equal(again.audios, out.audios)


def test_repainting_a_section_of_a_long_piece_keeps_the_rest(pipes):
    pipe, repaint = pipes
    first = pipe("pop", audio_length_in_s=12.0, num_inference_steps=2, generator=_seed(0))
    out = _repaint(repaint, segments=None, source_latents=first.latents, region_start_in_s=5.0, region_end_in_s=7.0)
    assert torch.equal(out.latents[..., : 5 * FPS], first.latents[..., : 5 * FPS])
    assert torch.equal(out.latents[..., 7 * FPS :], first.latents[..., 7 * FPS :])


# ---------------------------------------------------------------------------------------------------- bad input


def _bad_inputs(original):
    latents = original.latents
    return [
        (dict(source_latents=latents, region_start_in_s=1.0, region_end_in_s=9.0), "region_end_in_s.*past the end"),
        (dict(source_latents=latents, region_start_in_s=-1.0, region_end_in_s=1.0), "region_start_in_s.*before"),
        (dict(source_latents=latents, region_start_in_s=2.0, region_end_in_s=1.0), "empty.*region_end_in_s"),
        (
            dict(source_latents=latents, region_start_in_s=1.0, region_end_in_s=1.001),
            "region_start_in_s.*one latent frame",
        ),
        (
            dict(source_latents=latents, region_start_in_s=4.0, region_end_in_s=5.0, audio_length_in_s=5.0),
            "after the source",
        ),
        (dict(source_latents=latents, section=3), "`section` 3 is not an index"),
        (dict(source_latents=latents, section=1, segments=None), "`section` indexes `segments`"),
        (dict(source_latents=latents, section=1, region_start_in_s=0.0), "`section` or as `region_start_in_s`"),
        (dict(source_latents=latents), "Nothing to generate"),
        (
            dict(source_latents=latents, segments=None, region_start_in_s=0.5, audio_length_in_s=2.0),
            "audio_length_in_s.*shorter than the source",
        ),
        (dict(source_latents=latents[:, :3], section=1), "source_latents.*shape"),
        (dict(source_latents=torch.full_like(latents, float("nan")), section=1), "source_latents.*NaN"),
        (dict(source_latents=latents[..., :100], source_audio=original.audios[0], section=1), "same take"),
        (dict(section=1), "`source_audio` or `source_latents`"),
        (dict(source_latents=latents, section=1, repaint_strength=0.0), "repaint_strength"),
        (dict(source_latents=latents, audio_length_in_s=4.0, repaint_strength=0.5), "repaint_strength.*extension"),
        (dict(source_audio=original.audios[0], section=1, source_sampling_rate=0), "source_sampling_rate"),
        (dict(source_audio=original.audios[0].T, section=1), "source_audio.*transpose"),
        (dict(source_audio=np.zeros((1, 0), np.float32), section=1), "source_audio.*empty"),
        (dict(source_audio=np.full((1, 3 * RATE), np.inf, np.float32), section=1), "source_audio.*infinite"),
        (dict(source_audio="/nonexistent/song.wav", section=1), "source_audio.*does not exist"),
        (dict(source_latents=latents, section=1, window_context_in_s=float("nan")), "window_context_in_s"),
    ]


def test_bad_inputs_raise_value_error_naming_the_argument(pipes, original):
    _, repaint = pipes
    for kwargs, message in _bad_inputs(original):
        with pytest.raises(ValueError, match=message):
            _repaint(repaint, **{"num_inference_steps": 1, **kwargs})


def test_audio_whose_channels_cannot_be_matched_is_refused(pipes):
    pipe, _ = pipes
    vae = type(pipe.vae)(**{**presets.vae_config("tiny"), "audio_channels": 2})
    stereo = S2AccompanistRepaintPipeline.from_pipe(pipe, vae=vae)
    with pytest.raises(ValueError, match="source_audio.*3 audio channels"):
        stereo(source_audio=np.zeros((3, RATE), np.float32), region_start_in_s=0.0, num_inference_steps=1)


def test_long_pieces_need_windows_that_advance(pipes):
    pipe, _ = pipes
    with pytest.raises(ValueError, match="window_context_in_s"):
        pipe("pop", audio_length_in_s=20.0, num_inference_steps=1, window_context_in_s=4.0, crossfade_in_s=0.5)


def test_from_pipe_keeps_every_shared_dtype_and_from_pretrained_loads_the_class(tmp_path):
    pipe = presets.build_pipeline("tiny", seed=0)
    pipe.transformer.to(torch.bfloat16)
    repaint = S2AccompanistRepaintPipeline.from_pipe(pipe)
    assert repaint.transformer is pipe.transformer and pipe.transformer.dtype == torch.bfloat16
    assert repaint.vae.dtype == torch.float32
    pipe.save_pretrained(tmp_path)
    assert type(S2AccompanistRepaintPipeline.from_pretrained(tmp_path)) is S2AccompanistRepaintPipeline


@pytest.mark.parametrize("as_file", [False, True])
def test_mono_source_at_another_rate_extends_a_44k_stereo_pipeline_matched_once(pipes, tmp_path, as_file):
    """A 44.1 kHz stereo model (the demo-stereo format) extending a mono 16 kHz source: the kept audio is the
    source resampled and duplicated to stereo once, sample for sample, and the output has the model's format."""
    from diffusers_s2acc.audio import match_channels, resample

    pipe, _ = pipes
    # tiny's widths at demo-stereo's format: 44.1 kHz stereo, hop 2048.
    fmt = dict(audio_channels=2, sampling_rate=44100, downsampling_ratios=[4, 8, 8, 8], channel_multiples=[1, 2, 4, 4])
    vae = type(pipe.vae)(**{**presets.vae_config("tiny"), **fmt})
    stereo = S2AccompanistRepaintPipeline.from_pipe(pipe, vae=vae)
    stereo.set_progress_bar_config(disable=True)
    mono = (0.3 * np.sin(2 * np.pi * 220 * np.arange(RATE) / RATE)).astype(np.float32)[None]  # 1 s at 16 kHz
    if as_file:
        path = tmp_path / "mono.wav"
        soundfile.write(path, mono.T, RATE, subtype="FLOAT")
        source = dict(source_audio=str(path))
    else:
        source = dict(source_audio=mono, source_sampling_rate=RATE)
    out = stereo("pop", audio_length_in_s=2.0, num_inference_steps=1, generator=_seed(0), **source)
    assert out.audios.shape == (1, 2, 2 * 44100)
    expected = resample(match_channels(mono, 2), RATE, 44100)
    kept = 44100 - int(0.25 * 44100)  # the source's last 0.25 s fade into its reconstruction
    np.testing.assert_array_equal(out.audios[0, :, :kept], expected[:, :kept])


def test_without_text_encoder_repaint_saves_loads_and_takes_prompt_embeds(pipes, original, tmp_path):
    # The repaint pipeline has the same optional components as `S2AccompanistPipeline`.
    pipe, repaint = pipes
    embeds = pipe.encode_prompt("pop")
    kwargs = dict(prompt=None, prompt_embeds=embeds, source_latents=original.latents, region_start_in_s=0.5)
    reference = _repaint(repaint, segments=None, **kwargs).audios
    no_text = S2AccompanistRepaintPipeline(**{**repaint.components, "text_encoder": None, "tokenizer": None})
    no_text.save_pretrained(tmp_path)
    loaded = S2AccompanistRepaintPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert loaded.text_encoder is None and loaded.tokenizer is None
    assert np.array_equal(_repaint(loaded, segments=None, **kwargs).audios, reference)
    with pytest.raises(ValueError, match="`prompt`.*no `text_encoder`"):
        _repaint(loaded, source_latents=original.latents, region_start_in_s=0.5)
