import pytest
import torch
from accelerate import init_empty_weights

from diffusers_s2acc import S2DiTTransformer, SemanticAutoencoder
from diffusers_s2acc.music import FrameConditioning, LeadSheet, Segment
from diffusers_s2acc.presets import transformer_config, vae_config


FRAMES, TEXT_DIM = 24, 32


@pytest.fixture
def model():
    torch.manual_seed(0)
    return S2DiTTransformer(**transformer_config("tiny")).eval()


def _inputs(batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    segments = [Segment(0, 1.0, "verse"), Segment(1.0, 2.4, "chorus")]
    sheet = LeadSheet.from_chart("C | G7", bpm=120)
    cond = FrameConditioning.stack([FrameConditioning.build(FRAMES, 10.0, segments, sheet)] * batch)
    # Tokens: 3 global, 4 of segment 1, 5 of segment 2, 2 padding.
    segment_ids = torch.tensor([0] * 3 + [1] * 4 + [2] * 5 + [-1] * 2).expand(batch, -1)
    return dict(
        hidden_states=torch.randn(batch, 8, FRAMES, generator=generator),
        timestep=torch.tensor([700.0, 100.0][:batch]),
        encoder_hidden_states=torch.randn(batch, 14, TEXT_DIM, generator=generator),
        encoder_segment_ids=segment_ids,
        **cond.transformer_kwargs(),
    )


def test_output_shape_and_dtype(model):
    out = model(**_inputs()).sample
    assert out.shape == (2, 8, FRAMES) and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert model(**_inputs(), return_dict=False)[0].shape == out.shape


def test_save_load_round_trip_is_bit_exact(model, tmp_path):
    model.save_pretrained(tmp_path)
    loaded = S2DiTTransformer.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(model(**_inputs()).sample, loaded(**_inputs()).sample)


def _cross_attention_output(model, inputs):
    captured = {}
    handle = model.blocks[0].attn2.register_forward_hook(lambda m, a, out: captured.setdefault("out", out))
    with torch.no_grad():
        model(**inputs)
    handle.remove()
    return captured["out"]


def test_segment_caption_only_reaches_its_own_frames(model):
    base = _inputs()
    changed = _inputs()
    changed["encoder_hidden_states"] = changed["encoder_hidden_states"].clone()
    changed["encoder_hidden_states"][:, 7:12] = torch.randn(2, 5, TEXT_DIM)  # segment 2's caption tokens
    before, after = _cross_attention_output(model, base), _cross_attention_output(model, changed)
    in_segment_2 = base["frame_segment_ids"][0] == 2
    assert in_segment_2.any() and (~in_segment_2).any()
    # Exact isolation at the attention level: other frames' cross-attention outputs are bit-identical.
    assert torch.equal(before[:, ~in_segment_2], after[:, ~in_segment_2])
    assert not torch.allclose(before[:, in_segment_2], after[:, in_segment_2])


def test_padding_tokens_are_never_attended(model):
    base, changed = _inputs(), _inputs()
    changed["encoder_hidden_states"] = changed["encoder_hidden_states"].clone()
    changed["encoder_hidden_states"][:, 12:] = 1e3
    with torch.no_grad():
        assert torch.equal(model(**base).sample, model(**changed).sample)


def test_global_caption_reaches_every_frame(model):
    base, changed = _inputs(), _inputs()
    changed["encoder_hidden_states"] = changed["encoder_hidden_states"].clone()
    changed["encoder_hidden_states"][:, :3] = torch.randn(2, 3, TEXT_DIM)
    before, after = _cross_attention_output(model, base), _cross_attention_output(model, changed)
    assert ((before - after).abs().amax(dim=-1) > 0).all()


def test_null_text_condition_ignores_captions_and_structure(model):
    dropped = torch.tensor([True, False])
    base, changed = _inputs(), _inputs(seed=1)
    changed["hidden_states"] = base["hidden_states"]
    changed["section_ids"] = torch.zeros_like(base["section_ids"])
    with torch.no_grad():
        a = model(**base, drop_text=dropped).sample
        b = model(**changed, drop_text=dropped).sample
        no_text = model(
            **{
                **base,
                "encoder_hidden_states": None,
                "encoder_segment_ids": None,
                "section_ids": None,
                "section_position": None,
                "frame_segment_ids": None,
            }
        ).sample
    assert torch.equal(a[0], b[0])  # dropped sample: captions and sections do not matter
    assert not torch.allclose(a[1], b[1])  # kept sample: they do
    assert torch.allclose(a[0], no_text[0], atol=1e-6)  # the null condition is what "no text" means


def test_null_lead_sheet_ignores_chords_melody_beats(model):
    base = _inputs()
    other = {
        **base,
        "chord_ids": torch.randint(1, 100, base["chord_ids"].shape),
        "melody_ids": torch.randint(1, 100, base["melody_ids"].shape),
        "beat_ids": torch.randint(1, 4, base["beat_ids"].shape),
        "pitch_classes": torch.rand(base["pitch_classes"].shape),
    }
    dropped = torch.tensor([True, True])
    with torch.no_grad():
        assert torch.equal(
            model(**base, drop_lead_sheet=dropped).sample, model(**other, drop_lead_sheet=dropped).sample
        )
        assert not torch.allclose(model(**base).sample, model(**other).sample)


def test_gradient_checkpointing_gives_the_same_gradients(model):
    def grads():
        model.zero_grad()
        model(**_inputs()).sample.square().mean().backward()
        return [p.grad.clone() for p in model.parameters() if p.grad is not None]

    model.train()
    reference = grads()
    model.enable_gradient_checkpointing()
    assert model.gradient_checkpointing
    checkpointed = grads()
    assert len(reference) == len(checkpointed)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(reference, checkpointed))


