"""The STFT-domain (`architecture="spectral"`) SemanticAutoencoder: shapes at 44.1 kHz stereo, exact tiling, exact
save/load, semantic training, and configs that name the problem when they cannot build."""

import pytest
import torch

from diffusers_s2acc import SemanticAutoencoder
from diffusers_s2acc.music import FrameConditioning, LeadSheet
from diffusers_s2acc.training.losses import period_average


SMALL = dict(
    encoder_hidden_size=16,
    decoder_channels=16,
    latent_channels=8,
    downsampling_ratios=[128, 4],
    channel_multiples=[1, 2],
    audio_channels=2,
    sampling_rate=44100,
    semantic_hidden_size=16,
    semantic_layers=1,
    architecture="spectral",
    spectral_blocks=1,
)


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return SemanticAutoencoder(**SMALL).eval()


def test_stereo_44k_round_trip_has_the_right_shapes(vae):
    assert vae.hop_length == 512 and vae.frame_rate == pytest.approx(44100 / 512)
    samples = 9 * vae.hop_length
    audio = torch.randn(2, 2, samples) * 0.1
    with torch.no_grad():
        posterior = vae.encode(audio).latent_dist
        decoded = vae.decode(posterior.mode()).sample
        odd = vae.encode(audio[..., : samples - 37]).latent_dist.mode()  # padded to 9 frames
    assert posterior.mean.shape == (2, 8, 9)
    assert decoded.shape == (2, 2, samples) and torch.isfinite(decoded).all()
    assert odd.shape == (2, 8, 9)
    # The channels stay apart: silencing the right channel changes the latent, and the decoder writes two channels.
    mono_left = audio.clone()
    mono_left[:, 1] = 0
    with torch.no_grad():
        assert not torch.allclose(vae.encode(mono_left).latent_dist.mode(), posterior.mode())


def test_decoder_is_an_inverse_stft_of_its_own_spectrum(vae):
    """Every output sample comes from the inverse STFT: a decoder whose head predicts silence (log-magnitude -inf is
    capped by exp to ~0) writes silence of exactly frames * hop samples."""
    with torch.no_grad():
        vae.decoder.head.weight.zero_()
        vae.decoder.head.bias.fill_(-30.0)
        audio = vae.decode(torch.randn(1, 8, 5)).sample
    assert audio.shape == (1, 2, 5 * vae.hop_length)
    assert audio.abs().max() < 1e-9


def test_tiled_encode_and_decode_match_untiled(vae):
    audio = torch.randn(1, 2, 40 * vae.hop_length) * 0.1
    with torch.no_grad():
        latents = vae.encode(audio).latent_dist.mode()
        decoded = vae.decode(latents).sample
        vae.enable_tiling()
        vae.tile_latent_frames, vae.tile_overlap_frames, vae.tile_context_frames = 12, 2, 16
        tiled_latents = vae.encode(audio).latent_dist.mode()
        tiled = vae.decode(latents).sample
    torch.testing.assert_close(tiled_latents, latents, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(tiled, decoded, atol=1e-6, rtol=1e-4)


def test_save_load_round_trip_is_bit_exact(vae, tmp_path):
    vae.save_pretrained(tmp_path)
    loaded = SemanticAutoencoder.from_pretrained(tmp_path).eval()
    assert loaded.config.architecture == "spectral" and loaded.config.spectral_blocks == 1
    audio = torch.randn(1, 2, 6 * vae.hop_length) * 0.1
    with torch.no_grad():
        assert torch.equal(loaded(audio).sample, vae(audio).sample)


def test_old_configs_without_architecture_build_the_oobleck_vae():
    from diffusers_s2acc.models.oobleck_blocks import OobleckDecoder

    vae = SemanticAutoencoder(
        **{k: v for k, v in SMALL.items() if k not in ("architecture", "spectral_blocks")},
    )
    assert vae.config.architecture == "oobleck" and isinstance(vae.decoder, OobleckDecoder)


def test_semantic_loss_trains_the_spectral_encoder(vae):
    vae.train()
    frames = 16
    audio = torch.randn(1, 2, frames * vae.hop_length) * 0.1
    sheet = LeadSheet.from_dict({"tempo": 120, "chart": "C | Am", "melody": [{"start": 0, "end": 0.1, "pitch": 60}]})
    targets = FrameConditioning.stack(
        [FrameConditioning.build(frames, vae.frame_rate, None, sheet)]
    ).semantic_targets()
    latents = vae.encode(audio).latent_dist.sample(generator=torch.Generator().manual_seed(0))
    losses = vae.semantic_loss(latents, targets)
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert vae.encoder.conv1.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(architecture="wavenet"), "architecture must be 'oobleck' or 'spectral'"),
        (dict(channel_multiples=[1, 2, 4]), "one channel multiple per ratio"),
        (dict(spectral_phase="raw"), "phase must be 'frame' or 'integrated'"),
    ],
)
def test_configs_that_cannot_build_name_the_problem(change, message):
    with pytest.raises(ValueError, match=message):
        SemanticAutoencoder(**{**SMALL, **change})


