"""Hardening: divergence, Ctrl-C, SIGKILL during a save, determinism across processes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_cli import SCRIPT, assert_clean_failure, run

from nnscratch.errors import ModelFileError
from nnscratch.models.regressor import MLPRegressor

HERE = Path(__file__).resolve().parent


def test_divergence_through_the_cli_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "boom"
    result = run("train", "--optimizer", "gd", "--lr", "1e4", "--epochs", "50", "--out", str(out))
    assert_clean_failure(result, "diverged at epoch", "smaller learning rate")
    assert not (tmp_path / "runs").exists()


def read_stderr_until(process: subprocess.Popen[str], pattern: str, seen: str = "") -> str:
    """Read the child's stderr byte by byte (tqdm redraws with "\\r") until ``pattern``."""
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    while not re.search(pattern, seen):
        char = process.stderr.read(1)
        assert char and time.monotonic() < deadline, f"never saw {pattern!r}: {seen!r}"
        seen += char
    return seen


def start_training(
    out: Path, *extra: str, epochs: int = 100000, sigint: object = signal.SIG_DFL
) -> tuple[subprocess.Popen[str], str]:
    """A training subprocess, returned once its progress bar shows a finished epoch (the
    loop and its Ctrl-C handler are running), with the stderr read so far."""
    env = {k: v for k, v in os.environ.items() if k != "NNSCRATCH_DATA"}
    command = [str(SCRIPT), "train", "--epochs", str(epochs), "--patience", "0"]
    process = subprocess.Popen(
        [*command, "--out", str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A process started with SIGINT ignored (a background job, nohup) keeps ignoring
        # it, as it should; the training under test starts with the handler asked for.
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
    )
    # "N/epochs" for one network; "N/(members × epochs)" for an ensemble trained side by side
    return process, read_stderr_until(process, r"\| *[1-9]\d*/\d+")


def test_ctrl_c_saves_a_checkpoint_and_says_where(tmp_path: Path) -> None:
    out = tmp_path / "run"
    process, _ = start_training(out)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "stopping after this batch" in stderr
    assert f"the best weights so far are saved as {out / 'checkpoint.npz'}" in stdout
    model = MLPRegressor.load(out / "checkpoint.npz")
    assert model.history_.interrupted
    assert json.loads((out / "metrics.json").read_text())["training"]["interrupted"] is True
    assert "Traceback" not in stderr


def test_second_ctrl_c_quits_at_once_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "run"
    process, _ = start_training(out)
    process.send_signal(signal.SIGINT)
    # Wait until the first interrupt was handled: two signals that arrive before
    # Python's handler runs are handled once, and training would stop gracefully.
    seen = read_stderr_until(process, "stopping after this batch")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    stderr = seen + stderr
    assert process.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_sigkill_during_save_leaves_the_old_model_intact(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    for attempt in range(3):
        process = subprocess.Popen(
            [sys.executable, str(HERE / "helpers_save_loop.py"), str(path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "saved"
        time.sleep(0.2 + 0.13 * attempt)  # somewhere inside one of the back-to-back saves
        process.kill()
        process.wait(timeout=30)
        model = MLPRegressor.load(path)  # whole and valid: the old file or the new one
        assert model.weights_[0].shape == (1024, 8)
    temporaries = [p for p in tmp_path.iterdir() if p.name != "model.npz"]
    assert all(p.name.startswith(".model.npz.") and p.suffix == ".tmp" for p in temporaries)


def test_corrupted_model_file_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.random((50, 3))
    path = MLPRegressor(epochs=2, random_state=0).fit(X, X[:, 0]).save(tmp_path / "m.npz")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # zero out a stretch inside an array
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"m\.npz"):
        MLPRegressor.load(path)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.portable
def test_same_seed_same_bits_across_processes_hash_seeds_and_threads(tmp_path: Path) -> None:
    runs = []
    for i, env in enumerate(
        [
            {"PYTHONHASHSEED": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
            {"PYTHONHASHSEED": "2", "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"},
        ]
    ):
        out = tmp_path / f"run{i}"
        args = ("--epochs", "2", "--max-rows", "2000", "--seed", "7", "--quiet")
        result = run("train", *args, "--out", str(out), env=env)
        assert result.returncode == 0, result.stderr
        runs.append(out)
    assert digest(runs[0] / "model.npz") == digest(runs[1] / "model.npz")
    metrics = [json.loads((r / "metrics.json").read_text()) for r in runs]
    for m in metrics:
        # measured of the process, not computed from the data: the seconds, and the peak
        # expected (the resident memory when training began, which threads change)
        m.pop("timing")
        m["features"]["memory"].pop("expected_peak_bytes")
    assert metrics[0] == metrics[1]
    assert (runs[0] / "history.csv").read_text() == (runs[1] / "history.csv").read_text()


def test_ctrl_c_is_left_ignored_where_the_process_was_started_ignoring_it(tmp_path: Path) -> None:
    """Under nohup or as a background job SIGINT is ignored; training must not take it over."""
    out = tmp_path / "run"
    # the signal is sent once the first epoch has ended: eight leave seven to run through it
    process, seen = start_training(out, epochs=8, sigint=signal.SIG_IGN)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "stopping after this batch" not in seen + stderr
    assert (out / "model.npz").is_file()


def test_full_disk_names_the_file_and_replaces_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A write that fails with ENOSPC: one line naming the file, exit 2, old run intact."""
    import errno

    from nnscratch import files
    from nnscratch.app.cli.main import main

    out = tmp_path / "run"
    args = ["train", "--preset", "seed", "--epochs", "3", "--quiet", "--out", str(out)]
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        if name.startswith(".model.npz."):  # the model file's temporary copy
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", full_disk)
    assert main([*args[:-1], str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"nnscratch: error: {out / 'model.npz'}: could not write the file")
    assert "No space left on device" in err[0] and "nothing was replaced" in err[0]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_out_of_memory_is_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nnscratch.app.cli.main import main
    from nnscratch.models import members

    def no_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(members, "train", no_memory)  # as if the training buffers did not fit
    out = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nnscratch: error: out of memory"), err
    assert not out.exists()
