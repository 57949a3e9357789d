import inspect
import math

import numpy as np
import pytest
import torch
from pipeline_helpers import SEGMENTS, generate

from diffusers_s2acc import LeadSheet, S2AccompanistPipeline


def test_output_is_float32_batch_channels_samples(tiny_pipe):
    audio = generate(tiny_pipe, audio_length_in_s=0.7)
    assert isinstance(audio, np.ndarray) and audio.dtype == np.float32
    assert audio.shape == (1, 1, round(0.7 * tiny_pipe.vae.config.sampling_rate))
    assert np.isfinite(audio).all()


def test_duration_defaults_to_last_segment_end(tiny_pipe):
    audio = generate(tiny_pipe, segments=SEGMENTS, output_type="pt")
    assert isinstance(audio, torch.Tensor) and audio.shape == (1, 1, 16000)
    sheet = LeadSheet.from_chart("C | G", bpm=240)  # two bars of 1 s
    assert generate(tiny_pipe, lead_sheet=sheet).shape[-1] == 32000


def test_latent_length_is_derived_from_duration(tiny_pipe):
    latents = generate(tiny_pipe, audio_length_in_s=0.5, output_type="latent")
    assert latents.shape == (1, 8, math.ceil(0.5 * tiny_pipe.vae.frame_rate))


def test_batch_and_num_waveforms_per_prompt_stay_paired(tiny_pipe):
    kwargs = dict(prompt=["jazz trio", "metal"], segments=[SEGMENTS, None], lead_sheet=["C | F", None])
    audio = generate(tiny_pipe, num_waveforms_per_prompt=2, **kwargs)
    assert audio.shape == (4, 1, 16000)
    # Sample 2k+j belongs to prompt k: generating prompt 1 alone with the same per-sample noise gives the same audio.
    latents = torch.randn(4, 8, 125, generator=torch.Generator().manual_seed(3))
    both = tiny_pipe(**kwargs, num_waveforms_per_prompt=2, latents=latents, num_inference_steps=2).audios
    alone = tiny_pipe(
        prompt="metal", num_waveforms_per_prompt=2, latents=latents[2:], num_inference_steps=2, audio_length_in_s=1.0
    ).audios
    np.testing.assert_allclose(both[2:], alone, atol=1e-5)


def test_determinism_under_generator(tiny_pipe):
    a = generate(tiny_pipe, seed=1, segments=SEGMENTS, lead_sheet="C | Am")
    b = generate(tiny_pipe, seed=1, segments=SEGMENTS, lead_sheet="C | Am")
    c = generate(tiny_pipe, seed=2, segments=SEGMENTS, lead_sheet="C | Am")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_save_and_load_reproduce_audio_exactly(tiny_pipe, tmp_path):
    reference = generate(tiny_pipe, segments=SEGMENTS, lead_sheet="C | Am")
    tiny_pipe.save_pretrained(tmp_path)
    loaded = S2AccompanistPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert np.array_equal(generate(loaded, segments=SEGMENTS, lead_sheet="C | Am"), reference)


