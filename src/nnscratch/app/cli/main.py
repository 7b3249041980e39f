"""The ``nnscratch`` command line: parses the command and hands it to its module.

Each command lives in :mod:`nnscratch.app.cli.commands` (its parser and its
``run``); this module only registers them and turns errors into exit codes:
0 success; 2 bad input (a one-line message on stderr, no traceback); 1 an
unexpected failure (a bug: set ``NNSCRATCH_DEBUG=1`` to see the traceback);
130 interrupted. A failed command leaves no output behind: files are staged
and moved into place only when everything succeeded.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from nnscratch import __version__
from nnscratch.app.cli.commands import COMMANDS
from nnscratch.app.cli.console import HelpFormatter, examples, one_line
from nnscratch.errors import NNScratchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnscratch",
        description="A from-scratch NumPy MLP: Spotify track popularity (0–100), a table's "
        "classes, and handwritten digits.",
        formatter_class=HelpFormatter,
        epilog=examples("""
            nnscratch train                                  # built-in synthetic sample
            nnscratch train --data tracks.csv --out runs/first
            nnscratch evaluate --model runs/first/model.npz --data tracks.csv
            nnscratch predict --model runs/first/model.npz --data new.csv --out pred.csv
        """),
    )
    parser.add_argument("--version", action="version", version=f"nnscratch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.func
    try:
        return run(args)
    except NNScratchError as exc:
        print(f"nnscratch: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnscratch: interrupted; nothing was written", file=sys.stderr)
        return 130
    except MemoryError:
        print(
            "nnscratch: error: out of memory; nothing was written or replaced (try --max-rows "
            "or a smaller --batch-size)",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:
        if os.environ.get("NNSCRATCH_DEBUG"):
            raise
        print(
            f"nnscratch: unexpected error: {type(exc).__name__}: {one_line(str(exc))} "
            "(this is a bug; rerun with NNSCRATCH_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1
