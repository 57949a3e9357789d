"""Music-theory building blocks shared by the models, the pipeline, the dataset builder and the metrics."""

from .chords import NUM_CHORD_CLASSES, QUALITY_NAMES, Chord, chord_to_index, index_to_chord_name, parse_chord
from .frames import FrameConditioning
from .lead_sheet import ChordEvent, LeadSheet, Note
from .structure import SECTION_LABELS, Segment, coerce_segments, normalize_label


__all__ = [
    "NUM_CHORD_CLASSES",
    "QUALITY_NAMES",
    "SECTION_LABELS",
    "Chord",
    "ChordEvent",
    "FrameConditioning",
    "LeadSheet",
    "Note",
    "Segment",
    "chord_to_index",
    "coerce_segments",
    "index_to_chord_name",
    "normalize_label",
    "parse_chord",
]
