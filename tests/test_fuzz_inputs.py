"""Issue 23: a seeded fuzz test over what users type. Chord charts, lead-sheet JSON, segment lists, output paths,
repaint regions and `s2acc generate` flag values are drawn at random (valid and invalid mixed); the only outcomes
allowed are success or a one-line `ValueError` (the CLI: exit 0, or exit 2 with one line on stderr). Any other
exception type, a multi-line message, a `PosixPath(...)` or a hang fails.

`hypothesis` is not a dependency of the project, so the draws come from `random.Random` with fixed seeds: every run
tries the same cases, and a failure names the case (the seed and the drawn input) so it can be replayed. The numbers
of cases are small so that the whole file runs in seconds on the untrained `tiny` preset (1 step, <= 0.5 s audio).
"""

import json
import math
import random

import numpy as np
import pytest
import torch

from diffusers_s2acc import LeadSheet
from diffusers_s2acc.audio import check_output_path
from diffusers_s2acc.music.chords import parse_chord
from diffusers_s2acc.music.structure import coerce_segments


pytestmark = pytest.mark.timeout(120)  # a hang is a failure, not a stuck CI job

RATE = 16000  # the tiny preset
SYMBOLS_OK = ["C", "Am", "F", "G7", "Bbmaj7", "F#m7b5", "CΔ", "C∆7", "Cø", "E°7", "C/E", "D/F#", "A:min7", "Csus4"]
SYMBOLS_BAD = [
    "H",
    "Cxyz",
    "x",
    "none",
    "n",
    "C/H",
    "C//E",
    "/E",
    "Ab♭♭♭",
    "Z7",
    "C#9#9#9",
    "🎸",
    "ℂ",
    "Ｃ",
    "C\u200b",
]
NO_CHORD = ["N.C.", "NC", "n.c.", "N"]
TOKENS = SYMBOLS_OK * 3 + SYMBOLS_BAD + NO_CHORD + ["%", "-", "|", "||", "\n", "\r\n", " ", "\t", "|\n|"]


def _one_line_value_error(call, case):
    """Run `call()`; return its result, or None after checking it raised a one-line ValueError."""
    try:
        return call()
    except ValueError as error:
        message = str(error)
        assert message and len(message.splitlines()) == 1, (case, message)
        assert "PosixPath" not in message and "Traceback" not in message, (case, message)
        return None
    except Exception as error:  # noqa: BLE001 - the point: nothing but ValueError may escape
        pytest.fail(f"{type(error).__name__} (not ValueError) on {case!r}: {error}")


def _chart(rng):
    return "".join(rng.choice(TOKENS) + rng.choice(["", " ", " | "]) for _ in range(rng.randint(0, 12)))


def _value(rng, depth=0):
    """A random JSON-ish value: numbers of every kind, strings, lists, dicts."""
    choices = [
        0,
        -1,
        1.5,
        120,
        1e308,
        float("nan"),
        float("inf"),
        -0.0,
        True,
        None,
        "",
        "4/4",
        "C | Am",
        "x",
        "6/8",
        [],
        {},
        [4, 4],
        [0, 4],
        ["C", "F G"],
    ]
    if depth < 2:
        choices += [[_value(rng, depth + 1)], {"start": _value(rng, depth + 1), "end": 1, "symbol": "C"}]
        choices += [{"start": 0, "end": 0.5, "pitch": _value(rng, depth + 1)}]
    return rng.choice(choices)


LEAD_SHEET_KEYS = ["tempo", "bpm", "meter", "offset", "melody", "chords", "bars", "chart", "key", "Tempo", ""]


def _lead_sheet_dict(rng):
    data = {key: _value(rng) for key in rng.sample(LEAD_SHEET_KEYS, rng.randint(0, 4))}
    if rng.random() < 0.5:
        data["chart"] = _chart(rng)
        data.pop("bars", None), data.pop("chords", None)
    return data


LABELS = ["verse", "Chorus 2", "intro", "refrain", "Bridge", "solo", "banana", "", None, 3, "vers", "VERSE"]


