"""Section-level corpus builder for S2Accompanist: synth songs, the build pipeline, evaluation.

Run as `python -m dataset_builder synth|build|merge|evaluate`; see dataset_builder/README.md.
"""

__version__ = "0.1.0"
