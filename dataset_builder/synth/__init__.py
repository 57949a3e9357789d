"""`python -m dataset_builder synth`: reproducible accompaniment songs rendered from chord charts with exact labels."""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .render import find_soundfonts
from .song import METADATA_NAME, SYNTH_FORMAT, synthesize_song


__all__ = ["METADATA_NAME", "SYNTH_FORMAT", "synthesize_corpus", "synthesize_song"]


def synthesize_corpus(
    n: int,
    out: str | os.PathLike,
    seed: int = 0,
    *,
    num_workers: int = 1,
    sample_rate: int = 44100,
    soundfonts: list[str] | None = None,
    melody_prob: float = 0.7,
    section_bars: int | None = None,
    max_sections: int | None = None,
    track_stems: bool = False,
    families: list[str] | None = None,
    tonics: list[int] | None = None,
    charts: str = "mixed",
    chart_families: list[str] | None = None,
    render: str = "gm",
) -> list[dict[str, Any]]:
    """Write `n` songs to `out/song_XXXXX/`; song `i` uses seed `seed * 100003 + i`, so runs are reproducible and a
    rerun only renders the songs that are missing. `families` / `tonics` restrict the styles and keys drawn (see
    [`draw_plan`]); hold some out of a training corpus to build an out-of-distribution evaluation set. `charts`
    chooses the chart generator ("mixed", or "classic" to redraw the songs of s2acc-demo v1/v2 exactly) and
    `chart_families` restricts the mixed generator's chart families. `render` is "gm" (one GM soundfont, FluidSynth
    defaults: the songs of earlier releases) or "realistic" (per-song fonts, AVL drums, humanised performance, mix
    and master, recorded in each song's metadata; see [`realistic`]); `soundfonts`, when given, are also the
    realistic mode's melodic fonts."""
    if n < 1:
        raise ValueError(f"--n must be at least 1, got {n}.")
    if not 8000 <= sample_rate <= 96000:
        raise ValueError(f"--sample-rate must be in [8000, 96000], got {sample_rate}.")
    from .plan import CHART_MODES, check_chart_families, check_families

    if charts not in CHART_MODES:
        raise ValueError(f"--charts must be one of {', '.join(CHART_MODES)}, got {charts!r}.")
    check_families(families)  # fail before rendering anything
    check_chart_families(chart_families)
    from .realistic import RENDER_MODES

    if render not in RENDER_MODES:
        raise ValueError(f"--render must be one of {', '.join(RENDER_MODES)}, got {render!r}.")
    if render == "realistic" and track_stems:
        raise ValueError("--track-stems is not supported with --render realistic yet.")
    fonts = find_soundfonts(soundfonts)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = {f"song_{i:05d}": seed * 100003 + i for i in range(n)}
    kwargs = dict(
        soundfonts=fonts,
        sample_rate=sample_rate,
        melody_prob=melody_prob,
        section_bars=section_bars,
        max_sections=max_sections,
        track_stems=track_stems,
        families=families,
        tonics=tonics,
        charts=charts,
        chart_families=chart_families,
        # Only a non-default render adds arguments, so a gm run calls synthesize_song exactly as before.
        **({"render": render, "render_fonts": fonts if soundfonts else None} if render != "gm" else {}),
    )
    results: dict[str, dict] = {}
    if num_workers <= 1:
        for song_id, song_seed in tqdm(jobs.items(), desc="synth", unit="song"):
            results[song_id] = synthesize_song(song_id, song_seed, out, **kwargs)
    else:
        with ProcessPoolExecutor(num_workers) as pool:
            futures = {pool.submit(synthesize_song, sid, s, out, **kwargs): sid for sid, s in jobs.items()}
            for future in tqdm(as_completed(futures), total=len(futures), desc="synth", unit="song"):
                results[futures[future]] = future.result()
    metadata = [results[song_id] for song_id in jobs]
    index = {
        "format": SYNTH_FORMAT,
        "seed": seed,
        "families": families,
        "tonics": tonics,
        "charts": charts,
        "chart_families": chart_families,
        **({"render": render} if render != "gm" else {}),
        "songs": [m["song_id"] for m in metadata],
        "hours": sum(m["duration"] for m in metadata) / 3600,
    }
    (out / "synth_index.json").write_text(json.dumps(index, indent=1))
    return metadata
