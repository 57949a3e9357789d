"""Song plans: the section layout, key, tempo, meter, grooves and chords of one synth song, drawn from a seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Sequence

from .charts import CHART_FAMILIES, CHART_FAMILY_NAMES, ChartStyle, draw_style, family_mode, section_chords
from .grooves import CLASSIC_FAMILIES, FAMILIES, Groove, families_for_meter, load_family, time_signature
from .harmony import key_name, progression


#: Chart generators: "classic" redraws the songs of s2acc-demo v1/v2 exactly (16 groove families, 19 diatonic
#: patterns); "mixed" draws from every chart family of [`charts`] and most of MMA's style library.
CHART_MODES = ("mixed", "classic")


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
    meter: int  # beats per bar (MMA's `Time`)
    tonic: int
    mode: str  # "major", "minor", or "none" for a chart with no key
    sections: list[SectionPlan] = field(default_factory=list)
    signature: tuple[int, int] | None = None  # written time signature; None means (meter, 4)
    chart_family: str = "classic"
    chart_style: dict | None = None  # the per-song chart choices (recorded in the metadata)

    @property
    def key(self) -> str:
        return "no key" if self.mode == "none" else key_name(self.tonic, self.mode)

    @property
    def time_signature(self) -> tuple[int, int]:
        return self.signature or (self.meter, 4)

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
    charts: str = "mixed",
    chart_families: Sequence[str] | None = None,
) -> SongPlan:
    """Draw a reproducible plan. `section_bars` forces every section to that many bars (tiny test songs).

    `families` restricts the groove families and `tonics` the key's tonic pitch classes (0 = C), so that styles and
    keys can be held out of a training corpus and used only for an out-of-distribution evaluation set. `charts`
    chooses the chart generator (see [`CHART_MODES`]); `chart_families` restricts the families of the "mixed" one.
    """
    if charts not in CHART_MODES:
        raise ValueError(f"Unknown chart generator {charts!r}; choose from {', '.join(CHART_MODES)}.")
    if tonics is not None and not tonics:
        raise ValueError("tonics must name at least one pitch class.")
    if charts == "mixed":
        return _draw_mixed_plan(song_id, seed, section_bars, max_sections, families, tonics, chart_families)
    if chart_families is not None:
        raise ValueError("chart_families applies to the 'mixed' chart generator only.")
    return _draw_classic_plan(song_id, seed, section_bars, max_sections, families, tonics)


def _draw_classic_plan(
    song_id: str,
    seed: int,
    section_bars: int | None,
    max_sections: int | None,
    families: Sequence[str] | None,
    tonics: Sequence[int] | None,
) -> SongPlan:
    """The generator of s2acc-demo v1/v2, unchanged: the same seed gives the same song."""
    allowed = check_families(families, CLASSIC_FAMILIES)
    rng = random.Random(seed)
    meters = sorted({CLASSIC_FAMILIES[f][1] for f in allowed})
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
    families = [f for f in families_for_meter(meter, CLASSIC_FAMILIES) if f in allowed]
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


def check_families(families: Sequence[str] | None, universe: dict | None = None) -> list[str]:
    """The allowed groove families (all of `universe`, default [`FAMILIES`], when `families` is None); unknown names
    raise a `ValueError`. Names outside `universe` but in [`FAMILIES`] are dropped (the classic generator knows only
    its 16 families); none left raises."""
    universe = universe or FAMILIES
    if families is None:
        return list(universe)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise ValueError(
            f"Unknown groove families {', '.join(unknown) or '(none given)'}; choose from {', '.join(FAMILIES)}."
        )
    known = [f for f in dict.fromkeys(families) if f in universe]
    if not known:
        raise ValueError(f"None of the groove families {', '.join(families)} is one the chosen chart generator uses.")
    return known


def check_chart_families(names: Sequence[str] | None) -> list[str]:
    if names is None:
        return list(CHART_FAMILY_NAMES)
    unknown = [n for n in names if n not in CHART_FAMILY_NAMES]
    if unknown or not names:
        raise ValueError(
            f"Unknown chart families {', '.join(unknown) or '(none given)'}; choose from {', '.join(CHART_FAMILY_NAMES)}."
        )
    return list(dict.fromkeys(names))


def _tempo_range(family: str) -> tuple[int, int]:
    """Tempo range a groove family is played at (MMA's names say slow, fast, ballad ...), within 60-200 BPM."""
    if any(w in family for w in ("slow", "ballad", "lullaby", "hymn", "128", "spiritual", "nitejazz", "mellow")):
        return 60, 110
    if any(w in family for w in ("fast", "quickstep", "bebop", "polka", "jive", "charleston", "bluegrass")):
        return 130, 200
    return 76, 176


def _draw_mixed_plan(
    song_id: str,
    seed: int,
    section_bars: int | None,
    max_sections: int | None,
    families: Sequence[str] | None,
    tonics: Sequence[int] | None,
    chart_families: Sequence[str] | None,
) -> SongPlan:
    """Charts from every family of [`charts`], grooves from most of MMA's library, tempo 60-200, 3/4, 4/4, 12/8."""
    allowed = check_families(families)
    allowed_charts = check_chart_families(chart_families)
    rng = random.Random(f"mixed-{seed}")
    main = rng.choice(allowed)
    signature = time_signature(main)
    meter = FAMILIES[main][1]
    low, high = _tempo_range(main)
    tempo = float(rng.randrange(low, high + 1, 2))
    chart_pool = [f for f in CHART_FAMILIES if f.name in allowed_charts]
    style = draw_style(rng, rng.choices(chart_pool, weights=[f.weight for f in chart_pool])[0])
    mode = family_mode(style.family, rng)
    tonic = rng.randrange(12) if tonics is None else int(rng.choice(sorted(tonics)))
    plan = SongPlan(
        song_id=song_id,
        seed=seed,
        tempo=tempo,
        meter=meter,
        tonic=tonic,
        mode=mode,
        signature=None if signature == (meter, 4) else signature,
        chart_family=style.family.name,
        chart_style=_style_record(style),
    )
    layout = rng.choice(LAYOUTS)
    if max_sections is not None:
        layout = layout[:max_sections]
    if style.family.name in ("blues", "minor_blues"):  # a blues chorus is 12 bars
        layout = [(label, 12 if bars == 8 else bars) for label, bars in layout]
    # Groove families that can share a song: same beats per bar and the same written time signature.
    peers = [f for f in allowed if FAMILIES[f][1] == meter and time_signature(f) == signature]
    # A key change: a later section (a last chorus a step up, or a bridge in another key), now and then.
    modulation = rng.choice([0, 0, 0, 0, 1, 2, 5, 7]) if mode != "none" else 0
    by_label: dict[str, tuple[Groove, list[list[str]]]] = {}
    used: set[str] = set()
    for position, (label, bars) in enumerate(layout):
        bars = section_bars or bars
        returning = label in by_label
        if returning and rng.random() >= style.through:
            groove, chords = by_label[label]
            chords = chords[:bars]
            if len(chords) < bars:
                chords = (chords * (bars // max(len(chords), 1) + 1))[:bars]
        else:
            if returning:
                groove = by_label[label][0]
            else:
                family = main if (label == "verse" or rng.random() < 0.5) else rng.choice(peers)
                choices = [g for g in load_family(family) if g.name not in used] or list(load_family(family))
                groove = rng.choice(choices)
                used.add(groove.name)
            shift = (
                modulation if (modulation and position >= len(layout) // 2 and label in ("chorus", "bridge")) else 0
            )
            chords = section_chords(bars, (tonic + shift) % 12, meter, style, rng, mode)
            by_label.setdefault(label, (groove, chords))
        plan.sections.append(SectionPlan(label=label, bars=bars, groove=groove, chords=chords))
    return plan


def _style_record(style: ChartStyle) -> dict:
    return {
        "family": style.family.name,
        "description": style.family.description,
        **{k: getattr(style, k) for k in ("colour", "slash", "pedal", "split", "push", "through")},
    }


def genre_of(groove: Groove) -> str:
    return FAMILIES[groove.family][0]
