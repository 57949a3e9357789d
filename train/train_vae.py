#!/usr/bin/env python
"""Semantic-aware training of a SemanticAutoencoder (the paper's VAE fine-tuning).

    accelerate launch train/train_vae.py --pretrained_model_name_or_path demo --train_data_dir corpus/ \
        --output_dir runs/vae --max_train_steps 5000
    # or start from Stable Audio Open's VAE, converted exactly:
    accelerate launch train/train_vae.py --oobleck_path /local/stable-audio-open-1.0 --train_data_dir corpus/ ...

Losses: multi-resolution STFT, optionally log-mel (`--mel_weight`), compressed complex STFT (`--complex_stft_weight`),
log chroma (`--chroma_weight`), log semitone bands (`--semitone_weight`) and the periodic component
(`--periodic_weight`), and L1 waveform reconstruction, KL of the posterior, the lead-sheet semantic loss (chord, pitch
classes, melody, beat targets rasterised from the corpus's lead sheets at the latent frame rate) and, after
`--adversarial_start_step`, a multi-resolution STFT discriminator with hinge and feature-matching losses. The
trained model is written to `--output_dir` (`SemanticAutoencoder.from_pretrained(output_dir)` loads it).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from accelerate.logging import get_logger
from diffusers.optimization import get_scheduler
from torch.utils.data import DataLoader

from diffusers_s2acc import SemanticAutoencoder
from diffusers_s2acc.training.arguments import add_common_args, start_run, validate_common_args
from diffusers_s2acc.training.clips import AudioClipDataset
from diffusers_s2acc.training.corpus import load_corpus
from diffusers_s2acc.training.discriminator import (
    MultiResolutionDiscriminator,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from diffusers_s2acc.training.latent_cache import estimate_scaling_factor
from diffusers_s2acc.training.loading import load_starting_vae
from diffusers_s2acc.training.losses import (
    ChromaSTFTLoss,
    CompressedComplexSTFTLoss,
    PeriodicComponentLoss,
    SemitoneSTFTLoss,
)
from diffusers_s2acc.training.run_loop import EpochPermutationSampler, ResumableRun


logger = get_logger(__name__)
TARGET_KEYS = ("chord", "pitch_classes", "pitch_classes_mask", "melody", "beat")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, default_learning_rate=1e-4)
    parser.add_argument("--oobleck_path", default=None, help="diffusers AutoencoderOobleck folder to convert")
    parser.add_argument("--clip_seconds", type=float, default=3.0, help="the paper trains on 3 s clips")
    parser.add_argument("--l1_weight", type=float, default=1.0)
    parser.add_argument("--stft_weight", type=float, default=1.0)
    parser.add_argument(
        "--mel_weight",
        type=float,
        default=0.0,
        help="log-mel (128 bands, 4096-point FFT) L1 loss beside the MR-STFT one: its fine low-frequency resolution "
        "keeps bass notes and chord tones apart at 44.1 kHz, where the MR-STFT's largest FFT has 21.5 Hz bins",
    )
    parser.add_argument(
        "--complex_stft_weight",
        type=float,
        default=0.0,
        help="compressed complex STFT L1 loss (phase where it matters; training.losses.CompressedComplexSTFTLoss): "
        "what an inverse-STFT (architecture='spectral') decoder needs to learn phases that agree across frames",
    )
    parser.add_argument(
        "--chroma_weight",
        type=float,
        default=0.0,
        help="log chroma L1 loss (36 pitch-class bins over an 8192-point STFT; training.losses.ChromaSTFTLoss): "
        "trains the notes, which the MR-STFT and log-mel losses resolve too coarsely at 44.1 kHz",
    )
    parser.add_argument(
        "--semitone_weight",
        type=float,
        default=0.0,
        help="log semitone-band L1 loss (a 16384-point STFT on semitone bands from E1, every octave weighed alike; "
        "training.losses.SemitoneSTFTLoss): the bass, which linear-frequency losses hardly weigh",
    )
    parser.add_argument(
        "--periodic_weight",
        type=float,
        default=0.0,
        help="L1 distance of the clips' synchronous averages over the decoder's STFT window (training.losses."
        "PeriodicComponentLoss): keeps an inverse-STFT decoder from filling the spectrum with a drone on the "
        "harmonics of sampling_rate / n_fft (architecture='spectral' only)",
    )
    parser.add_argument("--kl_weight", type=float, default=1e-4)
    parser.add_argument("--semantic_weight", type=float, default=0.1)
    parser.add_argument("--adversarial_weight", type=float, default=0.1)
    parser.add_argument("--feature_matching_weight", type=float, default=1.0)
    parser.add_argument("--adversarial_start_step", type=int, default=2000, help="discriminator warm-up")
    parser.add_argument("--discriminator_learning_rate", type=float, default=1e-4)
    parser.add_argument(
        "--calibration_songs",
        type=int,
        default=64,
        help="songs encoded at the end to set the VAE's scaling_factor to 1 / latent std (0: keep it)",
    )
    args = parser.parse_args(argv)
    validate_common_args(args)
    return args


class AutoencoderWithLosses(nn.Module):
    """Everything that must run inside the (DDP-wrapped) forward: encode, sample, decode, KL, semantic losses."""

    def __init__(self, vae: SemanticAutoencoder):
        super().__init__()
        self.vae = vae

    def forward(self, audio: torch.Tensor, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        posterior = self.vae.encode(audio).latent_dist
        latents = posterior.sample()
        reconstruction = self.vae.decode(latents).sample
        semantic = self.vae.semantic_loss(latents, targets)
        return {
            "reconstruction": reconstruction,
            "kl": posterior.kl().mean(),
            **{f"semantic_{k}": v for k, v in semantic.items()},
        }


def main(argv: list[str] | None = None) -> None:
    import auraloss

    args = parse_args(argv)
    accelerator = start_run(args)

    vae = load_starting_vae(args.pretrained_model_name_or_path, args.oobleck_path).train()
    model = AutoencoderWithLosses(vae)
    discriminator = MultiResolutionDiscriminator(vae.config.audio_channels)
    stft_loss = auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=[2048, 1024, 512, 256], hop_sizes=[512, 256, 128, 64], win_lengths=[2048, 1024, 512, 256]
    )

    # The optional reconstruction losses, by the name they are logged under, with their weights.
    optional_losses: dict[str, tuple[nn.Module, float]] = {}
    if args.mel_weight > 0:
        mel = auraloss.freq.MelSTFTLoss(
            vae.config.sampling_rate, fft_size=4096, hop_size=1024, win_length=4096, n_mels=128, w_sc=0.0
        )
        optional_losses["mel"] = (mel, args.mel_weight)
    if args.complex_stft_weight > 0:
        optional_losses["complex_stft"] = (CompressedComplexSTFTLoss(), args.complex_stft_weight)
    if args.chroma_weight > 0:
        optional_losses["chroma"] = (ChromaSTFTLoss(vae.config.sampling_rate), args.chroma_weight)
    if args.semitone_weight > 0:
        optional_losses["semitone"] = (SemitoneSTFTLoss(vae.config.sampling_rate), args.semitone_weight)
    if args.periodic_weight > 0:
        if vae.config.architecture != "spectral":
            raise SystemExit("error: --periodic_weight applies to architecture='spectral' VAEs (an STFT window)")
        optional_losses["periodic"] = (PeriodicComponentLoss(vae.decoder.n_fft), args.periodic_weight)
    corpus = load_corpus(args.dataset_name, args.train_data_dir, max_samples=args.max_train_samples)
    clip_frames = max(1, round(args.clip_seconds * vae.frame_rate))
    dataset = AudioClipDataset(
        corpus, vae.config.sampling_rate, vae.config.audio_channels, vae.hop_length, clip_frames, seed=args.seed
    )
    sampler = EpochPermutationSampler(len(dataset), seed=args.seed)
    dataloader = DataLoader(
        dataset,
        batch_size=args.train_batch_size,
        sampler=sampler,
        num_workers=args.dataloader_num_workers,
        drop_last=len(dataset) >= args.train_batch_size,
    )
    betas = (args.adam_beta1, args.adam_beta2)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=args.learning_rate, betas=betas, weight_decay=args.adam_weight_decay
    )
    disc_optimizer = torch.optim.AdamW(
        discriminator.parameters(), lr=args.discriminator_learning_rate, betas=(0.5, 0.9)
    )
    lr_scheduler = get_scheduler(
        args.lr_scheduler,
        optimizer=optimizer,
        num_warmup_steps=args.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=args.max_train_steps * accelerator.num_processes,
    )
    model, discriminator, optimizer, disc_optimizer, dataloader, lr_scheduler = accelerator.prepare(
        model, discriminator, optimizer, disc_optimizer, dataloader, lr_scheduler
    )

    run = ResumableRun(accelerator, args, "s2acc-vae", dataloader)
    for batch in run.batches():
        adversarial = run.global_step >= args.adversarial_start_step
        with accelerator.accumulate(model, discriminator):
            audio = batch["audio"]
            outputs = model(audio, {k: batch[k] for k in TARGET_KEYS})
            reconstruction = outputs["reconstruction"]
            values = {
                "l1": F.l1_loss(reconstruction, audio),
                "stft": stft_loss(reconstruction, audio),
                "kl": outputs["kl"],
                "semantic": sum(outputs[f"semantic_{k}"] for k in ("chord", "pitch_classes", "melody", "beat")),
            }
            loss = (
                args.l1_weight * values["l1"]
                + args.stft_weight * values["stft"]
                + args.kl_weight * values["kl"]
                + args.semantic_weight * values["semantic"]
            )
            for name, (loss_fn, weight) in optional_losses.items():
                values[name] = loss_fn(reconstruction, audio)
                loss = loss + weight * values[name]
            if adversarial:
                fake, real = discriminator(reconstruction), discriminator(audio)
                values["adversarial"] = generator_adversarial_loss(fake)
                values["feature_matching"] = feature_matching_loss(real, fake)
                loss = loss + args.adversarial_weight * values["adversarial"]
                loss = loss + args.feature_matching_weight * values["feature_matching"]
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if adversarial:
                # The generator's adversarial loss also left gradients on the discriminator: clear them, so the
                # discriminator steps (once per optimizer step) on its own hinge loss for the latest micro-batch.
                disc_optimizer.zero_grad(set_to_none=True)
                disc_loss = discriminator_hinge_loss(discriminator(audio), discriminator(reconstruction.detach()))
                accelerator.backward(disc_loss)
                disc_optimizer.step()
                disc_optimizer.zero_grad(set_to_none=True)
                values["discriminator"] = disc_loss

        if accelerator.sync_gradients:
            run.end_step({**values, "loss": loss})

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        vae = accelerator.unwrap_model(model).vae
        if args.calibration_songs > 0:
            scaling_factor = estimate_scaling_factor(
                vae, corpus, args.calibration_songs, accelerator.device, args.seed
            )
            vae.register_to_config(scaling_factor=scaling_factor)
            logger.info(
                f"Latent std {1 / scaling_factor:.4f} on {min(len(corpus), args.calibration_songs)} songs: "
                f"scaling_factor = {scaling_factor:.4f}"
            )
        vae.save_pretrained(args.output_dir)
        logger.info(f"Saved SemanticAutoencoder to {args.output_dir} after {run.global_step} steps")
    accelerator.end_training()


if __name__ == "__main__":
    main()
