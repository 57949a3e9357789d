"""`s2acc evaluate`: generate every spec, score generated and reference audio with the same metrics, add FAD."""

from __future__ import annotations

from pathlib import Path

import torch

from .clip_scores import score_clip
from .embeddings import MelChromaEmbedding, frechet_audio_distance
from .metric_modules import mean_scores
from .specs import EvalSpec


def evaluate_specs(
    pipe,
    specs: list[EvalSpec],
    num_inference_steps: int = 50,
    guidance_scale: float = 4.0,
    embedding=None,
    agreement=None,
    save_audio_dir: str | None = None,
    reconstruction: bool = False,
) -> dict:
    """
    Generate every spec and score it; score the references (when the specs name them) with the same metrics.

    With `reconstruction=True`, each reference also goes through the pipeline's VAE (encode, decode) and is scored
    again: the "reconstruction" column is the ceiling that any transformer decoding through this VAE can reach.

    Returns:
        `{"rows": [...], "generated": {metric: mean}, "reference": {...}, "reconstruction": {...}, "fad": ...}`.
    """
    import soundfile

    rate = pipe.vae.config.sampling_rate
    rows, generated_clips, reference_clips = [], [], []
    for spec in specs:
        audio = pipe(
            prompt=spec.prompt,
            segments=spec.segments or None,
            lead_sheet=spec.lead_sheet,
            audio_length_in_s=spec.duration,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            generator=torch.Generator().manual_seed(spec.seed),
        ).audios[0]
        if save_audio_dir is not None:
            Path(save_audio_dir).mkdir(parents=True, exist_ok=True)
            soundfile.write(Path(save_audio_dir) / f"{spec.id}.wav", audio.T, rate, subtype="FLOAT")
        row = {"id": spec.id, "generated": score_clip(audio, rate, spec, agreement)}
        generated_clips.append((audio, rate))
        reference = spec.load_reference()
        if reference is not None:
            row["reference"] = score_clip(reference[0], reference[1], spec, agreement)
            reference_clips.append(reference)
            if reconstruction:
                row["reconstruction"] = score_clip(vae_round_trip(pipe.vae, *reference), rate, spec, agreement)
        rows.append(row)
    result = {"rows": rows, "generated": mean_scores([r["generated"] for r in rows])}
    for column in ("reference", "reconstruction"):
        if any(column in r for r in rows):
            result[column] = mean_scores([r[column] for r in rows if column in r])
    if reference_clips:
        embedding = embedding or MelChromaEmbedding()
        result["fad"] = {"embedding": embedding.name, "value": frechet_audio_distance(generated_clips, reference_clips, embedding)}
    return result


@torch.no_grad()
def vae_round_trip(vae, audio, sampling_rate: int):
    """`audio` `(channels, samples)` at any rate, encoded and decoded by `vae` (returned at the VAE's rate)."""
    from ..training.corpus import match_channels, resample

    audio = resample(match_channels(audio, vae.config.audio_channels), sampling_rate, vae.config.sampling_rate)
    samples = audio.shape[-1]
    pad = -samples % vae.hop_length
    waveform = torch.nn.functional.pad(torch.from_numpy(audio)[None], (0, pad)).to(vae.device, vae.dtype)
    decoded = vae.decode(vae.encode(waveform).latent_dist.mode()).sample
    return decoded[0, :, :samples].float().cpu().numpy()


def format_report(result: dict) -> str:
    """Markdown table: metric, generated, and the reference and VAE-reconstruction columns when present."""
    columns = ["generated"] + [c for c in ("reconstruction", "reference") if c in result]
    lines = ["| metric | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for key in result["generated"]:
        values = " | ".join(f"{result[c].get(key, float('nan')):.3f}" for c in columns)
        lines.append(f"| {key} | {values} |")
    if "fad" in result:
        lines.append(f"| FAD ({result['fad']['embedding']}, generated vs reference) | {result['fad']['value']:.3f} |")
    lines.append(f"\n{len(result['rows'])} specs.")
    return "\n".join(lines)
