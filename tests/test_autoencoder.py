import pytest
import torch
from diffusers import AutoencoderOobleck
from torch.nn.utils import parametrizations

from diffusers_s2acc import SemanticAutoencoder
from diffusers_s2acc.music import FrameConditioning, LeadSheet
from diffusers_s2acc.presets import vae_config


OOBLECK = dict(
    encoder_hidden_size=16,
    downsampling_ratios=[2, 4, 8],
    channel_multiples=[1, 2, 4],
    decoder_channels=16,
    decoder_input_channels=8,
    audio_channels=2,
    sampling_rate=16000,
)


@pytest.fixture
def vae():
    torch.manual_seed(0)
    model = SemanticAutoencoder(**vae_config("tiny")).eval()
    _randomize_snakes(model)
    return model


def _randomize_snakes(model):
    # Snake parameters start at zero; random ones make equality checks meaningful.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("alpha", "beta")):
                param.normal_(0, 0.3)


def test_shapes_and_dtypes(vae):
    hop = vae.hop_length
    audio = torch.randn(2, 1, 10 * hop + 5)  # not a multiple of the hop: padded
    posterior = vae.encode(audio).latent_dist
    assert posterior.mean.shape == (2, 8, 11) and posterior.mean.dtype == torch.float32
    assert posterior.sample(generator=torch.Generator().manual_seed(0)).shape == (2, 8, 11)
    decoded = vae.decode(posterior.mode()).sample
    assert decoded.shape == (2, 1, 11 * hop) and decoded.dtype == torch.float32
    assert vae(audio).sample.shape == (2, 1, 11 * hop)
    assert vae.frame_rate == 16000 / hop


def test_demo_stereo_preset_round_trips_44k_stereo_at_21_5_frames_per_second():
    torch.manual_seed(0)
    vae = SemanticAutoencoder(**vae_config("demo-stereo")).eval()
    assert (vae.config.sampling_rate, vae.config.audio_channels, vae.hop_length) == (44100, 2, 2048)
    assert vae.frame_rate == pytest.approx(21.53, abs=0.01)
    audio = torch.randn(1, 2, 44100)  # one second, not a whole number of latent frames: padded to 22
    with torch.no_grad():
        latents = vae.encode(audio).latent_dist.mode()
        decoded = vae.decode(latents).sample
    assert latents.shape == (1, 32, 22) and decoded.shape == (1, 2, 22 * 2048)


def test_bad_shapes_name_the_problem(vae):
    with pytest.raises(ValueError, match="audio of shape"):
        vae.encode(torch.randn(1, 2, 1000))
    with pytest.raises(ValueError, match="latents of shape"):
        vae.decode(torch.randn(1, 3, 10))


def test_save_load_round_trip_is_bit_exact(vae, tmp_path):
    vae.save_pretrained(tmp_path)
    loaded = SemanticAutoencoder.from_pretrained(tmp_path).eval()
    audio = torch.randn(1, 1, 4096)
    with torch.no_grad():
        assert torch.equal(vae(audio).sample, loaded(audio).sample)
        latents = torch.randn(1, 8, 7)
        ours, theirs = vae.semantic_logits(latents), loaded.semantic_logits(latents)
        assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert vae.state_dict().keys() == loaded.state_dict().keys()
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in vae.state_dict().items())


@pytest.mark.parametrize("modern_weight_norm", [False, True])
def test_from_oobleck_encode_and_decode_equal_the_source(modern_weight_norm):
    torch.manual_seed(0)
    source = AutoencoderOobleck(**OOBLECK).eval()
    _randomize_snakes(source)
    if modern_weight_norm:
        # Re-parametrise with torch's non-deprecated weight norm, whose state-dict keys differ.
        for module in source.modules():
            if hasattr(module, "weight_g"):
                torch.nn.utils.remove_weight_norm(module)
                parametrizations.weight_norm(module)
        assert any("original0" in k for k in source.state_dict())
    converted = SemanticAutoencoder.from_oobleck(source).eval()
    audio = torch.randn(2, 2, 64 * 40)
    with torch.no_grad():
        ours, theirs = converted.encode(audio).latent_dist, source.encode(audio).latent_dist
        assert torch.equal(ours.mean, theirs.mean) and torch.equal(ours.std, theirs.std)
        assert torch.equal(converted.decode(theirs.mean).sample, source.decode(theirs.mean).sample)


def test_from_oobleck_refuses_inconsistent_latent_width():
    source = AutoencoderOobleck(**{**OOBLECK, "decoder_input_channels": 4})
    with pytest.raises(ValueError, match="2 \\* decoder_input_channels"):
        SemanticAutoencoder.from_oobleck(source)


def test_tiled_decode_and_encode_match_untiled(vae):
    vae.tile_latent_frames, vae.tile_overlap_frames, vae.tile_context_frames = 32, 4, 16
    latents = torch.randn(1, 8, 301)
    audio = torch.randn(1, 1, 301 * vae.hop_length)
    with torch.no_grad():
        full_audio, full_latents = vae.decode(latents).sample, vae.encode(audio).latent_dist.mean
        vae.enable_tiling()
        tiled_audio, tiled_latents = vae.decode(latents).sample, vae.encode(audio).latent_dist.mean
    assert tiled_audio.shape == full_audio.shape and tiled_latents.shape == full_latents.shape
    # Documented tolerance: 1e-4 of the signal's peak (float rounding only).
    assert (tiled_audio - full_audio).abs().max() <= 1e-4 * full_audio.abs().max()
    assert (tiled_latents - full_latents).abs().max() <= 1e-4 * full_latents.abs().max()