def _prepare_hub_cache(pipe, cache, repo_id="s2acc-org/tiny-accompanist", commit="0" * 40):
    """Lay out a Hugging Face cache exactly as `huggingface_hub` writes it, with no network involved."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    pipe.save_pretrained(snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return repo_id


def test_loading_by_hub_repo_id_from_an_offline_cache(tiny_pipe, tmp_path, monkeypatch):
    import huggingface_hub.constants

    reference = generate(tiny_pipe, segments=SEGMENTS)
    repo_id = _prepare_hub_cache(tiny_pipe, tmp_path / "hub")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    loaded = S2AccompanistPipeline.from_pretrained(repo_id, cache_dir=tmp_path / "hub")  # offline: prepared cache
    loaded.set_progress_bar_config(disable=True)
    assert np.array_equal(generate(loaded, segments=SEGMENTS), reference)


def test_guidance_uses_the_null_condition(tiny_pipe):
    calls = []
    handle = tiny_pipe.transformer.register_forward_pre_hook(
        lambda m, args, kwargs: calls.append(kwargs["drop_text"].tolist()), with_kwargs=True
    )
    unguided = generate(tiny_pipe, guidance_scale=1.0, num_inference_steps=1)
    guided = generate(tiny_pipe, guidance_scale=5.0, num_inference_steps=1)
    generate(tiny_pipe, guidance_scale=5.0, num_inference_steps=1, lead_sheet="C", lead_sheet_guidance_scale=2.0)
    handle.remove()
    assert calls == [[False], [True, False], [True, False, False]]
    assert not np.allclose(unguided, guided)


def test_negative_prompt_replaces_the_null_caption(tiny_pipe):
    plain = generate(tiny_pipe, guidance_scale=3.0)
    negative = generate(tiny_pipe, guidance_scale=3.0, negative_prompt="distorted noise")
    assert not np.allclose(plain, negative)


def test_callback_on_step_end_sees_and_replaces_latents(tiny_pipe):
    seen = []

    def callback(pipe, step, timestep, tensors):
        seen.append((step, tensors["latents"].shape))
        return {"latents": torch.zeros_like(tensors["latents"])}

    audio = generate(tiny_pipe, callback_on_step_end=callback, output_type="latent")
    assert [s for s, _ in seen] == [0, 1, 2] and torch.equal(audio, torch.zeros_like(audio))


@pytest.mark.parametrize(
    "dtype_kwargs",
    [
        {"torch_dtype": torch.bfloat16},
        {"dtype": torch.bfloat16},
        {"dtype": {"transformer": torch.bfloat16, "default": torch.bfloat16}},
    ],
)
def test_half_precision_loading_gives_every_component_the_dtype(tiny_pipe, tmp_path, dtype_kwargs):
    # Issue 11, item 9: every component reports the requested dtype; the VAE upcasts inside (force_upcast).
    tiny_pipe.save_pretrained(tmp_path)
    pipe = S2AccompanistPipeline.from_pretrained(tmp_path, **dtype_kwargs)
    pipe.set_progress_bar_config(disable=True)
    for name in ("vae", "transformer", "text_encoder"):
        assert getattr(pipe, name).dtype == torch.bfloat16, name
    assert pipe.vae.config.force_upcast
    audio = generate(pipe, segments=SEGMENTS, lead_sheet="C | G")
    assert audio.dtype == np.float32 and np.isfinite(audio).all()
    latents = torch.randn(1, pipe.vae.config.latent_channels, 4)
    decoded = pipe.vae.decode(latents).sample
    assert decoded.dtype == torch.float32 and pipe.vae.dtype == torch.bfloat16  # the caller's dtype; weights restored
    assert pipe.vae.decode(latents.bfloat16()).sample.dtype == torch.bfloat16


def test_model_cpu_offload_runs_and_matches(tiny_pipe):
    reference = generate(tiny_pipe, segments=SEGMENTS)
    tiny_pipe.enable_model_cpu_offload(device="cpu")
    assert np.array_equal(generate(tiny_pipe, segments=SEGMENTS), reference)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without an accelerator")
def test_model_cpu_offload_without_an_accelerator_says_to_pass_cpu(tiny_pipe):
    with pytest.raises(RuntimeError, match='device="cpu"'):
        tiny_pipe.enable_model_cpu_offload()


def test_encode_prompt_alone_and_reuse_through_prompt_embeds(tiny_pipe):
    # Issue 11, item 9: encode once, generate many times.
    states, ids = tiny_pipe.encode_prompt("warm acoustic pop")
    assert states.ndim == 3 and (ids == 0).all()
    reference = generate(tiny_pipe, segments=SEGMENTS)
    for embeds in ((states, ids), states):
        assert np.allclose(
            generate(tiny_pipe, segments=SEGMENTS, prompt=None, prompt_embeds=embeds), reference, atol=1e-5
        )
    batch = tiny_pipe.encode_prompt(["a", "a much longer description of the music"])
    two = tiny_pipe(prompt_embeds=batch, num_inference_steps=1, audio_length_in_s=0.5).audios
    assert two.shape[0] == 2 and np.isfinite(two).all()
    with pytest.raises(ValueError, match="section captions"):
        tiny_pipe(prompt_embeds=tiny_pipe.encode_prompt("x", segments=SEGMENTS), num_inference_steps=1)


def test_encode_prompt_returns_names_diffusers_maps_to_call_arguments(tiny_pipe):
    # diffusers' `ReturnNameVisitor` (behind its suite's `test_encode_prompt_works_in_isolation`) reads which
    # `__call__` argument takes each output of `encode_prompt` from the names it returns. The states must land on
    # `prompt_embeds`, and a pipeline with neither text encoder nor tokenizer, given them, must sound the same.
    import ast
    import textwrap

    from diffusers.utils.source_code_parsing_utils import ReturnNameVisitor

    visitor = ReturnNameVisitor()
    visitor.visit(ast.parse(textwrap.dedent(inspect.getsource(S2AccompanistPipeline.encode_prompt))))
    call_parameters = inspect.signature(S2AccompanistPipeline.__call__).parameters
    assert visitor.return_names[0] == "prompt_embeds"
    outputs = dict(zip(visitor.return_names, tiny_pipe.encode_prompt("warm acoustic pop")))
    call_kwargs = {name: value for name, value in outputs.items() if name in call_parameters}
    assert list(call_kwargs) == ["prompt_embeds"]
    no_text = S2AccompanistPipeline(**{**tiny_pipe.components, "text_encoder": None, "tokenizer": None})
    no_text.set_progress_bar_config(disable=True)
    assert np.allclose(generate(no_text, prompt=None, **call_kwargs), generate(tiny_pipe), atol=1e-5)


def test_a_short_chart_repeats_with_a_notice(tiny_pipe, caplog):
    # Issue 11, item 2: the chart is a form; the piece is longer than one pass.
    chart = LeadSheet.from_chart("C | G", bpm=240)  # 2 s
    seen = []
    original = tiny_pipe._sample

    def spy(*args, **kwargs):  # the lead sheets the sampler conditions on
        seen.extend(inspect.signature(original).bind(*args, **kwargs).arguments["sheets"])
        return original(*args, **kwargs)

    tiny_pipe._sample = spy
    generate(tiny_pipe, lead_sheet=chart, audio_length_in_s=5.0, num_inference_steps=1)
    assert [c.symbol for c in seen[0].chords] == ["C", "G", "C", "G", "C"] and seen[0].chords[-1].end == 5.0
    assert "repeating its 2 bar(s) as a form" in caplog.text


def test_long_captions_warn_how_many_tokens_were_dropped(tiny_pipe, caplog):
    # Issue 11, item 7: truncation is said, once.
    caption = " ".join(["shimmering"] * 200)
    generate(tiny_pipe, prompt=caption, num_inference_steps=1)
    generate(tiny_pipe, prompt=caption, num_inference_steps=1)
    warnings = [r.getMessage() for r in caplog.records if "token(s) dropped" in r.getMessage()]
    assert len(warnings) == 1 and "the text encoder reads 128" in warnings[0]


BAD_INPUTS = [
    (dict(prompt=["a", "b"], negative_prompt=["x"]), "negative_prompt"),
    (dict(audio_length_in_s=0), "audio_length_in_s"),
    (dict(audio_length_in_s=-1.0), "audio_length_in_s"),
    (dict(audio_length_in_s=float("nan")), "audio_length_in_s"),
    (dict(audio_length_in_s=float("inf")), "audio_length_in_s"),
    (dict(audio_length_in_s=10_000.0), "audio_length_in_s.*seconds"),
    (
        dict(segments=[{"start": 0, "end": 1, "label": "verse"}, {"start": 0.5, "end": 1.5, "label": "chorus"}]),
        "overlap",
    ),
    (dict(segments=[{"start": 0, "end": 5, "label": "verse"}], audio_length_in_s=2.0), "ends after"),
    (dict(segments=[{"start": -1, "end": 1, "label": "verse"}]), "start must be >= 0"),
    (dict(segments=[{"start": 0, "end": 1, "label": "drop"}]), "Unknown section label"),
    (dict(segments=[{"start": 0, "end": 1, "labl": "verse"}]), "Unknown segment field"),
    (dict(lead_sheet="C | Xm7"), "lead_sheet.*Xm7"),
    (dict(lead_sheet={"tempo": 500, "chart": "C"}), "lead_sheet.*tempo"),
    (dict(lead_sheet=["C", "G"]), "lead_sheet"),
    (dict(latents=torch.randn(1, 8, 3), audio_length_in_s=1.0), "latents"),
    (dict(latents=torch.full((1, 8, 125), float("nan")), audio_length_in_s=1.0), "latents.*NaN"),
    (dict(num_inference_steps=0), "num_inference_steps"),
    (dict(guidance_scale=float("nan")), "guidance_scale"),
    (dict(lead_sheet="C", lead_sheet_guidance_scale=float("nan")), "lead_sheet_guidance_scale"),
    (dict(lead_sheet="C", lead_sheet_guidance_scale=float("inf")), "lead_sheet_guidance_scale"),
    (dict(lead_sheet="C", lead_sheet_guidance_scale=-5.0), "lead_sheet_guidance_scale"),
    (dict(segments=[{"start": 0, "end": 1}, {"start": 0.5, "end": 2}]), r"^`segments`: sections overlap"),
    (
        dict(lead_sheet={"chords": [{"start": 0, "end": 2, "symbol": "C"}, {"start": 1, "end": 2, "symbol": "G"}]}),
        "overlap",
    ),
    (dict(num_waveforms_per_prompt=0), "num_waveforms_per_prompt"),
    (dict(output_type="wav"), "output_type"),
    (dict(prompt_embeds=torch.randn(1, 4, 5), prompt=None), "prompt_embeds"),
    (dict(callback_on_step_end_tensor_inputs=["noise"]), "callback_on_step_end_tensor_inputs"),
]


@pytest.mark.parametrize("kwargs, message", BAD_INPUTS)
def test_bad_inputs_raise_value_error_naming_the_argument(tiny_pipe, kwargs, message):
    kwargs = {"prompt": "pop", "num_inference_steps": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        tiny_pipe(**kwargs)


def test_unset_steps_and_guidance_come_from_the_saved_config(tiny_pipe, tmp_path):
    """The checkpoint's recommended settings are `__call__`'s defaults, survive save/load and `from_pipe`, and an
    explicit argument still wins."""
    from diffusers_s2acc import S2AccompanistRepaintPipeline

    assert tiny_pipe.recommended_settings() == {
        "num_inference_steps": 50,
        "guidance_scale": 4.0,
        "lead_sheet_guidance_scale": 1.0,
        "guidance_interval": (0.0, 1.0),
    }  # a folder that names none: the diffusers-style fallbacks
    tiny_pipe.register_to_config(default_num_inference_steps=3, default_lead_sheet_guidance_scale=2.5)
    tiny_pipe.save_pretrained(tmp_path)
    loaded = S2AccompanistPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    for pipe in (loaded, S2AccompanistRepaintPipeline.from_pipe(loaded)):
        assert pipe.recommended_settings()["lead_sheet_guidance_scale"] == 2.5

    steps = []
    sheet = LeadSheet.from_chart("C | G", bpm=240)

    def count(pipe, step, timestep, kwargs):
        steps.append(step)
        return {}

    loaded(prompt="x", lead_sheet=sheet, audio_length_in_s=0.5, callback_on_step_end=count)
    assert len(steps) == 3
    steps.clear()
    loaded(prompt="x", lead_sheet=sheet, audio_length_in_s=0.5, num_inference_steps=2, callback_on_step_end=count)
    assert len(steps) == 2


def test_multistep_scheduler_and_the_reference_sampler(tiny_pipe, tmp_path):
    """A folder saved with UniPC (flow sigmas) loads and samples with it; `sampler="reference"` is Euler with 25
    steps and guidance on every step whatever the folder recommends, sample for sample what the Euler pipeline
    gives; the folder's own scheduler is left as it was; a bad sampler is refused by name."""
    from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

    from diffusers_s2acc import S2AccompanistRepaintPipeline

    unipc = UniPCMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction", flow_shift=1.0)
    fast = S2AccompanistPipeline(**{**tiny_pipe.components, "scheduler": unipc})
    fast.register_to_config(default_num_inference_steps=4, default_guidance_interval=[0.0, 0.5])
    fast.save_pretrained(tmp_path)
    fast = S2AccompanistPipeline.from_pretrained(tmp_path)
    fast.set_progress_bar_config(disable=True)
    assert isinstance(fast.scheduler, UniPCMultistepScheduler)
    assert fast.sampling_settings(sampler="reference")[0] == 25
    assert fast.resolve_guidance_interval(sampler="reference") == (0.0, 1.0)
    assert fast.resolve_guidance_interval() == (0.0, 0.5)
    assert isinstance(fast.sampling_scheduler("reference"), FlowMatchEulerDiscreteScheduler)

    kwargs = dict(prompt="piano", lead_sheet="C | G", audio_length_in_s=1.0, output_type="latent")

    def run(pipe, **extra):
        return pipe(**kwargs, **extra, generator=torch.Generator().manual_seed(3)).audios

    euler = run(tiny_pipe, num_inference_steps=3)
    assert torch.equal(run(fast, sampler="reference", num_inference_steps=3), euler)
    assert isinstance(fast.scheduler, UniPCMultistepScheduler)  # not replaced by the call
    recommended = run(fast)
    assert torch.isfinite(recommended).all() and not torch.equal(recommended, run(fast, sampler="reference"))
    repaint = S2AccompanistRepaintPipeline.from_pipe(fast)
    assert torch.equal(
        repaint(
            **kwargs,
            source_latents=euler,
            region_start_in_s=0.5,
            sampler="reference",
            num_inference_steps=3,
            generator=torch.Generator().manual_seed(4),
        ).audios[..., :4],
        euler[..., :4],
    )  # the reference sampler in repaint too: frames well before the region come back exactly
    for bad in ["fast", 1, "Reference"]:
        with pytest.raises(ValueError, match="`sampler`"):
            fast(**kwargs, sampler=bad)


