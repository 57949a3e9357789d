import numpy as np
import pytest
import torch
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from pipeline_helpers import SEGMENTS, generate

from diffusers_s2acc import presets
from diffusers_s2acc.loaders import LORA_WEIGHT_NAME


TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def _add_random_adapter(pipe, name="default", seed=0):
    pipe.transformer.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=TARGETS, init_lora_weights=False), adapter_name=name
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param_name, param in pipe.transformer.named_parameters():
            if "lora_" in param_name and name in param_name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)


def _fresh_pipe():
    pipe = presets.build_pipeline("tiny", seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_lora_save_load_fuse_unfuse_unload(tmp_path):
    pipe = _fresh_pipe()
    base = generate(pipe, segments=SEGMENTS)
    _add_random_adapter(pipe)
    with_lora = generate(pipe, segments=SEGMENTS)
    assert not np.allclose(base, with_lora)

    pipe.save_lora_weights(tmp_path, transformer_lora_layers=get_peft_model_state_dict(pipe.transformer))
    assert (tmp_path / LORA_WEIGHT_NAME).exists()

    other = _fresh_pipe()
    other.load_lora_weights(tmp_path)
    np.testing.assert_array_equal(generate(other, segments=SEGMENTS), with_lora)

    other.fuse_lora()
    np.testing.assert_allclose(generate(other, segments=SEGMENTS), with_lora, atol=1e-5)
    other.unfuse_lora()
    np.testing.assert_allclose(generate(other, segments=SEGMENTS), with_lora, atol=1e-5)
    other.unload_lora_weights()
    np.testing.assert_allclose(generate(other, segments=SEGMENTS), base, atol=1e-6)


def test_set_adapters_mixes_named_adapters(tmp_path):
    pipe = _fresh_pipe()
    base = generate(pipe)
    _add_random_adapter(pipe, "a", seed=1)
    pipe.save_lora_weights(
        tmp_path, transformer_lora_layers=get_peft_model_state_dict(pipe.transformer, adapter_name="a")
    )
    other = _fresh_pipe()
    other.load_lora_weights(tmp_path, adapter_name="style")
    assert other.get_active_adapters() == ["style"]
    full = generate(other)
    other.set_adapters(["style"], [0.0])
    np.testing.assert_allclose(generate(other), base, atol=1e-6)
    other.set_adapters(["style"], [1.0])
    np.testing.assert_allclose(generate(other), full, atol=1e-6)


def test_loading_a_non_lora_checkpoint_is_refused(tmp_path):
    pipe = _fresh_pipe()
    with pytest.raises(ValueError, match="lora"):
        pipe.load_lora_weights({"transformer.proj_in.weight": torch.zeros(32, 8)})
    with pytest.raises(ValueError, match="nothing to save"):
        pipe.save_lora_weights(tmp_path, transformer_lora_layers={})