def _segments(rng, length=0.5):
    number = lambda: rng.choice(  # noqa: E731
        [
            0.0,
            0.1,
            0.25,
            length,
            length + 1,
            -0.1,
            float("nan"),
            float("inf"),
            "0.2",
            None,
            True,
            rng.random() * length,
        ]
    )
    out = []
    for _ in range(rng.randint(0, 4)):
        segment = {"start": number(), "end": number(), "label": rng.choice(LABELS)}
        if rng.random() < 0.3:
            segment["caption"] = rng.choice(["soft", None, 3, "", "😀"])
        if rng.random() < 0.1:
            segment[rng.choice(["lable", "text", "bars"])] = 1
        out.append(segment)
    return rng.choice([out, out, out, out[::-1], None, "verse", {"start": 0}])


# ------------------------------------------------------------------------------------------ pure parsers


def test_chord_charts_parse_or_are_one_value_error():
    rng = random.Random(2301)
    parsed = 0
    for case in range(400):
        chart = _chart(rng)
        bpm, meter = rng.choice([120, 60.5, 0, -1, float("nan"), 1e9]), rng.choice(["4/4", "3/4", "6/8", "0/4", "x"])
        sheet = _one_line_value_error(lambda: LeadSheet.from_chart(chart, bpm=bpm, meter=meter), (case, chart))
        if sheet is None:
            continue
        parsed += 1
        for chord in sheet.chords:  # what parsed is music: every chord is a symbol the model can read
            _one_line_value_error(lambda: parse_chord(chord.symbol), (case, chart, chord.symbol))
            assert chord.end > chord.start
        # The chart language round-trips: to_chart writes what from_chart reads back as the same chords.
        again = LeadSheet.from_chart(sheet.to_chart(), bpm=bpm, meter=meter)
        assert [(c.symbol, round(c.start, 6), round(c.end, 6)) for c in again.chords] == [
            (c.symbol, round(c.start, 6), round(c.end, 6)) for c in sheet.chords
        ], (case, chart)
    assert parsed >= 10  # the generator does reach valid charts (13 of the 400 with this seed)


def test_lead_sheet_dicts_parse_or_are_one_value_error():
    rng = random.Random(2302)
    for case in range(400):
        data = _lead_sheet_dict(rng)
        sheet = _one_line_value_error(lambda: LeadSheet.from_dict(data), (case, data))
        if sheet is not None:
            assert math.isfinite(sheet.tempo) and sheet.tempo > 0, (case, data)
            # A parsed sheet can be written and read back (what `to_dict` writes, `from_dict` reads).
            LeadSheet.from_dict(json.loads(json.dumps(sheet.to_dict())))
        text = json.dumps(data)  # and as JSON text, the way --lead-sheet takes it
        _one_line_value_error(lambda: LeadSheet.from_json(text), (case, text))


def test_segment_lists_parse_or_are_one_value_error():
    rng = random.Random(2303)
    for case in range(400):
        segments = _segments(rng)
        parsed = _one_line_value_error(lambda: coerce_segments(segments), (case, segments))
        for before, after in zip(parsed or [], (parsed or [])[1:]):
            assert before.start < before.end <= after.start + 1e-6, (case, segments)


def test_output_paths_are_a_path_or_one_value_error(tmp_path):
    (tmp_path / "afile.wav").write_text("x")
    (tmp_path / "folder").mkdir()
    rng = random.Random(2304)
    parts = ["afile.wav", "folder", "new", "ünï cødé", "🎵", "a b", ".", "..", "x.WAV", "o.flac", "o.mp3", "o", ".wav"]
    for case in range(300):
        path = tmp_path.joinpath(*rng.sample(parts, rng.randint(1, 3)))
        kwargs = {
            "overwrite": rng.random() < 0.5,
            "extensions": rng.choice([None, (".wav", ".flac"), (".json",)]),
            "folder": rng.random() < 0.2,
        }
        result = _one_line_value_error(lambda: check_output_path(path, **kwargs), (case, str(path), kwargs))
        if result is not None and not kwargs["folder"]:
            assert not result.is_dir() and (kwargs["overwrite"] or not result.exists()), (case, str(path), kwargs)


# ------------------------------------------------------------------------------------------ the pipelines


def test_pipeline_on_random_segments_and_charts_runs_or_is_one_value_error(pipes):
    pipe = pipes[0]
    rng = random.Random(2305)
    for case in range(6):
        kwargs = dict(
            segments=_segments(rng, length=0.4),
            lead_sheet=rng.choice([None, _chart(rng), _lead_sheet_dict(rng)]),
            audio_length_in_s=rng.choice([0.3, 0.5, None, 0.0, -1.0, float("nan")]),
        )
        output = _one_line_value_error(
            lambda: pipe("pop", num_inference_steps=1, generator=torch.Generator().manual_seed(case), **kwargs),
            (case, kwargs),
        )
        if output is not None:
            assert output.audios.shape[-1] > 0 and np.isfinite(output.audios).all(), (case, kwargs)


