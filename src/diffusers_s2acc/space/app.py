"""The Gradio Space's process entry point: `python spaces/app.py` and `s2acc space` both take the flags of
`add_arguments`, load the pipeline they name and serve [`build_demo`] on it; see spaces/README.md and, for how the
Space is split, `diffusers_s2acc.space`.
"""

import argparse
import os
from typing import Sequence

from ..pipelines.sampling_utils import SAMPLERS
from ..pretrained import DEFAULT_PIPELINE
from .layout import build_demo


#: The pipeline to serve when `--pipeline` is not given (a Hub Space sets it in its settings; the flag wins locally).
PIPELINE_ENV = "S2ACC_SPACE_PIPELINE"


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
