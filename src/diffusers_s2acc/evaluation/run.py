"""`s2acc evaluate`: generate every spec, score generated and reference audio with the same metrics, add FAD."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from .clip_scores import score_clip
from .embeddings import MelChromaEmbedding, frechet_audio_distance
from .metric_modules import mean_scores
from .specs import EvalSpec


def _take_name(spec: EvalSpec, seed: int, column: str) -> str:
    suffix = "" if column == "generated" else f"_{column}"
    return f"{spec.id}_seed{seed}{suffix}.wav".replace("/", "_").replace("\\", "_")


def take_file_names(specs: list[EvalSpec], num_seeds: int = 1, lead_sheet_floor: bool = False) -> list[str]:
    """The file names `evaluate_specs` gives the takes it saves, in order.

    Raises:
        `ValueError` naming the specs when two takes would get the same file (same id and seed), before any work:
        one take would silently replace the other.
    """
    columns = ["generated"] + (["no_lead_sheet"] if lead_sheet_floor else [])
    names: dict[str, str] = {}
    for spec in specs:
        for column in columns:
            for k in range(num_seeds):
                name = _take_name(spec, spec.seed + 1000 * k, column)
                if name in names:
                    raise ValueError(
                        f"specs {names[name]!r} and {spec.id!r} would both save their take as {name} (same id and "
                        "seed): give every spec its own id"
                    )
                names[name] = spec.id
    return list(names)


def evaluate_specs(
    pipe,
    specs: list[EvalSpec],
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    embedding=None,
    agreement=None,
    save_audio_dir: str | None = None,
    reconstruction: bool = False,
    num_seeds: int = 1,
    lead_sheet_guidance_scale: float | None = None,
    lead_sheet_floor: bool = False,
    guidance_interval: tuple[float, float] | None = None,
    sampler: str | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> dict:
    """
    Generate every spec and score it; score the references (when the specs name them) with the same metrics.

    With `reconstruction=True`, each reference also goes through the pipeline's VAE (encode, decode) and is scored
    again: the "reconstruction" column is the ceiling that any transformer decoding through this VAE can reach.
    With `num_seeds=n`, every spec is generated with seeds `spec.seed + 1000 * k`, `k < n`; its generated scores are
    the mean over those takes. With `lead_sheet_floor=True`, every take is also generated with the lead sheet
    dropped (the learned null condition) and scored against the spec's lead sheet: the "no_lead_sheet" column is
    the no-control floor that the conditioned figures must clearly beat. Steps and guidance left as None are the
    pipeline's `recommended_settings()` (the no_lead_sheet takes use no lead-sheet guidance: there is no sheet);
    `guidance_interval` and `sampler` as for the pipeline (`sampler="reference"`: Euler, 25 steps, guidance on every
    step).
    `on_row(row)` is called with each spec's row as soon as it is scored, so that a caller can keep the scores of a
    long run that is interrupted or fails on a later spec (`s2acc evaluate --json` writes them as it goes).

    Returns:
        `{"rows": [...], "generated": {metric: mean}, "no_lead_sheet": {...}, "reference": {...},
        "reconstruction": {...}, "fad": ...}`.
    """
    from ..audio import write_audio

    if num_seeds < 1:
        raise ValueError(f"num_seeds must be >= 1, got {num_seeds}")
    if save_audio_dir is not None:
        take_file_names(specs, num_seeds, lead_sheet_floor)  # refuses two takes that would share a file
    num_inference_steps, guidance_scale, lead_sheet_guidance_scale = pipe.sampling_settings(
        num_inference_steps, guidance_scale, lead_sheet_guidance_scale, sampler=sampler
    )
    guidance_interval = pipe.resolve_guidance_interval(guidance_interval, sampler)
    scheduler = type(pipe.sampling_scheduler(sampler)).__name__
    rate = pipe.vae.config.sampling_rate
    rows, generated_clips, reference_clips = [], [], []
    variants = [("generated", True)] + ([("no_lead_sheet", False)] if lead_sheet_floor else [])
    for spec in specs:
        row = {"id": spec.id}
        for column, with_sheet in variants:
            takes = []
            for k in range(num_seeds):
                seed = spec.seed + 1000 * k
                audio = pipe(
                    prompt=spec.prompt,
                    segments=spec.segments or None,
                    lead_sheet=spec.lead_sheet if with_sheet else None,
                    audio_length_in_s=spec.duration,
                    num_inference_steps=num_inference_steps,
                    guidance_scale=guidance_scale,
                    lead_sheet_guidance_scale=lead_sheet_guidance_scale if with_sheet else 1.0,
                    guidance_interval=guidance_interval,
                    sampler=sampler,
                    generator=torch.Generator().manual_seed(seed),
                ).audios[0]
                if save_audio_dir is not None:
                    write_audio(Path(save_audio_dir) / _take_name(spec, seed, column), audio, rate)
                takes.append(score_clip(audio, rate, spec, agreement))
                if column == "generated":
                    generated_clips.append((audio, rate))
            row[column] = mean_scores(takes)
            if num_seeds > 1:
                row[f"{column}_takes"] = takes
        reference = spec.load_reference()
        if reference is not None:
            row["reference"] = score_clip(reference[0], reference[1], spec, agreement)
            reference_clips.append(reference)
            if reconstruction:
                row["reconstruction"] = score_clip(vae_round_trip(pipe.vae, *reference), rate, spec, agreement)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    result = {"rows": rows, "generated": mean_scores([r["generated"] for r in rows])}
    # What the takes were made with, so that a scores file says which settings its figures belong to.
    result["settings"] = {
        "num_inference_steps": num_inference_steps,
        "guidance_scale": guidance_scale,
        "lead_sheet_guidance_scale": lead_sheet_guidance_scale,
        "guidance_interval": list(guidance_interval),
        "scheduler": scheduler,
        "num_seeds": num_seeds,
    }
    for column in ("no_lead_sheet", "reference", "reconstruction"):
        if any(column in r for r in rows):
            result[column] = mean_scores([r[column] for r in rows if column in r])
    if reference_clips:
        embedding = embedding or MelChromaEmbedding()
        fad = {"embedding": embedding.name, "value": None}
        # A Frechet distance compares two covariances: it needs at least two clips on each side. With fewer it is
        # reported as missing, and every other score of the run is still returned.
        if min(len(generated_clips), len(reference_clips)) >= 2:
            fad["value"] = frechet_audio_distance(generated_clips, reference_clips, embedding)
        else:
            fad["note"] = "needs at least two generated and two reference clips"
        result["fad"] = fad
    return result


@torch.no_grad()
def vae_round_trip(vae, audio, sampling_rate: int):
    """`audio` `(channels, samples)` at any rate, encoded and decoded by `vae` (returned at the VAE's rate)."""
    from ..audio import match_channels, resample

    audio = resample(match_channels(audio, vae.config.audio_channels), sampling_rate, vae.config.sampling_rate)
    samples = audio.shape[-1]
    pad = -samples % vae.hop_length
    waveform = torch.nn.functional.pad(torch.from_numpy(audio)[None], (0, pad)).to(vae.device, vae.dtype)
    decoded = vae.decode(vae.encode(waveform).latent_dist.mode()).sample
    return decoded[0, :, :samples].float().cpu().numpy()


def format_report(result: dict) -> str:
    """Markdown table: metric, generated, and the reference and VAE-reconstruction columns when present."""
    columns = ["generated"] + [c for c in ("no_lead_sheet", "reconstruction", "reference") if c in result]
    lines = ["| metric | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for key in result["generated"]:
        values = " | ".join(f"{result[c].get(key, float('nan')):.3f}" for c in columns)
        lines.append(f"| {key} | {values} |")
    if "fad" in result:
        fad = result["fad"]
        value = f"{fad['value']:.3f}" if fad["value"] is not None else f"n/a ({fad.get('note', 'not computed')})"
        lines.append(f"| FAD ({fad['embedding']}, generated vs reference) | {value} |")
    lines.append(f"\n{len(result['rows'])} specs.")
    return "\n".join(lines)
