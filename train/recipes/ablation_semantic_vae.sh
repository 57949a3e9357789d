#!/usr/bin/env bash
# Issue 12's ablation: does the semantic-aware VAE (lead-sheet semantic loss) make the DiT follow the chart better?
#
#   bash train/recipes/ablation_semantic_vae.sh [DEMO_WORK_DIR] [ABLATION_DIR]
#
# Reuses the synth corpus, held-out corpus and held-out specs of train/recipes/demo.sh (run its stages 1, 2 and 5
# first, or point DEMO_WORK_DIR at a finished run). Two arms, identical but for the VAE's --semantic_weight
# (0.1, the shipped recipe, against 0): same corpus, seed and step counts, so the budget is equal (the semantic head
# is a few convolutions on the latent; each stage's wall-clock is logged to compare). Then the same DiT recipe on
# each VAE's latents for each DiT seed, scored with `s2acc evaluate` (chord majmin, tempo Acc1, mel-chroma FAD,
# VAE round trip), and each VAE probed with `s2acc probe-vae`. Every stage is resumable and skipped when done.
# Measured cost of each stage on 2 CPU cores: VAE 1,200 steps 21-27 min, latent cache of 80 songs 7.5 min (200: 25
# min), DiT 2.2-2.8 s per step (this VM drifts), one evaluation (24 specs, one take, VAE round trip) 10 min; so
# about 6.5 h for both arms at the defaults (1,600 DiT steps, two DiT seeds). Set VAE_STEPS / DIT_STEPS / DIT_SEEDS / DIT_SONGS /
# EVAL_LIMIT / EVAL_SEEDS to change it; the reduced run reported in the README fitted one 3-hour session:
#   VAE_STEPS=1200 DIT_STEPS=500 DIT_SONGS=80 DIT_SEEDS=0 EVAL_SEEDS=1 bash train/recipes/ablation_semantic_vae.sh
# The semantic arm's VAE is the shipped one: the same command reproduces pretrained/s2acc-demo/vae bit for bit
# (sha256 checked), even when killed and resumed half-way.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEMO=${1:-runs/demo}
WORK=${2:-runs/ablation_semantic_vae}
PY=${PYTHON:-.venv/bin/python}
ACCELERATE=${ACCELERATE:-.venv/bin/accelerate}
VAE_STEPS=${VAE_STEPS:-1200}
DIT_STEPS=${DIT_STEPS:-1600}
DIT_SEEDS=${DIT_SEEDS:-"0 1"}
DIT_SONGS=${DIT_SONGS:-}  # the DiT trains on the corpus' first N songs only (empty: all); shortens the latent caches
EVAL_LIMIT=${EVAL_LIMIT:-24}
EVAL_SEEDS=${EVAL_SEEDS:-2}
GUIDANCE=${GUIDANCE:-3.5}  # the shipped default lead-sheet guidance (pretrained.DEFAULT_LEAD_SHEET_GUIDANCE)
mkdir -p "$WORK"
for need in "$DEMO/corpus/dataset_info.json" "$DEMO/corpus_heldout/dataset_info.json" "$DEMO/specs_heldout.json"; do
  [ -e "$need" ] || { echo "missing $need: run train/recipes/demo.sh stages 1, 2 and 5 first" >&2; exit 2; }
done

timed() {  # timed LOG_NAME command...: runs the command, appends its wall-clock seconds to $WORK/times.tsv
  local name=$1; shift
  local start=$SECONDS
  "$@"
  printf '%s\t%s\n' "$name" $((SECONDS - start)) >> "$WORK/times.tsv"
}

WEIGHTS="0.1 0"
# Stage by stage across both arms (both VAEs, their probes, then each DiT seed on both arms with its evaluation), so
# that a run cut short by a time limit leaves comparable arms rather than one finished arm and nothing of the other.
for weight in $WEIGHTS; do
  arm="$WORK/semantic_$weight"
  if [ ! -f "$arm/vae/config.json" ]; then
    timed "vae_semantic_$weight" $ACCELERATE launch --num_processes 1 --cpu train/train_vae.py \
        --pretrained_model_name_or_path demo --train_data_dir "$DEMO/corpus" --output_dir "$arm/vae" \
        --train_batch_size 4 --clip_seconds 1 --learning_rate 4e-4 --adversarial_start_step 1000000 \
        --max_train_steps "$VAE_STEPS" --semantic_weight "$weight" --seed 0 \
        --calibration_songs 16 --checkpointing_steps 300 --resume_from_checkpoint latest
  fi
done
for weight in $WEIGHTS; do
  arm="$WORK/semantic_$weight"
  if [ ! -f "$arm/probe.json" ]; then
    $PY -m diffusers_s2acc.cli probe-vae --vae "$arm/vae" --fit-data "$DEMO/corpus" --eval-data "$DEMO/corpus_heldout" \
        --max-songs 24 --seconds 60 --json "$arm/probe.json"
  fi
done
for seed in $DIT_SEEDS; do
  for weight in $WEIGHTS; do
    arm="$WORK/semantic_$weight"
    run="$arm/dit_seed$seed"
    if [ ! -f "$run/model_index.json" ]; then
      timed "dit_semantic_${weight}_seed$seed" $ACCELERATE launch --num_processes 1 --cpu --mixed_precision bf16 \
          train/train_dit.py --pretrained_model_name_or_path demo --pretrained_vae_model_name_or_path "$arm/vae" \
          --train_data_dir "$DEMO/corpus" --output_dir "$run" --latents_cache_dir "$arm/latents" \
          --mixed_precision bf16 --max_train_steps "$DIT_STEPS" --checkpointing_steps 200 \
          --checkpoints_total_limit 2 --learning_rate 4e-4 --lr_scheduler cosine --lr_warmup_steps 100 \
          --train_batch_size 4 --clip_seconds 14 --seed "$seed" --report_to none --resume_from_checkpoint latest \
          ${DIT_SONGS:+--max_train_samples "$DIT_SONGS"}
    fi
    if [ ! -f "$run/eval.json" ]; then
      $PY -m diffusers_s2acc.cli evaluate --pipeline "$run" --specs "$DEMO/specs_heldout.json" --limit "$EVAL_LIMIT" \
          --seeds "$EVAL_SEEDS" --steps 25 --dtype bfloat16 --lead-sheet-guidance "$GUIDANCE" --reconstruction \
          --json "$run/eval.json"
    fi
  done
done
$PY train/recipes/ablation_table.py "$WORK"