def test_guidance_interval_runs_the_full_condition_alone_outside_it(tiny_pipe):
    """Outside `guidance_interval` one transformer pass per step (the full condition), inside all branches; bad
    intervals are refused with a message naming the argument."""
    passes = []
    handle = tiny_pipe.transformer.register_forward_hook(lambda module, args, output: passes.append(args[0].shape[0]))
    kwargs = dict(prompt="piano", lead_sheet="C | G", audio_length_in_s=1.0, num_inference_steps=4)
    try:
        tiny_pipe(**kwargs, lead_sheet_guidance_scale=2.0, guidance_interval=(0.0, 0.5))
    finally:
        handle.remove()
    assert passes == [3, 3, 1, 1]
    for bad in [(0.5, 0.5), (0.0, 2.0), (0.0,), "ab"]:
        with pytest.raises(ValueError, match="guidance_interval"):
            tiny_pipe(**kwargs, guidance_interval=bad)


def test_a_pipeline_without_text_encoder_saves_loads_and_takes_prompt_embeds(tiny_pipe, tmp_path):
    # `text_encoder` and `tokenizer` are optional components (as in diffusers' PixArt): a pipeline saved with both
    # None loads again with both None, and generates from precomputed embeddings exactly as the full pipeline does.
    from diffusers_s2acc.pretrained import save_shipped_pipeline

    embeds = tiny_pipe.encode_prompt("warm acoustic pop")
    uncaptioned = [{**segment, "caption": ""} for segment in SEGMENTS]  # sections need no text encoder
    kwargs = dict(prompt=None, prompt_embeds=embeds, lead_sheet="C | G", segments=uncaptioned)
    reference = generate(tiny_pipe, **kwargs)
    no_text = S2AccompanistPipeline(**{**tiny_pipe.components, "text_encoder": None, "tokenizer": None})
    no_text.save_pretrained(tmp_path / "plain")
    for folder in (tmp_path / "plain", save_shipped_pipeline(no_text, tmp_path / "shipped")):
        loaded = S2AccompanistPipeline.from_pretrained(folder)
        assert loaded.text_encoder is None and loaded.tokenizer is None
        loaded.set_progress_bar_config(disable=True)
        assert np.array_equal(generate(loaded, **kwargs), reference)

    # Anything that needs the text encoder is refused up front with a message that names it and the way out.
    for bad in [
        dict(prompt="warm acoustic pop"),
        dict(prompt=None),  # no prompt is the empty prompt, which is encoded too
        dict(prompt=None, prompt_embeds=embeds, segments=SEGMENTS),  # section captions
        dict(prompt=None, prompt_embeds=embeds, negative_prompt="noise", guidance_scale=3.0),
    ]:
        with pytest.raises(ValueError, match="no `text_encoder` and no `tokenizer`.*`prompt_embeds`"):
            generate(loaded, **bad)
    with pytest.raises(ValueError, match="`prompt` must be encoded"):
        loaded.encode_prompt("warm acoustic pop")
    # A negative prompt without guidance is not encoded, so it needs no text encoder (as the full pipeline ignores it).
    generate(loaded, prompt=None, prompt_embeds=embeds, negative_prompt="noise", guidance_scale=1.0)