def test_crossfade_leaves_no_gap_or_click_without_context(vae):
    # With no context the tiles disagree near their edges; the cross-fade must still join them without a dropout
    # (silence) or a jump larger than the signal's own sample-to-sample changes.
    vae.tile_latent_frames, vae.tile_overlap_frames, vae.tile_context_frames = 16, 4, 0
    latents = torch.randn(1, 8, 100)
    with torch.no_grad():
        full = vae.decode(latents).sample
        vae.enable_tiling()
        tiled = vae.decode(latents).sample
    assert tiled.shape == full.shape
    window = 256
    energy = tiled.unfold(-1, window, window).pow(2).mean(-1)
    assert energy.min() > 0.05 * energy.mean()
    jumps = tiled.diff(dim=-1).abs()
    assert jumps.max() <= 1.5 * full.diff(dim=-1).abs().max()


def test_semantic_loss_trains_the_encoder(vae):
    hop = vae.hop_length
    frames = 40
    sheet = LeadSheet.from_dict({"tempo": 120, "chart": "C | Am", "melody": [{"start": 0, "end": 0.1, "pitch": 60}]})
    targets = FrameConditioning.stack(
        [FrameConditioning.build(frames, vae.frame_rate, None, sheet)] * 2
    ).semantic_targets()
    audio = torch.randn(2, 1, frames * hop)
    latents = vae.encode(audio).latent_dist.sample(generator=torch.Generator().manual_seed(0))
    losses = vae.semantic_loss(latents, targets)
    assert set(losses) == {"chord", "pitch_classes", "melody", "beat"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert vae.encoder.conv1.weight_v.grad.abs().sum() > 0


def test_semantic_loss_is_zero_not_nan_when_nothing_is_known(vae):
    frames = 12
    targets = FrameConditioning.stack([FrameConditioning.build(frames, vae.frame_rate)]).semantic_targets()
    losses = vae.semantic_loss(torch.randn(1, 8, frames), targets)
    assert all(v.item() == 0.0 for v in losses.values())
    with pytest.raises(ValueError, match="Target 'chord'"):
        vae.semantic_loss(torch.randn(1, 8, frames + 1), targets)


def test_every_tile_window_has_the_same_length():
    # Peak memory follows the window length: it must not depend on where the tile sits or on the duration.
    from diffusers_s2acc.models.tiling import tiled_apply

    for total in (200, 777, 5000):
        lengths = []

        def record(x):
            lengths.append(x.shape[-1])
            return x.repeat_interleave(4, dim=-1)

        out = tiled_apply(record, torch.ones(1, 1, total), unit=1, scale=4, tile=64, overlap=8, context=16)
        assert set(lengths) == {96} and out.shape[-1] == 4 * total
        assert torch.allclose(out, torch.ones_like(out))  # the cross-fade weights sum to one everywhere


def test_fresh_encoder_starts_nearly_deterministic():
    """A posterior std of 0.69 at initialisation drowned the latents in noise and training collapsed: fresh models
    start with a small std, so the decoder sees what the encoder sends."""
    vae = SemanticAutoencoder(**vae_config("tiny"))
    posterior = vae.encode(torch.randn(2, 1, 4096) * 0.1).latent_dist
    assert posterior.std.max() < 0.01
    assert (posterior.sample() - posterior.mode()).abs().max() < 0.1


def test_demo_stereo_preset_round_trips_stereo_at_44k_below_25_latent_frames_per_second():
    """The 44.1 kHz stereo preset: half a second of stereo encodes to samples / hop frames (<= 25 per second) of
    its latent width and decodes back to the same samples in two channels; a length that is not a multiple of the
    hop gets ceil(samples / hop) frames."""
    config = vae_config("demo-stereo")
    torch.manual_seed(0)
    vae = SemanticAutoencoder(**config).eval()
    assert vae.config.sampling_rate == 44100 and vae.config.audio_channels == 2
    assert vae.frame_rate <= 25 and vae.hop_length == 2048
    samples = 11 * vae.hop_length  # 0.51 s
    audio = torch.randn(1, 2, samples)
    with torch.no_grad():
        latents = vae.encode(audio).latent_dist.mode()
        decoded = vae.decode(latents).sample
        odd = vae.encode(audio[..., : samples - 100]).latent_dist.mode()
    assert latents.shape == (1, config["latent_channels"], samples // vae.hop_length)
    assert decoded.shape == (1, 2, samples) and torch.isfinite(decoded).all()
    assert odd.shape[-1] == 11


def test_demo_preset_still_builds_the_shipped_vae_architecture():
    """Adding presets leaves `demo` as the shipped s2acc-demo VAE was trained from (16 kHz mono, hop 256)."""
    import json

    from diffusers_s2acc.pretrained import DEFAULT_PIPELINE, shipped_pipeline_path

    with open(f"{shipped_pipeline_path(DEFAULT_PIPELINE)}/vae/config.json") as stream:
        shipped = json.load(stream)
    assert {k: shipped[k] for k in vae_config("demo")} == vae_config("demo")
