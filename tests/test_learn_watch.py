"""``nnscratch learn watch``: a stage file saved is checked again, as ``rustlings watch``."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nnscratch.app.learn.workspace import start

pytest.importorskip("watchfiles", reason="the learn extra (watchfiles) is not installed")

ANSWERS = Path(__file__).resolve().parents[1] / "notebooks" / "answers"
#: Far more than a re-check takes (well under 2 s on this machine): the assertion is
#: that the check happens, not how fast a loaded machine runs it.
PATIENCE = 60.0


def read_until(lines: queue.Queue[str], text: str, seconds: float) -> list[str]:
    """Lines from the watcher up to and including one that holds ``text``."""
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"no {text!r} within {seconds} s; the watcher said:\n{''.join(seen)}")


def test_saving_a_stage_file_checks_it_again(tmp_path: Path) -> None:
    workspace = tmp_path / "mynet"
    start(workspace)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "nnscratch", "learn", "watch", "-w", str(workspace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # Ctrl-C must reach it however the suite was started (a background job's children
        # start with SIGINT ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in watcher.stdout], daemon=True)
    reader.start()
    try:
        first = read_until(lines, "(watching for changes", PATIENCE)
        assert any("✗ Exercise 1.1 (release_date → year): not written yet" in x for x in first)
        saved = time.monotonic()
        shutil.copy(ANSWERS / "data.py", workspace / "data.py")
        again = read_until(lines, "(watching for changes", PATIENCE)
        took = time.monotonic() - saved
        assert again[0].startswith("── data.py changed: checked again ──")
        assert any(x.startswith("✓ stage 1, data") for x in again)
        assert any("✗ Exercise 2.1 (He initialisation): not written yet" in x for x in again)
        print(f"re-checked {took:.2f} s after the save")
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            watcher.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode in (0, 1)  # Ctrl-C ends it quietly, with the last check's code


def test_ctrl_c_while_a_check_runs_ends_the_watch_quietly(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C lands where it lands: during a check it ends the watch as it does between
    checks (no traceback, no 130), with the last finished report's code."""
    from nnscratch.app.learn import watching

    workspace = tmp_path / "mynet"
    start(workspace)

    def interrupted(folder: Path):
        raise KeyboardInterrupt

    monkeypatch.setattr(watching.course, "check", interrupted)
    said: list[str] = []
    assert watching.watch(workspace, said.append) == 0
    assert said == []
