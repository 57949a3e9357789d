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
) -> dict:
    """Returns `{"rows": [...], "generated": {metric: mean}, "reference": {metric: mean}, "fad": ...}`."""
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
        rows.append(row)
    result = {"rows": rows, "generated": mean_scores([r["generated"] for r in rows])}
    if reference_clips:
        result["reference"] = mean_scores([r["reference"] for r in rows if "reference" in r])
        embedding = embedding or MelChromaEmbedding()
        result["fad"] = {"embedding": embedding.name, "value": frechet_audio_distance(generated_clips, reference_clips, embedding)}
    return result


def format_report(result: dict) -> str:
    """Markdown table: metric, generated, reference."""
    has_reference = "reference" in result
    lines = ["| metric | generated |" + (" reference |" if has_reference else ""),
             "|---|---|" + ("---|" if has_reference else "")]
    for key, value in result["generated"].items():
        reference = f" {result['reference'].get(key, float('nan')):.3f} |" if has_reference else ""
        lines.append(f"| {key} | {value:.3f} |{reference}")
    if "fad" in result:
        lines.append(f"| FAD ({result['fad']['embedding']}, generated vs reference) | {result['fad']['value']:.3f} |" + (" 0 |" if has_reference else ""))
    lines.append(f"\n{len(result['rows'])} specs.")
    return "\n".join(lines)
