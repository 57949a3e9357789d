"""The Gradio Space: a section-by-section accompaniment editor.

`python spaces/app.py` and `s2acc space` both start [`build_demo`] on the default pipeline; see spaces/README.md.
Everything musical goes through the package's public API: the form becomes `Segment`s and one `LeadSheet` (the
sections' charts joined, read by `LeadSheet.from_chart`) and the pipeline is called as any user would call it.
"""

# No `from __future__ import annotations`: Gradio finds `gr.Request`, `gr.SelectData` and `gr.Progress` parameters
# of the event handlers (closures inside `build_demo`, where `gr` is a local name) by their evaluated annotations.
import argparse
import logging
import os
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..audio import check_output_path
from ..pipelines.sampling_utils import SAMPLERS, check_sampler
from ..pretrained import DEFAULT_PIPELINE
from .figure import chord_agreement, draw_take
from .form import (
    EXAMPLES,
    KEYS,
    METERS,
    NO_KEY,
    SECTION_HEADERS,
    FormError,
    check_advanced,
    file_stem,
    plan_song,
    seconds_view,
)


logger = logging.getLogger(__name__)

#: Environment variables the Space reads (a Hub Space sets them in its settings; flags win locally).
PIPELINE_ENV = "S2ACC_SPACE_PIPELINE"
SECRET_ENV = "S2ACC_SPACE_SECRET"
#: Takes kept in the visitor's browser, and takes whose audio the server keeps to restore it.
BROWSER_TAKES = 30
SERVER_TAKES = 200
SECONDS_HEADERS = ["#", "label", "bars", "start (s)", "end (s)", "time"]
HISTORY_HEADERS = ["#", "when", "prompt", "tempo", "meter", "bars", "seconds", "seed", "steps"]

# Pipeline argument names -> the field names on the page, for the rare error only the pipeline can find.
_PIPELINE_FIELDS = {
    "`audio_length_in_s`": "Sections (length)",
    "`num_inference_steps`": "Steps",
    "`lead_sheet_guidance_scale`": "Lead-sheet guidance",
    "`guidance_scale`": "Guidance",
    "`segments`": "Sections",
    "`lead_sheet`": "Sections, chords",
    "`prompt`": "Prompt",
}


