"""The training scripts, run for a few steps on the tiny preset and a synthetic corpus."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from synthetic_corpus import make_corpus

from diffusers_s2acc import S2AccompanistPipeline, SemanticAutoencoder, presets
from diffusers_s2acc.audio import match_channels
from diffusers_s2acc.training.checkpointing import list_checkpoints, resolve_checkpoint
from diffusers_s2acc.training.clips import AudioClipDataset
from diffusers_s2acc.training.corpus import load_corpus, song_from_row
from diffusers_s2acc.training.latent_cache import estimate_scaling_factor


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "train"))
import train_dit  # noqa: E402
import train_vae  # noqa: E402


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"), num_songs=4)


@pytest.fixture(scope="module")
def latents_dir(tmp_path_factory, corpus_dir):
    """Build the latent cache once (through the script, as users do) and share it."""
    out = tmp_path_factory.mktemp("cache_run")
    train_dit.main(_dit_args(corpus_dir, out, out / "latents", steps=1))
    return out / "latents"


def _dit_args(corpus, out, cache, steps=4, *extra):
    return [
        "--pretrained_model_name_or_path",
        "tiny",
        "--train_data_dir",
        str(corpus),
        "--output_dir",
        str(out),
        "--latents_cache_dir",
        str(cache),
        "--max_train_steps",
        str(steps),
        "--checkpointing_steps",
        "2",
        "--train_batch_size",
        "2",
        "--clip_seconds",
        "1",
        "--report_to",
        "none",
        "--lr_warmup_steps",
        "0",
        "--learning_rate",
        "1e-3",
        *extra,
    ]


def test_corpus_rows_become_songs_without_down_mixing(tmp_path):
    corpus = load_corpus(train_data_dir=str(make_corpus(tmp_path, num_songs=1, stereo=True)))
    song = song_from_row(corpus[0])
    assert song.audio.shape[0] == 2 and song.sampling_rate == 16000
    assert [s.label for s in song.segments] == ["verse", "chorus"] and song.lead_sheet.tempo == 100
    assert match_channels(song.audio, 1).shape[0] == 1
    with pytest.raises(ValueError, match="exactly one"):
        load_corpus()
    with pytest.raises(ValueError, match="not a folder"):
        load_corpus(train_data_dir=str(tmp_path / "missing"))


def test_audio_clips_carry_aligned_semantic_targets(corpus_dir):
    vae = SemanticAutoencoder(**presets.vae_config("tiny"))
    dataset = AudioClipDataset(load_corpus(train_data_dir=str(corpus_dir)), 16000, 1, vae.hop_length, clip_frames=50)
    item = dataset[0]
    assert item["audio"].shape == (1, 50 * vae.hop_length)
    assert item["chord"].shape == (50,) and (item["chord"] >= 0).all()  # the corpus has chords everywhere
    assert torch.equal(dataset[0]["audio"], item["audio"])  # same epoch and index: same clip
    dataset.set_epoch(1)
    assert not torch.equal(dataset[0]["audio"], item["audio"])


def test_train_dit_writes_a_loadable_pipeline(corpus_dir, latents_dir, tmp_path):
    train_dit.main(
        _dit_args(corpus_dir, tmp_path, latents_dir, 4, "--validation_steps", "4", "--validation_inference_steps", "2")
    )
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2, 3, 4] and all(np.isfinite(e["loss"]) for e in log)
    assert (tmp_path / "validation" / "step-4" / "0.wav").exists()
    pipe = S2AccompanistPipeline.from_pretrained(tmp_path)
    audio = pipe("test", num_inference_steps=2, audio_length_in_s=0.5).audios
    assert audio.shape == (1, 1, 8000) and np.isfinite(audio).all()


def test_killed_run_resumes_to_the_same_weights(corpus_dir, latents_dir, tmp_path):
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    train_dit.main(_dit_args(corpus_dir, reference, latents_dir, 6))
    # Kill a real process as soon as its first checkpoint is complete, whatever it is doing then.
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "train" / "train_dit.py"), *_dit_args(corpus_dir, resumed, latents_dir, 6)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while not list_checkpoints(resumed) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    completed = list_checkpoints(resumed)
    assert completed and int(completed[-1].name.split("-")[1]) < 6, "the run finished before it could be killed"
    train_dit.main(_dit_args(corpus_dir, resumed, latents_dir, 6, "--resume_from_checkpoint", "latest"))
    a = load_file(reference / "transformer" / "diffusion_pytorch_model.safetensors")
    b = load_file(resumed / "transformer" / "diffusion_pytorch_model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (reference / "train_log.jsonl").read_text() == (resumed / "train_log.jsonl").read_text()


def test_checkpoint_rotation_and_half_written_checkpoints(corpus_dir, latents_dir, tmp_path):
    train_dit.main(_dit_args(corpus_dir, tmp_path, latents_dir, 6, "--checkpoints_total_limit", "2"))
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-4", "checkpoint-6"]
    (tmp_path / ".tmp-checkpoint-8").mkdir()  # what a kill during save_state leaves behind
    assert resolve_checkpoint(tmp_path, "latest").name == "checkpoint-6"
    with pytest.raises(ValueError, match="not a complete checkpoint"):
        resolve_checkpoint(tmp_path, ".tmp-checkpoint-8")


def test_lora_training_loads_into_the_pipeline(corpus_dir, latents_dir, tmp_path):
    train_dit.main(_dit_args(corpus_dir, tmp_path, latents_dir, 3, "--rank", "4"))
    weights = tmp_path / "pytorch_lora_weights.safetensors"
    assert weights.exists() and all("lora" in k for k in load_file(weights))
    pipe = presets.build_pipeline("tiny")
    pipe.set_progress_bar_config(disable=True)
    kwargs = dict(prompt="x", num_inference_steps=2, audio_length_in_s=0.3)
    base = pipe(**kwargs, generator=torch.Generator().manual_seed(0)).audios
    pipe.load_lora_weights(tmp_path)
    tuned = pipe(**kwargs, generator=torch.Generator().manual_seed(0)).audios
    assert tuned.shape == base.shape and not np.array_equal(tuned, base)


def test_train_vae_runs_with_adversarial_phase(corpus_dir, tmp_path):
    train_vae.main(
        [
            "--pretrained_model_name_or_path",
            "tiny",
            "--train_data_dir",
            str(corpus_dir),
            "--output_dir",
            str(tmp_path),
            "--max_train_steps",
            "4",
            "--checkpointing_steps",
            "2",
            "--train_batch_size",
            "2",
            "--clip_seconds",
            "0.5",
            "--adversarial_start_step",
            "2",
            "--report_to",
            "none",
            "--lr_warmup_steps",
            "0",
        ]
    )
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert "discriminator" not in log[1] and "discriminator" in log[2]
    assert all(np.isfinite(e["loss"]) and e["semantic"] > 0 for e in log)
    vae = SemanticAutoencoder.from_pretrained(tmp_path)
    assert vae.decode(torch.zeros(1, 8, 4)).sample.shape == (1, 1, 4 * vae.hop_length)
    # The trained VAE goes into DiT training and into the pipeline it saves.
    dit_dir = tmp_path / "dit"
    train_dit.main(
        _dit_args(corpus_dir, dit_dir, dit_dir / "latents", 1, "--pretrained_vae_model_name_or_path", str(tmp_path))
    )
    saved = SemanticAutoencoder.from_pretrained(dit_dir, subfolder="vae")
    assert all(torch.equal(v, saved.state_dict()[k]) for k, v in vae.state_dict().items())
    # train_vae calibrated the latent scale on the corpus: the DiT's cached latents have unit variance.
    assert saved.config.scaling_factor == vae.config.scaling_factor != 1.0
    cached = np.concatenate([np.asarray(r).ravel() for r in datasets.load_from_disk(dit_dir / "latents")["latents"]])
    assert cached.std() == pytest.approx(1.0, abs=1e-3)


def test_train_vae_from_a_config_json_trains_a_new_size_at_its_own_rate(corpus_dir, tmp_path):
    # A new size is tried from a config.json (as transformers' --config_name): here a stereo 44.1 kHz VAE on a mono
    # 16 kHz corpus, which the clip loader matches (duplicated channels, resampled) without touching the corpus.
    config = {**presets.vae_config("tiny"), "audio_channels": 2, "sampling_rate": 44100, "latent_channels": 4}
    (tmp_path / "size.json").write_text(json.dumps(config))
    out = tmp_path / "vae"
    args = ["--train_data_dir", str(corpus_dir), "--output_dir", str(out), "--max_train_steps", "1"]
    args += ["--train_batch_size", "1", "--clip_seconds", "0.2", "--report_to", "none", "--lr_warmup_steps", "0"]
    train_vae.main(["--pretrained_model_name_or_path", str(tmp_path / "size.json"), *args])
    vae = SemanticAutoencoder.from_pretrained(out)
    assert (vae.config.audio_channels, vae.config.sampling_rate, vae.config.latent_channels) == (2, 44100, 4)
    assert vae.decode(torch.zeros(1, 4, 3)).sample.shape == (1, 2, 3 * vae.hop_length)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        train_vae.main(["--pretrained_model_name_or_path", str(tmp_path / "missing.json"), *args])


def test_train_vae_trains_a_spectral_stereo_vae_with_the_mel_and_chroma_losses(corpus_dir, tmp_path):
    """The STFT-domain architecture at 44.1 kHz stereo, from a config.json, with the log-mel loss logged beside the
    MR-STFT one."""
    config = {
        **presets.vae_config("tiny"),
        "audio_channels": 2,
        "sampling_rate": 44100,
        "latent_channels": 4,
        "architecture": "spectral",
        "downsampling_ratios": [256, 4],
        "channel_multiples": [1, 1],
        "spectral_blocks": 1,
    }
    (tmp_path / "size.json").write_text(json.dumps(config))
    out = tmp_path / "vae"
    train_vae.main(
        [
            "--pretrained_model_name_or_path",
            str(tmp_path / "size.json"),
            "--train_data_dir",
            str(corpus_dir),
            "--output_dir",
            str(out),
            "--max_train_steps",
            "2",
            "--train_batch_size",
            "1",
            "--clip_seconds",
            "0.3",
            "--report_to",
            "none",
            "--lr_warmup_steps",
            "0",
            "--mel_weight",
            "1.0",
            "--chroma_weight",
            "1.0",
            "--semitone_weight",
            "1.0",
            "--periodic_weight",
            "1.0",
        ]
    )
    vae = SemanticAutoencoder.from_pretrained(out)
    assert vae.config.architecture == "spectral" and vae.hop_length == 1024
    assert vae.decode(torch.zeros(1, 4, 3)).sample.shape == (1, 2, 3 * 1024)
    logged = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert all(
        math.isfinite(row[name]) and row[name] > 0
        for row in logged
        for name in ("mel", "chroma", "semitone", "periodic")
    )


def _song_audio(row) -> torch.Tensor:
    song = song_from_row(row)
    assert song.sampling_rate == 16000
    return torch.from_numpy(match_channels(song.audio, 1))[None]


@torch.no_grad()
def test_latent_scale_estimate(corpus_dir):
    vae = presets.build_pipeline("tiny").vae
    corpus = load_corpus(train_data_dir=str(corpus_dir))
    factor = estimate_scaling_factor(vae, corpus)
    latents = torch.cat([vae.encode(_song_audio(corpus[i])).latent_dist.mode().flatten() for i in range(len(corpus))])
    assert (latents * factor).double().std(unbiased=False).item() == pytest.approx(1.0, abs=1e-4)
    # A subset gives an estimate of the same scale; an empty corpus is refused by name.
    assert estimate_scaling_factor(vae, corpus, max_songs=2) == pytest.approx(factor, rel=0.5)
    with pytest.raises(ValueError, match="empty corpus"):
        estimate_scaling_factor(vae, corpus.select([]))


def test_max_train_samples_keeps_the_first_rows_and_guards_the_latent_cache(corpus_dir, latents_dir, tmp_path):
    full = load_corpus(train_data_dir=str(corpus_dir))
    first = load_corpus(train_data_dir=str(corpus_dir), max_samples=2)
    # The first rows, not a seeded draw: runs with other seeds then train on the same songs and share one cache.
    assert len(first) == 2 and first["caption"] == full["caption"][:2]
    assert len(load_corpus(train_data_dir=str(corpus_dir), max_samples=100)) == len(full)
    with pytest.raises(ValueError, match="max_samples"):
        load_corpus(train_data_dir=str(corpus_dir), max_samples=0)
    with pytest.raises(SystemExit, match="--max_train_samples must be >= 1"):
        train_dit.parse_args(["--output_dir", str(tmp_path), "--train_data_dir", "x", "--max_train_samples", "0"])
    # The shared cache holds all 4 songs: reusing it for a 2-song run would train on songs the user excluded.
    with pytest.raises(SystemExit, match="holds 4 songs but the corpus .* has 2"):
        train_dit.main(_dit_args(corpus_dir, tmp_path / "run", latents_dir, 1, "--max_train_samples", "2"))
    train_dit.main(_dit_args(corpus_dir, tmp_path / "run2", tmp_path / "cache2", 1, "--max_train_samples", "2"))
    assert len(datasets.load_from_disk(str(tmp_path / "cache2"))) == 2


def test_bad_training_arguments_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="exactly one"):
        train_dit.parse_args(["--output_dir", str(tmp_path)])
    with pytest.raises(SystemExit, match="--rank"):
        train_dit.parse_args(["--output_dir", str(tmp_path), "--train_data_dir", "x", "--rank", "0"])


@pytest.mark.skipif(os.cpu_count() < 2, reason="needs two cores")
def test_two_process_launch(corpus_dir, latents_dir, tmp_path):
    accelerate = Path(sys.executable).with_name("accelerate")
    result = subprocess.run(
        [
            str(accelerate),
            "launch",
            "--config_file",
            str(ROOT / "train" / "configs" / "cpu_2proc.yaml"),
            str(ROOT / "train" / "train_dit.py"),
            *_dit_args(corpus_dir, tmp_path, latents_dir, 2),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Training on 2 process(es), MULTI_CPU" in result.stdout  # really two ranks, not two lone trainers
    assert (tmp_path / "model_index.json").exists() and (tmp_path / "checkpoint-2").exists()


def test_cpu_flag_launch_runs_and_says_it_is_one_process(corpus_dir, latents_dir, tmp_path):
    """The issue's literal command: accelerate's simple launcher starts one process for `--cpu`; the run works and
    tells the user how to get several."""
    accelerate = Path(sys.executable).with_name("accelerate")
    result = subprocess.run(
        [
            str(accelerate),
            "launch",
            "--num_processes",
            "2",
            "--cpu",
            str(ROOT / "train" / "train_dit.py"),
            *_dit_args(corpus_dir, tmp_path, latents_dir, 1),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Training on 1 process(es)" in result.stdout
    assert "cpu_2proc.yaml" in result.stderr and (tmp_path / "model_index.json").exists()


def test_lone_process_detection(monkeypatch):
    from diffusers_s2acc.training.arguments import single_process_despite_request

    for name in ("WORLD_SIZE", "RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MASTER_ADDR", "ACCELERATE_USE_CPU"):
        monkeypatch.delenv(name, raising=False)
    assert not single_process_despite_request()  # plain `python train_dit.py`
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    assert single_process_despite_request()
    monkeypatch.setenv("WORLD_SIZE", "2")  # torchrun / --multi_gpu started the ranks
    assert not single_process_despite_request()


@pytest.mark.parametrize("name", ["cpu_2proc", "ddp_8gpu", "fsdp_paper", "deepspeed_zero2_paper"])
def test_shipped_accelerate_configs_parse(name):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ROOT / "train" / "configs" / f"{name}.yaml"))
    assert config.num_processes >= 2
    if name == "fsdp_paper":
        from diffusers_s2acc import S2DiTTransformer

        assert config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] in S2DiTTransformer._no_split_modules


def test_padding_of_short_songs_is_masked_out_of_the_loss(latents_dir):
    """A song shorter than the clip is zero-padded; `mask` marks the padding and `masked_mse` ignores it."""
    from diffusers_s2acc.training.clips import LatentClipDataset, collate_latent_clips

    cache = datasets.load_from_disk(str(latents_dir))
    frames = max(len(r) for r in cache.with_format("numpy")["latents"])
    item = LatentClipDataset(cache, clip_frames=frames + 7)[0]
    real = len(cache.with_format("numpy")[0]["latents"])
    assert item["mask"][:real].eq(1).all() and item["mask"][real:].eq(0).all()
    batch = collate_latent_clips([item, item])
    target = torch.randn_like(batch["latents"])
    prediction = target.clone()
    prediction[..., real:] += 100.0  # anything on the padding
    assert train_dit.masked_mse(prediction, target, batch["mask"]).item() == 0.0
    prediction[..., :real] += 1.0
    assert train_dit.masked_mse(prediction, target, batch["mask"]).item() == pytest.approx(1.0)


def test_clip_loaders_refuse_non_finite_rows_naming_them():
    """Issue 11, item 8: one NaN in a batch makes every weight NaN; the loaders name the row instead."""
    from diffusers_s2acc.training.clips import LatentClipDataset

    audio = np.zeros(16000, dtype=np.float32)
    audio[100:103] = np.nan
    rows = [{"id": "song_007", "audio": {"array": audio, "sampling_rate": 16000}, "caption": "x"}]
    with pytest.raises(ValueError, match=r"row 0 \(id 'song_007'\): 3 of 16000 audio values are NaN"):
        AudioClipDataset(rows, 16000, 1, 64, clip_frames=10)[0]
    latents = np.zeros((20, 4), dtype=np.float32)
    latents[5, 1] = np.inf
    cache = datasets.Dataset.from_dict(
        {
            "latents": [latents.tolist()],
            "frame_rate": [10.0],
            "caption": ["x"],
            "segments": [None],
            "lead_sheet": [None],
        }
    )
    with pytest.raises(ValueError, match=r"row 0: 1 of 80 latent values"):
        LatentClipDataset(cache, clip_frames=8)[0]


def test_train_dit_refuses_a_vae_its_transformer_or_cache_does_not_fit(corpus_dir, latents_dir, tmp_path):
    """A VAE swapped in by --pretrained_vae_model_name_or_path must have the transformer's latent width, and a latent
    cache encoded by another VAE (another frame rate) is refused, not trained on."""
    narrow = tmp_path / "narrow"
    SemanticAutoencoder(**{**presets.vae_config("tiny"), "latent_channels": 4}).save_pretrained(narrow)
    with pytest.raises(SystemExit, match="takes 8 latent channels but the VAE has 4"):
        train_dit.main(
            _dit_args(corpus_dir, tmp_path / "a", latents_dir, 1, "--pretrained_vae_model_name_or_path", str(narrow))
        )
    other_rate = tmp_path / "other_rate"
    SemanticAutoencoder(**{**presets.vae_config("tiny"), "downsampling_ratios": [4, 4, 4]}).save_pretrained(other_rate)
    with pytest.raises(SystemExit, match="was encoded at .* delete the cache"):
        train_dit.main(
            _dit_args(
                corpus_dir, tmp_path / "b", latents_dir, 1, "--pretrained_vae_model_name_or_path", str(other_rate)
            )
        )
