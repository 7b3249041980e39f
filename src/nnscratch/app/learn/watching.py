"""``nnscratch learn watch``: check the workspace again on every save, as ``rustlings watch``.

The first check runs at once; then :func:`watch` waits for a change to any ``.py`` file
of the workspace (watchfiles, the library uvicorn's reloader uses: the operating
system's file events, a poll where there are none) and checks again, from the first
stage, printing the same report ``nnscratch learn check`` prints. Ctrl-C ends it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from nnscratch.app.learn import course

#: Milliseconds to wait for more changes before checking (an editor's save is often
#: two writes: the file, then its metadata).
SETTLE_MS = 50
#: Milliseconds between the watcher's idle wake-ups (the first one starts the first check).
WAKE_MS = 200


def python_files(change: object, path: str) -> bool:
    """Only the workspace's own Python files (not git's, not caches)."""
    parts = Path(path).parts
    return path.endswith(".py") and ".git" not in parts and "__pycache__" not in parts


def watch(
    folder: Path,
    say: Callable[[str], None],
    *,
    clear: bool = False,
    stop: threading.Event | None = None,
) -> int:
    """Check ``folder`` now and after every change until ``stop`` is set (or Ctrl-C, which
    may come while a check runs); ``clear`` clears the terminal before each report.
    Returns the last finished report's exit code.

    The first check runs once the watcher is watching (its first, empty, wake-up), so a
    file saved while the first report is printed is checked again, never missed."""
    import watchfiles  # the learn extra; imported here so that the course runs without it

    report = None
    try:
        for changes in watchfiles.watch(
            folder,
            watch_filter=python_files,
            step=SETTLE_MS,
            stop_event=stop,
            raise_interrupt=False,
            rust_timeout=WAKE_MS,
            yield_on_timeout=True,
        ):
            if report is None:  # watching now: the first check
                report = course.check(folder)
                say(screen(report.render(), "", clear))
            elif changes:
                names = ", ".join(sorted({Path(path).name for _, path in changes}))
                report = course.check(folder)
                say(screen(report.render(), f"{names} changed: checked again", clear))
    except KeyboardInterrupt:  # Ctrl-C during a check ends it as between checks: quietly
        pass
    return 0 if report is None else report.exit_code


def screen(text: str, heading: str, clear: bool) -> str:
    """A report as the watcher prints it: under a heading, on a cleared screen."""
    top = "\x1b[2J\x1b[H" if clear else ""
    ruler = f"── {heading} ──\n" if heading else ""
    footer = "\n(watching for changes: save a file to check again, Ctrl-C to stop)"
    return f"{top}{ruler}{text}{footer}"