def test_repaint_regions_keep_everything_outside_or_are_one_value_error(pipes):
    pipe, repaint = pipes
    source = pipe("pop", audio_length_in_s=0.5, num_inference_steps=1, generator=torch.Generator().manual_seed(0))
    audio = source.audios[0][:, :rng_len] if (rng_len := int(0.47 * RATE)) else None  # not a whole VAE frame
    rng = random.Random(2306)
    for case in range(5):
        start, end = (rng.choice([0.0, 0.1, 0.2, 0.45, -0.1, 0.6, float("nan"), None]) for _ in range(2))
        region = {k: v for k, v in (("region_start_in_s", start), ("region_end_in_s", end)) if v is not None}
        output = _one_line_value_error(
            lambda: repaint(
                "pop",
                source_audio=audio,
                source_sampling_rate=RATE,
                num_inference_steps=1,
                generator=torch.Generator().manual_seed(case + 1),
                **region,
            ),
            (case, region),
        )
        if output is None:
            continue
        out = output.audios[0]
        assert out.shape == audio.shape, (case, region)
        first = int(round(region.get("region_start_in_s", 0.0) * RATE))
        last = int(round(region.get("region_end_in_s", audio.shape[-1] / RATE) * RATE))
        # Outside the region every sample is the source's own (the cross-fade lies inside it), even where a border
        # falls inside a latent frame (0.1 s is 12.5 frames).
        np.testing.assert_array_equal(out[:, :first], audio[:, :first])
        np.testing.assert_array_equal(out[:, last:], audio[:, last:])


# ------------------------------------------------------------------------------------------ the CLI


def test_generate_flags_run_or_are_one_line_errors(pipes, tmp_path, monkeypatch, capsys):
    from diffusers_s2acc import pretrained
    from diffusers_s2acc.cli import main

    # The tiny preset, built once: the flags are what is fuzzed, not loading (which test_cli.py covers).
    monkeypatch.setattr(pretrained, "load_pipeline", lambda name, dtype="float32": pipes[0])
    (tmp_path / "exists.wav").write_text("x")
    rng = random.Random(2307)
    flags = {
        "--duration": ["0.3", "0.5", "0", "-1", "nan", "inf", "1e-5", "abc", "1e400"],
        "--steps": ["1", "0", "-3", "1.5", "x"],
        "--seed": ["0", "-1", "7", str(2**64), "seed"],
        "--guidance": ["4", "1", "0", "-2", "nan", "inf"],
        "--lead-sheet-guidance": ["1", "3.5", "nan", "-1"],
        "--crossfade": ["0.05", "0", "-1", "nan", "100"],
        "--lead-sheet": ["C | Am", "C | % | - G", "Cxyz", "%", "N.C. | F", '{"chart": "C", "chords": []}', ""],
        "--bpm": ["120", "0", "-60", "nan", "1e9"],
        "--meter": ["4/4", "6/8", "0/4", "4/0", "x", "-3/4"],
        "--prompt": ["pop", "", "ünï 🎵", "a\nb"],
    }
    for case in range(8):
        out = tmp_path / rng.choice(["o.wav", "o.flac", "exists.wav", "o.mp3", "sub/o.wav", "exists.wav/o.wav"])
        argv = ["generate", "--pipeline", "tiny", "--out", str(out), "--steps", "1", "--duration", "0.3"]
        for flag in rng.sample(sorted(flags), rng.randint(1, 4)):
            argv += [flag, rng.choice(flags[flag])]
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse refusing a type
            code = exit_.code
        except Exception as error:  # noqa: BLE001
            pytest.fail(f"{type(error).__name__} on {argv!r}: {error}")
        err = [line for line in capsys.readouterr().err.strip().splitlines() if "UNTRAINED" not in line]
        assert code in (0, 2), (argv, code, err)
        if code == 2:
            assert len(err) == 1 and "Traceback" not in err[0] and "PosixPath" not in err[0], (argv, err)
        else:
            assert out.is_file() and out.stat().st_size > 0, argv
            out.unlink()
