"""The Gradio Space (`spaces/app.py`, `s2acc space`): a section-by-section accompaniment editor, split by concern.

- `form`: the page's fields turned into pipeline arguments, and the sections table's row editing (no Gradio)
- `takes`: the server's store of takes and the history kept in visitors' browsers (no Gradio)
- `figure`: the picture of a take (its sections, chords asked and heard, waveform)
- `controller`: [`SpaceApp`], generating, editing and stopping takes, the history and rows as the page calls them
- `layout`: the page (`gr.Blocks`), wired to the controller
- `app`: the process entry point (flags, loading the pipeline, serving)

Gradio (the `space` extra) is imported only by the controller and the page, and only when they run. Everything
musical goes through the package's public API: the form becomes `Segment`s and one `LeadSheet` (the sections'
charts joined, read by `LeadSheet.from_chart`) and the pipeline is called as any user would call it.
"""

from .form import EXAMPLES, FormError, plan_song


__all__ = ["EXAMPLES", "FormError", "plan_song"]
