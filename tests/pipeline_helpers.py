"""Inputs and a seeded generation call shared by the pipeline tests."""

import torch


SEGMENTS = [
    {"start": 0.0, "end": 0.5, "label": "intro", "caption": "a soft piano intro"},
    {"start": 0.5, "end": 1.0, "label": "chorus", "caption": "loud drums and distorted guitar"},
]


def generate(pipe, seed=0, **kwargs):
    kwargs.setdefault("prompt", "warm acoustic pop")
    kwargs.setdefault("num_inference_steps", 3)
    return pipe(generator=torch.Generator().manual_seed(seed), **kwargs).audios
