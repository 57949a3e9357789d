#!/usr/bin/env bash
# The 44.1 kHz stereo VAE of issue 19 (the VAE of the next shipped model): realistic renders of the v3 charts, a size
# sweep at equal steps, then the chosen size continued with and without the adversarial phase.
#
#   bash train/recipes/v4_vae.sh [WORK_DIR]          # default WORK_DIR: runs/v4
#
# Every stage is resumable (finished songs, a built corpus and finished runs are skipped; a VAE run resumes from its
# latest checkpoint). Stages:
# 1. songs: the v3 recipe's charts and seeds (train/recipes/v3.sh) rendered with `--render realistic`: per-song GM
#    font (FluidR3 or MuseScore General), AVL acoustic drum kits, humanised timing and velocity, pan, sends,
#    reverb/chorus and a master chain, all at 44.1 kHz stereo. Same held-out families and keys as v3.
# 2. corpus: accompaniment stems at 44.1 kHz stereo with oracle lead sheets (the DiT of the next model trains on it).
# 3. sweep: sizes at the paper's hop 2048 (21.5 latent frames/s), each from a config.json, all trained for
#    SWEEP_STEPS at the same batch and clip length, side by side (one thread each, so they share the two cores
#    alike: equal steps are equal training time), then scored by bench/bench_vae.py on held-out songs and real
#    recordings. Names: w<width>c<channels>h<hop> is the Oobleck waveform VAE, s<encoder width>x<decoder width>
#    c<channels>h<hop>[ms] the STFT-domain one (architecture="spectral": STFT hop = hop / 4, then one stride-4
#    convolution; "ms": mid/side stereo). The default sweep is spectral: on 2026-12-03 the width-16 Oobleck VAE at hop 2048 (the best of
#    three Oobleck sizes at 600 steps) still decoded every held-out clip to a near-stationary spectrum after 1,700
#    steps (mel 0-8 kHz 10.73 dB against the 16 kHz v2 VAE's 8.34, chord majmin after the round trip 0.02).
# 4. final: the size named FINAL continued to FINAL_STEPS for each arm of ARMS (default both: with and without the
#    adversarial phase, what the discriminator buys at equal steps), and scored again. On two CPU cores a step with
#    the discriminator took 4-5 times as long as one without (about 10 s against 2.2 s, one thread each, side by
#    side, 2026-12-03), so the run of that day continued the plain arm alone (ARMS=plain).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-runs/v4}
PY=${PYTHON:-.venv/bin/python}
ACCELERATE=${ACCELERATE:-.venv/bin/accelerate}
SONGS=${SONGS:-240}
VAE_SONGS=${VAE_SONGS:-240}
SWEEP_STEPS=${SWEEP_STEPS:-2800}  # 2026-12-04 stopped the final layout at 700 (c32) and 206 (c128) steps
# A trailing "ms": mid/side stereo (the demo-stereo preset's); "if": integrated phase (spectral_phase="integrated").
# The runs of 2026-12-04 were continued from one another (see the model card); this default trains the layout they
# ended on from the start.
SWEEP=${SWEEP:-s128x256c128h2048msif}
FINAL=${FINAL:-}
FINAL_STEPS=${FINAL_STEPS:-1500}
REAL=${REAL:-/usr/share/games/wesnoth/1.16/data/core/music}  # scripts/install_system_deps.sh WITH_WESNOTH_MUSIC=1
mkdir -p "$WORK"
HELD_FAMILIES=bossanova,jazzwaltz
HELD_KEYS="F#,Db"

# 1. Songs (v3's seeds: the same charts, plans and melodies, realistic audio).
$PY -m dataset_builder synth --n 16 --out "$WORK/songs_heldout" --seed 11 --max-sections 4 --render realistic \
    --num-workers 2 --exclude-families $HELD_FAMILIES --exclude-keys "$HELD_KEYS"
$PY -m dataset_builder synth --n "$SONGS" --out "$WORK/songs_train" --seed 10 --max-sections 4 --render realistic \
    --num-workers 2 --exclude-families $HELD_FAMILIES --exclude-keys "$HELD_KEYS"
$PY -m dataset_builder synth --n 12 --out "$WORK/songs_ood" --seed 12 --max-sections 4 --render realistic \
    --num-workers 2 --families $HELD_FAMILIES --keys "$HELD_KEYS"
for set in heldout ood; do
  phrasing=$([[ $set == ood ]] && echo heldout || echo train)
  [ -f "$WORK/specs_$set.json" ] || $PY -m diffusers_s2acc.cli make-specs --synth "$WORK/songs_$set" \
      --duration 20 --windows boundaries --windows-per-song 2 --phrasing $phrasing --out "$WORK/specs_$set.json"
done

# 2. Corpus at 44.1 kHz stereo (the accompaniment stem, melody notes in the lead sheet).
if [ ! -f "$WORK/corpus/dataset_info.json" ]; then
  $PY -m dataset_builder build --input "$WORK/songs_train" --out "$WORK/corpus" --segmenter oracle \
      --captioner metadata --separation stems --sample-rate 44100 --lead-sheets oracle --clip-unit song \
      --num-workers 2
fi

# 3. The size sweep. Oobleck strides are the paper's 2-4-4-8-8 for hop 2048 and 2-4-4-4-8 for hop 1024; spectral
#    sizes have four ConvNeXt blocks per stage; widths and semantic head as the demo-stereo preset otherwise.
mkdir -p "$WORK/sizes"
for name in $SWEEP; do
  $PY - "$name" "$WORK/sizes/$name.json" <<'EOF'
