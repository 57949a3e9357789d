#!/usr/bin/env bash
# Assembles a Hugging Face Space folder: spaces/ (README card, app.py, requirements.txt), the package source and the
# shipped default pipeline. Upload it with `huggingface-cli upload ORG/SPACE OUT . --repo-type space`.
# The shipped pipeline is taken from $S2ACC_PRETRAINED_DIR when set, else from pretrained/ (as the package looks it up).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: bash scripts/bundle_space.sh OUT_FOLDER}"
pretrained="${S2ACC_PRETRAINED_DIR:-pretrained}/s2acc-demo"
if [ ! -f "$pretrained/model_index.json" ]; then
    echo "bundle_space.sh: no shipped pipeline at $pretrained (train it, or set S2ACC_PRETRAINED_DIR)." >&2
    exit 1
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
    echo "bundle_space.sh: $out exists and is not empty; name a new folder." >&2
    exit 1
fi
mkdir -p "$out/src" "$out/pretrained"
cp spaces/README.md spaces/app.py spaces/requirements.txt "$out/"
# app.py puts src/ on sys.path; diffusers_s2acc.pretrained finds src/../pretrained/s2acc-demo, as in a clone.
cp -r src/diffusers_s2acc "$out/src/"
cp -r "$pretrained" "$out/pretrained/"
find "$out" -name __pycache__ -type d -prune -exec rm -rf {} +
echo "Space folder ready: $out ($(du -sh "$out" | cut -f1))"
