"""The picture of a take: a section lane, a chord lane (the asked-for chart above what the analysis hears) and the
waveform, on one time axis with the bar lines."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..audio import to_mono, write_atomically
from ..music import ChordEvent, Segment, parse_chord


# One colour per section kind and per chord root, so that a repeated chorus or a returning chord is seen at a glance.
_SECTION_COLOURS = {
    "intro": "#8ecae6",
    "verse": "#a7c957",
    "pre-chorus": "#f2e8cf",
    "chorus": "#f4a261",
    "bridge": "#cdb4db",
    "solo": "#e76f51",
    "outro": "#90a4ae",
    "other": "#d9d9d9",
}


def _chord_colour(symbol: str, cmap) -> tuple:
    try:
        root = parse_chord(symbol).root
    except ValueError:
        root = None
    if root is None:  # "N.C." (and anything the analysis could not name) is grey
        return (0.85, 0.85, 0.85, 1.0)
    # Roots a fifth apart get neighbouring colours: a ii-V-I reads as a smooth walk, a tritone jump as a contrast.
    # Mixed with white so that the black chord names stay readable on every hue.
    red, green, blue, _ = cmap(((root * 7) % 12) / 12.0)
    return (0.45 + 0.55 * red, 0.45 + 0.55 * green, 0.45 + 0.55 * blue, 1.0)


def _lane(ax, spans: Sequence[tuple[float, float, str, tuple]], y: float, height: float, fontsize: float) -> None:
    for start, end, text, colour in spans:
        ax.broken_barh([(start, end - start)], (y, height), facecolors=[colour], edgecolors="white", linewidth=1.0)
        ax.text((start + end) / 2, y + height / 2, text, ha="center", va="center", fontsize=fontsize, clip_on=True)


def chord_agreement(asked: Sequence[ChordEvent], heard: Sequence[ChordEvent], step: float = 0.05) -> float | None:
    """Share of the charted time (N.C. excluded) where the heard chord has the asked chord's root; `None` without a
    chart. A rough, readable number for the picture's title, not a benchmark metric."""
    total = agree = 0
    for event in asked:
        root = parse_chord(event.symbol).root
        if root is None:
            continue
        for t in np.arange(event.start + step / 2, event.end, step):
            total += 1
            heard_now = next((h for h in heard if h.start <= t < h.end), None)
            if heard_now is not None:
                try:
                    agree += parse_chord(heard_now.symbol).root == root
                except ValueError:
                    pass
    return agree / total if total else None


def draw_take(
    path: str | Path,
    audio: np.ndarray,
    sampling_rate: int,
    segments: Sequence[Segment],
    seconds_per_bar: float,
    asked: Sequence[ChordEvent] | None,
    heard: Sequence[ChordEvent] | None,
    title: str,
    heard_note: str = "",
) -> Path:
    """Write the take's picture as a PNG at `path` and return it.

    Args:
        audio: `(channels, samples)` float audio.
        asked: the chart's chords (`None` when the song has no chords).
        heard: the chords the analysis recognises in the audio (`None` when the analysis could not run;
            `heard_note` then says why).
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on a server; must precede pyplot
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("hsv")
    duration = audio.shape[-1] / sampling_rate
    fig, (lanes, wave) = plt.subplots(
        2, 1, figsize=(12, 4.2), dpi=100, sharex=True, gridspec_kw={"height_ratios": [1.5, 1]}
    )
    lanes.set_title(title, fontsize=10, loc="left")
    fontsize = 8 if len(asked or []) < 24 else 6
    _lane(lanes, [(s.start, s.end, s.label, _SECTION_COLOURS.get(s.label, "#d9d9d9")) for s in segments], 2.1, 0.8, 9)
    if asked:
        _lane(lanes, [(c.start, c.end, c.symbol, _chord_colour(c.symbol, cmap)) for c in asked], 1.05, 0.8, fontsize)
    else:
        lanes.text(0.01 * duration, 1.45, "no chart: chords left to the model", fontsize=8, va="center", color="0.4")
    if heard:
        _lane(lanes, [(c.start, c.end, c.symbol, _chord_colour(c.symbol, cmap)) for c in heard], 0.0, 0.8, fontsize)
    else:
        lanes.text(0.01 * duration, 0.4, heard_note or "no chords heard", fontsize=8, va="center", color="0.4")
    lanes.set_yticks([0.4, 1.45, 2.5], ["chords heard", "chords asked", "sections"])
    lanes.set_ylim(-0.1, 3.0)
    lanes.tick_params(axis="y", length=0)
    for spine in ("top", "right", "left"):
        lanes.spines[spine].set_visible(False)

    # Min/max envelope per pixel column: plotting every sample of 30 s would be slow and look the same.
    mono = to_mono(audio)
    columns = max(1, min(1200, mono.shape[-1]))
    edges = np.linspace(0, mono.shape[-1], columns + 1).astype(int)
    lows = np.array([mono[a:b].min() if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])])
    highs = np.array([mono[a:b].max() if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])])
    times = edges[:-1] / sampling_rate
    wave.fill_between(times, lows, highs, color="#264653", linewidth=0)
    peak = float(max(np.abs(mono).max(initial=0.0), 1e-3))
    wave.set_ylim(-peak * 1.05, peak * 1.05)
    wave.set_yticks([])
    wave.set_ylabel("waveform", fontsize=9)
    wave.set_xlabel("seconds")
    for spine in ("top", "right", "left"):
        wave.spines[spine].set_visible(False)
    for ax in (lanes, wave):
        for bar_time in np.arange(0.0, duration + 1e-6, seconds_per_bar):
            ax.axvline(bar_time, color="0.6", linewidth=0.5, zorder=0)
    wave.set_xlim(0, duration)
    fig.tight_layout()
    try:
        # Through the package's one atomic writer, as the take's audio: a download never serves half a picture.
        return write_atomically(path, lambda partial: fig.savefig(partial, format="png"))
    finally:
        plt.close(fig)
