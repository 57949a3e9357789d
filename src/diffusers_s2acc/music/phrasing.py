"""How people word a request: short global prompts and section captions written from known musical facts.

Training captions must look like what users type (a short global prompt plus a caption per section), and an honest
evaluation must also use wordings the model never saw. Two disjoint sets of templates therefore exist:
`"train"` (used by `dataset_builder` to caption training songs) and `"heldout"` (used only by
`s2acc make-specs --phrasing heldout` for the out-of-distribution evaluation set). Both state only facts that the
caller passes in; nothing is invented.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Sequence


PHRASINGS = ("train", "heldout")


@dataclass
class MusicFacts:
    """What is known for sure about a piece or a section."""

    genres: Sequence[str]
    tempo: float
    meter: int = 4
    key: str | None = None
    instruments: Sequence[str] = field(default_factory=tuple)
    drums: bool | None = None
    label: str | None = None
    style: str | None = None


def facts_from_synth(meta: dict) -> tuple[MusicFacts, list[MusicFacts]]:
    """The facts of a `dataset_builder synth` song (its `metadata.json`): the whole song's and each section's."""
    meter = int(str(meta["meter"]).split("/")[0])
    sections = [
        MusicFacts(
            genres=[s["genre"]],
            tempo=meta["tempo"],
            meter=meter,
            key=meta["key"],
            instruments=s["instruments"],
            drums=s["drums"],
            label=s["label"],
            style=s.get("style"),
        )
        for s in meta["sections"]
    ]
    song = MusicFacts(
        genres=[f.genres[0] for f in sections],
        tempo=meta["tempo"],
        meter=meter,
        key=meta["key"],
        instruments=[i for f in sections for i in f.instruments],
        drums=any(f.drums for f in sections),
    )
    return song, sections


def _tempo_word(tempo: float) -> str:
    return "slow" if tempo < 90 else "mid-tempo" if tempo < 120 else "upbeat" if tempo < 140 else "fast"


def _readable(name: str) -> str:
    # MMA / General MIDI voice names are CamelCase ("AcousticBass", "Piano1"); people write "acoustic bass".
    out = []
    for char in name:
        if char.isupper() and out and out[-1] != " ":
            out.append(" ")
        out.append(char.lower() if not char.isdigit() else "")
    return "".join(out).strip()


def _instruments(facts: MusicFacts, rng: random.Random, most: int = 3) -> str:
    names = list(dict.fromkeys(_readable(i) for i in facts.instruments if _readable(i)))
    rng.shuffle(names)
    names = names[:most]
    if facts.drums:
        names.append("drums")
    if not names:
        return ""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _genre(facts: MusicFacts) -> str:
    genres = list(dict.fromkeys(facts.genres)) or ["instrumental"]
    return genres[0] if len(genres) == 1 else f"{genres[0]} with a touch of {genres[1]}"


def _check(phrasing: str) -> None:
    if phrasing not in PHRASINGS:
        raise ValueError(f"Unknown phrasing {phrasing!r}; expected one of {', '.join(PHRASINGS)}.")


def user_prompt(facts: MusicFacts, rng: random.Random, phrasing: str = "train") -> str:
    """A short global prompt of the kind users write, e.g. "upbeat soft rock accompaniment at 128 BPM"."""
    _check(phrasing)
    genre, tempo, word = _genre(facts), round(facts.tempo), _tempo_word(facts.tempo)
    instruments = _instruments(facts, rng)
    waltz = " in 3/4" if facts.meter == 3 else ""
    key = f" in {facts.key}" if facts.key else ""
    article = "an" if word[0] in "aeiou" else "a"
    if phrasing == "train":
        options = [
            f"{word} {genre} accompaniment",
            f"{genre} backing track at {tempo} BPM{waltz}",
            f"{word} {genre} accompaniment{key}",
            f"instrumental {genre}, {tempo} bpm",
            f"{genre} band playing{waltz} at {tempo} BPM",
            f"{article} {word} {genre} groove" + (f" with {instruments}" if instruments else ""),
            f"{genre}" + (f", {instruments}" if instruments else "") + f", {word}",
        ]
    else:
        options = [
            f"I need a {genre} backing for my song, around {tempo} beats per minute",
            f"play me something {genre}-flavoured{key}, {word}",
            f"{tempo}bpm {genre} comp" + (f" ({instruments})" if instruments else ""),
            f"accompany a singer: {genre} feel{waltz}, tempo {tempo}",
        ]
    return rng.choice(options)


def section_caption(facts: MusicFacts, rng: random.Random, phrasing: str = "train") -> str:
    """A caption for one section, e.g. "Chorus: full soft rock band with piano, bass and drums"."""
    _check(phrasing)
    label = (facts.label or "section").replace("-", " ")
    genre = _genre(facts)
    instruments = _instruments(facts, rng)
    style = f" ({facts.style.rstrip('.')})" if facts.style else ""
    if phrasing == "train":
        options = [
            f"{label.capitalize()}: {genre}" + (f" with {instruments}" if instruments else "") + style,
            f"{genre} {label}" + (f", {instruments}" if instruments else ""),
            f"the {label} in a {genre} style" + style,
        ]
    else:
        options = [
            f"for the {label}, go {genre}" + (f" and let {instruments} carry it" if instruments else ""),
            f"{label} -> {genre} vibe" + (f", featuring {instruments}" if instruments else ""),
        ]
    return rng.choice(options)
