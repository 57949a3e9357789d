#!/usr/bin/env bash
# Python dependencies of the dataset builder, into the active environment.
# basic-pitch must be installed with --no-deps: its declared dependencies pull TensorFlow, while we only use the
# ONNX model that ships inside its wheel (run through onnxruntime, listed in the `data` extra).
set -euo pipefail
PIP="${PIP:-python -m pip}"
$PIP install -e ".[data]"
$PIP install --no-deps "basic-pitch==0.4.0"
python -c "import basic_pitch, onnxruntime; from basic_pitch import ICASSP_2022_MODEL_PATH; print('basic-pitch model:', ICASSP_2022_MODEL_PATH)"
