"""Song plans: the section layout, key, tempo, meter, grooves and chords of one synth song, drawn from a seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Sequence

from .grooves import FAMILIES, Groove, families_for_meter, load_family
from .harmony import key_name, progression


#: Section layouts (label, bars). Bar counts are multiples of 4, as in most popular music.
LAYOUTS = [
    [("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("outro", 4)],
    [("intro", 4), ("verse", 8), ("chorus", 8), ("bridge", 4), ("chorus", 8), ("outro", 4)],
    [("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("bridge", 8), ("chorus", 8)],
    [("intro", 4), ("verse", 8), ("pre-chorus", 4), ("chorus", 8), ("verse", 8), ("chorus", 8), ("outro", 4)],
    [("intro", 4), ("verse", 8), ("chorus", 8), ("solo", 8), ("chorus", 8), ("outro", 4)],
    [("intro", 8), ("verse", 8), ("bridge", 4), ("verse", 8), ("outro", 4)],
]


@dataclass
class SectionPlan:
    label: str
    bars: int
    groove: Groove
    chords: list[list[str]]  # one list of symbols per bar


@dataclass
class SongPlan:
    song_id: str
    seed: int
    tempo: float
    meter: int
    tonic: int
    mode: str
    sections: list[SectionPlan] = field(default_factory=list)

    @property
    def key(self) -> str:
        return key_name(self.tonic, self.mode)

    @property
    def total_bars(self) -> int:
        return sum(s.bars for s in self.sections)


def draw_plan(
    song_id: str,
    seed: int,
    section_bars: int | None = None,
    max_sections: int | None = None,
    families: Sequence[str] | None = None,
    tonics: Sequence[int] | None = None,
) -> SongPlan:
    """Draw a reproducible plan. `section_bars` forces every section to that many bars (tiny test songs).

    `families` restricts the groove families and `tonics` the key's tonic pitch classes (0 = C), so that styles and
    keys can be held out of a training corpus and used only for an out-of-distribution evaluation set.
    """
    allowed = check_families(families)
    if tonics is not None and not tonics:
        raise ValueError("tonics must name at least one pitch class.")
    rng = random.Random(seed)
    meters = sorted({FAMILIES[f][1] for f in allowed})
    meter = 3 if rng.random() < 0.2 else 4
    if meter not in meters:
        meter = meters[0]
    tempo = float(rng.randrange(84, 156, 2) if meter == 4 else rng.randrange(96, 168, 2))
    mode = "major" if rng.random() < 0.6 else "minor"
    tonic = rng.randrange(12) if tonics is None else int(rng.choice(sorted(tonics)))
    plan = SongPlan(song_id=song_id, seed=seed, tempo=tempo, meter=meter, tonic=tonic, mode=mode)
    layout = rng.choice(LAYOUTS)
    if max_sections is not None:
        layout = layout[:max_sections]
    # Each section type gets its own groove and progression, reused when the type comes back, so that repeated
    # material really repeats (what a structure analyser must find). The song's main family carries the verse;
    # other types take another variant of it or, half of the time, another family in the same meter.
    families = [f for f in families_for_meter(meter) if f in allowed]
    main = rng.choice(families)
    sevenths = rng.choice([0.0, 0.3, 0.7])
    by_label: dict[str, tuple[Groove, list[list[str]]]] = {}
    used: set[str] = set()
    for label, bars in layout:
        bars = section_bars or bars
        if label not in by_label:
            family = main if (label == "verse" or rng.random() < 0.5) else rng.choice(families)
            choices = [g for g in load_family(family) if g.name not in used] or list(load_family(family))
            groove = rng.choice(choices)
            used.add(groove.name)
            chords = progression(max(bars, 8), plan.tonic, mode, rng, sevenths)
            by_label[label] = (groove, chords)
        groove, chords = by_label[label]
        plan.sections.append(SectionPlan(label=label, bars=bars, groove=groove, chords=chords[:bars]))
    return plan


def check_families(families: Sequence[str] | None) -> list[str]:
    """The allowed groove families (all when `families` is None); unknown names raise a `ValueError`."""
    if families is None:
        return list(FAMILIES)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise ValueError(
            f"Unknown groove families {', '.join(unknown) or '(none given)'}; choose from {', '.join(FAMILIES)}."
        )
    return list(dict.fromkeys(families))


def genre_of(groove: Groove) -> str:
    return FAMILIES[groove.family][0]
