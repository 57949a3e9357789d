"""The Gradio Space (`spaces/app.py`, `s2acc space`): a section-by-section accompaniment editor.

`form` turns the page's fields into pipeline arguments and needs no Gradio; `app` builds the page (Gradio is the
`space` extra); `figure` draws a take's sections, chords and waveform.
"""

from .form import EXAMPLES, FormError, plan_song


__all__ = ["EXAMPLES", "FormError", "plan_song"]
