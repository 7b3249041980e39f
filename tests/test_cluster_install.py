"""``pip install 'nnscratch[cluster]'`` alone, in a fresh virtual environment, scores a table
on a local Dask cluster: the extra installs everything the Dask path imports (nothing
borrowed from another extra or from the developer's environment)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnscratch.data.synthetic import make_tracks

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_cluster_extra_alone_runs_predict_on_local_workers(
    tracks_model: Path, tmp_path: Path
) -> None:
    """A venv without pip of its own, filled by this pip (its wheel cache and index
    settings); then ``predict --local-workers 2`` there, against streaming here."""
    source = tmp_path / "nnscratch"  # a copy: building in the checkout leaves build/ there
    shutil.copytree(
        REPO_ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO_ROOT / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-compile",  # modules compile as they are first imported, as without it
            f"{source}[cluster]",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    data = tmp_path / "tracks.csv"
    make_tracks(2_000, seed=4, junk_fraction=0.05).to_csv(data, index=False)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NNSCRATCH_DATA")}
    said = {}
    for name, command, how in (
        ("dask", [str(venv / "bin" / "nnscratch")], ["--local-workers", "2"]),
        ("streamed", [sys.executable, "-m", "nnscratch"], []),
    ):
        out = tmp_path / f"{name}.csv"
        result = subprocess.run(
            [
                *command,
                "predict",
                "--model",
                str(tracks_model),
                "--data",
                str(data),
                "--out",
                str(out),
                *how,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert result.returncode == 0 and result.stderr == "", result.stderr
        said[name] = (result.stdout.replace(str(out), "OUT"), out.read_bytes())
    lines = said["dask"][0].splitlines(keepends=True)
    assert lines[0] == "scoring on a local Dask cluster: 2 worker(s), 2 thread(s)\n"
    assert ("".join(lines[1:]), said["dask"][1]) == said["streamed"]
    found = subprocess.run([str(python), "-c", "import pyarrow, distributed, dask.dataframe"])
    assert found.returncode == 0
