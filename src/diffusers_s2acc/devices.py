"""Which torch device and dtype a model loads in: defaults, what the hardware supports, and checked names."""

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


#: The dtype names a pipeline loads in (`auto` is resolved by `resolve_dtype` first).
DTYPES = ("auto", "float32", "bfloat16")


def component_dtypes(dtype: str) -> dict | None:
    """
    The `dtype=` argument of `from_pretrained` for the pipeline dtype `dtype`: `None` (as saved) for `"float32"`;
    for `"bfloat16"`, the transformer and text encoder in bfloat16 and the VAE in float32 (its weights are small and
    its decoder is what the ear hears).
    """
    import torch

    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"dtype must be 'float32' or 'bfloat16', got {dtype!r}.")
    return {"default": torch.bfloat16, "vae": torch.float32} if dtype == "bfloat16" else None


def resolve_device(name: str | None) -> str:
    """
    The torch device `name`, checked against this torch build (`None`: CUDA when there is one, else the CPU).

    Raises:
        `ValueError` starting with `name`: not a device name, or a device this machine cannot use.
    """
    import torch

    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name}: not a torch device name (try cpu, cuda or cuda:0)") from None
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        available = "cpu" + (", cuda" if torch.cuda.is_available() else "")
        raise ValueError(f"{name}: not usable here ({reason}); available: {available}") from None
    return name
