"""Chord symbols: parsing lead-sheet spellings into (root, quality, pitch classes) and a fixed class vocabulary.

One vocabulary serves the whole project: the transformer's chord embedding, the VAE's semantic head, the dataset
builder's chord extractor and the chord-accuracy metric all index chords with [`chord_to_index`].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Quality families used as classes. Extensions (9ths, 11ths, 13ths, alterations) fold into the seventh family they
# extend for the class index, but keep their extra notes in `pitch_classes`.
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "hdim7": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "maj6": (0, 4, 7, 9),
    "min6": (0, 3, 7, 9),
    "minmaj7": (0, 3, 7, 11),
}
QUALITY_NAMES = tuple(QUALITIES)

# Suffix spellings (after the root) -> (quality family, extra intervals, removed intervals). Covers the spellings
# MMA, iReal and common lead sheets use. Matching is exact on the (normalised) suffix, so unknown spellings are
# refused rather than guessed. Removed intervals make the sounding notes right where the family's triad is not:
# a sus chord has no third, an altered fifth replaces the perfect one.
_SUFFIXES: dict[str, tuple[str, tuple[int, ...], tuple[int, ...]]] = {}


def _add(spellings: str, quality: str, extra: tuple[int, ...] = (), drop: tuple[int, ...] = ()) -> None:
    for spelling in spellings.split():
        _SUFFIXES["" if spelling == "_" else spelling] = (quality, extra, drop)


_add("_ M maj Maj major", "maj")
_add("5", "maj", drop=(4,))  # power chord: root and fifth
_add("m min mi - minor", "min")
_add("dim o mb5 m(b5)", "dim")
_add("aug + #5 +5 augmented", "aug")
_add("sus2 2", "sus2")
_add("sus sus4 4", "sus4")
_add("7 dom7", "7")
_add("9 7(9)", "7", (2,))
_add("11", "7", (5,))
_add("13 7(13)", "7", (9,))
# Suspended dominants keep the dominant's class (their function) but sound no third.
_add("7sus4 7sus", "7", (5,), drop=(4,))
_add("7sus2", "7", (2,), drop=(4,))
_add("9sus4 9sus", "7", (2, 5), drop=(4,))
_add("13sus4 13sus", "7", (5, 9), drop=(4,))
_add("7b9 7(b9)", "7", (1,))
_add("7#9 7(#9)", "7", (3,))
_add("7#11 7(#11)", "7", (6,))
_add("7b5 7(b5)", "7", (6,), drop=(7,))
_add("7#5 7+ aug7 +7 7(#5)", "7", (8,), drop=(7,))
# Altered dominant: 3, b7 and every altered tension (b9, #9, b5/#11, #5/b13); no perfect fifth.
_add("7alt alt", "7", (1, 3, 6, 8), drop=(7,))
# A bare triangle is a major seventh in jazz notation (CΔ = CΔ7), never a plain triad.
_add("maj7 M7 ma7 Maj7 Δ Δ7 ^7 j7", "maj7")
_add("maj9 M9 ma9 Maj9 Δ9", "maj7", (2,))
_add("maj7#11 M7#11 Maj7#11 Δ7#11 maj7(#11) Δ#11", "maj7", (6,))
_add("maj13 M13 Maj13", "maj7", (9,))
_add("m7 min7 mi7 -7", "min7")
_add("m9 min9 -9", "min7", (2,))
_add("m11 min11 -11", "min7", (5,))
_add("m7b5 min7b5 ø ø7 -7b5 m7(b5)", "hdim7")
_add("dim7 o7", "dim7")
_add("6 M6 maj6", "maj6")
_add("69 6/9", "maj6", (2,))
_add("m6 min6 -6", "min6")
_add("mM7 m(maj7) mmaj7 minmaj7 m(M7) -M7", "minmaj7")
_add("add9 add2 (add9)", "maj", (2,))
_add("madd9 m(add9)", "min", (2,))

# Characters keyboards and fonts produce for the same symbol: the increment sign U+2206 for the triangle, the degree
# sign for "dim", the music flat and sharp signs.
_SUFFIX_SPELLINGS = str.maketrans({"\u2206": "Δ", "°": "o", "♭": "b", "♯": "#"})
# "No chord": the chart spellings `N.C.` / `NC` (any case, last dot optional) and Harte's `N` (upper case, as
# mir_eval and annotation datasets write it). Nothing else: "x", "none", "n" or an empty symbol are refused, since
# a typo must not silently become a bar of silence.
_NO_CHORD_CHART = {"N.C.", "NC", "N.C"}
_SYMBOL = re.compile(r"^([A-Ga-g])([#b♯♭]{0,2})(.*?)(?:/([A-Ga-g][#b♯♭]?))?$")

NUM_QUALITIES = len(QUALITIES)
#: Chord classes: index 0 is "no chord", then root * NUM_QUALITIES + quality + 1.
NUM_CHORD_CLASSES = 1 + 12 * NUM_QUALITIES


@dataclass(frozen=True)
class Chord:
    """A parsed chord symbol.

    Attributes:
        root (`int` or `None`): Pitch class of the root (C=0), `None` for "no chord".
        quality (`str` or `None`): Quality family, one of [`QUALITY_NAMES`].
        pitch_classes (`frozenset[int]`): Pitch classes sounding in the chord (extensions and bass included).
        bass (`int` or `None`): Pitch class of a slash bass, if any.
    """

    root: int | None
    quality: str | None
    pitch_classes: frozenset[int]
    bass: int | None = None

    @property
    def is_no_chord(self) -> bool:
        return self.root is None

    @property
    def index(self) -> int:
        """Class index in `[0, NUM_CHORD_CLASSES)`; 0 is "no chord"."""
        if self.root is None:
            return 0
        return 1 + self.root * NUM_QUALITIES + QUALITY_NAMES.index(self.quality)

    @property
    def name(self) -> str:
        if self.root is None:
            return "N"
        return f"{PITCH_CLASS_NAMES[self.root]}:{self.quality}"


NO_CHORD = Chord(root=None, quality=None, pitch_classes=frozenset())


def _pitch_class(letter: str, accidentals: str) -> int:
    pc = _NATURALS[letter.upper()]
    for accidental in accidentals:
        pc += 1 if accidental in "#♯" else -1
    return pc % 12


@lru_cache(maxsize=4096)
def parse_chord(symbol: str) -> Chord:
    """Parse a chord symbol: lead-sheet spelling (`"Am7"`, `"Bbmaj7"`, `"CΔ"` (= `"Cmaj7"`), `"C/E"`, `"F#m7b5"`,
    `"C7sus4"`, `"C°7"`, `"N.C."`/`"NC"` in any case) or Harte (`"A:min7"`, `"N"`). The accepted spellings are
    listed in the README's "Chart language"; no other no-chord spelling is accepted.

    `pitch_classes` are the notes that sound: sus chords have no third, `7b5` and `7#5` no perfect fifth. The class
    (`quality`, `index`) folds extensions and suspensions into the seventh family they extend.

    Raises:
        ValueError: naming the symbol when it cannot be parsed.
    """
    if not isinstance(symbol, str):
        raise ValueError(f"Chord symbol must be a string, got {type(symbol).__name__}.")
    text = symbol.strip()
    if text.upper() in _NO_CHORD_CHART or text == "N":  # "N.C.", "n.c.", "NC", Harte "N"
        return NO_CHORD
    if not text:
        raise ValueError("Empty chord symbol: write a chord, or N.C. for no chord.")
    if ":" in text:  # Harte syntax, as written by mir_eval and chord annotation datasets: "A:min7", "C:maj/3"
        root_text, _, quality = text.partition(":")
        quality = quality.split("/")[0].split("(")[0]
        if quality not in QUALITIES or not re.fullmatch(r"[A-G][#b]?", root_text):
            raise ValueError(f"Unparseable chord symbol {symbol!r}: unknown Harte quality {quality!r}.")
        root = _pitch_class(root_text[0], root_text[1:])
        return Chord(root=root, quality=quality, pitch_classes=frozenset((root + i) % 12 for i in QUALITIES[quality]))
    match = _SYMBOL.match(text)
    if match is None:
        raise ValueError(f"Unparseable chord symbol {symbol!r}.")
    letter, accidentals, suffix, bass = match.groups()
    suffix = suffix.translate(_SUFFIX_SPELLINGS)
    if suffix not in _SUFFIXES:
        raise ValueError(f"Unparseable chord symbol {symbol!r}: unknown quality {suffix!r}.")
    root = _pitch_class(letter, accidentals)
    quality, extra, drop = _SUFFIXES[suffix]
    intervals = (set(QUALITIES[quality]) - set(drop)) | set(extra)
    pitch_classes = {(root + i) % 12 for i in intervals}
    bass_pc = None
    if bass:
        bass_pc = _pitch_class(bass[0], bass[1:])
        pitch_classes.add(bass_pc)
    return Chord(root=root, quality=quality, pitch_classes=frozenset(pitch_classes), bass=bass_pc)


def chord_to_index(symbol: str) -> int:
    """Class index of a chord symbol (see [`NUM_CHORD_CLASSES`])."""
    return parse_chord(symbol).index


def index_to_chord_name(index: int) -> str:
    """Inverse of [`chord_to_index`] up to spelling: `"N"` or `"<root>:<quality>"` (Harte-like, mir_eval friendly)."""
    if not 0 <= index < NUM_CHORD_CLASSES:
        raise ValueError(f"Chord index {index} is outside [0, {NUM_CHORD_CLASSES}).")
    if index == 0:
        return "N"
    root, quality = divmod(index - 1, NUM_QUALITIES)
    return f"{PITCH_CLASS_NAMES[root]}:{QUALITY_NAMES[quality]}"
