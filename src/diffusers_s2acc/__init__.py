"""diffusers_s2acc: S2Accompanist as a diffusers pipeline."""

from .music import ChordEvent, LeadSheet, Note, Segment

__version__ = "0.1.0.dev0"
