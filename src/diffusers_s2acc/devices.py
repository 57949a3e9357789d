"""Which torch device a model backend loads on when the caller does not say."""

from __future__ import annotations

import os


def default_device() -> str:
    """This process's accelerator: `cuda:<LOCAL_RANK>` under `accelerate launch`/torchrun, so each process of a
    multi-GPU run loads its model on its own GPU; CPU when there is no GPU."""
    import torch

    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return "cpu"
