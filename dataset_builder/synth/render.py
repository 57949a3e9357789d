"""Rendering: chord chart -> MMA -> MIDI -> FluidSynth -> audio, with the soundfonts found on this machine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from .grooves import require_mma
from .plan import SongPlan


#: The `gm` render's default fonts (installed by scripts/install_system_deps.sh). Fixed, not "whatever is installed":
#: a seeded `gm` song draws its font from this list, so installing another font (MuseScore General, which the
#: realistic render uses) must not change the songs of earlier releases. Other fonts are one `--soundfont` away.
KNOWN_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)
# Gain 0.8 clips on dense grooves; 0.4 leaves headroom for the melody stem that is summed on top.
FLUIDSYNTH_GAIN = 0.4


class FluidSynthMissingError(RuntimeError):
    """FluidSynth or a soundfont is not installed."""


def find_soundfonts(extra: list[str] | None = None) -> list[str]:
    fonts = [str(Path(p)) for p in (extra or []) if Path(p).is_file()]
    if extra and len(fonts) != len(extra):
        missing = sorted(set(map(str, extra)) - set(fonts))
        raise FluidSynthMissingError(f"Soundfont(s) not found: {', '.join(missing)}.")
    fonts = fonts or [p for p in KNOWN_SOUNDFONTS if Path(p).is_file()]
    if not fonts:
        raise FluidSynthMissingError("No GM soundfont found; run scripts/install_system_deps.sh (as root).")
    return fonts


def bar_slots(symbols: list[str], beats: int) -> list[tuple[int, str]]:
    """(start beat, symbol) for the chords of one bar, sharing its beats as evenly as whole beats allow."""
    return [(i * beats // len(symbols), s) for i, s in enumerate(symbols)]


def mma_chart(plan: SongPlan) -> str:
    """The MMA source of a plan: tempo, meter, then one `Groove` switch and one line per bar for each section."""
    # MMA randomises timing, velocity and note skipping in many grooves; RndSeed makes that reproducible.
    lines = [
        f"// {plan.song_id} (seed {plan.seed})",
        f"RndSeed {plan.seed % 2**31}",
        f"Tempo {plan.tempo:g}",
        f"Time {plan.meter}",
    ]
    for section in plan.sections:
        lines += ["", f"// {section.label}", f"Groove {section.groove.name}"]
        for symbols in section.chords:
            slots = ["/"] * plan.meter
            previous = None
            for beat, symbol in bar_slots(symbols, plan.meter):
                # A chord held over several slots is written once ("/" continues it), as a chart would.
                slots[beat] = "/" if symbol == previous else symbol
                previous = symbol
            lines.append(" ".join(slots))
    return "\n".join(lines) + "\n"


def run_mma(chart: str, workdir: Path, name: str = "accompaniment") -> Path:
    mma = require_mma()
    source, midi = workdir / f"{name}.mma", workdir / f"{name}.mid"
    source.write_text(chart)
    result = subprocess.run([mma, "-w", "-f", str(midi), str(source)], capture_output=True, text=True)
    if result.returncode != 0 or not midi.exists():
        raise RuntimeError(f"MMA failed on {source}: {(result.stdout + result.stderr).strip()[-500:]}")
    return midi


def render_midi(
    midi: Path, soundfont: str, sample_rate: int, out_wav: Path, settings: dict[str, float] | None = None
) -> np.ndarray:
    """Render with the FluidSynth command line; returns `(samples, 2)` float32.

    `settings` are extra FluidSynth settings (`-o name=value`, e.g. `synth.reverb.room-size`); without them the
    command is the one the `gm` render has always run.
    """
    binary = shutil.which("fluidsynth")
    if binary is None:
        raise FluidSynthMissingError("`fluidsynth` is not installed; run scripts/install_system_deps.sh (as root).")
    cmd = [
        binary,
        "-ni",
        "-q",
        "-F",
        str(out_wav),
        "-r",
        str(sample_rate),
        "-g",
        str(FLUIDSYNTH_GAIN),
        *[arg for name, value in (settings or {}).items() for arg in ("-o", f"{name}={value}")],
        soundfont,
        str(midi),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not out_wav.exists():
        raise RuntimeError(f"FluidSynth failed on {midi}: {(result.stdout + result.stderr).strip()[-500:]}")
    audio, _ = sf.read(str(out_wav), dtype="float32", always_2d=True)
    return audio
