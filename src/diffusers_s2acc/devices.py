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


def has_int8_kernels(device: str = "cpu") -> bool:
    """Whether `device` runs dynamic int8 linear layers (`quantize_linear_layers_int8`): a CPU with one of torch's
    quantized engines (x86/fbgemm/oneDNN, or qnnpack on ARM) and eager-mode dynamic quantisation in this torch."""
    import torch

    if not str(device).startswith("cpu"):
        return False
    try:
        from torch.ao.quantization import quantize_dynamic  # noqa: F401
    except ImportError:
        return False
    return any(engine != "none" for engine in torch.backends.quantized.supported_engines)


def resolve_dtype(name: str, device: str) -> str:
    """
    `"auto"` -> `"int8"` on CPUs with int8 kernels, else `"bfloat16"` where `device` computes bf16 natively, else
    `"float32"`; any other name is returned as is (`"int8"` only on the CPU: its kernels are torch's CPU ones).

    Why int8 first on a CPU: measured with `bench/bench_speed.py` (10 s of audio, the shipped sampler, 2 cores) it
    was the fastest dtype both with native bf16 (AMD Zen 4: 0.99 s against bf16's 1.32 s and float32's 2.05 s) and
    with torch's kernels held to AVX2 (1.14 s against float32's 1.76 s; bf16 is emulated there), at equal quality
    (model card: chord majmin, tempo and FAD against the reference sampler).
    """
    if name == "int8" and not str(device).startswith("cpu"):
        raise ValueError(
            f"int8: dynamic int8 quantisation runs on the CPU only, not on {device}; use float32 or bfloat16"
        )
    if name != "auto":
        return name
    if has_int8_kernels(device):
        return "int8"
    return "bfloat16" if has_native_bf16(device) else "float32"


#: The dtype names a pipeline loads in (`auto` is resolved by `resolve_dtype` first). `int8`: float32, with the
#: transformer blocks' linear layers quantised to int8 (`quantize_linear_layers_int8`).
DTYPES = ("auto", "float32", "bfloat16", "int8")


def quantize_linear_layers_int8(model, prefix: str = "blocks."):
    """
    Dynamic int8 quantisation of `model`'s `nn.Linear` layers whose names start with `prefix` (in place; `model` is
    returned): int8 weights, activations quantised per call, int32 accumulation, on torch's x86 CPU kernels
    (fbgemm/oneDNN, AVX2 and AVX512-VNNI). The linear layers are about three quarters of a transformer pass; in one
    run here one such layer was 5.7 times faster than in float32 (`bench/bench_speed.py` measures whole pipelines).
    The embeddings, projections in and out and the norms stay float32. For inference only: a quantised model
    cannot be trained, given LoRA layers or saved.

    `torch.ao.quantization.quantize_dynamic` is deprecated in favour of torchao, whose int8 path is only fast on the
    CPU under `torch.compile`; torch 2.13 still ships it, and where it is gone this raises a clear `RuntimeError`.
    """
    import warnings

    import torch

    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError as error:  # pragma: no cover - torch builds without eager-mode quantization
        raise RuntimeError(
            f"int8: this torch ({torch.__version__}) has no eager dynamic quantisation: {error}"
        ) from None
    names = {
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.startswith(prefix)
    }
    if not names:
        raise ValueError(f"int8: {type(model).__name__} has no linear layers under {prefix!r}")
    with warnings.catch_warnings():
        # The deprecation notice of torch.ao.quantization, once per call: the docstring says what it means here.
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor.*deprecated")
        return quantize_dynamic(model, names, dtype=torch.qint8, inplace=True)


def component_dtypes(dtype: str) -> dict | None:
    """
    The `dtype=` argument of `from_pretrained` for the pipeline dtype `dtype`: `None` (as saved) for `"float32"`
    and `"int8"` (quantised after loading);
    for `"bfloat16"`, the transformer and text encoder in bfloat16 and the VAE in float32 (its weights are small and
    its decoder is what the ear hears).
    """
    import torch

    if dtype not in ("float32", "bfloat16", "int8"):
        raise ValueError(f"dtype must be 'float32', 'bfloat16' or 'int8', got {dtype!r}.")
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
