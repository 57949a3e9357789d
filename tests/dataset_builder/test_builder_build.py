"""End-to-end builds: bad files, every corpus field, resume after a kill, idempotence, two processes, evaluate."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from builder_helpers import FAST_BUILD, REPO, SR, need_binaries, run_cli, song_like


def read_rejects(out: Path) -> dict[str, str]:
    return {r["source"]: r["reason"] for r in map(json.loads, (out / "rejects.jsonl").read_text().splitlines())}


@pytest.fixture(scope="module")
def messy_folder(tmp_path_factory) -> Path:
    """One good song (nested, as FLAC) and one of every kind of bad file."""
    root = tmp_path_factory.mktemp("messy")
    (root / "album" / "disc1").mkdir(parents=True)
    sf.write(root / "album" / "disc1" / "good.flac", song_like(12.0), SR)
    (root / "empty.wav").write_bytes(b"")
    (root / "corrupted.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(200))
    (root / "broken.mp3").write_bytes(os.urandom(3000))
    sf.write(root / "silent.wav", np.zeros(SR * 6, dtype=np.float32), SR)
    sf.write(root / "short.ogg", song_like(1.0)[:SR], SR)
    (root / "notes.txt").write_text("not audio")
    return root


@pytest.fixture(scope="module")
def messy_corpus(messy_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    result = run_cli("build", "--input", str(messy_folder), "--out", str(out), *FAST_BUILD, "--keep-top", "0.5")
    assert "build summary" in result.stdout
    return out


def test_bad_files_are_rejected_with_reasons(messy_corpus):
    rejects = read_rejects(messy_corpus)
    assert set(rejects) == {"empty.wav", "corrupted.wav", "broken.mp3", "silent.wav", "short.ogg", "notes.txt"}
    assert "empty file" in rejects["empty.wav"]
    assert "corrupted" in rejects["corrupted.wav"]
    assert "corrupted" in rejects["broken.mp3"] or "undecodable" in rejects["broken.mp3"]
    assert "silent" in rejects["silent.wav"]
    assert "too short" in rejects["short.ogg"]
    assert "unsupported file type '.txt'" in rejects["notes.txt"]


def test_corpus_loads_with_every_field(messy_corpus):
    import datasets

    from diffusers_s2acc.music import SECTION_LABELS, LeadSheet, Segment

    corpus = datasets.load_from_disk(str(messy_corpus))
    assert len(corpus) >= 1
    row = corpus[0]
    assert row["audio"]["sampling_rate"] == SR and row["audio"]["array"].size > 0
    assert row["caption"] and row["label"] in SECTION_LABELS
    segments = [Segment.from_dict(s) for s in row["segments"] + row["song_segments"]]
    assert segments and all(s.caption for s in segments[:1])
    sheet = LeadSheet.from_dict({**row["lead_sheet"], "melody": None})
    assert sheet.chords and 30 <= sheet.tempo <= 300
    assert 0 <= row["quality"] <= 1 and 0 <= row["agreement"] <= 1 and 0 <= row["grade"] <= 1
    assert row["provenance"]["source"] == "album/disc1/good.flac"
    assert sum(corpus["top"]) == max(1, round(0.5 * len(corpus)))
    assert json.loads(row["descriptors"])["tempo"] > 0 and "quality" in json.loads(row["grading"])
    parquet = sorted((messy_corpus / "data").glob("train-*.parquet"))
    assert parquet and len(datasets.Dataset.from_parquet([str(p) for p in parquet])) == len(corpus)
    card = (messy_corpus / "README.md").read_text()
    assert "hours" in card and "Rejected inputs" in card and (messy_corpus / "plots" / "labels.png").exists()


def test_rerun_is_idempotent(messy_folder, messy_corpus):
    import datasets

    before = datasets.load_from_disk(str(messy_corpus)).remove_columns("audio").to_dict()
    stamps = {p.name: p.stat().st_mtime_ns for p in (messy_corpus / ".work" / "results").glob("*.json")}
    result = run_cli(
        "build", "--input", str(messy_folder), "--out", str(messy_corpus), *FAST_BUILD, "--keep-top", "0.5"
    )
    summary = json.loads(result.stdout.split("build summary: ")[1])
    assert summary["processed"] == 0 and summary["rejected"] == 0 and summary["skipped_done"] == 7
    after = datasets.load_from_disk(str(messy_corpus)).remove_columns("audio").to_dict()
    assert after == before
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (messy_corpus / ".work" / "results").glob("*.json")}
    assert len(read_rejects(messy_corpus)) == 6


@pytest.fixture(scope="module")
def six_songs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("six")
    for i in range(6):
        sf.write(root / f"song{i}.wav", np.roll(song_like(10.0, bpm=100 + 8 * i), i * 1000), SR)
    return root


def test_resume_after_kill(six_songs, tmp_path):
    out = tmp_path / "corpus"
    results = out / ".work" / "results"
    process = subprocess.Popen(
        [sys.executable, "-m", "dataset_builder", "build", "--input", str(six_songs), "--out", str(out), *FAST_BUILD],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the build and any child it started
    process.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert 2 <= len(done_before) < 6, "the kill should land mid-run"
    assert not (out / "state.json").exists()  # the corpus was never assembled
    result = run_cli("build", "--input", str(six_songs), "--out", str(out), *FAST_BUILD)
    summary = json.loads(result.stdout.split("build summary: ")[1])
    assert summary["skipped_done"] == len(done_before) and summary["processed"] == 6 - len(done_before)
    for name, stamp in done_before.items():  # finished files were not recomputed
        assert (results / name).stat().st_mtime_ns == stamp
    import datasets

    corpus = datasets.load_from_disk(str(out))
    assert len(set(corpus["id"])) == len(corpus)  # no duplicates
    assert {p["source"] for p in corpus["provenance"]} == {f"song{i}.wav" for i in range(6)}


def test_two_shards_and_merge_match_single_run(six_songs, tmp_path):
    import datasets

    single = tmp_path / "single"
    run_cli("build", "--input", str(six_songs), "--out", str(single), *FAST_BUILD)
    sharded = tmp_path / "sharded"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dataset_builder",
                "build",
                "--input",
                str(six_songs),
                "--out",
                str(sharded),
                "--process-index",
                str(i),
                "--num-processes",
                "2",
                *FAST_BUILD,
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    summaries = [json.loads(out.split("build summary: ")[1]) for out, _ in outputs]
    assert sorted(s["processed"] for s in summaries) == [3, 3]
    assert not (sharded / "state.json").exists()  # shards only process; merge assembles
    run_cli("merge", "--out", str(sharded))
    a = datasets.load_from_disk(str(single)).remove_columns("audio").to_dict()
    b = datasets.load_from_disk(str(sharded)).remove_columns("audio").to_dict()
    assert a == b


def test_synth_build_with_oracle_and_evaluate(tiny_synth, tmp_path):
    import datasets

    out = tmp_path / "synth_corpus"
    run_cli(
        "build",
        "--input",
        str(tiny_synth),
        "--out",
        str(out),
        "--segmenter",
        "oracle",
        "--captioner",
        "metadata",
        "--separation",
        "stems",
        *FAST_BUILD,
    )
    corpus = datasets.load_from_disk(str(out))
    truth = json.loads((tiny_synth / "song_00000" / "metadata.json").read_text())
    rows = [r for r in corpus if r["provenance"]["synth_song_id"] == "song_00000"]
    assert [r["label"] for r in rows] == [s["label"] for s in truth["sections"]]
    assert [r["caption"] for r in rows] == [s["caption"] for s in truth["sections"]]
    result = run_cli("evaluate", "--corpus", str(out), "--json", str(tmp_path / "scores.json"))
    assert "boundary_f@3s" in result.stdout and "chord_majmin" in result.stdout
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["songs"] == 2
    assert scores["mean"]["boundary_f@0.5s"] > 0.99  # oracle sections


def test_build_rejects_missing_input_and_backend_paths(tmp_path, good_wav):
    result = run_cli("build", "--input", str(tmp_path / "nothing"), "--out", str(tmp_path / "o"), check=False)
    assert result.returncode == 2 and "error: Input folder" in result.stderr and "does not exist" in result.stderr
    # A model backend without its local weights stops the run before any file is touched.
    result = run_cli(
        "build", "--input", str(good_wav.parent), "--out", str(tmp_path / "o"), "--captioner", "lalm", check=False
    )
    assert result.returncode == 2 and "--lalm-path" in result.stderr
    result = run_cli(
        "build",
        "--input",
        str(good_wav.parent),
        "--out",
        str(tmp_path / "o"),
        "--quality",
        "audiobox",
        "--audiobox-checkpoint",
        str(tmp_path / "missing.ckpt"),
        check=False,
    )
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert not (tmp_path / "o" / ".work" / "results").exists() or not any(
        (tmp_path / "o" / ".work" / "results").iterdir()
    )


def test_accelerate_launch_two_processes(six_songs, tmp_path):
    """`accelerate launch` gives each process its shard; the main process assembles after the others finish."""
    import shutil

    import datasets

    accelerate = shutil.which("accelerate") or str(Path(sys.executable).parent / "accelerate")
    if not Path(accelerate).exists():
        pytest.skip("accelerate CLI not installed")
    out = tmp_path / "launched"
    # `--multi_gpu` selects accelerate's torchrun launcher; without GPUs the builder falls back to CPU (gloo).
    result = subprocess.run(
        [
            accelerate,
            "launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "dataset_builder",
            "build",
            "--input",
            str(six_songs),
            "--out",
            str(out),
            *FAST_BUILD,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = [
        json.loads(line.split("build summary: ")[1])
        for line in result.stdout.splitlines()
        if "build summary: " in line
    ]
    assert sorted(s["shard"] for s in summaries) == ["1/2", "2/2"]
    assert sum(s["processed"] for s in summaries) == 6
    corpus = datasets.load_from_disk(str(out))
    assert {p["source"] for p in corpus["provenance"]} == {f"song{i}.wav" for i in range(6)}


def test_song_rows_with_oracle_lead_sheets(tiny_synth, tmp_path):
    """--clip-unit song --lead-sheets oracle: one row per song holding every section (label, caption, clip-relative
    times), a short global prompt distinct from the section captions, and the synth's exact chart."""
    import datasets

    from diffusers_s2acc.music import LeadSheet

    out = tmp_path / "song_corpus"
    run_cli(
        "build",
        "--input",
        str(tiny_synth),
        "--out",
        str(out),
        "--segmenter",
        "oracle",
        "--captioner",
        "metadata",
        "--separation",
        "stems",
        "--lead-sheets",
        "oracle",
        "--clip-unit",
        "song",
        *FAST_BUILD,
    )
    corpus = datasets.load_from_disk(str(out))
    assert len(corpus) == 2
    for row in corpus:
        truth = json.loads((tiny_synth / row["provenance"]["synth_song_id"] / "metadata.json").read_text())
        sections = truth["sections"]
        assert [s["label"] for s in row["segments"]] == [s["label"] for s in sections]
        assert [s["caption"] for s in row["segments"]] == [s["caption"] for s in sections]
        start = row["provenance"]["source_start"]
        assert start == pytest.approx(sections[0]["start"])
        for ours, theirs in zip(row["segments"], sections):
            assert ours["start"] == pytest.approx(theirs["start"] - start, abs=1e-6)
        assert row["caption"] and row["caption"] not in {s["caption"] for s in sections}
        assert len(row["caption"]) < 120  # a prompt of the kind users type, not a section description
        expected = LeadSheet.from_dict({k: v for k, v in truth["lead_sheet"].items() if k != "melody"})
        expected = expected.crop(start, row["provenance"]["source_end"])
        assert [c["symbol"] for c in row["lead_sheet"]["chords"]] == [c.symbol for c in expected.chords]
        assert row["lead_sheet"]["tempo"] == pytest.approx(truth["tempo"])
        assert row["duration"] == pytest.approx(row["segments"][-1]["end"], abs=1e-3)


