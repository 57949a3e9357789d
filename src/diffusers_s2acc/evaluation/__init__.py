"""Evaluation: metric implementations shared by `s2acc evaluate`, the `metrics/` modules and the dataset builder."""

from .embeddings import ClapEmbedding, MelChromaEmbedding, frechet_audio_distance, frechet_distance
from .scores import boundary_scores, chord_scores, seam_scores, tempo_scores
from .specs import EvalSpec, load_specs, specs_from_synth


__all__ = [
    "ClapEmbedding",
    "EvalSpec",
    "MelChromaEmbedding",
    "boundary_scores",
    "chord_scores",
    "frechet_audio_distance",
    "frechet_distance",
    "load_specs",
    "seam_scores",
    "specs_from_synth",
    "tempo_scores",
]
