"""Key profiles: how well a 12-bin pitch-class profile fits each of the 24 major and minor keys.

Symbolic (no audio), so it lives with the chart model; `analysis.key` (audio) and `music.harmonizer` (melodies) both
use it.
"""

from __future__ import annotations

import numpy as np


# Temperley's (Kostka-Payne corpus) profiles: closer to popular harmony than the Krumhansl-Kessler probe tones.
MAJOR_PROFILE = np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400])
MINOR_PROFILE = np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330])


def profile_correlations(pitch_class_profile: np.ndarray) -> dict[tuple[int, str], float]:
    """`{(tonic, mode): r}`: correlation of a 12-bin pitch-class profile with each of the 24 rotated key profiles
    (major keys first, tonics 0-11). A flat or empty profile correlates 0 with every key."""
    profile = np.asarray(pitch_class_profile, dtype=float)
    if profile.shape != (12,):
        raise ValueError(f"A pitch-class profile has 12 bins, got shape {profile.shape}.")
    flat = np.ptp(profile) == 0
    out = {}
    for mode, template in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            out[(tonic, mode)] = 0.0 if flat else float(np.corrcoef(profile, np.roll(template, tonic))[0, 1])
    return out