def test_a_step_callback_changes_guidance_for_the_steps_after_it(tiny_pipe, caplog):
    # As diffusers' pipelines read `self.guidance_scale` / `self.do_classifier_free_guidance` at every step, a
    # `callback_on_step_end` that sets the pipeline's scales changes the following steps.
    kwargs = dict(
        prompt="piano",
        lead_sheet="C | G",
        audio_length_in_s=1.0,
        num_inference_steps=4,
        guidance_scale=4.0,
        lead_sheet_guidance_scale=3.0,
        output_type="latent",
        callback_on_step_end_tensor_inputs=["encoder_hidden_states"],
    )
    passes, scales = [], []  # batch rows of every transformer pass, scales of every guided step
    guide = tiny_pipe._guide
    tiny_pipe._guide = lambda velocities, text, sheet: scales.append((text, sheet)) or guide(velocities, text, sheet)
    handle = tiny_pipe.transformer.register_forward_hook(lambda module, args, output: passes.append(args[0].shape[0]))

    def lower(pipe, step, timestep, tensors):
        if step == 0:
            pipe._guidance_scale, pipe._lead_sheet_guidance_scale = 2.0, 1.5
        return {}

    def lower_then_switch_off(cut_states):
        def callback(pipe, step, timestep, tensors):
            lower(pipe, step, timestep, tensors)
            if step == 1:  # off, as diffusers' docs show it: scale 1, and (optionally) the conditional states only
                pipe._guidance_scale = 1.0
                if cut_states:
                    return {"encoder_hidden_states": tensors["encoder_hidden_states"].chunk(3)[-1]}
            return {}

        return callback

    try:
        # Guidance off after two steps is the full condition alone from then on: what an interval of half the steps
        # gives with the same scales.
        expected = generate(tiny_pipe, **kwargs, guidance_interval=(0.0, 0.5), callback_on_step_end=lower)
        for cut_states in (False, True):
            passes.clear()
            scales.clear()
            latents = generate(tiny_pipe, **kwargs, callback_on_step_end=lower_then_switch_off(cut_states))
            assert passes == [3, 3, 1, 1] and scales == [(4.0, 3.0), (2.0, 1.5)]
            assert torch.equal(latents, expected)

        # Guidance the call started without has no branches to apply: it stays off, with a warning, once.
        passes.clear()

        def switch_on(pipe, step, timestep, tensors):
            pipe._guidance_scale = 4.0
            return {}

        with caplog.at_level("WARNING"):
            generate(tiny_pipe, **{**kwargs, "guidance_scale": 1.0}, callback_on_step_end=switch_on)
        assert passes == [1, 1, 1, 1]
        assert sum("did not prepare" in record.getMessage() for record in caplog.records) == 1
    finally:
        handle.remove()
        del tiny_pipe._guide
