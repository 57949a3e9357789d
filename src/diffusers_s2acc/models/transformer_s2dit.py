"""`S2DiTTransformer`: flow-matching diffusion transformer over latent frames with localized captions."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.loaders import PeftAdapterMixin
from diffusers.models.attention import AttentionMixin, FeedForward
from diffusers.models.embeddings import TimestepEmbedding, Timesteps, get_1d_rotary_pos_embed
from diffusers.models.modeling_outputs import Transformer2DModelOutput
from diffusers.utils import apply_lora_scale, logging

from ..music.chords import NUM_CHORD_CLASSES
from ..music.structure import SECTION_LABELS
from .attention_s2dit import S2DiTAttention
from .embeddings_s2dit import LeadSheetEmbedding, StructureEmbedding


logger = logging.get_logger(__name__)  # pylint: disable=invalid-name


#: `encoder_segment_ids` value of caption tokens every frame sees, and of padding no frame sees.
GLOBAL_SEGMENT, PADDING_SEGMENT = 0, -1


def build_caption_mask(frame_segment_ids: torch.Tensor, encoder_segment_ids: torch.Tensor) -> torch.Tensor:
    """Boolean cross-attention mask `(batch, 1, frames, tokens)`.

    A frame attends to global tokens (id 0) and to the tokens of the segment that covers it; padding (id -1) is
    never attended. Frames outside every segment (id 0) see the global tokens only.
    """
    tokens = encoder_segment_ids[:, None, :]
    frames = frame_segment_ids[:, :, None]
    mask = (tokens == GLOBAL_SEGMENT) | ((tokens > 0) & (tokens == frames))
    return mask[:, None]


class S2DiTBlock(nn.Module):
    """Self-attention (adaptive norm, rotary), segment-masked cross-attention, SwiGLU feed-forward (adaptive norm)."""

    def __init__(self, dim: int, heads: int, ff_inner_dim: int, eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=eps)
        self.attn1 = S2DiTAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.attn2 = S2DiTAttention(dim, heads)
        self.norm3 = nn.LayerNorm(dim, elementwise_affine=False, eps=eps)
        self.ff = FeedForward(dim, activation_fn="swiglu", inner_dim=ff_inner_dim, bias=False)
        # adaLN-single (PixArt-alpha): one timestep projection shared by all blocks plus a learned per-block offset.
        self.scale_shift_table = nn.Parameter(torch.randn(6, dim) / dim**0.5)

    def forward(
        self,
        hidden_states: torch.Tensor,
        modulation: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        caption_mask: torch.Tensor,
        rotary_emb: tuple[torch.Tensor, torch.Tensor],
    ) -> torch.Tensor:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = (
            self.scale_shift_table[None] + modulation
        ).unbind(1)
        norm = self.norm1(hidden_states) * (1 + scale_msa[:, None]) + shift_msa[:, None]
        hidden_states = hidden_states + gate_msa[:, None] * self.attn1(norm, rotary_emb=rotary_emb)
        hidden_states = hidden_states + self.attn2(
            self.norm2(hidden_states), encoder_hidden_states=encoder_hidden_states, attention_mask=caption_mask
        )
        norm = self.norm3(hidden_states) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
        return hidden_states + gate_mlp[:, None] * self.ff(norm)


class S2DiTTransformer(ModelMixin, ConfigMixin, PeftAdapterMixin, AttentionMixin):
    r"""
    The S2Accompanist diffusion transformer: predicts the flow-matching velocity of latent frames.

    Conditioning:
    - timestep, through adaptive layer norm (shared projection + per-block table);
    - captions, through cross-attention: every frame sees the global caption's tokens and only the tokens of the
      caption of the segment covering it (`encoder_segment_ids` / `frame_segment_ids`);
    - song structure: a learned embedding of each frame's section label and relative position in its section;
    - lead sheet: chord class, chord pitch classes, melody pitch and beat/downbeat per frame, each optional;
    - learned null conditions for classifier-free guidance: null caption tokens (with the null section) replace the
      text condition where `drop_text` is set, the "absent" lead-sheet embeddings where `drop_lead_sheet` is set.

    Parameters:
        in_channels (`int`, defaults to 64): Latent channels.
        hidden_size (`int`, defaults to 1024): Transformer width.
        num_layers (`int`, defaults to 24): Number of blocks.
        num_attention_heads (`int`, defaults to 16): Heads in self- and cross-attention.
        ff_inner_dim (`int`, defaults to 2816): SwiGLU hidden width.
        text_embed_dim (`int`, defaults to 384): Width of the text encoder's token states.
        num_null_text_tokens (`int`, defaults to 4): Length of the learned null caption.
        max_frames (`int`, defaults to 2048): Longest sequence of latent frames the model accepts.
        rope_theta (`float`, defaults to 10000.0): Rotary embedding base.
        num_section_labels (`int`): Number of section labels (see `SECTION_LABELS`).
        num_chord_classes (`int`): Chord vocabulary of the lead-sheet embedding: "no chord" plus 12 roots x the
            qualities of `diffusers_s2acc.music.chords` (`NUM_CHORD_CLASSES`); must match the VAE's semantic head.
        lead_sheet_injection_layers (`int`, defaults to 0): The lead-sheet embedding is always added to the input
            frames; with `n > 0` it is also added, through a zero-initialised linear map per block, before each of
            the first `n` blocks. Per-frame injection in the first three quarters of the blocks is what made
            MusiConGen follow chords (removing it cost 12 points of majmin); 0 keeps older checkpoints' behaviour.
    """

    _supports_gradient_checkpointing = True
    _no_split_modules = ["S2DiTBlock"]
    _skip_layerwise_casting_patterns = ["embed", "norm", "structure", "lead_sheet"]
    _repeated_blocks = ["S2DiTBlock"]

    @register_to_config
    def __init__(
        self,
        in_channels: int = 64,
        hidden_size: int = 1024,
        num_layers: int = 24,
        num_attention_heads: int = 16,
        ff_inner_dim: int = 2816,
        text_embed_dim: int = 384,
        num_null_text_tokens: int = 4,
        max_frames: int = 2048,
        rope_theta: float = 10000.0,
        num_section_labels: int = len(SECTION_LABELS),
        num_chord_classes: int = NUM_CHORD_CLASSES,
        lead_sheet_injection_layers: int = 0,
    ):
        super().__init__()
        if not 0 <= lead_sheet_injection_layers <= num_layers:
            raise ValueError(
                f"lead_sheet_injection_layers must be in [0, num_layers={num_layers}], got {lead_sheet_injection_layers}."
            )
        dim = hidden_size
        self.proj_in = nn.Linear(in_channels, dim)
        self.time_proj = Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(256, dim)
        self.caption_proj = nn.Sequential(
            nn.Linear(text_embed_dim, dim), nn.GELU(approximate="tanh"), nn.Linear(dim, dim)
        )
        self.pooled_caption_embed = nn.Linear(dim, dim)
        self.null_text_embeds = nn.Parameter(torch.randn(num_null_text_tokens, text_embed_dim) * 0.02)
        self.structure_embed = StructureEmbedding(num_section_labels, dim)
        self.lead_sheet_embed = LeadSheetEmbedding(num_chord_classes, dim)
        self.lead_sheet_injection = nn.ModuleList(nn.Linear(dim, dim) for _ in range(lead_sheet_injection_layers))
        for projection in self.lead_sheet_injection:
            # Zero-initialised (as ControlNet's adaptors): a fresh injection leaves the network's function unchanged.
            nn.init.zeros_(projection.weight)
            nn.init.zeros_(projection.bias)
        self.adaln = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.blocks = nn.ModuleList(S2DiTBlock(dim, num_attention_heads, ff_inner_dim) for _ in range(num_layers))
        self.norm_out = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.scale_shift_out = nn.Linear(dim, 2 * dim)
        self.proj_out = nn.Linear(dim, in_channels)
        self.gradient_checkpointing = False

    def _rotary(self, num_frames: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        head_dim = self.config.hidden_size // self.config.num_attention_heads
        positions = torch.arange(num_frames, device=device, dtype=torch.float32)
        return get_1d_rotary_pos_embed(head_dim, positions, theta=self.config.rope_theta, use_real=True)

    def _text_condition(
        self,
        encoder_hidden_states: torch.Tensor | None,
        encoder_segment_ids: torch.Tensor | None,
        drop_text: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Prepend the null caption to the caption tokens; route each sample to one or the other via segment ids."""
        batch = drop_text.shape[0]
        null = self.null_text_embeds[None].expand(batch, -1, -1)
        null_ids = torch.where(drop_text[:, None], GLOBAL_SEGMENT, PADDING_SEGMENT).expand(-1, null.shape[1])
        if encoder_hidden_states is None:
            return null, torch.full_like(null_ids, GLOBAL_SEGMENT)
        if encoder_segment_ids is None:
            encoder_segment_ids = torch.zeros(
                encoder_hidden_states.shape[:2], dtype=torch.long, device=drop_text.device
            )
        encoder_segment_ids = torch.where(drop_text[:, None], PADDING_SEGMENT, encoder_segment_ids)
        tokens = torch.cat([null.to(encoder_hidden_states.dtype), encoder_hidden_states], dim=1)
        return tokens, torch.cat([null_ids, encoder_segment_ids], dim=1)

    @apply_lora_scale("attention_kwargs")
    def forward(
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor | float,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_segment_ids: torch.Tensor | None = None,
        frame_segment_ids: torch.Tensor | None = None,
        section_ids: torch.Tensor | None = None,
        section_position: torch.Tensor | None = None,
        chord_ids: torch.Tensor | None = None,
        pitch_classes: torch.Tensor | None = None,
        melody_ids: torch.Tensor | None = None,
        beat_ids: torch.Tensor | None = None,
        drop_text: torch.Tensor | None = None,
        drop_lead_sheet: torch.Tensor | None = None,
        attention_kwargs: dict[str, Any] | None = None,
        return_dict: bool = True,
    ) -> Transformer2DModelOutput | tuple[torch.Tensor]:
        r"""
        Args:
            hidden_states (`torch.Tensor` of shape `(batch, in_channels, frames)`): Noisy latents.
            timestep (`torch.Tensor` of shape `(batch,)` or scalar): Flow-matching time, `sigma * 1000`.
            encoder_hidden_states (`torch.Tensor` of shape `(batch, tokens, text_embed_dim)`, *optional*): Caption
                token states: the global caption's and every segment's, concatenated. `None` means no text.
            encoder_segment_ids (`torch.Tensor` of shape `(batch, tokens)`, *optional*): Per token: 0 global,
                `k >= 1` the caption of segment `k`, -1 padding. Defaults to all global.
            frame_segment_ids (`torch.Tensor` of shape `(batch, frames)`, *optional*): Per frame: the segment `k`
                covering it, or 0. Defaults to 0.
            section_ids, section_position: Section label id (0 = none) and position in `[0, 1]` per frame.
            chord_ids, pitch_classes, melody_ids, beat_ids: Lead-sheet features per frame; 0 / zeros = absent.
                See [`~diffusers_s2acc.music.FrameConditioning`].
            drop_text (`torch.BoolTensor` of shape `(batch,)`, *optional*): Replace captions and structure by the
                learned null condition for these samples.
            drop_lead_sheet (`torch.BoolTensor` of shape `(batch,)`, *optional*): Replace the lead sheet by the
                learned "absent" embeddings for these samples.
            attention_kwargs (`dict`, *optional*): `{"scale": s}` scales LoRA layers.
            return_dict (`bool`, defaults to `True`): Return a [`Transformer2DModelOutput`] instead of a tuple.

        Returns:
            [`Transformer2DModelOutput`] whose `sample` `(batch, in_channels, frames)` is the predicted velocity.
        """
        batch, channels, frames = hidden_states.shape
        if channels != self.config.in_channels:
            raise ValueError(f"Expected {self.config.in_channels} latent channels, got {channels}.")
        if frames > self.config.max_frames:
            raise ValueError(f"{frames} latent frames exceed the model's max_frames={self.config.max_frames}.")
        device = hidden_states.device

        def ids(value: torch.Tensor | None, *trailing: int, dtype=torch.long) -> torch.Tensor:
            return (
                value.to(device)
                if value is not None
                else torch.zeros(batch, frames, *trailing, dtype=dtype, device=device)
            )

        no = torch.zeros(batch, dtype=torch.bool, device=device)
        drop_text = no if drop_text is None else drop_text.to(device=device, dtype=torch.bool)
        drop_lead_sheet = no if drop_lead_sheet is None else drop_lead_sheet.to(device=device, dtype=torch.bool)

        # Structure belongs to the text condition: dropping text also drops section labels.
        keep_text = (~drop_text)[:, None]
        section_ids = ids(section_ids) * keep_text
        section_position = ids(section_position, dtype=torch.float32) * keep_text
        frame_segment_ids = ids(frame_segment_ids) * keep_text
        keep_sheet = (~drop_lead_sheet)[:, None]
        chord_ids, melody_ids, beat_ids = (ids(x) * keep_sheet for x in (chord_ids, melody_ids, beat_ids))
        pitch_classes = ids(pitch_classes, 12, dtype=torch.float32) * keep_sheet[..., None]

        tokens, token_ids = self._text_condition(encoder_hidden_states, encoder_segment_ids, drop_text)
        if not (token_ids == GLOBAL_SEGMENT).any(dim=1).all():
            raise ValueError("Every sample needs at least one global caption token (encoder_segment_ids == 0).")
        dtype = self.proj_in.weight.dtype
        context = self.caption_proj(tokens.to(dtype))
        is_global = (token_ids == GLOBAL_SEGMENT)[..., None].to(context.dtype)
        pooled = (context * is_global).sum(1) / is_global.sum(1)

        if not torch.is_tensor(timestep):
            timestep = torch.tensor([timestep], device=device)
        timestep = timestep.to(device).reshape(-1).expand(batch)
        temb = self.time_embed(self.time_proj(timestep).to(dtype)) + self.pooled_caption_embed(pooled)
        modulation = self.adaln(temb).unflatten(1, (6, -1))

        hidden = self.proj_in(hidden_states.transpose(1, 2).to(dtype))
        hidden = hidden + self.structure_embed(section_ids, section_position).to(dtype)
        lead_sheet = self.lead_sheet_embed(chord_ids, pitch_classes, melody_ids, beat_ids).to(dtype)
        hidden = hidden + lead_sheet

        caption_mask = build_caption_mask(frame_segment_ids, token_ids)
        rotary = self._rotary(frames, device)
        for index, block in enumerate(self.blocks):
            if index < len(self.lead_sheet_injection):
                hidden = hidden + self.lead_sheet_injection[index](lead_sheet)
            if torch.is_grad_enabled() and self.gradient_checkpointing:
                hidden = self._gradient_checkpointing_func(block, hidden, modulation, context, caption_mask, rotary)
            else:
                hidden = block(hidden, modulation, context, caption_mask, rotary)

        shift, scale = self.scale_shift_out(temb).chunk(2, dim=-1)
        hidden = self.norm_out(hidden) * (1 + scale[:, None]) + shift[:, None]
        output = self.proj_out(hidden).transpose(1, 2)
        if not return_dict:
            return (output,)
        return Transformer2DModelOutput(sample=output)
