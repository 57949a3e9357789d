"""Attention of the S2DiT transformer: self-attention with rotary positions and segment-masked cross-attention."""

from __future__ import annotations

import torch
import torch.nn as nn
from diffusers.models.attention import AttentionModuleMixin
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.models.normalization import RMSNorm


class S2DiTAttnProcessor:
    """Scaled-dot-product attention through diffusers' attention dispatcher (SDPA by default).

    Layout `(batch, sequence, heads, head_dim)`. `attention_mask` is boolean `(batch, 1, queries, keys)`, True where a
    query may attend; rotary embeddings, when given, rotate queries and keys of self-attention.
    """

    _attention_backend = None
    _parallel_config = None

    def __call__(
        self,
        attn: "S2DiTAttention",
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        query = attn.norm_q(attn.to_q(hidden_states).unflatten(-1, (attn.heads, -1)))
        key = attn.norm_k(attn.to_k(context).unflatten(-1, (attn.heads, -1)))
        value = attn.to_v(context).unflatten(-1, (attn.heads, -1))
        if rotary_emb is not None:
            query = apply_rotary_emb(query, rotary_emb, use_real=True, use_real_unbind_dim=-1, sequence_dim=1)
            key = apply_rotary_emb(key, rotary_emb, use_real=True, use_real_unbind_dim=-1, sequence_dim=1)
        hidden_states = dispatch_attention_fn(
            query,
            key,
            value,
            attn_mask=attention_mask,
            backend=self._attention_backend,
            parallel_config=self._parallel_config,
        )
        hidden_states = hidden_states.flatten(2, 3).to(query.dtype)
        return attn.to_out[0](hidden_states)


class S2DiTAttention(nn.Module, AttentionModuleMixin):
    """Multi-head attention with RMS-normalised queries and keys (stable in bf16 at large widths)."""

    _default_processor_cls = S2DiTAttnProcessor
    _available_processors = [S2DiTAttnProcessor]
    _supports_qkv_fusion = False

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, eps: float = 1e-6):
        super().__init__()
        if dim % heads:
            raise ValueError(f"hidden size {dim} is not divisible by the number of heads {heads}.")
        context_dim = dim if context_dim is None else context_dim
        self.heads = heads
        head_dim = dim // heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])
        self.norm_q = RMSNorm(head_dim, eps=eps)
        self.norm_k = RMSNorm(head_dim, eps=eps)
        self.set_processor(self._default_processor_cls())

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        return self.processor(self, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)