def test_build_rejects_unknown_lead_sheet_backend(tiny_synth, tmp_path):
    result = run_cli(
        "build", "--input", str(tiny_synth), "--out", str(tmp_path / "o"), "--lead-sheets", "guessed", check=False
    )
    assert result.returncode == 2 and "--lead-sheets" in result.stderr


def test_synth_holds_out_families_and_keys(tmp_path):
    need_binaries()
    run_cli(
        "synth",
        "--n",
        "2",
        "--out",
        str(tmp_path / "s"),
        "--seed",
        "4",
        "--section-bars",
        "1",
        "--max-sections",
        "1",
        "--sample-rate",
        str(SR),
        "--families",
        "waltz,bossanova",
        "--keys",
        "F#,Db",
    )
    for path in sorted((tmp_path / "s").glob("*/metadata.json")):
        meta = json.loads(path.read_text())
        assert meta["key"].split()[0] in ("F#", "C#", "Db")
        assert {s["genre"] for s in meta["sections"]} <= {"waltz", "bossa nova"}
    bad = run_cli("synth", "--n", "1", "--out", str(tmp_path / "b"), "--families", "nosuchgroove", check=False)
    assert bad.returncode != 0 and "nosuchgroove" in bad.stderr
    none_left = run_cli(
        "synth", "--n", "1", "--out", str(tmp_path / "c"), "--keys", "C", "--exclude-keys", "C", check=False
    )
    assert none_left.returncode != 0 and "no tonic" in none_left.stderr
