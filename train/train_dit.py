#!/usr/bin/env python
"""Flow-matching training of S2DiTTransformer on section-level clips (full fine-tuning, or LoRA with `--rank`).

    accelerate launch train/train_dit.py --pretrained_model_name_or_path demo --train_data_dir corpus/ \
        --output_dir runs/dit --max_train_steps 2000 --checkpointing_steps 250

The VAE never runs in the loop: the corpus is encoded once into a latent cache (`--latents_cache_dir`, by default
`<output_dir>/latents`). At the end the output folder holds a complete pipeline that
`S2AccompanistPipeline.from_pretrained` loads, or, with `--rank`, `pytorch_lora_weights.safetensors` that
`pipe.load_lora_weights` loads.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import torch
from accelerate.logging import get_logger
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from torch.utils.data import DataLoader

from diffusers_s2acc import S2AccompanistPipeline, S2DiTTransformer
from diffusers_s2acc.pipelines.caption_encoding import encode_captions
from diffusers_s2acc.training.arguments import add_common_args, start_run, validate_common_args
from diffusers_s2acc.training.clips import LatentClipDataset, collate_latent_clips
from diffusers_s2acc.training.corpus import load_corpus
from diffusers_s2acc.training.flow_matching import (
    TIMESTEP_SCALE,
    condition_dropout,
    drop_lead_sheet_parts,
    flow_matching_pair,
    sample_sigmas,
)
from diffusers_s2acc.training.latent_cache import cache_latents
from diffusers_s2acc.training.loading import load_starting_pipeline, load_starting_vae
from diffusers_s2acc.training.run_loop import EpochPermutationSampler, ResumableRun, trainable_parameters
from diffusers_s2acc.training.validation import log_validation


logger = get_logger(__name__)
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser, default_learning_rate=2e-4)
    parser.add_argument(
        "--pretrained_vae_model_name_or_path",
        default=None,
        help="replace the pipeline's VAE, e.g. by the output of train_vae.py (a folder, a pipeline, a Hub id)",
    )
    parser.add_argument("--latents_cache_dir", default=None, help="default: <output_dir>/latents")
    parser.add_argument("--clip_seconds", type=float, default=10.0, help="length of training clips")
    parser.add_argument("--weighting_scheme", choices=["uniform", "logit_normal", "mode"], default="logit_normal")
    parser.add_argument("--logit_mean", type=float, default=0.0)
    parser.add_argument("--logit_std", type=float, default=1.0)
    parser.add_argument("--text_drop_prob", type=float, default=0.1, help="null text condition (for CFG)")
    parser.add_argument("--lead_sheet_drop_prob", type=float, default=0.2, help="null lead sheet (for CFG)")
    parser.add_argument(
        "--lead_sheet_part_drop_prob", type=float, default=0.2, help="hide chords / melody / beats, each independently"
    )
    parser.add_argument("--use_ema", action="store_true")
    parser.add_argument("--ema_decay", type=float, default=0.999)
    parser.add_argument("--rank", type=int, default=None, help="train a LoRA of this rank instead of all weights")
    parser.add_argument("--lora_alpha", type=int, default=None, help="default: --rank")
    parser.add_argument("--validation_prompts", nargs="*", default=["warm acoustic pop accompaniment"])
    parser.add_argument("--validation_lead_sheet", default="C | Am | F | G")
    parser.add_argument("--validation_steps", type=int, default=None, help="generate validation audio every N steps")
    parser.add_argument("--validation_inference_steps", type=int, default=25)
    args = parser.parse_args(argv)
    validate_common_args(args)
    if args.rank is not None and args.rank < 1:
        raise SystemExit("error: --rank must be >= 1")
    if args.rank is not None and args.use_ema:
        raise SystemExit("error: --use_ema is for full training; LoRA weights are saved as trained")
    if (
        args.resume_from_checkpoint not in (None, "latest")
        and not Path(args.resume_from_checkpoint).exists()
        and not (Path(args.output_dir) / args.resume_from_checkpoint).exists()
    ):
        raise SystemExit(f"error: --resume_from_checkpoint {args.resume_from_checkpoint} does not exist")
    return args


def prepare_latent_cache(args, accelerator, pipe) -> "datasets.Dataset":  # noqa: F821
    """Load the latent cache, building it on the main process first if needed (written atomically)."""
    import datasets

    cache_dir = Path(args.latents_cache_dir or Path(args.output_dir) / "latents")
    corpus = load_corpus(args.dataset_name, args.train_data_dir, max_samples=args.max_train_samples)
    if accelerator.is_main_process and not (cache_dir / "dataset_info.json").exists():
        cache = cache_latents(pipe.vae, corpus, device=accelerator.device)
        partial = cache_dir.with_name(cache_dir.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        cache.save_to_disk(str(partial))
        partial.rename(cache_dir)
    accelerator.wait_for_everyone()
    cache = datasets.load_from_disk(str(cache_dir))
    if len(cache) != len(corpus):
        # A cache built from another corpus, or with another --max_train_samples, would silently train on other songs.
        raise SystemExit(
            f"error: the latent cache {cache_dir} holds {len(cache)} songs but the corpus (with --max_train_samples) "
            f"has {len(corpus)}: delete the cache or pass a new --latents_cache_dir"
        )
    first = cache[0]
    cached_width = np.asarray(first["latents"]).shape[-1]  # stored (frames, channels)
    if abs(float(first["frame_rate"]) - pipe.vae.frame_rate) > 1e-6 or cached_width != pipe.vae.config.latent_channels:
        # A cache encoded by another VAE would train the DiT on latents its VAE cannot decode.
        raise SystemExit(
            f"error: the latent cache {cache_dir} was encoded at {float(first['frame_rate']):.3f} frames/s with "
            f"{cached_width} channels, but the VAE runs at {pipe.vae.frame_rate:.3f} frames/s with "
            f"{pipe.vae.config.latent_channels}: delete the cache or pass a new --latents_cache_dir"
        )
    check_latent_scale(cache)
    return cache


def check_latent_scale(cache, max_rows: int = 256) -> float:
    """Log the std of the cached (scaled) latents and warn when it is far from 1: the noise would drown them."""
    rows = cache.select(range(min(len(cache), max_rows))).with_format("numpy")["latents"]
    values = np.concatenate([np.asarray(r, dtype=np.float64).ravel() for r in rows])
    std = float(values.std())
    logger.info(f"Cached latents: mean {values.mean():.4f}, std {std:.4f}", main_process_only=True)
    if not 0.5 <= std <= 2.0:
        logger.warning(
            f"Cached latents have std {std:.4f}, far from 1: the VAE's scaling_factor is not calibrated for this "
            "data. train_vae.py calibrates it; otherwise set `vae.register_to_config(scaling_factor=...)`.",
            main_process_only=True,
        )
    return std


def add_lora(transformer: S2DiTTransformer, rank: int, alpha: int | None) -> None:
    from peft import LoraConfig

    transformer.requires_grad_(False)
    transformer.add_adapter(
        LoraConfig(r=rank, lora_alpha=alpha or rank, init_lora_weights="gaussian", target_modules=LORA_TARGETS)
    )


def save_final(args, accelerator, pipe, transformer, ema) -> None:
    """Write the pipeline (or the LoRA weights). Every process must call this: under FSDP or DeepSpeed, gathering
    the full state dict is a collective operation."""
    from peft.utils import get_peft_model_state_dict

    state_dict = accelerator.get_state_dict(transformer)
    if not accelerator.is_main_process:
        return
    model = accelerator.unwrap_model(transformer)
    if args.rank is not None:
        lora_layers = get_peft_model_state_dict(model, state_dict=state_dict)
        S2AccompanistPipeline.save_lora_weights(args.output_dir, transformer_lora_layers=lora_layers)
        return
    if ema is not None:
        ema.copy_to(model.parameters())
    else:
        # A fresh copy from the gathered weights: the prepared model may hold sharded or wrapped parameters.
        model = S2DiTTransformer.from_config(model.config)
        model.load_state_dict(state_dict)
    pipe.transformer = model
    pipe.save_pretrained(args.output_dir)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    accelerator = start_run(args)

    pipe = load_starting_pipeline(args.pretrained_model_name_or_path)
    if args.pretrained_vae_model_name_or_path is not None:
        pipe.vae = load_starting_vae(args.pretrained_vae_model_name_or_path)
    if pipe.transformer.config.in_channels != pipe.vae.config.latent_channels:
        raise SystemExit(
            f"error: the transformer of {args.pretrained_model_name_or_path} takes {pipe.transformer.config.in_channels}"
            f" latent channels but the VAE has {pipe.vae.config.latent_channels}: start from a preset or a pipeline "
            "whose transformer matches the VAE"
        )
    pipe.set_progress_bar_config(disable=True)
    for frozen in (pipe.vae, pipe.text_encoder):
        frozen.requires_grad_(False).eval().to(accelerator.device)
    transformer = pipe.transformer
    if args.rank is not None:
        add_lora(transformer, args.rank, args.lora_alpha)
    if args.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    transformer.train()

    cache = prepare_latent_cache(args, accelerator, pipe)
    frame_rate = float(cache[0]["frame_rate"])
    clip_frames = min(round(args.clip_seconds * frame_rate), transformer.config.max_frames)
    dataset = LatentClipDataset(cache, clip_frames=clip_frames, seed=args.seed)
    sampler = EpochPermutationSampler(len(dataset), seed=args.seed)
    dataloader = DataLoader(
        dataset,
        batch_size=args.train_batch_size,
        sampler=sampler,
        collate_fn=collate_latent_clips,
        num_workers=args.dataloader_num_workers,
        drop_last=len(dataset) >= args.train_batch_size,
    )

    optimizer = torch.optim.AdamW(
        trainable_parameters(transformer),
        lr=args.learning_rate,
        betas=(args.adam_beta1, args.adam_beta2),
        weight_decay=args.adam_weight_decay,
    )
    lr_scheduler = get_scheduler(
        args.lr_scheduler,
        optimizer=optimizer,
        num_warmup_steps=args.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=args.max_train_steps * accelerator.num_processes,
    )
    ema = EMAModel(transformer.parameters(), decay=args.ema_decay) if args.use_ema else None
    transformer, optimizer, dataloader, lr_scheduler = accelerator.prepare(
        transformer, optimizer, dataloader, lr_scheduler
    )
    if ema is not None:
        accelerator.register_for_checkpointing(ema)

    run = ResumableRun(accelerator, args, "s2acc-dit", dataloader)
    for batch in run.batches():
        with accelerator.accumulate(transformer):
            loss = training_loss(args, accelerator, pipe, transformer, batch)
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(trainable_parameters(transformer), args.max_grad_norm)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        if not accelerator.sync_gradients:
            continue
        if ema is not None:
            ema.step(transformer.parameters())
        run.end_step({"loss": loss, "lr": lr_scheduler.get_last_lr()[0]})
        if args.validation_steps and run.global_step % args.validation_steps == 0 and accelerator.is_main_process:
            run_validation(args, accelerator, pipe, transformer, ema, run.global_step)

    accelerator.wait_for_everyone()
    save_final(args, accelerator, pipe, transformer, ema)
    logger.info(f"Saved to {args.output_dir} after {run.global_step} steps")
    accelerator.end_training()


def training_loss(args, accelerator, pipe, transformer, batch) -> torch.Tensor:
    latents = batch["latents"]
    device, batch_size = latents.device, latents.shape[0]
    noise = torch.randn_like(latents)
    sigmas = sample_sigmas(batch_size, args.weighting_scheme, device, args.logit_mean, args.logit_std)
    noisy, target = flow_matching_pair(latents, noise, sigmas)
    drop_text, drop_lead_sheet = condition_dropout(batch_size, args.text_drop_prob, args.lead_sheet_drop_prob, device)
    cond = drop_lead_sheet_parts(batch["conditioning"], args.lead_sheet_part_drop_prob).to(device)
    states, segment_ids = encode_captions(
        pipe.tokenizer, pipe.text_encoder, batch["captions"], batch["segments"], device
    )
    prediction = transformer(
        noisy,
        sigmas * TIMESTEP_SCALE,
        encoder_hidden_states=states,
        encoder_segment_ids=segment_ids,
        drop_text=drop_text,
        drop_lead_sheet=drop_lead_sheet,
        **cond.transformer_kwargs(),
    ).sample
    return masked_mse(prediction.float(), target.float(), batch["mask"].to(device))


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over real frames only: `mask` `(batch, frames)` is 0 on the padding of short songs, whose
    zero latents are not music and must not be learned."""
    error = (prediction - target).square() * mask[:, None, :]
    return error.sum() / (mask.sum() * prediction.shape[1]).clamp_min(1.0)


def run_validation(args, accelerator, pipe, transformer, ema, step: int) -> None:
    model = accelerator.unwrap_model(transformer)
    if ema is not None:
        ema.store(model.parameters())
        ema.copy_to(model.parameters())
    pipe.transformer = model
    log_validation(
        pipe,
        args.validation_prompts,
        args.validation_lead_sheet,
        args.validation_inference_steps,
        Path(args.output_dir) / "validation",
        step,
        accelerator,
        seed=args.seed,
    )
    if ema is not None:
        ema.restore(model.parameters())
    model.train()


if __name__ == "__main__":
    main()
