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

#: Library files used for synth songs, with a genre word for captions and the meter their grooves are written in.
FAMILIES: dict[str, tuple[str, int]] = {
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


def families_for_meter(meter: int) -> list[str]:
    return [name for name, (_, m) in FAMILIES.items() if m == meter]
