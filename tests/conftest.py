import os

import pytest


# Tests never reach a hub: anything that tries fails loudly instead of hanging on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from diffusers_s2acc import presets  # noqa: E402


@pytest.fixture
def tiny_pipe():
    pipe = presets.build_pipeline("tiny", seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def pipes():
    """The tiny preset and a repaint pipeline sharing its components, built once per test module."""
    from diffusers_s2acc import S2AccompanistRepaintPipeline

    pipe = presets.build_pipeline("tiny", seed=0)
    pipe.set_progress_bar_config(disable=True)
    repaint = S2AccompanistRepaintPipeline.from_pipe(pipe)
    repaint.set_progress_bar_config(disable=True)
    return pipe, repaint
