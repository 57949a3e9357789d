"""Pipeline stages, each behind a small interface with an offline default and optional model backends."""


def default_device() -> str:
    """This process's accelerator: `cuda:<LOCAL_RANK>` under `accelerate launch`/torchrun, so each process of a
    multi-GPU run loads its model on its own GPU; CPU when there is no GPU."""
    import os

    import torch

    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return "cpu"
