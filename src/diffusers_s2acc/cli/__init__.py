"""The `s2acc` command line: `main` and the top-level parser; each command group lives in its own module.

- `generate`: `generate`, `repaint` and `extend` (a piece, and edits of it)
- `evaluate`: `evaluate`, `make-specs` and `probe-vae` (scores, spec files, VAE probes)
- `accompany`: `accompany` (a melody in, its chart, accompaniment and mix out)
- `space`: `space` (the Gradio Space, served locally)
- `common`: what they share (the one-line `UsageError`, flags declared once, reading inputs, writing outputs)

The command modules import `common` and never each other; this module imports them all (as modules: each is
named after its main command, `generate.generate`, `space.space`, ...).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from . import accompany, evaluate, generate, space
from .common import UsageError


__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one clear line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="s2acc", description="S2Accompanist: structure-aware accompaniment generation.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    generate.add_generation_parsers(commands)
    evaluate.add_evaluation_parsers(commands)
    accompany.add_accompany_parser(commands)
    space.add_space_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `s2acc` on `argv` (default: `sys.argv[1:]`); returns the exit code, 2 for a usage error (one line)."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        commands = {
            "generate": generate.generate,
            "repaint": generate.repaint,
            "extend": generate.extend,
            "evaluate": evaluate.evaluate,
            "make-specs": evaluate.make_specs,
            "space": space.space,
            "probe-vae": evaluate.probe_vae,
            "accompany": accompany.accompany,
        }
        return commands[args.command](args)
    except UsageError as error:
        print(f"s2acc {args.command}: error: {error}", file=sys.stderr)
        return 2
