#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine (run as root): system packages, then a
# virtual environment in .venv with the package, its extras (the Space's included) and the CPU build of torch pinned
# for CI/dev.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_system_deps.sh

python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU wheel first, pinned: otherwise a dependency asking for plain `torch` pulls a multi-GB CUDA build.
python -m pip install -q -r requirements/ci.txt
python -m pip install -q -c requirements/ci.txt -e ".[dev,train,data,space]"
# basic-pitch without its declared dependencies (they pull TensorFlow); we run its ONNX model through onnxruntime.
python -m pip install -q --no-deps "basic-pitch==0.4.0"
python -c "import torch, diffusers_s2acc, dataset_builder, basic_pitch, gradio; print('torch', torch.__version__, '| diffusers_s2acc', diffusers_s2acc.__version__)"
