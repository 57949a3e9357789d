"""LoRA loading for [`S2AccompanistPipeline`], following diffusers' transformer-only loader mixins."""

from __future__ import annotations

import os
from typing import Callable

import torch
from diffusers.loaders.lora_base import LoraBaseMixin, _fetch_state_dict
from diffusers.utils import logging
from huggingface_hub.utils import validate_hf_hub_args


logger = logging.get_logger(__name__)

#: Default weights file name, as for every diffusers LoRA.
LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"


class S2AccompanistLoraLoaderMixin(LoraBaseMixin):
    r"""
    Load, save, fuse and unfuse LoRA layers of the pipeline's [`S2DiTTransformer`].

    `fuse_lora`, `unfuse_lora`, `unload_lora_weights`, `set_adapters`, `disable_lora`, `enable_lora` and
    `delete_adapters` come from diffusers' `LoraBaseMixin`; the weights are peft adapters on the transformer, stored
    with the `transformer.` prefix in `pytorch_lora_weights.safetensors`.
    """

    _lora_loadable_modules = ["transformer"]
    transformer_name = "transformer"

    @classmethod
    @validate_hf_hub_args
    def lora_state_dict(
        cls, pretrained_model_name_or_path_or_dict: str | os.PathLike | dict[str, torch.Tensor], **kwargs
    ) -> dict[str, torch.Tensor] | tuple[dict[str, torch.Tensor], dict | None]:
        """Read a LoRA state dict (and its adapter metadata) from a folder, a file, a Hub repo or a dict."""
        return_metadata = kwargs.pop("return_lora_metadata", False)
        use_safetensors = kwargs.pop("use_safetensors", None)
        state_dict, metadata = _fetch_state_dict(
            pretrained_model_name_or_path_or_dict=pretrained_model_name_or_path_or_dict,
            weight_name=kwargs.pop("weight_name", None),
            use_safetensors=True if use_safetensors is None else use_safetensors,
            local_files_only=kwargs.pop("local_files_only", None),
            cache_dir=kwargs.pop("cache_dir", None),
            force_download=kwargs.pop("force_download", False),
            proxies=kwargs.pop("proxies", None),
            token=kwargs.pop("token", None),
            revision=kwargs.pop("revision", None),
            subfolder=kwargs.pop("subfolder", None),
            user_agent={"file_type": "attn_procs_weights", "framework": "pytorch"},
            allow_pickle=use_safetensors is None,
        )
        return (state_dict, metadata) if return_metadata else state_dict

    def load_lora_weights(
        self,
        pretrained_model_name_or_path_or_dict: str | os.PathLike | dict[str, torch.Tensor],
        adapter_name: str | None = None,
        hotswap: bool = False,
        **kwargs,
    ) -> None:
        """
        Load LoRA weights into the transformer as a peft adapter named `adapter_name`.

        Raises:
            ValueError: when the checkpoint holds keys that are not LoRA weights.
        """
        if isinstance(pretrained_model_name_or_path_or_dict, dict):
            pretrained_model_name_or_path_or_dict = pretrained_model_name_or_path_or_dict.copy()
        low_cpu_mem_usage = kwargs.pop("low_cpu_mem_usage", False)
        state_dict, metadata = self.lora_state_dict(
            pretrained_model_name_or_path_or_dict, return_lora_metadata=True, **kwargs
        )
        if not state_dict or not all("lora" in key for key in state_dict):
            raise ValueError("Invalid LoRA checkpoint: every parameter name must contain 'lora'.")
        self.transformer.load_lora_adapter(
            state_dict,
            network_alphas=None,
            adapter_name=adapter_name,
            metadata=metadata,
            _pipeline=self,
            low_cpu_mem_usage=low_cpu_mem_usage,
            hotswap=hotswap,
        )

    @classmethod
    def save_lora_weights(
        cls,
        save_directory: str | os.PathLike,
        transformer_lora_layers: dict[str, torch.nn.Module | torch.Tensor],
        is_main_process: bool = True,
        weight_name: str | None = None,
        save_function: Callable | None = None,
        safe_serialization: bool = True,
        transformer_lora_adapter_metadata: dict | None = None,
    ) -> None:
        """
        Save LoRA layers of the transformer, e.g. `get_peft_model_state_dict(pipe.transformer)`, to
        `save_directory/pytorch_lora_weights.safetensors`.
        """
        if not transformer_lora_layers:
            raise ValueError("`transformer_lora_layers` is empty: there is nothing to save.")
        cls._save_lora_weights(
            save_directory=save_directory,
            lora_layers={cls.transformer_name: transformer_lora_layers},
            lora_metadata={cls.transformer_name: transformer_lora_adapter_metadata},
            is_main_process=is_main_process,
            weight_name=weight_name,
            save_function=save_function,
            safe_serialization=safe_serialization,
        )

    def fuse_lora(self, components: list[str] = ["transformer"], lora_scale: float = 1.0, **kwargs) -> None:
        """Merge the active LoRA weights into the transformer's base weights."""
        super().fuse_lora(components=components, lora_scale=lora_scale, **kwargs)

    def unfuse_lora(self, components: list[str] = ["transformer"], **kwargs) -> None:
        """Undo [`fuse_lora`]."""
        super().unfuse_lora(components=components, **kwargs)
