#!/usr/bin/env bash
# Python dependencies of the dataset builder, into the active environment.
# basic-pitch must be installed with --no-deps: its declared dependencies pull TensorFlow, while we only use the
# ONNX model that ships inside its wheel (run through onnxruntime, listed in the `data` extra).
set -euo pipefail
PIP="${PIP:-python -m pip}"
cd "$(dirname "$0")/.."
# torch comes first and is chosen by the user (CI: `pip install -r requirements/ci.txt`, the CPU wheel); installing
# the package without it would let pip pick a default build, which can be a multi-GB CUDA wheel.
if ! python -c "import torch" 2>/dev/null; then
    echo "Install torch first (CI/dev: pip install -r requirements/ci.txt), then rerun this script." >&2
    exit 1
fi
$PIP install -e ".[data]"
$PIP install --no-deps "basic-pitch==0.4.0"
python -c "import basic_pitch, onnxruntime; from basic_pitch import ICASSP_2022_MODEL_PATH; print('basic-pitch model:', ICASSP_2022_MODEL_PATH)"
