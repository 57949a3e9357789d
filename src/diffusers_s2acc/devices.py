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


def has_native_bf16(device: str = "cpu") -> bool:
    """Whether `device` computes bfloat16 natively. On CPUs without AVX512-BF16 or AMX (AVX2-only machines such as
    AMD Zen 3) torch emulates bf16, which was measured about five times slower than float32 (bench/bench_generate.py)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device == "cpu":
        return bool(
            getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
            or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
        )
    return False


def resolve_dtype(name: str, device: str) -> str:
    """ "auto" -> "bfloat16" where `device` computes bf16 natively, else "float32"; any other name is returned as is."""
    if name != "auto":
        return name
    return "bfloat16" if has_native_bf16(device) else "float32"
