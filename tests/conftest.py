"""Shared fixtures: the real shared sample (skipped where absent) and small synthetic frames."""

from __future__ import annotations

import fcntl
import gc
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One worker per core: OpenMP (scikit-learn's gradient-boosting baselines) on every core
    # in every worker oversubscribes them. Measured on 2 cores, two processes fitting
    # HistGradientBoosting on 1,400 × 27 rows at once: 0.95 s a fit with 2 OpenMP threads
    # each, 0.28 s with 1 (0.27 s alone with 2). Set before scikit-learn loads OpenMP;
    # command-line runs in subprocesses inherit it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd
import pytest

from nnscratch.data.synthetic import make_tracks

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_TRACKS = REPO_ROOT.parent / "shared" / "data" / "spotify" / "tracks.csv"


def pytest_collection_finish(session: pytest.Session) -> None:
    """Leave what collecting made (the test modules, the libraries they import) out of
    every later garbage collection: a full collection walks every object a process holds,
    and a test process holds hundreds of thousands, where a command-line run holds far
    fewer (``release_freed_memory`` collects at each stage of a ``train``)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session")
def real_tracks_path() -> Path:
    if not REAL_TRACKS.is_file():
        pytest.skip(f"shared real data not found at {REAL_TRACKS}: tests on real rows skipped")
    return REAL_TRACKS


@pytest.fixture
def synthetic_frame() -> pd.DataFrame:
    return make_tracks(600, seed=7)


@pytest.fixture
def synthetic_csv(tmp_path: Path, synthetic_frame: pd.DataFrame) -> Path:
    path = tmp_path / "tracks.csv"
    synthetic_frame.to_csv(path, index=False)
    return path


@pytest.fixture
def ctrl_c_reaches_python():
    """The default SIGINT handler, whatever the suite was started with (a background
    job starts with SIGINT ignored); restored afterwards."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


#: The models that tests of scoring, serving and export share, and how each is trained:
#: briefly, since what they test is how a model file is read and answers, not its accuracy.
#: Each is trained once a test process (``train`` in-process), when a test first asks; the
#: folder it is written to names it, which the served model takes as its name.
SHARED_TRAININGS = {
    "popularity": ("--epochs", "3"),
    "digits": ("--data", "digits", "--epochs", "3", "--tta", "off"),
}


def train_shared(name: str, folder: Path) -> Path:
    """``nnscratch train`` with :data:`SHARED_TRAININGS`' flags for ``name``; its model file."""
    from test_cli import run

    out = folder / name
    result = run("train", *SHARED_TRAININGS[name], "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    return out / "model.npz"


def once_per_suite(
    name: str, make: Callable[[Path], None], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A folder that ``make(folder)`` fills once for the whole suite, however many test
    processes share it: the first to ask makes it under a file lock in the folder the
    processes' temporary folders share; the others wait for it and read what it made (where
    ``make`` fails, the next to ask tries again)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # each worker's base folder is one of this folder's
    folder, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                make(folder)
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


@pytest.fixture(scope="session")
def tracks_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A popularity model, the default recipe for 3 epochs on the built-in sample."""
    folder = once_per_suite("popularity", lambda f: train_shared("popularity", f), tmp_path_factory)
    return folder / "popularity" / "model.npz"


@pytest.fixture(scope="session")
def digits_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A digits model, the default digits recipe for 3 epochs on the bundled 8×8 digits,
    without test-time augmentation (so that it exports to ONNX)."""
    folder = once_per_suite("digits", lambda f: train_shared("digits", f), tmp_path_factory)
    return folder / "digits" / "model.npz"


@pytest.fixture(scope="session")
def real_sample_run(
    real_tracks_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``nnscratch train --data`` the shared sample ``--epochs 3 --telemetry 20``, once for the
    suite (the command line's test and the telemetry's read the same run): what it said,
    and its run folder."""
    from test_cli import run

    def train(folder: Path) -> None:
        args = ("--data", str(real_tracks_path), "--epochs", "3", "--telemetry", "20")
        result = run("train", *args, "--out", str(folder / "run"), "--quiet")
        said = {"code": result.returncode, "stdout": result.stdout, "stderr": result.stderr}
        (folder / "said.json").write_text(json.dumps(said))

    folder = once_per_suite("real-sample", train, tmp_path_factory)
    said = json.loads((folder / "said.json").read_text())
    result = subprocess.CompletedProcess(["nnscratch", "train"], said["code"], said["stdout"])
    result.stderr = said["stderr"]
    return result, folder / "run"
