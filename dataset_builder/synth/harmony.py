"""Chord progressions for synth songs: roman-numeral patterns realised in a key, spelled for MMA.

MMA's chord spelling is strict (`Bbmaj7`, `Cm7b5` work, `BbMaj7` does not), and every symbol written here is also
parsed by `diffusers_s2acc.music.parse_chord`, so metadata chords and the shared vocabulary always agree.
"""

from __future__ import annotations

import random

from diffusers_s2acc.music.chords import PITCH_CLASS_NAMES, parse_chord


# (semitones above the tonic, triad suffix, seventh suffix) per scale degree.
_MAJOR_DEGREES = {
    "I": (0, "", "maj7"),
    "ii": (2, "m", "m7"),
    "iii": (4, "m", "m7"),
    "IV": (5, "", "maj7"),
    "V": (7, "", "7"),
    "vi": (9, "m", "m7"),
    "bVII": (10, "", "7"),
}
_MINOR_DEGREES = {
    "i": (0, "m", "m7"),
    "iv": (5, "m", "m7"),
    "v": (7, "m", "m7"),
    "V": (7, "", "7"),
    "bIII": (3, "", "maj7"),
    "bVI": (8, "", "maj7"),
    "bVII": (10, "", "7"),
    "iio": (2, "m7b5", "m7b5"),
}

#: Four-bar patterns; a bar holding two chords is written "a b".
MAJOR_PATTERNS = [
    ["I", "V", "vi", "IV"],
    ["I", "vi", "IV", "V"],
    ["vi", "IV", "I", "V"],
    ["I", "IV", "V", "IV"],
    ["ii", "V", "I", "vi"],
    ["I", "iii", "IV", "V"],
    ["IV", "I", "V", "vi"],
    ["I", "bVII", "IV", "I"],
    ["I", "IV", "ii V", "I"],
    ["vi", "ii", "V", "I"],
    ["IV", "V", "iii vi", "ii V"],
]
MINOR_PATTERNS = [
    ["i", "bVI", "bIII", "bVII"],
    ["i", "iv", "V", "i"],
    ["i", "bVII", "bVI", "V"],
    ["i", "iv", "bVII", "bIII"],
    ["bVI", "bVII", "i", "i"],
    ["i", "v", "iv", "i"],
    ["iio", "V", "i", "bVI"],
    ["i", "bIII", "iv V", "i"],
]


def spell(root_pc: int, suffix: str) -> str:
    symbol = PITCH_CLASS_NAMES[root_pc % 12] + suffix
    parse_chord(symbol)  # every emitted symbol must belong to the shared vocabulary
    return symbol


def realise(pattern: list[str], tonic: int, mode: str, sevenths: float, rng: random.Random) -> list[list[str]]:
    """Turn a pattern into bars of chord symbols; each chord gets its seventh with probability `sevenths`."""
    degrees = _MAJOR_DEGREES if mode == "major" else _MINOR_DEGREES
    bars = []
    for bar in pattern:
        symbols = []
        for numeral in bar.split():
            offset, triad, seventh = degrees[numeral]
            symbols.append(spell(tonic + offset, seventh if rng.random() < sevenths else triad))
        bars.append(symbols)
    return bars


def progression(num_bars: int, tonic: int, mode: str, rng: random.Random, sevenths: float) -> list[list[str]]:
    """`num_bars` bars of chords: a four-bar pattern repeated, sevenths re-drawn per repetition."""
    pattern = rng.choice(MAJOR_PATTERNS if mode == "major" else MINOR_PATTERNS)
    bars: list[list[str]] = []
    while len(bars) < num_bars:
        bars.extend(realise(pattern, tonic, mode, sevenths, rng))
    return bars[:num_bars]


def key_name(tonic: int, mode: str) -> str:
    return f"{PITCH_CLASS_NAMES[tonic % 12]} {mode}"
