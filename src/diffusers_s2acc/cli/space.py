"""`s2acc space`: the Gradio Space (the section-by-section editor), served locally with the Space's own flags."""

from __future__ import annotations

import argparse

from .common import UsageError


def add_space_parser(commands) -> None:
    """Register `space` on the `s2acc` sub-command parser; its flags are the Space's (`python spaces/app.py`)."""
    from ..space.app import add_arguments as add_space_arguments

    space_parser = commands.add_parser("space", help="start the Gradio Space (the section-by-section editor) locally")
    add_space_arguments(space_parser)


def space(args: argparse.Namespace) -> int:
    """Serve the Space (spaces/app.py starts the same app) until interrupted."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise UsageError("the Space needs Gradio: pip install -e '.[space]'") from None
    from ..space.app import launch

    try:
        launch(args)
    except ValueError as error:  # the Space's one-line --pipeline/--device errors
        raise UsageError(str(error)) from None
    return 0