def test_mid_side_stereo_shares_one_phase_and_inverts_exactly():
    from diffusers_s2acc.models.spectral_blocks import from_mid_side, to_mid_side

    audio = torch.randn(2, 2, 1000)
    assert torch.allclose(from_mid_side(to_mid_side(audio)), audio, atol=1e-6)
    torch.manual_seed(0)
    vae = SemanticAutoencoder(**{**SMALL, "mid_side": True}).eval()
    with torch.no_grad():
        # A decoder that writes silence on the side channel gives identical left and right (a centred mono image).
        head = vae.decoder.head
        bins = vae.decoder.n_fft // 2 + 1
        side_log_magnitude = slice(2 * bins, 3 * bins)  # channel 1 (side), its log-magnitude block
        head.weight[side_log_magnitude] = 0
        head.bias[side_log_magnitude] = -30.0
        decoded = vae.decode(torch.randn(1, 8, 6)).sample
        assert torch.allclose(decoded[:, 0], decoded[:, 1], atol=1e-7)
        # Identical channels in: the encoder sees a silent side.
        mono = torch.randn(1, 1, 6 * vae.hop_length).expand(1, 2, -1) * 0.1
        features = vae.encoder.features(to_mid_side(mono))
        assert features[:, 3 * bins :].abs().max() < 0.01 * features[:, : 3 * bins].abs().max()


def test_a_steady_tone_has_a_steady_demodulated_phase():
    """The encoder's STFT is phase-demodulated: a sinusoid at a bin's centre keeps one phase from frame to frame (the
    raw STFT turns it by k quarter turns per frame), and the decoder's rotation is its exact inverse."""
    from diffusers_s2acc.models.spectral_blocks import frame_phase_rotation

    torch.manual_seed(0)
    vae = SemanticAutoencoder(**SMALL).eval()
    encoder = vae.encoder
    bin_index = 37
    t = torch.arange(32 * encoder.stft_hop)
    tone = torch.cos(2 * torch.pi * bin_index * t / encoder.n_fft)[None, None].expand(1, 2, -1).contiguous()
    features = encoder.features(tone)
    bins = encoder.n_fft // 2 + 1
    real, imag = features[0, bins + bin_index, 2:-2], features[0, 2 * bins + bin_index, 2:-2]  # left, inner frames
    phase = torch.atan2(imag, real)
    assert (phase - phase[0]).abs().max() < 1e-3
    rotation = frame_phase_rotation(bins, 12)
    assert torch.allclose(rotation * rotation.conj(), torch.ones_like(rotation))
    assert rotation[1, 1] == torch.polar(torch.tensor(1.0), torch.tensor(torch.pi / 2))


def test_integrated_phase_turns_a_steady_prediction_into_a_steady_partial_not_a_drone():
    """A decoder head that predicts the same values in every frame: with `spectral_phase="frame"` the output repeats
    every STFT window (a drone on the harmonics of rate / n_fft); with `"integrated"` the predicted phase advance
    moves the partials off the bin centres, so the output does not repeat with the window."""
    outputs = {}
    for phase in ("frame", "integrated"):
        torch.manual_seed(0)
        vae = SemanticAutoencoder(**{**SMALL, "spectral_phase": phase}).eval()
        head = vae.decoder.head
        with torch.no_grad():
            head.weight.zero_()
            head.bias.normal_(0.0, 1.0)  # the same log-magnitude and phase value in every frame
            outputs[phase] = vae.decode(torch.zeros(1, 8, 24)).sample
        assert outputs[phase].shape == (1, 2, 24 * vae.hop_length)
    n_fft = vae.decoder.n_fft
    core = slice(n_fft, -n_fft)  # away from the first and last frames' edges
    frame, integrated = (outputs[p][..., core] for p in ("frame", "integrated"))
    assert torch.allclose(frame[..., n_fft:], frame[..., :-n_fft], atol=1e-5 * frame.abs().max().item())

    def repeating_share(audio):  # RMS of the average over whole windows, over the RMS
        return period_average(audio, n_fft).std() / audio.std()

    assert repeating_share(frame) > 0.99 and repeating_share(integrated) < 0.5
