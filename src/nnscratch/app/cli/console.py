"""What the command line prints, and how its help reads.

Every command speaks through :func:`say` (flushed at once, so a progress bar
on stderr never overtakes a line), and every parser uses :class:`HelpFormatter`
and :func:`examples`, so ``--help`` reads the same everywhere.
"""

from __future__ import annotations

import argparse
import textwrap


def say(message: str = "") -> None:
    print(message, flush=True)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions as written; adds ``(default: X)`` only where there is one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        default = action.default
        if (
            "%(default)" in help_text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or not action.option_strings
        ):
            return help_text
        return f"{help_text} (default: %(default)s)"


def examples(text: str) -> str:
    """An epilog of example command lines."""
    return "examples:\n" + textwrap.indent(textwrap.dedent(text).strip(), "  ")


def one_line(message: str) -> str:
    """A message on one line (an error is one line on stderr)."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())
