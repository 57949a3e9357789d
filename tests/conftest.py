import os

import pytest
import torch


# Tests never reach a hub: anything that tries fails loudly instead of hanging on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from diffusers_s2acc import presets  # noqa: E402


SEGMENTS = [
    {"start": 0.0, "end": 0.5, "label": "intro", "caption": "a soft piano intro"},
    {"start": 0.5, "end": 1.0, "label": "chorus", "caption": "loud drums and distorted guitar"},
]


@pytest.fixture
def tiny_pipe():
    pipe = presets.build_pipeline("tiny", seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate(pipe, seed=0, **kwargs):
    kwargs.setdefault("prompt", "warm acoustic pop")
    kwargs.setdefault("num_inference_steps", 3)
    return pipe(generator=torch.Generator().manual_seed(seed), **kwargs).audios
