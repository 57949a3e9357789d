#!/usr/bin/env bash
# The recipe of s2acc-demo v3: the DiT of v2 continued on charts musicians write (every chart family of
# dataset_builder/synth/charts.py, most of MMA's style library, 3/4, 4/4 and 12/8, tempo 60-200) with the melody
# visible in the lead sheet. The VAE of v2 is kept unchanged (the 44.1 kHz stereo VAE is a later step).
#
#   bash train/recipes/v3.sh [WORK_DIR]          # default WORK_DIR: runs/v3
#
# Every stage is resumable: rerunning skips finished songs, a built corpus and a latent cache, and resumes the DiT
# from its latest checkpoint. DIT_STEPS sets the budget (cosine decay over the whole run), TRAIN_SONGS how many of
# the corpus's songs (its first rows) are encoded and trained on.
#
# The defaults below are the run of 2026-12-03 that is s2acc-demo v3 (850 steps, 240 songs; evaluated by
# train/recipes/v3_evaluate.sh, its sampler chosen by bench/bench_sampler_quality.py, both in the model card), on a
# 2-core AMD EPYC Zen 4 (native bf16, so bf16 autocast), nothing else beside it, times from
# runs/v3.log: synth + build about 9 min, latent cache 16 min, DiT 36.5 min (2.6 s/step for 8 samples, two
# processes). The candidate of 2026-12-02 in the model card (measured, not shipped) ran 700 steps on 128 songs in one
# process on a Zen 3 (AVX2, float32): DiT 47 min 20 s (4.06 s/step for 4 samples).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-runs/v3}
PY=${PYTHON:-.venv/bin/python}
ACCELERATE=${ACCELERATE:-.venv/bin/accelerate}
DIT_STEPS=${DIT_STEPS:-850}
TRAIN_SONGS=${TRAIN_SONGS:-240}
SONGS=${SONGS:-240}
mkdir -p "$WORK"

# Held out of training entirely, for the out-of-distribution column (as for v2): two groove families and two keys.
HELD_FAMILIES=bossanova,jazzwaltz
HELD_KEYS="F#,Db"

# 1. Songs from the mixed chart generator; four sections each (about 50 s), so that more charts fit the same
#    encoding time. Melody on 70% of songs (rendered as its own stem; its notes go into the lead sheet).
$PY -m dataset_builder synth --n "$SONGS" --out "$WORK/songs_train" --seed 10 --num-workers 2 --max-sections 4 \
    --exclude-families $HELD_FAMILIES --exclude-keys "$HELD_KEYS"
$PY -m dataset_builder synth --n 16 --out "$WORK/songs_heldout" --seed 11 --max-sections 4 \
    --exclude-families $HELD_FAMILIES --exclude-keys "$HELD_KEYS"
$PY -m dataset_builder synth --n 12 --out "$WORK/songs_ood" --seed 12 --max-sections 4 \
    --families $HELD_FAMILIES --keys "$HELD_KEYS"
# v2's own held-out and OOD songs, redrawn exactly by the classic generator (train/recipes/demo.sh's seeds).
$PY -m dataset_builder synth --n 16 --out "$WORK/songs_v2_heldout" --seed 1 --charts classic \
    --exclude-families $HELD_FAMILIES --exclude-keys "$HELD_KEYS"
$PY -m dataset_builder synth --n 12 --out "$WORK/songs_v2_ood" --seed 2 --charts classic \
    --families $HELD_FAMILIES --keys "$HELD_KEYS"

# 2. Corpus: one row per song, the accompaniment stem (no melody instrument) as audio, exact lead sheets with the
#    melody notes (no --no-melody: the melody is read from the metadata, not transcribed).
if [ ! -f "$WORK/corpus/dataset_info.json" ]; then
  $PY -m dataset_builder build --input "$WORK/songs_train" --out "$WORK/corpus" --segmenter oracle \
      --captioner metadata --separation stems --sample-rate 16000 --lead-sheets oracle --clip-unit song \
      --num-workers 2
fi

# 3. DiT continued from v2 (its VAE, text encoder and scheduler come along); bf16 autocast only where the CPU or GPU
#    computes bf16 natively (--mixed_precision auto: on AVX2-only CPUs emulated bf16 is ~5x slower than float32). Chords, melody and
#    beats are each hidden 30% of the time (independently), so melody-only, chords-only and both are all
#    conditions the model sees; the whole lead sheet 20% and the text 10% (for guidance).
# Two processes (DDP over gloo, one thread each) beat one process with two threads on a 2-core machine: measured on
# a Zen 4 (native bf16) at batch 4 per process, 3.1 samples/s against 2.6. LAUNCH_ARGS overrides (e.g. on a GPU).
# shellcheck disable=SC2086
$ACCELERATE launch ${LAUNCH_ARGS:---config_file train/configs/cpu_2proc.yaml} train/train_dit.py \
    --pretrained_model_name_or_path s2acc-demo --train_data_dir "$WORK/corpus" --output_dir "$WORK/dit" \
    --mixed_precision "${MIXED_PRECISION:-auto}" --checkpointing_steps 200 --checkpoints_total_limit 2 --learning_rate 3e-4 \
    --lr_warmup_steps 100 --lr_scheduler cosine --lead_sheet_part_drop_prob 0.3 --train_batch_size 4 \
    --clip_seconds 14 --report_to none --resume_from_checkpoint latest --max_train_steps "$DIT_STEPS" \
    --max_train_samples "$TRAIN_SONGS" --use_ema \
    ${DIT_EXTRA:-}

# 4. Evaluation specs: 20-s windows crossing a section boundary, from the new held-out and OOD songs and from v2's.
for set in heldout ood v2_heldout v2_ood; do
  phrasing=$([[ $set == *ood ]] && echo heldout || echo train)
  [ -f "$WORK/specs_$set.json" ] || $PY -m diffusers_s2acc.cli make-specs --synth "$WORK/songs_$set" \
      --duration 20 --windows boundaries --windows-per-song 2 --phrasing $phrasing --out "$WORK/specs_$set.json"
done

# 5. With SHIP=1: write the DiT as the shipped folder with the sampler the model card chose on it (UniPC on flow
#    sigmas, 6 steps, guidance on the first half), after the evaluation above and bench/bench_sampler_quality.py.
if [ "${SHIP:-0}" = 1 ]; then
  $PY train/recipes/ship.py "$WORK/dit" pretrained/s2acc-demo --scheduler unipc --steps 6 --guidance-interval 0 0.5
fi
