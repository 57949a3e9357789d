"""The MMA groove catalogue: which grooves the synthesiser may use, with their descriptions and instruments.

MMA prints every groove of a library file as JSON (`mma -w -Djs FILE`), including its one-line description and the
General-MIDI voice of each track. That is exactly the caption material a synth song needs, so the catalogue is read
from MMA itself rather than written by hand.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path


MMA_STDLIB = Path("/usr/share/mma/lib/stdlib")

#: The 16 library files of the original generator (s2acc-demo v1/v2), with a genre word for captions and the beats
#: per bar their grooves are written in. Kept as they are so that `--charts classic` redraws v2's songs exactly.
CLASSIC_FAMILIES: dict[str, tuple[str, int]] = {
    "50srock": ("50s rock and roll", 4),
    "8beat": ("eight-beat pop", 4),
    "ballad": ("pop ballad", 4),
    "bossanova": ("bossa nova", 4),
    "folk": ("folk", 4),
    "softrock": ("soft rock", 4),
    "swing": ("swing", 4),
    "rhumba": ("rhumba", 4),
    "countryswing": ("country swing", 4),
    "rb": ("rhythm and blues", 4),
    "ska": ("ska", 4),
    "trance": ("trance", 4),
    "waltz": ("waltz", 3),
    "jazzwaltz": ("jazz waltz", 3),
    "countrywaltz": ("country waltz", 3),
    "rockwaltz": ("rock waltz", 3),
}

#: Every library file of MMA's standard library the synthesiser may use (all but metronomes, `none`, 5/4, the 6/8
#: files, and `descendingjazz`, which holds only intro/ending grooves), with a genre phrase for captions and MMA's beats per bar (`Time`).
FAMILIES: dict[str, tuple[str, int]] = {
    **CLASSIC_FAMILIES,
    "60srock": ("60s rock", 4),
    "arpeggio44": ("arpeggiated pop", 4),
    "arpeggiowaltz": ("arpeggiated waltz", 3),
    "ballad128": ("12/8 ballad", 4),
    "basicrock": ("rock", 4),
    "bebop": ("bebop", 4),
    "beguine": ("beguine", 4),
    "bigband": ("big band swing", 4),
    "bluefolk": ("blues folk", 4),
    "bluegrass": ("bluegrass", 4),
    "blues": ("blues", 4),
    "blues128": ("12/8 slow blues", 4),
    "boggiewoggie": ("boogie-woogie", 4),
    "bolero": ("bolero", 4),
    "boneym": ("disco", 4),
    "broadway": ("broadway", 4),
    "broadwaywaltz": ("broadway waltz", 3),
    "bubblerock": ("bubblegum rock", 4),
    "bvfunk": ("funk", 4),
    "bwmarch": ("march", 4),
    "calypso": ("calypso", 4),
    "chacha": ("cha-cha", 4),
    "charleston": ("charleston", 4),
    "countryblues": ("country blues", 4),
    "cubanguitar": ("cuban guitar", 4),
    "desert": ("desert groove", 4),
    "dixie": ("dixieland", 4),
    "dixiemarch": ("dixieland march", 4),
    "dsoul": ("soul", 4),
    "easyswing": ("easy swing", 4),
    "evansish": ("jazz piano trio", 4),
    "fastblues": ("fast blues", 4),
    "fastjazzwaltz": ("fast jazz waltz", 3),
    "fastswing": ("fast swing", 4),
    "fastwaltz": ("fast waltz", 3),
    "folkballad": ("folk ballad", 4),
    "folkrock": ("folk rock", 4),
    "folkyjazz": ("folky jazz", 4),
    "foxtrot": ("foxtrot", 4),
    "frenchwaltz": ("french musette waltz", 3),
    "guitarballad": ("guitar ballad", 4),
    "gypsyjazz": ("gypsy jazz", 4),
    "hillcountry": ("hill country blues", 4),
    "hymn": ("hymn", 4),
    "jazzcombo": ("jazz combo", 4),
    "jazzguitar": ("jazz guitar", 4),
    "jazzrhumba": ("jazz rhumba", 4),
    "jazzrock": ("jazz rock", 4),
    "jive": ("jive", 4),
    "latinwaltz": ("latin waltz", 3),
    "lfusion": ("latin fusion", 4),
    "lighttango": ("light tango", 4),
    "lullaby": ("lullaby", 4),
    "mambo": ("mambo", 4),
    "march": ("march", 4),
    "mellowjazz": ("mellow jazz", 4),
    "merengue": ("merengue", 4),
    "modernjazz": ("modern jazz", 4),
    "modernjazzwaltz": ("modern jazz waltz", 3),
    "nitejazz": ("late-night jazz", 4),
    "pianoballad": ("piano ballad", 4),
    "polka": ("polka", 4),
    "popballad": ("pop ballad", 4),
    "popspiritual": ("pop spiritual", 4),
    "quickstep": ("quickstep", 4),
    "ragtime": ("ragtime", 4),
    "rb-ballad": ("R&B ballad", 4),
    "rock-128": ("12/8 rock", 4),
    "rockballad": ("rock ballad", 4),
    "salsa": ("salsa", 4),
    "samba": ("samba", 4),
    "showtune": ("show tune", 4),
    "shuffleboggie": ("shuffle boogie", 4),
    "slowblues": ("slow blues", 4),
    "slowbolero": ("slow bolero", 4),
    "slowbroadway": ("slow broadway", 4),
    "slowcountry": ("slow country", 4),
    "slowjazz": ("slow jazz", 4),
    "slowspiritual": ("slow spiritual", 4),
    "softshoe": ("soft shoe", 4),
    "son": ("cuban son", 4),
    "spiritual": ("spiritual", 4),
    "stringballad": ("string ballad", 4),
    "strut": ("strut", 4),
    "tango": ("tango", 4),
    "twist": ("twist", 4),
    "vienesewaltz": ("viennese waltz", 3),
    "westernswing": ("western swing", 4),
    "zydeco": ("zydeco", 4),
}

#: Library files whose grooves are compound meters: the written time signature (beats are dotted quarters, as in the
#: lead sheet's convention: 12/8 has four beats per bar). MMA writes these in `Time 4` with triplet subdivisions,
#: so MMA's beat and the lead sheet's beat coincide. (MMA's 6/8 files count eighth notes or write a MIDI time
#: signature that disagrees with their `Time`, so they are left out.)
COMPOUND_SIGNATURES: dict[str, tuple[int, int]] = {
    "ballad128": (12, 8),
    "blues128": (12, 8),
    "rock-128": (12, 8),
}

# Intro/ending/fill grooves have fixed lengths and break the section plan; they are left out.
_SKIP_WORDS = ("intro", "end", "fill", "break")


class MMAMissingError(RuntimeError):
    """MMA is not installed or its groove database has not been built."""


@dataclass(frozen=True)
class Groove:
    name: str
    family: str
    genre: str
    meter: int
    description: str
    instruments: tuple[str, ...]
    has_drums: bool


def require_mma() -> str:
    path = shutil.which("mma")
    if path is None:
        raise MMAMissingError("`mma` is not installed; run scripts/install_system_deps.sh (as root).")
    return path


def _voices(track: dict) -> list[str]:
    voice = track.get("voice") or []
    return [voice] if isinstance(voice, str) else list(voice)


@cache
def load_family(family: str) -> tuple[Groove, ...]:
    """Grooves of one MMA library file, parsed from `mma -w -Djs`."""
    if family not in FAMILIES:
        raise ValueError(f"Unknown groove family {family!r}; choose from {', '.join(FAMILIES)}.")
    mma = require_mma()
    path = MMA_STDLIB / f"{family}.mma"
    if not path.exists():
        raise MMAMissingError(f"MMA library file {path} is missing; is the Debian `mma` package complete?")
    out = subprocess.run([mma, "-w", "-Djs", str(path)], capture_output=True, text=True, check=True).stdout
    data = json.loads(out[out.index("[") :])
    genre, meter = FAMILIES[family]
    grooves = []
    for entry in data:
        name = entry["groove"]
        if any(word in name.lower() for word in _SKIP_WORDS):
            continue
        instruments: list[str] = []
        has_drums = False
        for track in entry.get("tracks", []):
            if track["track"].upper().startswith("DRUM"):
                has_drums = True
                continue
            for voice in _voices(track):
                if voice not in instruments:
                    instruments.append(voice)
        description = " ".join(entry.get("description", "").replace("\\", " ").split())
        grooves.append(Groove(name, family, genre, meter, description, tuple(instruments), has_drums))
    if not grooves:
        raise MMAMissingError(f"No usable grooves in {path}; run `mma -G` as root to build the groove database.")
    return tuple(grooves)


def families_for_meter(meter: int, universe: dict[str, tuple[str, int]] | None = None) -> list[str]:
    return [name for name, (_, m) in (universe or FAMILIES).items() if m == meter]


def time_signature(family: str) -> tuple[int, int]:
    """The written time signature of a family's grooves (`(3, 4)`, `(4, 4)`, `(12, 8)`, ...)."""
    return COMPOUND_SIGNATURES.get(family, (FAMILIES[family][1], 4))