def _name_fields(message: str) -> str:
    for argument, name in _PIPELINE_FIELDS.items():
        message = message.replace(argument, name)
    return message


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _save_reason(error: BaseException) -> str:
    """Why a file could not be written, in one line and with the plain path (never `PosixPath(...)`)."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror} ({error.filename})" if error.filename else error.strerror
    return _first_line(error)


def _write_audio(folder: Path, stem: str, audio: np.ndarray, sampling_rate: int) -> tuple[Path, Path]:
    """WAV (float32, as `s2acc generate` writes it) and FLAC (24-bit, clipped), by the package's one audio writer
    ([`diffusers_s2acc.audio.write_audio`]: atomic, so a download never serves a half-written take)."""
    from ..audio import write_audio

    return write_audio(folder / f"{stem}.wav", audio, sampling_rate), write_audio(
        folder / f"{stem}.flac", audio, sampling_rate
    )


class SpaceApp:
    """The Space's behaviour, apart from its layout: generation, stopping, the take history and row editing.

    Args:
        pipe: an [`S2AccompanistPipeline`], already on its device.
        pipeline_name: shown on the page (and whether it is an untrained preset).
        output_dir: where takes are written (default: a fresh temporary folder).
        sampler: the pipeline's `sampler` for every take: `"recommended"` (default) or `"reference"` (Euler, 25
            steps, guidance on every step; slower).
    """

    def __init__(
        self,
        pipe,
        pipeline_name: str = DEFAULT_PIPELINE,
        output_dir: str | os.PathLike | None = None,
        sampler: str | None = None,
    ):
        self.pipe = pipe
        self.sampler = check_sampler(sampler)
        self.pipe.set_progress_bar_config(disable=True)  # the page shows its own bar
        self.pipeline_name = pipeline_name
        self.max_seconds = float(pipe.max_audio_length_in_s)
        self.sampling_rate = int(pipe.vae.config.sampling_rate)
        # The form starts from the checkpoint's recommended steps and guidance, as Python and the CLI do.
        self.recommended = pipe.recommended_settings()
        self.recommended["num_inference_steps"] = pipe.sampling_settings(sampler=self.sampler)[0]
        self.recommended["guidance_interval"] = pipe.resolve_guidance_interval(sampler=self.sampler)
        self.output_dir = Path(output_dir or tempfile.mkdtemp(prefix="s2acc-space-"))
        check_output_path(self.output_dir, folder=True)  # before the first take, not after it is generated
        self.output_dir.mkdir(parents=True, exist_ok=True)
        # The queue runs one generation at a time; the lock also covers callers that bypass it (tests, scripts).
        self._lock = threading.Lock()
        self._stops: dict[str, threading.Event] = {}
        # Files of recent takes, by take id. The browser keeps only ids and settings: a path coming back from a
        # visitor's storage is never served, so nobody can ask the server for a file it did not make for them.
        self._takes: OrderedDict[str, dict[str, Any]] = OrderedDict()

    # ------------------------------------------------------------------ generation

    def generate(
        self,
        prompt: str,
        bpm: Any,
        meter: str,
        key: str,
        sections: Any,
        seed: Any,
        steps: Any,
        guidance: Any,
        lead_sheet_guidance: Any,
        request: Any = None,
        progress: Any = None,
    ) -> tuple[str, list[str], str, str, dict]:
        """One take: returns the WAV path, [WAV, FLAC], the picture, a summary and the take's record.

        Raises:
            gradio.Error: naming the field for every bad input, or saying the take was stopped.
        """
        plan, settings = self._check_form(
            prompt, bpm, meter, key, sections, seed, steps, guidance, lead_sheet_guidance, self.max_seconds
        )
        return self._take(self.pipe, plan, settings, {}, request, progress)

    @staticmethod
    def _check_form(prompt, bpm, meter, key, sections, seed, steps, guidance, lead_sheet_guidance, max_seconds):
        """The song plan and the checked settings of a take, or a `gradio.Error` naming the field."""
        import gradio as gr

        try:
            plan = plan_song(prompt, bpm, meter, key, sections, max_seconds)
            seed, steps, guidance, lead_sheet_guidance = check_advanced(seed, steps, guidance, lead_sheet_guidance)
        except FormError as error:
            raise gr.Error(str(error), title="Please check the form") from None
        settings = dict(
            prompt=prompt,
            bpm=bpm,
            meter=meter,
            key=key,
            seed=seed,
            steps=steps,
            guidance=guidance,
            lead_sheet_guidance=lead_sheet_guidance,
        )
        return plan, settings

    def edit(
        self,
        mode: str,
        take_id: str | None,
        prompt: str,
        bpm: Any,
        meter: str,
        key: str,
        sections: Any,
        row: Any,
        seed: Any,
        steps: Any,
        guidance: Any,
        lead_sheet_guidance: Any,
        request: Any = None,
        progress: Any = None,
    ) -> tuple[str, list[str], str, str, dict]:
        """A new take made from the take `take_id`, with the form as it is now: `mode="section"` regenerates
        section `row` (its caption and chords as the form now says, with the form's seed) and keeps the rest of the
        take exactly; `mode="extend"` appends the sections the form has past the take's end. Returns what
        [`generate`] returns.

        Raises:
            gradio.Error: naming the field, or saying why the take cannot be edited.
        """
        import gradio as gr

        from ..pipelines.pipeline_s2accompanist_repaint import S2AccompanistRepaintPipeline

        source = self._takes.get(take_id or "")
        if source is None or source.get("latents") is None:
            raise gr.Error(
                "Take history: choose a take made on this server since it started (its latents are kept here).",
                title="No take to edit",
            )
        # An extension may make the song longer than one model window; it is then generated window by window.
        plan, settings = self._check_form(
            prompt,
            bpm,
            meter,
            key,
            sections,
            seed,
            steps,
            guidance,
            lead_sheet_guidance,
            None if mode == "extend" else self.max_seconds,
        )
        taken = source["seconds"]
        if mode == "section":
            index = self._index(plan.rows, row)
            if index is None:
                raise gr.Error(f"Row: choose a section between 1 and {len(plan.rows)} (click a cell).", title="No row")
            if abs(plan.duration - taken) > 1e-3:
                raise gr.Error(
                    f"Sections: the song now lasts {plan.duration:.1f} s and the take {taken:.1f} s; regenerating a "
                    "section keeps the take's length (change captions or chords, not bars or tempo).",
                    title="Please check the form",
                )
            options = {"section": index}
        else:
            added = plan.duration - taken
            if added <= 1e-3 or added > self.max_seconds + 1e-6:
                raise gr.Error(
                    f"Sections: add sections after the take's {taken:.1f} s (now {max(added, 0):.1f} s more; at most "
                    f"{self.max_seconds:.1f} s per extension).",
                    title="Please check the form",
                )
            options = {}
        pipe = S2AccompanistRepaintPipeline(**self.pipe.components)
        pipe.set_progress_bar_config(disable=True)
        return self._take(pipe, plan, settings, {"source_latents": source["latents"], **options}, request, progress)

    def _take(self, pipe, plan, settings: dict, extra: dict, request: Any, progress: Any) -> tuple:
        """Run `pipe` on the checked `plan` (plus `extra` arguments), then write, analyse and record the take."""
        import gradio as gr
        import torch

        seed, steps = settings["seed"], settings["steps"]
        guidance, lead_sheet_guidance = settings["guidance"], settings["lead_sheet_guidance"]
        self._check_output_dir()  # before the model runs: a take that cannot be saved is not worth its minutes
        session = getattr(request, "session_hash", None) or "local"
        stop = threading.Event()
        self._stops[session] = stop

        def on_step(pipe, step: int, timestep, tensors: dict) -> dict:
            if progress is not None:
                progress((step + 1, steps), desc="Denoising", unit="steps")
            if stop.is_set():
                # diffusers' documented way to end the denoising loop early: the remaining steps are skipped.
                pipe._interrupt = True
            return {}

        try:
            with self._lock:
                if progress is not None:
                    progress(0, desc="Encoding the captions")
                output = pipe(
                    prompt=plan.prompt,
                    segments=plan.segments,
                    lead_sheet=plan.lead_sheet,
                    audio_length_in_s=plan.duration,
                    num_inference_steps=steps,
                    guidance_scale=guidance,
                    lead_sheet_guidance_scale=lead_sheet_guidance,
                    generator=torch.Generator(device=self.pipe.device).manual_seed(seed),
                    callback_on_step_end=on_step,
                    sampler=self.sampler,
                    **extra,
                )
        except ValueError as error:
            raise gr.Error(_name_fields(_first_line(error)), title="The model refused this song") from None
        except Exception as error:  # a traceback means nothing to a visitor; the server log keeps it
            logger.exception("Generation failed")
            raise gr.Error(f"Generation failed: {_first_line(error)}", title="Something went wrong") from None
        finally:
            # Only our own event: after Stop, the same visitor's next take may already have registered its own.
            if self._stops.get(session) is stop:
                del self._stops[session]
        if stop.is_set():
            raise gr.Error("Stopped: the take was cancelled before the end.", title="Stopped")
        audio = output.audios[0]

        if progress is not None:
            progress(1.0, desc="Listening for the chords")
        heard, heard_key, note = self._analyse(audio)
        asked = plan.lead_sheet.chords if plan.lead_sheet is not None else None
        agreement = chord_agreement(asked, heard) if asked and heard is not None else None
        bpm_value, meter_text = float(settings["bpm"]), str(settings["meter"]).strip()
        title = f"{plan.prompt or '(no prompt)'}  ·  {bpm_value:g} BPM {meter_text}  ·  seed {seed}"
        if agreement is not None:
            title += f"  ·  heard roots match the chart {agreement:.0%} of the time"
        stem = file_stem(plan.prompt, seed)
        try:
            take_id, folder = self._new_take_folder()
            # Checked like every output of the package: never replacing a file (the folder is new, so nothing of
            # an earlier take, this visitor's or another's, can be there), and written atomically.
            for suffix in (".wav", ".flac", ".png"):
                check_output_path(folder / f"{stem}{suffix}")
            wav, flac = _write_audio(folder, stem, audio, self.sampling_rate)
            picture = draw_take(
                folder / f"{stem}.png",
                audio,
                self.sampling_rate,
                plan.segments,
                plan.seconds_per_bar,
                asked,
                heard,
                title,
                heard_note=note,
            )
        except (OSError, ValueError) as error:  # the disk filled up or the folder went away during the take
            logger.exception("Saving the take failed")
            raise gr.Error(
                f"The take was generated but could not be saved in the Space's output folder: {_save_reason(error)}",
                title="Cannot save the take",
            ) from None
        channels = "mono" if audio.shape[0] == 1 else f"{audio.shape[0]} channels"
        edited = ""
        if "section" in extra:
            edited = f"Section {extra['section'] + 1} regenerated; the rest of the take kept.  \n"
        elif "source_latents" in extra:
            edited = "Extended: the take kept, new sections appended.  \n"
        summary = (
            edited
            + f"**{audio.shape[-1] / self.sampling_rate:.1f} s**, {self.sampling_rate} Hz, {channels} · seed {seed} · "
            f"{steps} steps · guidance {guidance:g} / lead sheet {lead_sheet_guidance:g}  \n"
            f"Prompt sent: *{plan.prompt or '(empty)'}*"
            + (f"  \nThe analysis hears **{heard_key}**" if heard_key else "")
            + (f"; chord roots match the chart {agreement:.0%} of the time." if agreement is not None else "")
            + (f"  \n{note}" if note else "")
        )
        record = {
            "id": take_id,
            "when": time.strftime("%H:%M:%S"),
            "seconds": round(plan.duration, 2),
            "bars": sum(row.bars for row in plan.rows),
            "settings": {
                "prompt": settings["prompt"] or "",
                "bpm": bpm_value,
                "meter": meter_text,
                "key": settings["key"] or NO_KEY,
                "sections": [[row.label, row.bars, row.caption, row.chords] for row in plan.rows],
                "seed": seed,
                "steps": steps,
                "guidance": guidance,
                "lead_sheet_guidance": lead_sheet_guidance,
            },
        }
        self._takes[take_id] = {
            "audio": str(wav),
            "files": [str(wav), str(flac)],
            "picture": str(picture),
            "summary": summary,
            # Kept for "regenerate a section" and "extend": editing from the latents is exact (no re-encoding).
            "latents": output.latents[:1].detach().cpu(),
            "seconds": plan.duration,
        }
        while len(self._takes) > SERVER_TAKES:
            self._takes.popitem(last=False)
        return str(wav), [str(wav), str(flac)], str(picture), summary, record

    def _check_output_dir(self) -> None:
        """A `gradio.Error` when the output folder can no longer be written (removed, made read-only, ...)."""
        import gradio as gr

        try:
            check_output_path(self.output_dir, folder=True)
        except ValueError as error:
            raise gr.Error(
                f"The Space cannot save takes: {error}. Ask its owner to free or fix the output folder.",
                title="Cannot save the take",
            ) from None

    def _new_take_folder(self) -> tuple[str, Path]:
        """A fresh id and its own new folder: `mkdir` without `exist_ok`, so a take never lands in another's folder."""
        while True:
            take_id = uuid.uuid4().hex[:12]
            folder = self.output_dir / take_id
            try:
                folder.mkdir(parents=True)
            except FileExistsError:
                continue  # the 48-bit id collided: draw another rather than mix two takes' files
            return take_id, folder

    def _analyse(self, audio: np.ndarray) -> tuple[list | None, str | None, str]:
        """Chords and key the analysis hears in the take, or (None, None, why not)."""
        try:
            from ..analysis.song import analyze_song

            analysis = analyze_song(audio, self.sampling_rate, melody=False)
        except ImportError as error:
            return None, None, f"Chord analysis unavailable: {_first_line(error)}"
        except Exception as error:  # a take too short or too quiet to analyse still gets its audio and picture
            logger.warning("Chord analysis failed: %s", error)
            return None, None, f"Chord analysis failed: {_first_line(error)}"
        return analysis.chords, analysis.key.name, ""

    def stop(self, request: Any = None) -> None:
        """Ask this visitor's running take to stop (other visitors' takes are untouched)."""
        event = self._stops.get(getattr(request, "session_hash", None) or "local")
        if event is not None:
            event.set()

    # ------------------------------------------------------------------ take history

    @staticmethod
    def history_rows(history: Sequence[dict] | None) -> list[list]:
        rows = []
        for number, take in zip(range(len(history or []), 0, -1), history or []):
            settings = take.get("settings", {})
            rows.append(
                [
                    number,
                    take.get("when", ""),
                    (settings.get("prompt") or "")[:40],
                    settings.get("bpm"),
                    settings.get("meter"),
                    take.get("bars"),
                    take.get("seconds"),
                    settings.get("seed"),
                    settings.get("steps"),
                ]
            )
        return rows

    @staticmethod
    def take_choices(history: Sequence[dict] | None) -> list[tuple[str, str]]:
        choices = []
        for number, take in zip(range(len(history or []), 0, -1), history or []):
            settings = take.get("settings", {})
            label = f"#{number} {take.get('when', '')} · {(settings.get('prompt') or '(no prompt)')[:32]} · seed {settings.get('seed')}"
            choices.append((label, take.get("id", "")))
        return choices

    def add_take(self, record: dict | None, history: list | None) -> tuple[list, list[list], Any]:
        """Put the newest take first in the visitor's history (kept to the last `BROWSER_TAKES`)."""
        import gradio as gr

        history = [take for take in (history or []) if isinstance(take, dict)]
        if record:
            history = ([record] + history)[:BROWSER_TAKES]
        choices = self.take_choices(history)
        return (
            history,
            self.history_rows(history),
            gr.update(choices=choices, value=choices[0][1] if choices else None),
        )

    def restore(self, take_id: str | None, history: list | None) -> tuple:
        """Every setting of a take back into the form, with its audio and picture while the server still has them."""
        import gradio as gr

        take = next((t for t in history or [] if isinstance(t, dict) and t.get("id") == take_id), None)
        if take is None:
            raise gr.Error("Take history: choose a take to restore first.", title="No take chosen")
        settings = take.get("settings", {})
        files = self._takes.get(take_id)
        if files is not None and all(Path(path).exists() for path in files["files"]):
            outputs = (files["audio"], files["files"], files["picture"], files["summary"])
        else:
            note = "Settings restored. This take's audio is no longer on the server: generate again (same seed, same take)."
            outputs = (None, None, None, note)
        return (
            settings.get("prompt", ""),
            settings.get("bpm", 120),
            settings.get("meter", "4/4"),
            settings.get("key", NO_KEY),
            settings.get("sections", []),
            settings.get("seed", 0),
            settings.get("steps", self.recommended["num_inference_steps"]),
            settings.get("guidance", self.recommended["guidance_scale"]),
            settings.get("lead_sheet_guidance", self.recommended["lead_sheet_guidance_scale"]),
        ) + outputs

    # ------------------------------------------------------------------ section rows

    @staticmethod
    def _rows(table: Any) -> list[list]:
        if hasattr(table, "values") and hasattr(table, "columns"):
            table = table.values.tolist()
        return [list(row) for row in table or []]

    @staticmethod
    def _index(rows: list, row: Any) -> int | None:
        try:
            index = int(row) - 1
        except (TypeError, ValueError):
            return None
        return index if 0 <= index < len(rows) else None

    def add_row(self, table: Any, row: Any) -> tuple[list[list], int]:
        """A blank section after row `row` (at the end when no row is chosen)."""
        rows = self._rows(table)
        index = self._index(rows, row)
        at = len(rows) if index is None else index + 1
        rows.insert(at, ["verse", 4, "", ""])
        return rows, at + 1

    def remove_row(self, table: Any, row: Any) -> tuple[list[list], Any]:
        import gradio as gr

        rows = self._rows(table)
        index = self._index(rows, row)
        if index is None:
            raise gr.Error(f"Row: choose a row between 1 and {len(rows)} (click a cell of the table).", title="No row")
        del rows[index]
        return rows or [["", "", "", ""]], min(index + 1, max(len(rows), 1))

    def move_row(self, table: Any, row: Any, offset: int) -> tuple[list[list], int]:
        import gradio as gr

        rows = self._rows(table)
        index = self._index(rows, row)
        if index is None:
            raise gr.Error(f"Row: choose a row between 1 and {len(rows)} (click a cell of the table).", title="No row")
        target = min(max(index + offset, 0), len(rows) - 1)
        rows.insert(target, rows.pop(index))
        return rows, target + 1


def build_demo(
    pipe,
    pipeline_name: str = DEFAULT_PIPELINE,
    output_dir: str | os.PathLike | None = None,
    sampler: str | None = None,
):
    """The Space's `gr.Blocks` around `pipe` (queue on, one generation at a time); `sampler` as for `SpaceApp`."""
    import gradio as gr

    from ..presets import PRESETS

    app = SpaceApp(pipe, pipeline_name, output_dir, sampler)
    first = EXAMPLES[0]
    recommended = app.recommended
    untrained = pipeline_name in PRESETS and not os.path.isdir(pipeline_name)
    # No analytics: the Space runs offline and does not call home (the default theme's fonts are served locally).
    with gr.Blocks(title="S2Accompanist · section-by-section accompaniment", analytics_enabled=False) as demo:
        gr.Markdown(
            "# S2Accompanist\nInstrumental accompaniment, section by section: give each section its length in bars, "
            "a caption and its chords written bar by bar (`C | Am | F G | %`; `%` repeats a bar, `-` holds a chord). "
            f"Model: `{pipeline_name}`, up to {app.max_seconds:.1f} s at {app.sampling_rate} Hz."
            + ("\n\n> ⚠️ This is an **untrained** preset (random weights): the audio is noise." if untrained else "")
        )
        with gr.Row():
            with gr.Column(scale=3):
                prompt = gr.Textbox(label="Prompt", value=first.prompt, placeholder="warm indie pop accompaniment")
                with gr.Row():
                    bpm = gr.Number(label="Tempo (BPM)", value=first.bpm, info="30 to 300; dotted quarters in 6/8")
                    meter = gr.Dropdown(METERS, value=first.meter, label="Meter", allow_custom_value=True)
                    key = gr.Dropdown(KEYS, value=first.key, label="Key", info="added to the prompt")
                with gr.Tabs():
                    with gr.Tab("Sections (bars)"):
                        sections = gr.Dataframe(
                            value=first.sections,
                            headers=SECTION_HEADERS,
                            datatype=["str", "number", "str", "str"],
                            type="array",
                            interactive=True,
                            show_row_numbers=True,
                            wrap=True,
                            column_widths=["14%", "9%", "42%", "35%"],
                            label="Sections",
                            elem_id="sections",
                        )
                        with gr.Row():
                            row = gr.Number(label="Row (click a cell)", value=1, precision=0, scale=0, min_width=140)
                            up = gr.Button("↑ Move up", size="sm", min_width=90)
                            down = gr.Button("↓ Move down", size="sm", min_width=90)
                            add = gr.Button("+ Add section", size="sm", min_width=90)
                            remove = gr.Button("✕ Remove", size="sm", variant="stop", min_width=90)
                    with gr.Tab("Seconds"):
                        seconds = gr.Dataframe(
                            headers=SECONDS_HEADERS,
                            type="array",
                            interactive=False,
                            label="Sections in seconds (derived from bars, tempo and meter)",
                        )
                timeline = gr.Markdown(elem_id="timeline")
                with gr.Accordion("Advanced", open=False):
                    with gr.Row():
                        seed = gr.Number(label="Seed", value=first.seed, precision=0)
                        steps = gr.Number(
                            label="Steps", value=recommended["num_inference_steps"], precision=0, info="1 to 200"
                        )
                        guidance = gr.Number(
                            label="Guidance", value=recommended["guidance_scale"], info="text and structure, 0 to 20"
                        )
                        lead_sheet_guidance = gr.Number(
                            label="Lead-sheet guidance",
                            value=recommended["lead_sheet_guidance_scale"],
                            info="> 1 follows the chords harder (slower)",
                        )
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary", elem_id="generate")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
                with gr.Row():
                    regenerate = gr.Button("⟳ Regenerate the chosen row of the take", size="sm", elem_id="regenerate")
                    extend = gr.Button("＋ Extend the take with the rows past its end", size="sm", elem_id="extend")
                gr.Markdown(
                    "Edit a take (the one chosen in the take history): change a row's caption or chords (and the "
                    "seed) and regenerate just that row, the rest of the take kept as it is; or add rows after the "
                    "take's end and extend it.",
                )
                form = [prompt, bpm, meter, key, sections, seed, steps, guidance, lead_sheet_guidance]
                gr.Examples(
                    examples=[example.values(recommended) for example in EXAMPLES],
                    inputs=form,
                    example_labels=[example.name for example in EXAMPLES],
                    label="Example songs (click one to fill the whole form)",
                    elem_id="examples",
                )
            with gr.Column(scale=2):
                audio = gr.Audio(
                    label="Take", type="filepath", interactive=False, buttons=["download"], elem_id="take-audio"
                )
                files = gr.File(
                    label="Download (WAV, FLAC)", file_count="multiple", interactive=False, elem_id="take-files"
                )
                summary = gr.Markdown(elem_id="take-summary")
        # Full width: the bar grid and the chord names need the room.
        # No label over it: it would hide the figure's own title (prompt, tempo, seed, how well the chords match).
        picture = gr.Image(
            label="Sections, chords asked / heard, waveform",
            show_label=False,
            type="filepath",
            interactive=False,
            elem_id="take-picture",
        )
        with gr.Accordion("Take history (kept in this browser)", open=True):
            history = gr.BrowserState([], storage_key="s2acc-space-takes", secret=os.environ.get(SECRET_ENV))
            last_take = gr.State(None)
            history_table = gr.Dataframe(headers=HISTORY_HEADERS, type="array", interactive=False, elem_id="history")
            with gr.Row():
                take = gr.Dropdown(label="Take", choices=[], scale=3)
                restore = gr.Button("Restore all its settings", scale=1)
                clear = gr.Button("Clear history", scale=1)

        def update_seconds(bpm_value, meter_value, table):
            rows, text = seconds_view(bpm_value, meter_value, table, app.max_seconds)
            return rows, text

        # An example or a restored take changes the three at once: "always_last" makes sure the view is computed
        # again after the last of those changes, with every new value, instead of dropping it while one runs.
        gr.on(
            [bpm.change, meter.change, sections.change],
            update_seconds,
            [bpm, meter, sections],
            [seconds, timeline],
            api_visibility="private",
            trigger_mode="always_last",
            queue=False,
        )
        demo.load(update_seconds, [bpm, meter, sections], [seconds, timeline], api_visibility="private", queue=False)
        demo.load(
            app.add_take, [last_take, history], [history, history_table, take], api_visibility="private", queue=False
        )

        def pick_row(event: gr.SelectData):
            return event.index[0] + 1

        sections.select(pick_row, None, row, api_visibility="private", queue=False)
        up.click(
            lambda t, r: app.move_row(t, r, -1),
            [sections, row],
            [sections, row],
            api_visibility="private",
            queue=False,
        )
        down.click(
            lambda t, r: app.move_row(t, r, 1), [sections, row], [sections, row], api_visibility="private", queue=False
        )
        add.click(app.add_row, [sections, row], [sections, row], api_visibility="private", queue=False)
        remove.click(app.remove_row, [sections, row], [sections, row], api_visibility="private", queue=False)

        def run(
            prompt_v,
            bpm_v,
            meter_v,
            key_v,
            sections_v,
            seed_v,
            steps_v,
            guidance_v,
            lsg_v,
            request: gr.Request,
            progress=gr.Progress(),
        ):
            return app.generate(
                prompt_v,
                bpm_v,
                meter_v,
                key_v,
                sections_v,
                seed_v,
                steps_v,
                guidance_v,
                lsg_v,
                request=request,
                progress=progress,
            )

        generation = generate.click(
            run,
            form,
            [audio, files, picture, summary, last_take],
            api_name="generate",
            concurrency_limit=1,
            concurrency_id="generate",
        )
        generation.success(
            app.add_take, [last_take, history], [history, history_table, take], api_visibility="private", queue=False
        )

        def edit_handler(kind: str):
            # Gradio injects `request` and `progress` by the handler's signature, so each button gets a real function.
            def handler(
                take_v,
                prompt_v,
                bpm_v,
                meter_v,
                key_v,
                sections_v,
                row_v,
                seed_v,
                steps_v,
                guidance_v,
                lsg_v,
                request: gr.Request,
                progress=gr.Progress(),
            ):
                return app.edit(
                    kind,
                    take_v,
                    prompt_v,
                    bpm_v,
                    meter_v,
                    key_v,
                    sections_v,
                    row_v,
                    seed_v,
                    steps_v,
                    guidance_v,
                    lsg_v,
                    request=request,
                    progress=progress,
                )

            return handler

        regenerate_row, extend_take = edit_handler("section"), edit_handler("extend")

        edit_inputs = [take, prompt, bpm, meter, key, sections, row, seed, steps, guidance, lead_sheet_guidance]
        edits = []
        for button, handler, name in (
            (regenerate, regenerate_row, "regenerate_section"),
            (extend, extend_take, "extend"),
        ):
            event = button.click(
                handler,
                edit_inputs,
                [audio, files, picture, summary, last_take],
                api_name=name,
                concurrency_limit=1,
                concurrency_id="generate",
            )
            event.success(
                app.add_take,
                [last_take, history],
                [history, history_table, take],
                api_visibility="private",
                queue=False,
            )
            edits.append(event)

        def request_stop(request: gr.Request):
            app.stop(request)

        stop.click(request_stop, None, None, cancels=[generation, *edits], api_visibility="private", queue=False)
        restore.click(
            app.restore,
            [take, history],
            form + [audio, files, picture, summary],
            api_visibility="private",
            queue=False,
        )
        clear.click(
            lambda: ([], [], gr.update(choices=[], value=None)),
            None,
            [history, history_table, take],
            api_visibility="private",
            queue=False,
        )
    demo.queue(default_concurrency_limit=1)
    demo.s2acc_app = app  # for tests and scripts that drive the app from Python
    return demo


def load_pipeline(name: str, device: str | None = None):
    """The pipeline `name` (a shipped name, a folder, a Hub id or a preset), on `device` (default: CUDA if any).

    Loaded exactly as `s2acc generate` loads it; a bad name or device raises a one-line `ValueError` that starts
    with the flag (`--pipeline` or `--device`) naming it.
    """
    from ..devices import resolve_device
    from ..pretrained import load_pipeline_on

    try:
        device = resolve_device(device)
    except ValueError as error:
        raise ValueError(f"--device {error}") from None
    try:
        return load_pipeline_on(name, device)
    except ValueError as error:
        raise ValueError(f"--pipeline: {error}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The Space's flags, shared by `python spaces/app.py` and `s2acc space`."""
    parser.add_argument(
        "--pipeline",
        default=None,
        help=f"pipeline to serve: a shipped name, folder, Hub id or preset (default: ${PIPELINE_ENV}, else "
        f"{DEFAULT_PIPELINE})",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="address to listen on (0.0.0.0 to serve other machines)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        help="port to listen on (default 7860)",
    )
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default="recommended",
        help="recommended (default): the model's fast sampler; reference: Euler, 25 steps, guidance every step",
    )


def launch(args: argparse.Namespace, block: bool = True):
    """Load the pipeline named by `args` and serve the Space; returns the running `gr.Blocks` when not blocking."""
    name = args.pipeline or os.environ.get(PIPELINE_ENV) or DEFAULT_PIPELINE
    demo = build_demo(load_pipeline(name, args.device), name, sampler=getattr(args, "sampler", None))
    demo.launch(
        server_name=args.host, server_port=args.port, share=args.share, prevent_thread_lock=not block, show_error=True
    )
    return demo


def main(argv: Sequence[str] | None = None) -> int:
    """`python spaces/app.py [--pipeline NAME] [--port N] ...`: serve until interrupted; a bad flag is one line, rc 2."""
    import sys

    parser = argparse.ArgumentParser(prog="spaces/app.py", description="S2Accompanist Gradio Space")
    add_arguments(parser)
    try:
        launch(parser.parse_args(argv))
    except ValueError as error:  # a bad --pipeline or --device, in one line (see `load_pipeline`)
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    return 0
