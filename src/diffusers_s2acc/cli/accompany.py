"""`s2acc accompany`: a melody (recording or MIDI) in, its suggested chart printed, accompaniment and mix out."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..audio import WRITE_EXTENSIONS
from ..pretrained import DEFAULT_PIPELINE
from .common import (
    _GENERATE_FLAGS,
    SEED_MAX,
    SEED_MIN,
    UsageError,
    _add_device_arguments,
    _add_sampling_arguments,
    _apply_recommended,
    _check_output,
    _load_pipeline,
    _load_segments,
    _name_flags,
    _resolve_device,
    _write_audio,
)


_ACCOMPANY_FLAGS = {
    **_GENERATE_FLAGS,
    "`melody`": "--melody",
    "`bpm`": "--bpm",
    "`meter`": "--meter",
    "`key`": "--key",
    "`track`": "--track",
    "`richness`": "--richness",
    "`count_in_bars`": "--count-in",
}


def add_accompany_parser(commands) -> None:
    """Register `accompany` on the `s2acc` sub-command parser."""
    from ..music.harmonizer import RICHNESS

    parser = commands.add_parser(
        "accompany", help="accompany a melody (audio or MIDI): suggest a chart, then play it with the melody"
    )
    parser.add_argument("--melody", type=Path, required=True, help="the tune: a recording (any rate) or a MIDI file")
    parser.add_argument(
        "--lead-sheet",
        help='play this chart instead of the suggestion: "C | Am | F | G" (laid from the melody\'s first downbeat at '
        "its tempo) or a lead-sheet JSON file (times in seconds of the melody file)",
    )
    parser.add_argument("--bpm", type=float, default=None, help="the melody's tempo (default: measured / the file's)")
    parser.add_argument("--meter", default=None, help="the melody's meter, e.g. 3/4 (default: measured / the file's)")
    parser.add_argument(
        "--key", default=None, help="the key to harmonise in, e.g. 'G major', 'Em' (default: measured)"
    )
    parser.add_argument(
        "--track", default=None, help="MIDI: the melody instrument's name or index (default: most notes)"
    )
    parser.add_argument(
        "--richness",
        choices=RICHNESS,
        default="simple",
        help="the harmoniser's chords: diatonic triads (simple), plus "
        "sevenths, plus secondary dominants and borrowed chords (rich)",
    )
    parser.add_argument("--count-in", type=int, default=0, help="bars of clicks before the first downbeat (default 0)")
    parser.add_argument(
        "--print-chart",
        action="store_true",
        help="print the suggested chart and its per-bar confidences, then stop (no generation; --out not needed)",
    )
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE, help=f"as for generate (default: {DEFAULT_PIPELINE})")
    parser.add_argument("--prompt", default="", help="global description every section sees (optional)")
    parser.add_argument("--segments", type=Path, help="JSON file of sections, times in seconds of the melody file")
    _add_sampling_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    _add_device_arguments(parser)
    parser.add_argument("--out", type=Path, default=None, help="the accompaniment alone (.wav or .flac)")
    parser.add_argument("--mix-out", type=Path, default=None, help="also write the melody and accompaniment mixed")
    parser.add_argument("--overwrite", action="store_true", help="replace --out / --mix-out if they exist")


def _track(value: str | None) -> str | int | None:
    return int(value) if value is not None and value.isdigit() else value


def _print_chart(melody, sheet, suggestion) -> None:
    print(
        f"Melody: {len(melody.notes)} notes, {melody.tempo:.1f} BPM, {melody.meter[0]}/{melody.meter[1]}, "
        f"key {melody.key.name}, first downbeat at {melody.offset:.2f} s"
    )
    if suggestion is None:
        print(f"Chart (given): {sheet.to_chart()}")
        return
    print(f"Suggested chart ({suggestion.richness}): {suggestion.to_chart()}")
    print(suggestion.format_table())


def accompany(args: argparse.Namespace) -> int:
    from ..analysis.melody_input import read_melody
    from ..pipelines.play_along import suggest_chart

    if not args.print_chart:
        if args.out is None:
            raise UsageError("--out: name the accompaniment's .wav or .flac file (or pass --print-chart)")
        _check_output("--out", args.out, args.overwrite, extensions=WRITE_EXTENSIONS, protect=(args.melody,))
        if args.mix_out is not None:
            try:
                _check_output(
                    "--mix-out", args.mix_out, args.overwrite, extensions=WRITE_EXTENSIONS, protect=(args.melody,)
                )
            except UsageError as error:
                raise UsageError(str(error).replace("--out", "--mix-out", 1)) from None
            if args.mix_out.resolve() == args.out.resolve():
                raise UsageError("--mix-out: names the same file as --out")
    if not 0 <= args.count_in <= 8:
        raise UsageError(f"--count-in must be a number of bars in [0, 8], got {args.count_in}")
    if args.bpm is not None and not math.isfinite(args.bpm):
        raise UsageError(f"--bpm must be a number, got {args.bpm}")
    if not SEED_MIN <= args.seed <= SEED_MAX:
        raise UsageError(f"--seed must be an integer in [{SEED_MIN}, {SEED_MAX}], got {args.seed}")
    if args.steps is not None and args.steps < 1:
        raise UsageError("--steps must be >= 1")
    segments = _load_segments(args.segments)
    lead_sheet = None
    if args.lead_sheet is not None:
        from ..music.lead_sheet import LeadSheet

        is_file = args.lead_sheet.endswith(".json") or Path(args.lead_sheet).is_file()
        try:
            lead_sheet = LeadSheet.from_json(args.lead_sheet) if is_file else args.lead_sheet
            if not is_file:
                LeadSheet.from_chart(args.lead_sheet)  # the chord symbols are checked before the melody is read
        except ValueError as error:
            raise UsageError(f"--lead-sheet: {error}") from None
    try:
        melody = read_melody(args.melody, track=_track(args.track), bpm=args.bpm, meter=args.meter, key=args.key)
        suggestion = None
        if lead_sheet is None:
            suggestion = suggest_chart(melody, args.richness)
    except ValueError as error:
        raise UsageError(_name_flags(str(error), _ACCOMPANY_FLAGS)) from None
    if args.print_chart:
        from ..pipelines.play_along import _lead_sheet_for

        try:
            sheet = suggestion.lead_sheet if suggestion is not None else _lead_sheet_for(melody, lead_sheet)
        except ValueError as error:
            raise UsageError(f"--lead-sheet: {error}") from None
        _print_chart(melody, sheet, suggestion)
        return 0

    import torch

    from ..pipelines.play_along import play_along

    device = _resolve_device(args.device)
    pipe = _load_pipeline(args.pipeline, device, args.dtype)
    _apply_recommended(args, pipe)
    try:
        result = play_along(
            pipe,
            melody,
            lead_sheet=suggestion.lead_sheet if suggestion is not None else lead_sheet,
            prompt=args.prompt,
            segments=segments,
            count_in_bars=args.count_in,
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            lead_sheet_guidance_scale=args.lead_sheet_guidance,
            guidance_interval=args.guidance_interval,
            sampler=args.sampler,
            generator=torch.Generator(device=device).manual_seed(args.seed),
        )
    except ValueError as error:
        raise UsageError(_name_flags(str(error), _ACCOMPANY_FLAGS)) from None
    _print_chart(melody, result.lead_sheet, suggestion)
    _write_audio(args.out, result.accompaniment, result.sampling_rate)
    seconds = result.accompaniment.shape[-1] / result.sampling_rate
    print(
        f"Wrote {seconds:.2f} s of accompaniment (starting at {result.accompaniment_start_in_s:.2f} s) to "
        f"{args.out.resolve()}"
    )
    if args.mix_out is not None:
        _write_audio(args.mix_out, result.mix, result.sampling_rate)
        print(f"Wrote the mix with the melody to {args.mix_out.resolve()}")
    return 0
