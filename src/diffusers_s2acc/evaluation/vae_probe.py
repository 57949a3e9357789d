"""How much of the lead sheet a VAE's latent carries: the semantic head's accuracy, and a linear probe's.

The paper's semantic-aware VAE distils lead-sheet structure (chords, pitch classes, melody, beats) into the latent.
Two views measure how much of it is there, frame by frame, on held-out songs:

- the **semantic head** (`SemanticAutoencoder.semantic_logits`): what the trained head reads from the latent. A VAE
  trained with `--semantic_weight 0` has an untrained head, so its figures are chance by construction;
- a **linear probe**: a multinomial logistic regression from one latent frame to its chord class, fitted on the
  frames of one corpus and scored on another. It is trained the same way for any VAE, so two VAEs (with and without
  the semantic loss) are comparable on it.

Latents are the posterior means (`latent_dist.mode()`), as the latent cache and the pipeline use them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from ..audio import match_channels, resample
from ..music.chords import NUM_CHORD_CLASSES
from ..music.frames import FrameConditioning
from ..training.corpus import song_from_row


IGNORE_INDEX = -100


@dataclass
class ProbeFrames:
    """Latent frames of some songs, `(frames, channels)`, with their per-frame lead-sheet targets."""

    latents: torch.Tensor
    targets: dict[str, torch.Tensor]
    head_logits: dict[str, torch.Tensor]
    num_songs: int

    @property
    def num_frames(self) -> int:
        return int(self.latents.shape[0])


@dataclass
class VaeProbeReport:
    """Per-frame accuracies on the evaluation songs (fractions in [0, 1]; `None` where no frame had a target)."""

    head_chord_accuracy: float | None
    head_pitch_class_f1: float | None
    head_melody_accuracy: float | None
    head_beat_f1: float | None
    linear_probe_chord_accuracy: float | None
    majority_chord_accuracy: float | None
    fit_frames: int
    eval_frames: int
    fit_songs: int
    eval_songs: int
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@torch.no_grad()
def encode_probe_frames(vae, rows: Iterable[dict], max_seconds: float | None = 60.0) -> ProbeFrames:
    """
    Encode corpus rows (as `load_corpus` returns them) and rasterise their lead sheets onto the latent frames.

    Args:
        vae ([`SemanticAutoencoder`]): The VAE to probe.
        rows: Corpus rows with `audio`, `segments` and `lead_sheet` columns.
        max_seconds (`float`, *optional*, defaults to 60): Only the first `max_seconds` of each song (bounds memory
            and time; `None` keeps whole songs).
    """
    rate, channels, hop = vae.config.sampling_rate, vae.config.audio_channels, vae.hop_length
    frame_rate = rate / hop
    latents, heads, targets, songs = [], [], [], 0
    for row in rows:
        song = song_from_row(row)
        if song.lead_sheet is None:
            continue
        if not np.isfinite(song.audio).all():
            raise ValueError(f"Song {row.get('id', songs)!r} holds NaN or infinite samples.")
        audio = resample(match_channels(song.audio, channels), song.sampling_rate, rate)
        if max_seconds is not None:
            audio = audio[:, : int(max_seconds * rate)]
        audio = audio[:, : (audio.shape[-1] // hop) * hop]
        if audio.shape[-1] == 0:
            continue
        mean = vae.encode(torch.from_numpy(np.ascontiguousarray(audio))[None]).latent_dist.mode()
        frames = mean.shape[-1]
        cond = FrameConditioning.build(frames, frame_rate, song.segments, song.lead_sheet)
        logits = vae.semantic_logits(mean)
        latents.append(mean[0].float().T)
        heads.append({k: v[0].float().T for k, v in logits.items()})
        targets.append(cond.semantic_targets())
        songs += 1
    if not latents:
        raise ValueError("No song with a lead sheet and audio to probe.")
    return ProbeFrames(
        latents=torch.cat(latents),
        targets={k: torch.cat([t[k] for t in targets]) for k in targets[0]},
        head_logits={k: torch.cat([h[k] for h in heads]) for k in heads[0]},
        num_songs=songs,
    )


def _accuracy(predicted: torch.Tensor, target: torch.Tensor) -> float | None:
    known = target != IGNORE_INDEX
    return float((predicted[known] == target[known]).float().mean()) if known.any() else None


def _f1(predicted: torch.Tensor, actual: torch.Tensor) -> float | None:
    true_positive = (predicted & actual).sum().item()
    denominator = predicted.sum().item() + actual.sum().item()
    return 2.0 * true_positive / denominator if denominator else None


def head_scores(frames: ProbeFrames) -> dict[str, float | None]:
    """The semantic head's per-frame scores: chord and melody accuracy where known, pitch-class F1 on frames with a
    chord, and F1 of "a beat or downbeat here" (beats are rare frames, so accuracy would reward predicting none)."""
    logits, targets = frames.head_logits, frames.targets
    pitch_known = targets["pitch_classes_mask"].bool()
    beat_known = targets["beat"] != IGNORE_INDEX
    beat_pred = logits["beat"].argmax(-1)[beat_known] > 0
    return {
        "head_chord_accuracy": _accuracy(logits["chord"].argmax(-1), targets["chord"]),
        "head_pitch_class_f1": _f1(
            logits["pitch_classes"][pitch_known] > 0, targets["pitch_classes"][pitch_known] > 0.5
        ),
        "head_melody_accuracy": _accuracy(logits["melody"].argmax(-1), targets["melody"]),
        "head_beat_f1": _f1(beat_pred, targets["beat"][beat_known] > 0) if beat_known.any() else None,
    }


def fit_linear_probe(
    latents: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int = NUM_CHORD_CLASSES,
    weight_decay: float = 1e-3,
    max_iter: int = 200,
) -> torch.nn.Linear:
    """Multinomial logistic regression (L-BFGS, full batch) from standardised latent frames to class ids; frames
    labelled `IGNORE_INDEX` are left out. The standardisation is folded into the returned layer."""
    known = labels != IGNORE_INDEX
    x, y = latents[known].float(), labels[known].long()
    if x.shape[0] == 0:
        raise ValueError("The fit corpus has no frame with a known chord.")
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    x = (x - mean) / std
    torch.manual_seed(0)
    layer = torch.nn.Linear(x.shape[1], num_classes)
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    optimizer = torch.optim.LBFGS(layer.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(layer(x), y) + weight_decay * layer.weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        folded = torch.nn.Linear(x.shape[1], num_classes)
        folded.weight.copy_(layer.weight / std)
        folded.bias.copy_(layer.bias - (layer.weight * (mean / std)).sum(1))
    return folded


def probe_vae(
    vae, fit_rows: Iterable[dict], eval_rows: Iterable[dict], max_seconds: float | None = 60.0
) -> VaeProbeReport:
    """
    Score how much lead sheet `vae`'s latent carries: semantic-head scores on `eval_rows`, and the chord accuracy of
    a linear probe fitted on `fit_rows` and scored on `eval_rows` (with the majority class's accuracy beside it).
    """
    vae = vae.eval()
    fit = encode_probe_frames(vae, fit_rows, max_seconds)
    held = encode_probe_frames(vae, eval_rows, max_seconds)
    probe = fit_linear_probe(fit.latents, fit.targets["chord"])
    with torch.no_grad():
        probe_accuracy = _accuracy(probe(held.latents).argmax(-1), held.targets["chord"])
    fit_known = fit.targets["chord"][fit.targets["chord"] != IGNORE_INDEX]
    majority = int(torch.mode(fit_known).values) if fit_known.numel() else 0
    return VaeProbeReport(
        **head_scores(held),
        linear_probe_chord_accuracy=probe_accuracy,
        majority_chord_accuracy=_accuracy(torch.full_like(held.targets["chord"], majority), held.targets["chord"]),
        fit_frames=fit.num_frames,
        eval_frames=held.num_frames,
        fit_songs=fit.num_songs,
        eval_songs=held.num_songs,
        details={"max_seconds": max_seconds, "frame_rate": vae.config.sampling_rate / vae.hop_length},
    )
