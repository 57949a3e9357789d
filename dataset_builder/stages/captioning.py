"""Segment captioning: `template` (offline sentences from measured descriptors), `metadata` (synth ground truth) and
`lalm` (a transformers audio-language model such as Qwen2-Audio-7B-Instruct from a local path, on a GPU)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Protocol

import numpy as np

from diffusers_s2acc.analysis.descriptors import Descriptors
from diffusers_s2acc.audio import resample, to_mono

from ..audio_io import InputFile
from . import default_device


#: Noun phrases (no article) naming a section's role.
ROLE_PHRASES = {
    "intro": ["opening section", "introduction", "intro that sets the scene"],
    "verse": ["verse", "verse section"],
    "pre-chorus": ["pre-chorus that builds toward the chorus", "short build-up before the chorus"],
    "chorus": ["chorus", "chorus section", "main hook section"],
    "bridge": ["contrasting bridge", "bridge that departs from the main material"],
    "solo": ["instrumental solo section", "solo break"],
    "outro": ["closing section", "outro that winds the piece down"],
    "other": ["section", "passage"],
}
_ENERGY = {
    "low": ["soft", "restrained", "quiet", "gentle"],
    "medium": ["steady", "moderately intense", "balanced"],
    "high": ["energetic", "loud", "driving", "powerful"],
}
_BRIGHT = {
    "bright": ["a bright, airy tone", "a crisp, bright sound"],
    "dark": ["a dark, warm tone", "a mellow, dark timbre"],
    "balanced": ["a balanced tone", "a full, rounded sound"],
}


class Captioner(Protocol):
    name: str

    def __call__(self, clips: list[dict], item: InputFile) -> list[str]: ...


def instrument_guesses(d: Descriptors) -> list[str]:
    """Instrument families a listener would name, guessed from signal measures (no classifier is available
    offline): percussive energy -> drums, bass-register energy -> bass line, long notes -> sustained pads or
    strings, many short notes -> plucked or keyboard comping, a high register -> a lead line."""
    guesses = []
    if d.has_drums:
        guesses.append("drums")
    if d.bass_ratio > 0.42:
        guesses.append("a prominent bass line")
    if d.mean_note_length > 0.8:
        guesses.append("sustained pads or strings")
    elif d.note_density > 6:
        guesses.append("busy keyboard or guitar comping")
    elif d.note_density > 0:
        guesses.append("sparse chordal accompaniment")
    if d.pitch_range and d.pitch_range[1] >= 79:
        guesses.append("a high melodic lead")
    return guesses


def _article(phrase: str) -> str:
    return ("an " if phrase[0].lower() in "aeiou" else "a ") + phrase


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def template_caption(d: Descriptors, label: str, rng: random.Random) -> str:
    """One or two natural sentences stating only what was measured; wording varies with `rng`."""
    role = rng.choice(ROLE_PHRASES.get(label, ROLE_PHRASES["other"]))
    energy = rng.choice(_ENERGY[d.energy_word])
    tone = rng.choice(_BRIGHT[d.brightness_word])
    meter = "waltz-time (3/4)" if d.meter == 3 else f"{d.meter}/4"
    tempo = f"{d.tempo_word} {round(d.tempo)} BPM"
    instruments = instrument_guesses(d)
    if len(d.chords) > 1:
        progression = " - ".join(d.chords[:4])
        color = "seventh chords" if d.has_sevenths else "plain triads"
        harmony = rng.choice(
            [
                f"the harmony moves through {progression} in {color}",
                f"{color} cycle through {progression}",
                f"a progression of {progression}",
            ]
        )
    elif d.chords:
        harmony = rng.choice([f"the harmony rests on {d.chords[0]}", f"a single {d.chords[0]} chord holds throughout"])
    else:
        harmony = "no clear chords stand out"
    openers = [
        f"{_upper_first(_article(energy))} instrumental {role}, {tempo} in {meter}, in {d.key}.",
        f"This is {_article(role)}: {energy}, {tempo}, {meter}, in the key of {d.key}.",
        f"In {d.key} at {tempo}, {_article(role)} with {_article(energy)} feel in {meter}.",
    ]
    details = [
        f"{_upper_first(harmony)}, with {tone}" + (f"; you can hear {_join(instruments)}." if instruments else "."),
        (f"It features {_join(instruments)}, " if instruments else "It has ") + f"{tone}, and {harmony}.",
        f"{_upper_first(tone)}" + (f" carried by {_join(instruments)}" if instruments else "") + f"; {harmony}.",
    ]
    dynamics = ""
    if d.dynamic_range_db > 14:
        dynamics = rng.choice([" The dynamics swell and fall noticeably.", " Its loudness varies widely."])
    elif d.dynamic_range_db < 5:
        dynamics = rng.choice([" The dynamics stay even throughout.", " It keeps a constant level."])
    return f"{rng.choice(openers)} {rng.choice(details)}{dynamics}"


class TemplateCaptioner:
    name = "template"

    def __call__(self, clips: list[dict], item: InputFile) -> list[str]:
        captions = []
        for clip in clips:
            # Seeded by file and section so captions are reproducible across reruns and machines.
            rng = random.Random(f"{item.relpath}#{clip['index']}")
            captions.append(
                template_caption(
                    Descriptors(**{**clip["descriptors"], "pitch_range": clip["descriptors"]["pitch_range"]}),
                    clip["label"],
                    rng,
                )
            )
        return captions


class MetadataCaptioner:
    """Synth songs: the section description written by `synth` (groove, genre, instruments, tempo, key). Sections
    are matched by overlap, so this also works with the offline segmenter. Other files use `template`."""

    name = "metadata"

    def __call__(self, clips: list[dict], item: InputFile) -> list[str]:
        if item.synth_metadata is None:
            return TemplateCaptioner()(clips, item)
        sections = json.loads(item.synth_metadata.read_text())["sections"]
        captions = []
        for clip in clips:
            overlap = [max(0.0, min(s["end"], clip["end"]) - max(s["start"], clip["start"])) for s in sections]
            captions.append(sections[int(np.argmax(overlap))]["caption"])
        return captions


class LalmCaptioner:
    """An audio-language model (Qwen2-Audio-Instruct layout) loaded from a local folder; one caption per section.

    The model and processor come from `model_path` only (`local_files_only=True`): nothing is downloaded.
    """

    name = "lalm"
    PROMPT = (
        "Describe this instrumental music section in one or two sentences for a music dataset: genre, mood, "
        "tempo feel, key instruments and how it develops. Do not mention vocals unless you hear them."
    )

    def __init__(self, model_path: str, device: str | None = None, max_new_tokens: int = 96):
        import torch
        from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration

        if not Path(model_path).is_dir():
            raise FileNotFoundError(f"LALM folder {model_path} not found (pass --lalm-path PATH).")
        self.device = device or default_device()
        self.processor = AutoProcessor.from_pretrained(model_path, local_files_only=True)
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        self.model = (
            Qwen2AudioForConditionalGeneration.from_pretrained(model_path, local_files_only=True, torch_dtype=dtype)
            .to(self.device)
            .eval()
        )
        self.max_new_tokens = max_new_tokens
        self.sampling_rate = self.processor.feature_extractor.sampling_rate

    def caption_audio(self, audio: np.ndarray, sampling_rate: int) -> str:
        """One caption for `audio` (`(channels, samples)` or mono) at `sampling_rate`."""
        import torch

        mono = resample(to_mono(audio), sampling_rate, self.sampling_rate)
        conversation = [
            {
                "role": "user",
                "content": [{"type": "audio", "audio_url": "clip"}, {"type": "text", "text": self.PROMPT}],
            }
        ]
        text = self.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        inputs = self.processor(text=text, audio=[mono], sampling_rate=self.sampling_rate, return_tensors="pt")
        inputs = inputs.to(self.device)
        with torch.no_grad():
            output = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        generated = output[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(generated, skip_special_tokens=True)[0].strip()

    def __call__(self, clips: list[dict], item: InputFile) -> list[str]:
        return [self.caption_audio(clip["audio"], clip["sample_rate"]) for clip in clips]


def make_captioner(name: str, lalm_path: str | None = None) -> Captioner:
    if name == "template":
        return TemplateCaptioner()
    if name == "metadata":
        return MetadataCaptioner()
    if name == "lalm":
        if not lalm_path:
            raise ValueError("--captioner lalm needs --lalm-path PATH to a local model folder.")
        return LalmCaptioner(lalm_path)
    raise ValueError(f"Unknown captioner {name!r}; choose template, metadata or lalm.")
