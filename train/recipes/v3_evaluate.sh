#!/usr/bin/env bash
# The evaluation of the v3 candidate in the model card, after train/recipes/v3.sh:
#
#   bash train/recipes/v3_evaluate.sh [WORK_DIR] [PIPELINE]      # defaults: runs/v3, WORK_DIR/dit
#   git worktree add /tmp/v2 33ba79d && bash train/recipes/v3_evaluate.sh runs/v3 /tmp/v2/pretrained/s2acc-demo
#                                                                # v2 (shipped until v3) on the same specs
#
# Every take uses the pipeline's recommended settings (its model_index.json): WORK_DIR/dit, as train_dit.py wrote
# it, recommends the reference sampler (Euler, 25 steps, guidance on every step), the settings of the model card's
# v3 figures; the shipped folder recommends the fast sampler chosen on them (bench/bench_sampler_quality.py). The sizes are environment knobs; the
# defaults are the budget its figures were measured with on 2 CPU cores (one 3-hour session): 30 of the 52
# hand-written charts (a seeded sample), both seeds of each; the no-lead-sheet floor on 15 of those 30, seed 0; the
# first 8 held-out and 4 OOD windows of v2's own spec files; 4 melody-only windows with their floor. BENCH_CHARTS=52
# FLOOR_CHARTS=52 V2_HELDOUT=24 V2_OOD=12 MELODY=12 is the full set.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-runs/v3}
PIPE=${2:-$WORK/dit}
PY=${PYTHON:-.venv/bin/python}
S2ACC=${S2ACC:-.venv/bin/s2acc}
OUT=${OUT:-$WORK/eval_$(basename "$PIPE")}
BENCH=$WORK/bench_handwritten
mkdir -p "$OUT"

# 1. The hand-written charts, rendered with MMA for their references; the seeded subset of this budget.
[ -f "$BENCH/specs.json" ] || $PY bench/render_handwritten.py --out "$BENCH"
$PY - "$BENCH" "${BENCH_CHARTS:-30}" "${FLOOR_CHARTS:-15}" <<'EOF'
import json, random, sys
from pathlib import Path

root, n_charts, n_floor = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
specs = json.loads((root / "specs.json").read_text())
chart = lambda spec: spec["id"].rsplit("_s", 1)[0]  # noqa: E731
charts = sorted({chart(s) for s in specs})
chosen = set(random.Random(0).sample(charts, min(n_charts, len(charts))))
floor_charts = set(random.Random(1).sample(sorted(chosen), min(n_floor, len(chosen))))
(root / "subset.json").write_text(json.dumps([s for s in specs if chart(s) in chosen], indent=1))
floor = [
    dict(s, id=s["id"] + "_floor", lead_sheet=None, score_lead_sheet=s["lead_sheet"])
    for s in specs
    if chart(s) in floor_charts and s["id"].endswith("_s0")
]
(root / "subset_floor.json").write_text(json.dumps(floor, indent=1))
EOF
$S2ACC evaluate --pipeline "$PIPE" --specs "$BENCH/subset.json" --json "$OUT/bench.json" --overwrite
$S2ACC evaluate --pipeline "$PIPE" --specs "$BENCH/subset_floor.json" --lead-sheet-guidance 1 \
    --json "$OUT/bench_floor.json" --overwrite
$PY bench/report_handwritten.py --scores "$OUT/bench.json" --floor "$OUT/bench_floor.json" \
    --tags "$BENCH/tags.json" --json "$OUT/bench_rows.json"

# 2. v2's own held-out and OOD windows (redrawn exactly by train/recipes/v3.sh), one take each.
$S2ACC evaluate --pipeline "$PIPE" --specs "$WORK/specs_v2_heldout.json" --limit "${V2_HELDOUT:-8}" \
    --json "$OUT/v2_heldout.json" --overwrite
$S2ACC evaluate --pipeline "$PIPE" --specs "$WORK/specs_v2_ood.json" --limit "${V2_OOD:-4}" \
    --json "$OUT/v2_ood.json" --overwrite

# 3. The melody without chords, scored against the song's true chart, beside the floor with neither.
[ -f "$WORK/specs_melody.json" ] || $S2ACC make-specs --synth "$WORK/songs_heldout" --duration 20 \
    --windows boundaries --windows-per-song 1 --phrasing train --lead-sheet-parts melody --out "$WORK/specs_melody.json"
$S2ACC evaluate --pipeline "$PIPE" --specs "$WORK/specs_melody.json" --limit "${MELODY:-4}" --no-lead-sheet-floor \
    --json "$OUT/melody.json" --overwrite
