"""diffusers_s2acc: S2Accompanist as a diffusers pipeline."""

from .models import S2DiTTransformer, SemanticAutoencoder
from .music import SECTION_LABELS, ChordEvent, FrameConditioning, LeadSheet, Note, Segment
from .pipelines import S2AccompanistPipeline, S2AccompanistPipelineOutput, S2AccompanistRepaintPipeline


__version__ = "0.1.0.dev0"

__all__ = [
    "SECTION_LABELS",
    "ChordEvent",
    "FrameConditioning",
    "LeadSheet",
    "Note",
    "S2AccompanistPipeline",
    "S2AccompanistPipelineOutput",
    "S2AccompanistRepaintPipeline",
    "S2DiTTransformer",
    "Segment",
    "SemanticAutoencoder",
]
