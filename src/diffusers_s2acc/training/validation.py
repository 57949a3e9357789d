"""Validation audio during training: fixed prompts, fixed seed, written to disk and to the trackers."""

from __future__ import annotations

from pathlib import Path

import torch

from ..music.lead_sheet import LeadSheet


@torch.no_grad()
def log_validation(
    pipe,
    prompts: list[str],
    chart: str | None,
    num_inference_steps: int,
    out_dir: Path,
    step: int,
    accelerator=None,
    seed: int = 0,
) -> list[Path]:
    """Generate one clip per prompt; save `out_dir/step-<step>/<i>.wav` and log them to TensorBoard if active."""
    import soundfile

    device = accelerator.device if accelerator is not None else pipe.device
    pipe.to(device)
    sheet = LeadSheet.from_chart(chart) if chart else None
    duration = min(sheet.duration if sheet else 10.0, pipe.max_audio_length_in_s)
    folder = Path(out_dir) / f"step-{step}"
    folder.mkdir(parents=True, exist_ok=True)
    rate = pipe.vae.config.sampling_rate
    paths = []
    for index, prompt in enumerate(prompts):
        audio = pipe(
            prompt=prompt,
            lead_sheet=sheet,
            audio_length_in_s=duration,
            num_inference_steps=num_inference_steps,
            generator=torch.Generator(device="cpu").manual_seed(seed + index),
        ).audios[0]
        path = folder / f"{index}.wav"
        soundfile.write(path, audio.T, rate, subtype="FLOAT")
        paths.append(path)
        for tracker in accelerator.trackers if accelerator is not None else []:
            if tracker.name == "tensorboard":
                tracker.writer.add_audio(
                    f"validation/{index}", torch.from_numpy(audio.mean(0)), step, sample_rate=rate
                )
    return paths
