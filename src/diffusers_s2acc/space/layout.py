"""The Space's page: the `gr.Blocks` layout of the form, the take, its picture and the take history, each control
wired to a method of the controller ([`SpaceApp`]).

Nothing here decides anything: checking the form, generating and editing takes and keeping the history are the
controller's, `form`'s and `takes`'.
"""

# No `from __future__ import annotations`: Gradio finds `gr.Request`, `gr.SelectData` and `gr.Progress` parameters
# of the event handlers (closures inside `build_demo`, where `gr` is a local name) by their evaluated annotations.
import os

from ..pretrained import DEFAULT_PIPELINE
from .controller import SpaceApp
from .form import EXAMPLES, KEYS, METERS, SECTION_HEADERS, seconds_view
from .takes import HISTORY_HEADERS


#: The key that encrypts the take history in visitors' browsers (a Hub Space sets it as a secret; unset, each start
#: picks a random key).
SECRET_ENV = "S2ACC_SPACE_SECRET"
SECONDS_HEADERS = ["#", "label", "bars", "start (s)", "end (s)", "time"]


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
            f"Model: `{pipeline_name}`, songs up to {app.max_seconds:.0f} s at {app.sampling_rate} Hz (longer than "
            f"{app.window_seconds:.1f} s: generated window by window)."
            + ("\n\n> ⚠️ This is an **untrained** preset (random weights): the audio is noise." if untrained else "")
        )
        with gr.Row():
            with gr.Column(scale=3):
                prompt = gr.Textbox(label="Prompt", value=first.prompt, placeholder="warm indie pop accompaniment")
                with gr.Row():
                    bpm = gr.Number(label="Tempo (BPM)", value=first.bpm, info="30 to 300; dotted quarters in 6/8")
                    meter = gr.Dropdown(METERS, value=first.meter, label="Meter", allow_custom_value=True)
                    key = gr.Dropdown(KEYS, value=first.key, label="Key", info="added to the prompt")
                with gr.Accordion("Play along with a melody (audio or MIDI)", open=False, elem_id="melody"):
                    gr.Markdown(
                        "Upload or record a melody (voice, whistle, a solo instrument; any rate) or upload a MIDI "
                        "file: its tempo, meter, key and a suggested chart fill the form. Edit them, then generate "
                        "the accompaniment and its mix with the melody."
                    )
                    with gr.Row():
                        melody_audio = gr.Audio(
                            sources=["upload", "microphone"],
                            type="filepath",
                            label="Melody (recording)",
                            elem_id="melody-audio",
                        )
                        melody_midi = gr.File(
                            label="Melody (MIDI)", file_types=[".mid", ".midi"], type="filepath", elem_id="melody-midi"
                        )
                    melody_note = gr.Markdown(elem_id="melody-note")
                    # The last melody read without error: what "Generate with the melody" plays along with.
                    melody = gr.State(None)
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
                    play = gr.Button("Generate with the melody", variant="primary", elem_id="play-along")
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
                mix = gr.Audio(
                    label="Mix (melody and accompaniment)",
                    type="filepath",
                    interactive=False,
                    buttons=["download"],
                    elem_id="mix-audio",
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

        # A melody fills the form with its chart; on bad input the error is shown and the form stays as it was.
        for event, source in (
            (melody_audio.upload, melody_audio),
            (melody_audio.stop_recording, melody_audio),
            (melody_midi.upload, melody_midi),
        ):
            event(
                app.suggest,
                [source, sections],
                [sections, bpm, meter, key, melody, melody_note],
                api_visibility="private",
                concurrency_limit=1,
                concurrency_id="melody",
            )

        def play_along(
            melody_v,
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
            return app.play_along_take(
                melody_v,
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

        playing = play.click(
            play_along,
            [melody] + form,
            [audio, files, picture, summary, last_take, mix],
            api_name="play_along",
            concurrency_limit=1,
            concurrency_id="generate",
        )
        playing.success(
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

        stop.click(
            request_stop, None, None, cancels=[generation, playing, *edits], api_visibility="private", queue=False
        )
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
