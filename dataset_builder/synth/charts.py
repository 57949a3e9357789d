"""Chord charts as musicians write them: many harmonic families, drawn from a seed, spelled for MMA.

[`harmony`](harmony.py) draws every chart from a few diatonic four-bar patterns, so a model trained on it can score
well by playing "the key". This module adds what real charts hold — secondary dominants and their ii-V's, 12-bar and
minor blues with dominant sevenths, modal mixture, ii-V-I chains through several keys, tritone substitutions,
diminished passing chords, colour chords (sus, 6, 9, 13, altered), slash chords and pedal basses, one, two or four
chords per bar and pushes, through-composed sections, key changes, and charts with no key at all — with the classic
patterns kept as one family among many.

Chords are written in roman numerals relative to a tonic (`"V7/ii"`, `"bVII"`, `"#ivø7"`, `"bII7"`), realised in
a key and spelled with [`spell_chord`], which checks every symbol against `diffusers_s2acc.music.parse_chord` and
MMA's own spelling (it refuses `maj7#11` and `madd9`, for example).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from diffusers_s2acc.music.chords import PITCH_CLASS_NAMES, parse_chord

from .harmony import MAJOR_PATTERNS, MINOR_PATTERNS


#: Suffixes MMA renders (checked by running `mma` on each) that also parse with `parse_chord`.
MMA_SUFFIXES = frozenset(
    "m 7 maj7 m7 m7b5 dim7 dim aug sus4 sus2 6 m6 69 9 11 13 maj9 m9 m11 7b9 7#9 7#11 7b5 7#5 7alt 7sus4 9sus4 "
    "13sus4 mM7 add9 5 maj13".split()
)
MMA_SUFFIXES = MMA_SUFFIXES | {""}

_DEGREES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_NUMERAL = re.compile(r"^([b#]?)(VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)([^/]*)(?:/(.+))?$")
# Quality marks after a numeral -> (suffix on an upper-case numeral, suffix on a lower-case one).
_MARKS = {
    "": ("", "m"),
    "7": ("7", "m7"),
    "maj7": ("maj7", "mM7"),
    "6": ("6", "m6"),
    "9": ("9", "m9"),
    "11": ("11", "m11"),
    "o": ("dim", "dim"),
    "o7": ("dim7", "dim7"),
    "ø7": ("m7b5", "m7b5"),
    "+": ("aug", "aug"),
    "+7": ("7#5", "7#5"),
}


@dataclass(frozen=True)
class ChordSpec:
    """A chord before spelling: root pitch class, MMA suffix, optional bass pitch class."""

    root: int
    suffix: str
    bass: int | None = None


def spell_chord(chord: ChordSpec) -> str:
    """The symbol of `chord` (`"Bbmaj7"`, `"C/E"`); raises `ValueError` if MMA or `parse_chord` would refuse it."""
    if chord.suffix not in MMA_SUFFIXES:
        raise ValueError(f"Suffix {chord.suffix!r} is not one MMA renders.")
    symbol = PITCH_CLASS_NAMES[chord.root % 12] + chord.suffix
    if chord.bass is not None and chord.bass % 12 != chord.root % 12:
        symbol += "/" + PITCH_CLASS_NAMES[chord.bass % 12]
    parse_chord(symbol)
    return symbol


def numeral(text: str, tonic: int) -> ChordSpec:
    """Realise one roman numeral in the key of `tonic` (major-scale degrees; `b`/`#` alter them).

    `"V7/ii"` is the dominant seventh of the second degree (a secondary dominant); a suffix after a `:` overrides the
    quality mark (`"I:69"`); `>` names a bass degree (`"I>iii"` is C/E in C major).
    """
    bass = None
    if ">" in text:  # a bass note on another degree: "I>iii" is the tonic chord over the third (C/E)
        text, bass_text = text.split(">", 1)
        bass = numeral(bass_text, tonic).root
    override = None
    if ":" in text:
        text, override = text.split(":", 1)
    match = _NUMERAL.match(text)
    if match is None:
        raise ValueError(f"Unknown roman numeral {text!r}.")
    accidental, roman, mark, target = match.groups()
    if target is not None:
        tonic = numeral(target, tonic).root
    if mark not in _MARKS:
        raise ValueError(f"Unknown quality mark {mark!r} in {text!r}.")
    root = tonic + _DEGREES[roman.upper()] + {"": 0, "b": -1, "#": 1}[accidental]
    suffix = _MARKS[mark][0 if roman.isupper() else 1]
    return ChordSpec(root % 12, suffix if override is None else override, bass)


# ----------------------------------------------------------------------------------------------- phrase families
# Each phrase is a list of bars; a bar is a space-separated list of numerals sharing it. Phrases are strung together
# to fill a section, so a section is not one pattern repeated.

_POP_MAJOR = [
    "I | V | vi | IV",
    "I | vi | IV | V",
    "IV | V | iii | vi",  # the "royal road"
    "I | vi | ii | V",  # doo-wop / rhythm-changes turnaround
    "I | V>vii | vi | I>V | IV | I>iii | ii | V",  # descending bass (Pachelbel-like)
    "I | IV | I | V",
    "vi | IV | I | V",
    "I | iii | IV | iv",
    "IV | I | V | V",
    "I V | vi IV | I V | IV",
    "ii | IV | I | V",
    "I | I>iii | IV | V",
]
_POP_MINOR = [
    "i | bVII | bVI | V7",  # Andalusian cadence
    "i | bVI | bIII | bVII",
    "i | iv | bVII | bIII",
    "i | i>bIII | iv | V7",
    "i | bVII | iv | i",
    "iv | v | i | i",
    "i bVII | bVI V7 | i | i",
    "i | bVI | iv | V7",
]
_SECONDARY = [
    "I | V7/ii | ii | V7",
    "I | V7/vi | vi | IV V7",
    "I | V7/IV | IV | iv",
    "I | ii7 | V7/V | V7",
    "I | iiø7/ii V7/ii | ii7 | V7",
    "I | iiø7/vi V7/vi | vi | V7/V V7",
    "IV | V7/vi | vi | V7/V V7",
    "I | V7/V | IV | I",
    "ii7 | V7 | iii7 | V7/ii",
    "I | I7 | IV | iv",
    "vi | V7/ii | ii7 V7 | I",
    "I V7/vi | vi V7/V | V7 | I",
]
_SECONDARY_MINOR = [
    "i | V7/iv | iv | V7",
    "i | iiø7 | V7 | i",
    "i | V7/bIII | bIII | V7",
    "i | V7/iv | iv7 | bVII7",
]
_MIXTURE = [
    "I | bVI | bVII | I",
    "I | iv | I | iv",
    "I | bIII | IV | I",
    "I | IV | iv | I",
    "I | bVII | IV | I",
    "IV | iv | I | bVI bVII",
    "I | bVI | IV | V",
    "I | iiø7 | V7 | I",
    "bVI | bVII | I | I",
    "I | bIII | bVII | IV",
]
_JAZZ = [
    "ii7 | V7 | I:maj7 | I:maj7",
    "ii7 V7 | I:maj7 vi7 | ii7 V7 | I:6",
    "iii7 | VI7 | ii7 | V7",
    "I:maj7 | VI7 | ii7 | V7",
    "I:maj7 | bII7 | I:maj7 | bII7",  # tritone substitution of V7
    "ii7 | bII7 | I:maj7 | I:maj7",
    "iii7 bIII7 | ii7 bII7 | I:maj7 | I:maj7",  # chromatic ii-V chain with tritone subs
    "I:maj7 | i7 IV7 | bVII:maj7 | bvii7 bIII7",  # ii-V-I moving down by whole steps
    "ii7 | V7 | iii7 | VI7",
    "I:maj7 #io7 | ii7 #iio7 | iii7 VI7 | ii7 V7",  # diminished passing chords
    "iiø7 | V7:7b9 | i:m6 | i:m6",  # minor ii-V-i
    "I:6 | #io7 | ii7 | V7",
    "I:maj7 | IV7 | iii7 | VI7:7#9",
    "IV:maj7 | #ivø7 | iii7 | VI7",
    "ii7 | V7:7alt | I:maj9 | I:69",
]
_PASSING = [
    "I | #io7 | ii | V",
    "IV | #ivo7 | I/V | V7",
    "I | bIIIo7 | ii7 | V7",
    "I I/iii | IV #ivo7 | I/V V7 | I",
    "ii #iio7 | iii VI7 | ii V7 | I",
]
_MODAL_MAJOR = [
    "I | bVII | I | bVII",  # mixolydian
    "I | II | IV | I",  # lydian colour (II major)
    "I:7sus4 | I:7sus4 | bVII>I | I:7sus4",  # pedal vamp
    "I | bVII | IV | I",
]
_MODAL_MINOR = [
    "i:m7 | IV7 | i:m7 | IV7",  # dorian
    "i | bII | i | bII",  # phrygian
    "i:m9 | i:m9 | bVII | bVII",
    "i:m7 | ii7 | i:m7 | ii7",
]
_BLUES_MAJOR = [
    "I7 | I7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 | V7",
    "I7 | IV7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 | V7",  # quick change
    "I7 | IV7 | I7 | I7 | IV7 | #ivo7 | I7 | VI7 | ii7 | V7 | I7 VI7 | ii7 V7",  # jazz blues
    "I7 | IV7 | I7 | v7 I7 | IV7 | #ivo7 | I7 | iii7 VI7 | ii7 | V7 | I7 VI7 | ii7 V7",
    "I7 | I7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | V7 | I7 | I7",
]
_BLUES_MINOR = [
    "i7 | i7 | i7 | i7 | iv7 | iv7 | i7 | i7 | bVI7 | V7 | i7 | V7",
    "i:m6 | iv7 | i:m6 | i:m6 | iv7 | iv7 | i:m6 | i:m6 | iiø7 | V7:7#9 | i:m6 | V7",
    "i7 | iv7 | i7 | i7 | iv7 | iv7 | i7 | bVI7 | iiø7 | V7 | i7 | V7",
]


@dataclass(frozen=True)
class ChartFamily:
    name: str
    mode: str  # "major", "minor" or "none" (no key)
    phrases: tuple[str, ...]
    weight: float
    description: str


CHART_FAMILIES: tuple[ChartFamily, ...] = (
    ChartFamily("classic", "either", (), 0.10, "diatonic four-bar patterns (the original generator)"),
    ChartFamily("pop", "major", tuple(_POP_MAJOR), 0.08, "pop progressions in a major key"),
    ChartFamily("pop_minor", "minor", tuple(_POP_MINOR), 0.07, "pop progressions in a minor key"),
    ChartFamily("secondary", "major", tuple(_SECONDARY), 0.12, "secondary dominants and their ii-V's"),
    ChartFamily("secondary_minor", "minor", tuple(_SECONDARY_MINOR), 0.05, "secondary dominants in minor"),
    ChartFamily("mixture", "major", tuple(_MIXTURE), 0.09, "modal mixture: iv, bVI, bVII, bIII in major"),
    ChartFamily("jazz", "major", tuple(_JAZZ), 0.11, "ii-V-I chains, tritone substitutions, colour chords"),
    ChartFamily("passing", "major", tuple(_PASSING), 0.05, "diminished passing chords"),
    ChartFamily("modal", "major", tuple(_MODAL_MAJOR), 0.03, "modal vamps (mixolydian, lydian)"),
    ChartFamily("modal_minor", "minor", tuple(_MODAL_MINOR), 0.03, "modal vamps (dorian, phrygian)"),
    ChartFamily("blues", "major", tuple(_BLUES_MAJOR), 0.10, "12-bar blues with dominant sevenths"),
    ChartFamily("minor_blues", "minor", tuple(_BLUES_MINOR), 0.05, "minor blues"),
    ChartFamily("keyless", "none", (), 0.13, "no key: random roots and qualities, read bar by bar"),
)
CHART_FAMILY_NAMES = tuple(f.name for f in CHART_FAMILIES)

# Colour upgrades of a plain suffix (what a pianist reads into a chart, or a songbook writes).
_COLOURS = {
    "": ["6", "add9", "sus4", "sus2", "69", "maj7", "maj9"],
    "m": ["m7", "m9", "m6", "m11"],
    "7": ["9", "13", "7b9", "7#9", "7sus4", "7alt", "9sus4", "7#11", "13sus4", "7b5", "7#5"],
    "maj7": ["maj9", "69", "6", "maj13"],
    "m7": ["m9", "m11"],
    "m7b5": ["m7b5"],
    "dim": ["dim7"],
}
_KEYLESS_SUFFIXES = ["", "m", "7", "maj7", "m7", "m7b5", "dim7", "sus4", "6", "m6", "9", "aug", "7sus4", "13", "7#9"]
_THIRDS = {"": 4, "7": 4, "maj7": 4, "6": 4, "9": 4, "13": 4, "m": 3, "m7": 3, "m6": 3, "m9": 3, "mM7": 3}
_SEVENTHS = {"7": 10, "m7": 10, "maj7": 11, "9": 10, "m9": 10}


@dataclass
class ChartStyle:
    """Per-song choices that shape every bar: harmonic rhythm, colour, inversions, pedal, pushes."""

    family: ChartFamily
    colour: float  # chance a chord gets a colour upgrade
    slash: float  # chance a chord is played over its third/fifth/seventh
    pedal: float  # chance a section sits over a pedal bass
    split: float  # chance a one-chord bar is split in two (or a two-chord bar into four)
    push: float  # chance a bar change arrives a beat early (an anticipation on the last beat)
    through: float  # chance a returning section gets new chords instead of repeating


def draw_style(rng: random.Random, family: ChartFamily | None = None) -> ChartStyle:
    family = family or rng.choices(CHART_FAMILIES, weights=[f.weight for f in CHART_FAMILIES])[0]
    return ChartStyle(
        family=family,
        colour=rng.choice([0.0, 0.15, 0.35, 0.6]),
        slash=rng.choice([0.0, 0.0, 0.1, 0.25]),
        pedal=rng.choice([0.0, 0.0, 0.15]),
        split=rng.choice([0.0, 0.15, 0.3, 0.5]),
        push=rng.choice([0.0, 0.0, 0.1, 0.2]),
        through=rng.choice([0.0, 0.4, 1.0]),
    )


def _bars_of(phrase: str) -> list[list[str]]:
    return [bar.split() for bar in phrase.split("|")]


def _colour(chord: ChordSpec, style: ChartStyle, rng: random.Random) -> ChordSpec:
    if chord.bass is None and rng.random() < style.colour and chord.suffix in _COLOURS:
        return ChordSpec(chord.root, rng.choice(_COLOURS[chord.suffix]), None)
    return chord


def _invert(chord: ChordSpec, style: ChartStyle, rng: random.Random) -> ChordSpec:
    if chord.bass is not None or rng.random() >= style.slash:
        return chord
    options = [7] if chord.suffix in ("", "m", "7", "maj7", "m7") else []
    if chord.suffix in _THIRDS:
        options.append(_THIRDS[chord.suffix])
    if chord.suffix in _SEVENTHS:
        options.append(_SEVENTHS[chord.suffix])
    if not options:
        return chord
    return ChordSpec(chord.root, chord.suffix, (chord.root + rng.choice(options)) % 12)


def _classic_bars(num_bars: int, tonic: int, mode: str, rng: random.Random) -> list[list[ChordSpec]]:
    major = {"I": "I", "ii": "ii", "iii": "iii", "IV": "IV", "V": "V", "vi": "vi", "bVII": "bVII"}
    minor = {"i": "i", "iv": "iv", "v": "v", "V": "V7", "bIII": "bIII", "bVI": "bVI", "bVII": "bVII", "iio": "iiø7"}
    table = major if mode == "major" else minor
    pattern = rng.choice(MAJOR_PATTERNS if mode == "major" else MINOR_PATTERNS)
    bars: list[list[ChordSpec]] = []
    while len(bars) < num_bars:
        for bar in pattern:
            bars.append([numeral(table[n], tonic) for n in bar.split()])
    return bars[:num_bars]


def _keyless_bars(num_bars: int, rng: random.Random) -> list[list[ChordSpec]]:
    bars = []
    for _ in range(num_bars):
        count = rng.choice([1, 1, 2])
        bars.append([ChordSpec(rng.randrange(12), rng.choice(_KEYLESS_SUFFIXES)) for _ in range(count)])
    return bars


def _phrase_bars(num_bars: int, tonic: int, family: ChartFamily, rng: random.Random) -> list[list[ChordSpec]]:
    """Phrases of the family strung together (a blues is one 12-bar phrase), each drawn afresh."""
    bars: list[list[ChordSpec]] = []
    while len(bars) < num_bars:
        phrase = rng.choice(family.phrases)
        bars.extend([[numeral(n, tonic) for n in bar] for bar in _bars_of(phrase)])
    return bars[:num_bars]


def _rhythm(bars: list[list[ChordSpec]], beats: int, style: ChartStyle, rng: random.Random) -> list[list[ChordSpec]]:
    """Harmonic rhythm: split bars (two or four chords per bar) and pushes, as a list of `beats` slots per bar."""
    out: list[list[ChordSpec]] = []
    for index, bar in enumerate(bars):
        chords = list(bar)
        if rng.random() < style.split:
            if len(chords) == 1 and beats >= 2:
                # Split one chord into the chord and a neighbour: its dominant, or a ii-V into the next bar.
                nxt = bars[index + 1][0] if index + 1 < len(bars) else bars[0][0]
                approach = ChordSpec((nxt.root + 7) % 12, "7")
                chords = [chords[0], approach]
            elif len(chords) == 2 and beats == 4:
                # Four chords: the first, then a ii-V into the second (a common jazz and gospel fill).
                target = chords[1]
                chords = [
                    chords[0],
                    ChordSpec((target.root + 2) % 12, "m7"),
                    ChordSpec((target.root + 7) % 12, "7"),
                    target,
                ]
        slots = [chords[min(len(chords) - 1, b * len(chords) // beats)] for b in range(beats)]
        out.append(slots)
    # Pushes: the next bar's first chord arrives on the last beat of this bar.
    for index in range(len(out) - 1):
        if beats >= 3 and rng.random() < style.push and out[index + 1][0] != out[index][-1]:
            out[index][-1] = out[index + 1][0]
    return out


def section_chords(
    num_bars: int, tonic: int, beats: int, style: ChartStyle, rng: random.Random, mode: str
) -> list[list[str]]:
    """`num_bars` bars of chord symbols, one symbol per beat slot (repeats merge into one chord downstream)."""
    family = style.family
    if family.name == "classic":
        bars = _classic_bars(num_bars, tonic, mode, rng)
    elif family.name == "keyless":
        bars = _keyless_bars(num_bars, rng)
    else:
        bars = _phrase_bars(num_bars, tonic, family, rng)
    bars = [[_invert(_colour(c, style, rng), style, rng) for c in bar] for bar in bars]
    if family.name != "keyless" and rng.random() < style.pedal:
        pedal = (tonic + rng.choice([0, 7])) % 12
        bars = [[ChordSpec(c.root, c.suffix, pedal) for c in bar] for bar in bars]
    slots = _rhythm(bars, beats, style, rng)
    return [[spell_chord(c) for c in bar] for bar in slots]


def family_mode(family: ChartFamily, rng: random.Random) -> str:
    if family.mode == "either":
        return "major" if rng.random() < 0.6 else "minor"
    return family.mode


def is_diatonic(symbol: str, tonic: int, mode: str) -> bool:
    """Whether every note of `symbol` lies in the key's scale (natural minor plus the raised 7th in minor)."""
    scale = {0, 2, 4, 5, 7, 9, 11} if mode == "major" else {0, 2, 3, 5, 7, 8, 10, 11}
    return all((pc - tonic) % 12 in scale for pc in parse_chord(symbol).pitch_classes)
