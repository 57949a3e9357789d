"""Caption tokens for the transformer: the global prompt and every segment's caption, tagged by segment.

Used by the pipeline at inference and by the training scripts, so that captions are formatted identically in both.
"""

from __future__ import annotations

from typing import Sequence

import torch
from diffusers.utils import logging

from ..models.transformer_s2dit import GLOBAL_SEGMENT, PADDING_SEGMENT
from ..music.structure import Segment


logger = logging.get_logger(__name__)

#: Longest caption, in tokens, the text encoder sees (per caption: the global prompt and each segment).
MAX_CAPTION_TOKENS = 128

# Captions already warned about: a training run or a loop of generations repeats captions, one notice each is enough.
_TRUNCATION_WARNED: set[str] = set()


def caption_token_limit(tokenizer, text_encoder) -> int:
    """Tokens per caption: [`MAX_CAPTION_TOKENS`], or less where the tokenizer or text encoder allows less."""
    limits = [MAX_CAPTION_TOKENS, getattr(tokenizer, "model_max_length", None)]
    limits.append(getattr(getattr(text_encoder, "config", None), "max_position_embeddings", None))
    return min(int(x) for x in limits if isinstance(x, int) and x > 0)


def _warn_truncation(tokenizer, texts: Sequence[str], limit: int) -> None:
    """Say once per caption how many tokens truncation drops, instead of dropping them silently."""
    # Only captions that could be too long are tokenized again: a token covers at least one UTF-8 byte, plus a few
    # special tokens.
    fresh = [t for t in texts if t not in _TRUNCATION_WARNED and len(t.encode("utf-8")) + 8 > limit]
    if not fresh:
        return
    for text, ids in zip(fresh, tokenizer(fresh, add_special_tokens=True, verbose=False)["input_ids"]):
        if len(ids) > limit:
            _TRUNCATION_WARNED.add(text)
            logger.warning(
                f"Caption {text[:40]!r}... is {len(ids)} tokens long; the text encoder reads {limit}: "
                f"{len(ids) - limit} token(s) dropped. Shorten it, or move details into section captions."
            )


@torch.no_grad()
def encode_texts(tokenizer, text_encoder, texts: Sequence[str], device: torch.device) -> list[torch.Tensor]:
    """One `(tokens, dim)` tensor of last hidden states per text, padding removed. Captions longer than
    [`caption_token_limit`] are truncated with a logged warning naming how many tokens were dropped."""
    if not texts:
        return []
    limit = caption_token_limit(tokenizer, text_encoder)
    _warn_truncation(tokenizer, list(texts), limit)
    inputs = tokenizer(list(texts), padding=True, truncation=True, max_length=limit, return_tensors="pt").to(device)
    states = text_encoder(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask)[0]
    return [state[mask.bool()] for state, mask in zip(states, inputs.attention_mask)]


def encode_captions(
    tokenizer,
    text_encoder,
    prompts: Sequence[str] | None,
    segments: Sequence[Sequence[Segment] | None],
    device: torch.device,
    prompt_embeds: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Caption tokens of each sample: the global prompt's tokens (segment id 0), then each segment's caption tokens
    (segment id k for the k-th segment, 1-based, as in `FrameConditioning.segment_ids`), padded with id -1.

    `prompt_embeds` replaces the prompts: a `(batch, tokens, dim)` tensor (every token used), or a pair this
    function returned (only its global tokens, segment id 0, are used: padding is dropped).

    Returns:
        `(encoder_hidden_states, encoder_segment_ids)` of shapes `(batch, tokens, dim)` and `(batch, tokens)`.
    """
    if isinstance(prompt_embeds, (tuple, list)):  # the (states, segment_ids) pair this function returns
        states, ids = prompt_embeds
        global_states = [state[i == GLOBAL_SEGMENT].to(device) for state, i in zip(states, ids)]
    elif prompt_embeds is not None:
        global_states = list(prompt_embeds.to(device))
    else:
        global_states = encode_texts(tokenizer, text_encoder, prompts, device)
    captions = [(b, k, s.caption) for b, segs in enumerate(segments) for k, s in enumerate(segs or [], 1) if s.caption]
    caption_states = encode_texts(tokenizer, text_encoder, [c[2] for c in captions], device)
    per_sample: list[list[tuple[torch.Tensor, int]]] = [[(state, GLOBAL_SEGMENT)] for state in global_states]
    for (b, k, _), state in zip(captions, caption_states):
        per_sample[b].append((state, k))

    length = max(sum(s.shape[0] for s, _ in parts) for parts in per_sample)
    dim = global_states[0].shape[-1]
    states = torch.zeros(len(per_sample), length, dim, device=device, dtype=global_states[0].dtype)
    ids = torch.full((len(per_sample), length), PADDING_SEGMENT, device=device, dtype=torch.long)
    for b, parts in enumerate(per_sample):
        cursor = 0
        for state, segment_id in parts:
            states[b, cursor : cursor + state.shape[0]] = state
            ids[b, cursor : cursor + state.shape[0]] = segment_id
            cursor += state.shape[0]
    return states, ids