import json, re, sys
from diffusers_s2acc.presets import vae_config
name = sys.argv[1]
base = {k: v for k, v in vae_config("demo-stereo").items() if k not in ("architecture", "spectral_blocks", "mid_side")}
if name.startswith("s"):
    *sizes, mid_side, integrated = re.fullmatch(r"s(\d+)x(\d+)c(\d+)h(\d+)(ms)?(if)?", name).groups()
    encoder, decoder, channels, hop = map(int, sizes)
    config = {**base, "architecture": "spectral", "encoder_hidden_size": encoder, "decoder_channels": decoder,
              "latent_channels": channels, "downsampling_ratios": [hop // 4, 4], "channel_multiples": [1, 1],
              "spectral_blocks": 4, "mid_side": mid_side is not None,
              "spectral_phase": "integrated" if integrated else "frame"}
else:
    width, channels, hop = map(int, re.fullmatch(r"w(\d+)c(\d+)h(\d+)", name).groups())
    strides = {2048: [2, 4, 4, 8, 8], 1024: [2, 4, 4, 4, 8], 4096: [2, 4, 8, 8, 8]}[hop]
    config = {**base, "architecture": "oobleck", "encoder_hidden_size": width, "decoder_channels": width,
              "latent_channels": channels, "downsampling_ratios": strides, "channel_multiples": [1, 2, 4, 8, 16]}
json.dump(config, open(sys.argv[2], "w"), indent=1)
EOF
done
# Log-mel beside the MR-STFT loss, and phase supervision: the compressed complex STFT loss (2.0) and the waveform L1
# (1.0). Magnitude losses alone let an inverse-STFT decoder predict phases that do not agree from frame to frame
# (the model card's runs of 2026-12-04; 0.5 / 0.1 trained alike, the heavier pair was kept). (The Oobleck figures of
# 2026-12-03 quoted above were trained with batch 4 x 1 s, L1 1.0 and no mel or complex loss.)
# Spectral VAEs add the chroma loss (the notes at semitone resolution), the periodic-component loss (no drone on the
# harmonics of 21.5 Hz) and optionally the semitone-band loss (SEMITONE, off by default: 300 steps of it did not
# bring the bass back, 2026-12-04).
vae_run() {  # name, output, steps, adversarial start step
  [ -f "$2/config.json" ] && [ -f "$2/diffusion_pytorch_model.safetensors" ] && return 0
  local spectral=()
  [[ $1 == s* ]] && spectral=(--chroma_weight "${CHROMA:-2.0}" --periodic_weight "${PERIODIC:-2.0}" \
      --semitone_weight "${SEMITONE:-0}")
  OMP_NUM_THREADS=${THREADS:-1} $ACCELERATE launch --num_processes 1 --cpu train/train_vae.py \
      --pretrained_model_name_or_path "$WORK/sizes/$1.json" --train_data_dir "$WORK/corpus" --output_dir "$2" \
      --max_train_samples "$VAE_SONGS" --train_batch_size 8 --clip_seconds 1.5 --learning_rate 4e-4 \
      --mel_weight 1.0 --l1_weight 1.0 --complex_stft_weight 2.0 \
      --adversarial_start_step "$4" --max_train_steps "$3" --checkpointing_steps 200 --checkpoints_total_limit 1 \
      --resume_from_checkpoint latest --report_to none --calibration_songs 32 "${spectral[@]}"
}
if [ -z "$FINAL" ]; then
  for name in $SWEEP; do
    vae_run "$name" "$WORK/sweep/$name" "$SWEEP_STEPS" 1000000 > "$WORK/sweep_$name.log" 2>&1 &
  done
  wait
  vaes=(--vae s2acc-demo); for name in $SWEEP; do vaes+=(--vae "$WORK/sweep/$name"); done
  [ -f "$WORK/bench_vae_sweep.json" ] || $PY bench/bench_vae.py "${vaes[@]}" --specs "$WORK/specs_heldout.json" \
      --limit 16 --real "$REAL" --json "$WORK/bench_vae_sweep.json" | tee "$WORK/bench_vae_sweep.md"
  exit 0
fi

# 4. The chosen size continued from its sweep run's last checkpoint (the sweep's steps count towards FINAL_STEPS),
#    with the discriminator from the sweep's end and without it.
ARMS=${ARMS:-adversarial plain}
for arm in $ARMS; do
  out="$WORK/final_$arm"
  if [ ! -d "$out" ]; then
    mkdir -p "$out" && cp -r "$WORK/sweep/$FINAL"/checkpoint-* "$WORK/sweep/$FINAL/train_log.jsonl" "$out"/
  fi
  start=$([[ $arm == adversarial ]] && echo "$SWEEP_STEPS" || echo 1000000)
  vae_run "$FINAL" "$out" "$FINAL_STEPS" "$start" > "$WORK/final_$arm.log" 2>&1 &
done
wait
vaes=(--vae s2acc-demo); for arm in $ARMS; do vaes+=(--vae "$WORK/final_$arm"); done
[ -f "$WORK/bench_vae_final.json" ] || $PY bench/bench_vae.py "${vaes[@]}" --specs "$WORK/specs_heldout.json" \
    --real "$REAL" --json "$WORK/bench_vae_final.json" | tee "$WORK/bench_vae_final.md"