def test_bad_inputs(model):
    with pytest.raises(ValueError, match="latent channels"):
        model(**{**_inputs(), "hidden_states": torch.randn(2, 7, FRAMES)})
    with pytest.raises(ValueError, match="max_frames"):
        model(torch.randn(1, 8, model.config.max_frames + 1), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="global caption token"):
        model(**{**_inputs(), "encoder_segment_ids": torch.ones(2, 14, dtype=torch.long)})


def test_paper_preset_parameter_counts():
    with init_empty_weights():
        transformer = S2DiTTransformer(**transformer_config("paper"))
        vae = SemanticAutoencoder(**vae_config("paper"))
    dit = sum(p.numel() for p in transformer.parameters())
    autoencoder = sum(p.numel() for n, p in vae.named_parameters() if not n.startswith("semantic_head"))
    assert abs(dit - 402e6) <= 0.02 * 402e6, dit
    assert abs(autoencoder - 157e6) <= 0.01 * 157e6, autoencoder
    assert vae.config.sampling_rate == 44100 and vae.config.audio_channels == 2
    assert vae.config.latent_channels == 64 and vae.hop_length == 2048


def test_demo_preset_is_cpu_sized():
    with init_empty_weights():
        transformer = S2DiTTransformer(**transformer_config("demo"))
    assert 5e6 <= sum(p.numel() for p in transformer.parameters()) <= 20e6
    config = vae_config("demo")
    assert config["audio_channels"] == 1 and 16000 <= config["sampling_rate"] <= 24000


def test_lead_sheet_injection_starts_as_identity_and_then_carries_the_chords():
    """Per-block injection is zero-initialised: a fresh model computes exactly what the same weights without it
    compute, yet its injection layers get a gradient from the first step (they learn), and once they are non-zero
    the output depends on the chords through them."""
    config = transformer_config("tiny")
    torch.manual_seed(0)
    plain = S2DiTTransformer(**{**config, "lead_sheet_injection_layers": 0}).eval()
    injected = S2DiTTransformer(**{**config, "lead_sheet_injection_layers": 2}).eval()
    missing, unexpected = injected.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("lead_sheet_injection.") for k in missing) and missing
    inputs = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(injected(**inputs).sample, plain(**inputs).sample, rtol=0, atol=0)
    injected(**inputs).sample.square().mean().backward()
    assert all(layer.weight.grad.abs().sum() > 0 for layer in injected.lead_sheet_injection)
    with torch.no_grad():
        for layer in injected.lead_sheet_injection:
            torch.nn.init.normal_(layer.weight, std=0.1)
        other = dict(inputs, chord_ids=torch.zeros_like(inputs["chord_ids"]))
        through_injection = injected(**inputs).sample - injected(**other).sample
        through_input_only = plain(**inputs).sample - plain(**other).sample
    assert not torch.allclose(through_injection, through_input_only, atol=1e-4)


def test_lead_sheet_injection_layers_is_checked():
    with pytest.raises(ValueError, match="lead_sheet_injection_layers"):
        S2DiTTransformer(**{**transformer_config("tiny"), "lead_sheet_injection_layers": 3})


def test_demo_stereo_transformer_reads_its_vae_latents_at_demo_cost():
    with init_empty_weights():
        stereo = S2DiTTransformer(**transformer_config("demo-stereo"))
        demo = S2DiTTransformer(**transformer_config("demo"))
    assert stereo.config.in_channels == vae_config("demo-stereo")["latent_channels"] == 32
    # Same width and depth as demo: only the latent projections differ, so a step costs the same per frame.
    assert abs(sum(p.numel() for p in stereo.parameters()) - sum(p.numel() for p in demo.parameters())) < 0.1e6
