"""The Space's controller: a take generated from the form, a take edited (a section regenerated, sections
appended), a take played along with a melody (its suggested chart first written into the form), stopping a take, the
visitor's take history and the sections table's row editing, as [`SpaceApp`].

The page (`layout`) calls these methods; the checks of the form (`form`), the take store and the browser history
(`takes`) and the take's picture (`figure`) live in their own modules. Every problem reaches the visitor as a
`gradio.Error` that names the field or says what went wrong in one line; Gradio is imported only when one is raised.
"""

# No `from __future__ import annotations`: the page hands some of these methods to Gradio as event handlers, and Gradio
# reads a handler's parameters by their evaluated annotations (see `layout`).
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import check_output_path
from ..music import Segment
from ..pipelines.sampling_utils import check_sampler
from ..pretrained import DEFAULT_PIPELINE
from .figure import chord_agreement, draw_take
from .form import FormError, chart_rows, check_advanced, file_stem, joined_chart, plan_song, row_index
from .form import add_row as add_table_row
from .form import move_row as move_table_row
from .form import remove_row as remove_table_row
from .takes import (
    TakeStore,
    add_to_history,
    find_take,
    history_rows,
    restored_settings,
    take_choices,
    take_record,
)


logger = logging.getLogger(__name__)
#: Longest song one take may ask for (s): long enough for a whole song, short enough to keep a shared server usable.
MAX_SONG_SECONDS = 300.0

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
        # A song may be longer than one transformer window: the pipeline generates it window by window. The cap only
        # keeps one visitor's take from holding a public server for long; an extension adds at most one window.
        self.window_seconds = float(pipe.max_audio_length_in_s)
        self.max_seconds = max(self.window_seconds, MAX_SONG_SECONDS)
        self.sampling_rate = int(pipe.vae.config.sampling_rate)
        # The form starts from the checkpoint's recommended steps and guidance, as Python and the CLI do.
        self.recommended = pipe.recommended_settings()
        self.recommended["num_inference_steps"] = pipe.sampling_settings(sampler=self.sampler)[0]
        self.recommended["guidance_interval"] = pipe.resolve_guidance_interval(sampler=self.sampler)
        self.output_dir = Path(output_dir or tempfile.mkdtemp(prefix="s2acc-space-"))
        # Files and latents of recent takes, by take id (see `takes`); the folder is checked here, before any take.
        self._takes = TakeStore(self.output_dir)
        # The queue runs one generation at a time; the lock also covers callers that bypass it (tests, scripts).
        self._lock = threading.Lock()
        self._stops: dict[str, threading.Event] = {}

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
            bpm=float(bpm),  # as the take's title and record show it; `plan_song` has checked it
            meter=str(meter).strip(),
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

        source = self._takes.get(take_id)
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
            index = row_index(plan.rows, row)
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
            if added <= 1e-3 or added > self.window_seconds + 1e-6:
                raise gr.Error(
                    f"Sections: add sections after the take's {taken:.1f} s (now {max(added, 0):.1f} s more; at most "
                    f"{self.window_seconds:.1f} s per extension).",
                    title="Please check the form",
                )
            options = {}
        pipe = S2AccompanistRepaintPipeline(**self.pipe.components)
        pipe.set_progress_bar_config(disable=True)
        return self._take(pipe, plan, settings, {"source_latents": source["latents"], **options}, request, progress)

    def _take(self, pipe, plan, settings: dict, extra: dict, request: Any, progress: Any) -> tuple:
        """Run `pipe` on the checked `plan` (plus `extra` arguments), then write, analyse and record the take."""

        def call(on_step):
            return pipe(
                prompt=plan.prompt,
                segments=plan.segments,
                lead_sheet=plan.lead_sheet,
                audio_length_in_s=plan.duration,
                **self._sampling(settings, on_step),
                **extra,
            )

        output = self._run(call, request, progress)
        edited = ""
        if "section" in extra:
            edited = f"Section {extra['section'] + 1} regenerated; the rest of the take kept.  \n"
        elif "source_latents" in extra:
            edited = "Extended: the take kept, new sections appended.  \n"
        # Kept for "regenerate a section" and "extend": editing from the latents is exact (no re-encoding).
        latents = output.latents[:1].detach().cpu()
        return self._save(plan, settings, output.audios[0], edited, latents=latents, progress=progress)

    def _sampling(self, settings: dict, on_step) -> dict:
        """The pipeline arguments every take shares: the form's steps, guidance and seed, and the Space's sampler."""
        import torch

        return dict(
            num_inference_steps=settings["steps"],
            guidance_scale=settings["guidance"],
            lead_sheet_guidance_scale=settings["lead_sheet_guidance"],
            generator=torch.Generator(device=self.pipe.device).manual_seed(settings["seed"]),
            callback_on_step_end=on_step,
            sampler=self.sampler,
        )

    def _run(self, call, request: Any, progress: Any):
        """`call(on_step)` (one pipeline call, `on_step` its `callback_on_step_end`) under the lock, with the page's
        progress bar and this visitor's Stop; every failure becomes a `gradio.Error`."""
        import gradio as gr

        self._check_output_dir()  # before the model runs: a take that cannot be saved is not worth its minutes
        session = getattr(request, "session_hash", None) or "local"
        stop = threading.Event()
        self._stops[session] = stop

        def on_step(pipe, step: int, timestep, tensors: dict) -> dict:
            if progress is not None:
                # The step index counts on across windows, so one bar rises once over a whole song.
                total = pipe.num_windows * pipe.num_timesteps
                progress((step + 1, total), desc="Denoising", unit="steps")
            if stop.is_set():
                # diffusers' documented way to end the denoising loop early: the remaining steps are skipped.
                pipe._interrupt = True
            return {}

        try:
            with self._lock:
                if progress is not None:
                    progress(0, desc="Encoding the captions")
                output = call(on_step)
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
        return output

    def _save(
        self,
        plan,
        settings: dict,
        audio: np.ndarray,
        edited: str = "",
        latents=None,
        mix: np.ndarray | None = None,
        start_s: float = 0.0,
        progress: Any = None,
    ) -> tuple:
        """Analyse, draw, write and record a take: `audio` (and the play-along `mix`, both on the melody's time
        axis, the sections starting at `start_s`); returns what [`generate`] returns."""
        import gradio as gr

        seed, steps = settings["seed"], settings["steps"]
        guidance, lead_sheet_guidance = settings["guidance"], settings["lead_sheet_guidance"]
        # The picture and the analysis cover the sections as the table has them, from their first bar.
        played = audio[:, int(round(start_s * self.sampling_rate)) :]
        if progress is not None:
            progress(1.0, desc="Listening for the chords")
        heard, heard_key, note = self._analyse(played)
        asked = plan.lead_sheet.chords if plan.lead_sheet is not None else None
        agreement = chord_agreement(asked, heard) if asked and heard is not None else None
        title = f"{plan.prompt or '(no prompt)'}  ·  {settings['bpm']:g} BPM {settings['meter']}  ·  seed {seed}"
        if agreement is not None:
            title += f"  ·  heard roots match the chart {agreement:.0%} of the time"
        stem = file_stem(plan.prompt, seed)
        try:
            take_id, folder = self._takes.new_folder()
            # Checked like every output of the package: never replacing a file (the folder is new, so nothing of
            # an earlier take, this visitor's or another's, can be there), and written atomically.
            suffixes = (".wav", ".flac", ".png") + (("_mix.wav", "_mix.flac") if mix is not None else ())
            for suffix in suffixes:
                check_output_path(folder / f"{stem}{suffix}")
            wav, flac = _write_audio(folder, stem, audio, self.sampling_rate)
            files = [str(wav), str(flac)]
            if mix is not None:
                files += [str(path) for path in _write_audio(folder, f"{stem}_mix", mix, self.sampling_rate)]
            picture = draw_take(
                folder / f"{stem}.png",
                played,
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
        summary = (
            edited
            + f"**{audio.shape[-1] / self.sampling_rate:.1f} s**, {self.sampling_rate} Hz, {channels} · seed {seed} · "
            f"{steps} steps · guidance {guidance:g} / lead sheet {lead_sheet_guidance:g}  \n"
            f"Prompt sent: *{plan.prompt or '(empty)'}*"
            + (f"  \nThe analysis hears **{heard_key}**" if heard_key else "")
            + (f"; chord roots match the chart {agreement:.0%} of the time." if agreement is not None else "")
            + (f"  \n{note}" if note else "")
        )
        self._takes.add(
            take_id,
            audio=str(wav),
            files=files,
            picture=str(picture),
            summary=summary,
            latents=latents,  # None for a play-along take: it is not edited from latents
            seconds=plan.duration,
        )
        return str(wav), files, str(picture), summary, take_record(take_id, plan, settings)

    # ------------------------------------------------------------------ playing along with a melody

    @staticmethod
    def _read_melody(path: str | None, bpm: Any = None, meter: Any = None, key: str | None = None):
        """The melody of an upload or a recording, read as `s2acc accompany` reads it, or a `gradio.Error`."""
        import gradio as gr

        from ..analysis.melody_input import read_melody
        from .form import NO_KEY

        if not path:
            raise gr.Error("Melody: upload an audio or MIDI file, or record one, first.", title="No melody")
        try:
            return read_melody(path, bpm=bpm, meter=meter, key=None if key in (None, "", NO_KEY) else key)
        except ImportError as error:  # basic-pitch (the `analysis` extra) transcribes recordings
            raise gr.Error(
                f"Melody: cannot transcribe audio here ({_first_line(error)}).", title="No melody"
            ) from None
        except ValueError as error:  # no melody, polyphonic, silence, MIDI without notes, unreadable: one line each
            message = _first_line(error).replace("`melody`", "Melody").replace(str(path), Path(path).name)
            raise gr.Error(message, title="Cannot use this melody") from None

    def suggest(self, melody_path: str | None, sections: Any) -> tuple[list[list], float, str, str, str, str]:
        """Read a melody and suggest its chart: returns the sections table with the chart written into it (see
        [`form.chart_rows`]), the melody's tempo, meter and key, the melody's path (for [`play_along_take`]) and a
        note with the suggestion's confidence. On bad input a `gradio.Error` is raised and the form is untouched.
        """
        from ..pipelines.play_along import suggest_chart

        melody = self._read_melody(melody_path)
        suggestion = suggest_chart(melody)
        chart = suggestion.to_chart()
        # Numbered as `ChartSuggestion.format_table` numbers bars: 1 is the first downbeat's, 0 a pick-up.
        low = [
            str(bar.index + 1) if bar.index >= 0 else "the pick-up" for bar in suggestion.bars if bar.confidence < 0.5
        ]
        note = (
            f"Suggested chart in **{suggestion.key_name}** ({len(melody.notes)} notes, {melody.tempo:.4g} BPM, "
            f"{melody.meter[0]}/{melody.meter[1]}): `{chart}`"
            + (f"  \nLeast sure of bar(s) {', '.join(low)}: check them." if low else "")
        )
        meter = f"{melody.meter[0]}/{melody.meter[1]}"
        return chart_rows(chart, sections), round(melody.tempo, 2), meter, suggestion.key_name, melody_path, note

    def play_along_take(
        self,
        melody_path: str | None,
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
    ) -> tuple[str, list[str], str, str, dict, str]:
        """The accompaniment of the melody at `melody_path`, playing the table's chart (as edited) with its sections,
        tempo and meter (the form's values win over the melody's own), by [`~pipelines.play_along.play_along`].
        Returns what [`generate`] returns (the accompaniment's WAV first; the files add the mix) and the mix's WAV.

        Raises:
            gradio.Error: naming the field or saying what is wrong with the melody.
        """
        import gradio as gr

        from ..pipelines.play_along import play_along

        plan, settings = self._check_form(
            prompt, bpm, meter, key, sections, seed, steps, guidance, lead_sheet_guidance, self.max_seconds
        )
        melody = self._read_melody(melody_path, settings["bpm"], settings["meter"], key)
        if melody.duration > self.max_seconds:
            raise gr.Error(
                f"Melody: it lasts {melody.duration:.1f} s, longer than this Space's maximum of "
                f"{self.max_seconds:.0f} s.",
                title="Cannot use this melody",
            )
        # The table's sections start on the melody's first downbeat, where play_along starts the accompaniment.
        segments = [Segment(s.start + melody.offset, s.end + melody.offset, s.label, s.caption) for s in plan.segments]

        def call(on_step):
            return play_along(
                self.pipe,
                melody,
                lead_sheet=joined_chart(plan.rows) or None,  # no chords in the table: the suggestion is played
                prompt=plan.prompt,
                segments=segments,
                **self._sampling(settings, on_step),
            )

        out = self._run(call, request, progress)
        edited = f"Played along with the melody ({len(melody.notes)} notes), from its first downbeat.  \n"
        taken = self._save(
            plan,
            settings,
            out.accompaniment,
            edited,
            mix=out.mix,
            start_s=out.accompaniment_start_in_s,
            progress=progress,
        )
        return (*taken, taken[1][2])

    def _check_output_dir(self) -> None:
        """A `gradio.Error` when the output folder can no longer be written (removed, made read-only, ...)."""
        import gradio as gr

        try:
            self._takes.check_folder()
        except ValueError as error:
            raise gr.Error(
                f"The Space cannot save takes: {error}. Ask its owner to free or fix the output folder.",
                title="Cannot save the take",
            ) from None

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

    def add_take(self, record: dict | None, history: list | None) -> tuple[list, list[list], Any]:
        """Put the newest take first in the visitor's history (kept to the last `takes.BROWSER_TAKES`)."""
        import gradio as gr

        history = add_to_history(record, history)
        choices = take_choices(history)
        return (
            history,
            history_rows(history),
            gr.update(choices=choices, value=choices[0][1] if choices else None),
        )

    def restore(self, take_id: str | None, history: list | None) -> tuple:
        """Every setting of a take back into the form, with its audio and picture while the server still has them."""
        import gradio as gr

        take = find_take(history, take_id)
        if take is None:
            raise gr.Error("Take history: choose a take to restore first.", title="No take chosen")
        outputs = self._takes.saved_outputs(take_id)
        if outputs is None:
            note = "Settings restored. This take's audio is no longer on the server: generate again (same seed, same take)."
            outputs = (None, None, None, note)
        return restored_settings(take, self.recommended) + outputs

    # ------------------------------------------------------------------ section rows

    def add_row(self, table: Any, row: Any) -> tuple[list[list], int]:
        """A blank section after row `row` (at the end when no row is chosen)."""
        return add_table_row(table, row)

    def remove_row(self, table: Any, row: Any) -> tuple[list[list], int]:
        """Row `row` removed; a `gradio.Error` when no row is chosen."""
        return self._edit_rows(remove_table_row, table, row)

    def move_row(self, table: Any, row: Any, offset: int) -> tuple[list[list], int]:
        """Row `row` moved `offset` places; a `gradio.Error` when no row is chosen."""
        return self._edit_rows(move_table_row, table, row, offset)

    @staticmethod
    def _edit_rows(edit, *args) -> tuple[list[list], int]:
        import gradio as gr

        try:
            return edit(*args)
        except FormError as error:
            raise gr.Error(str(error), title="No row") from None
