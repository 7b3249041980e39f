"""End-to-end: the real console script in a subprocess."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from nnscratch.app.cli.main import main
from nnscratch.data.synthetic import make_tracks
from nnscratch.models.recipes import DEFAULT_RECIPE

SCRIPT = Path(sys.executable).with_name("nnscratch")
PLOTS = ("loss_curve.png", "pred_vs_actual.png", "residuals.png")


def run_script(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The real console script in a subprocess (``NNSCRATCH_DATA`` unset unless ``env`` sets it)."""
    full_env = {k: v for k, v in os.environ.items() if k != "NNSCRATCH_DATA"}
    full_env.update(env or {})
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nnscratch"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


#: Environment variables a command reads while it runs; any other (PYTHONPATH, BLAS
#: threads, hash seeds) takes effect only in a new process.
READ_AT_RUN_TIME = {"NNSCRATCH_DATA", "NNSCRATCH_DEBUG", "DASK_SCHEDULER_ADDRESS"}


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``nnscratch ARGS`` through :func:`nnscratch.app.cli.main.main` in this process, with its
    stdout, stderr and exit code captured as a subprocess's would be (the console script
    itself: :func:`run_script`, used where the environment must be a new process's)."""
    if env and set(env) - READ_AT_RUN_TIME:
        return run_script(*args, cwd=cwd, env=env, timeout=timeout)
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.pop("NNSCRATCH_DATA", None)
    os.environ.update(env or {})
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse: --help, or a usage error
                code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 2
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["nnscratch", *args], code, out.getvalue(), err.getvalue())


def run_predict(model: Path, data: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return run("predict", "--model", str(model), "--data", str(data), "--out", str(out))


def assert_clean_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    # Progress-bar lines may come first (training started, then failed); the error is one line.
    lines = [
        line
        for line in result.stderr.strip().splitlines()
        if line.strip()
        and not re.match(r"\r?(training|member \d+/\d+|\d+ members, \d+ at a time):", line)
    ]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nnscratch: error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000
    image = imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 300
    assert image.std() > 0.05  # not a blank canvas


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    result = run_script("train", "--epochs", "8", "--seed", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    (out / "stdout.txt").write_text(result.stdout)
    return out


def test_preset_fast_is_five_plain_networks(tmp_path: Path) -> None:
    out = tmp_path / "fast"
    result = run("train", "--preset", "fast", "--epochs", "2", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "an ensemble of 5" in result.stdout and "TabM" not in result.stdout
    assert re.search(r"W1 \(64, \d+\) b1 \(64, 1\)", result.stdout)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["recipe"]["preset"] == "fast" and metrics["recipe"]["k"] == 1
    [name] = [k for k in metrics["results"] if k.startswith("nnscratch MLP")]
    assert name.endswith("-64-32-16-1 ×5")


def test_k_and_max_steps_flags(tmp_path: Path) -> None:
    """``--k 1`` makes plain networks of the default recipe, and says so; ``--max-steps``
    bounds the epochs."""
    out = tmp_path / "plain"
    args = ["train", "--k", "1", "--max-steps", "20", "--epochs", "50", "--out", str(out)]
    result = run(*args, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "two plain networks, Adam" in result.stdout and "TabM" not in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["recipe"]["k"] == 1 and metrics["recipe"]["max_steps"] == 20
    n_train = metrics["data"]["splits"]["train"]
    steps_per_epoch = -(-n_train // DEFAULT_RECIPE.batch_size)
    assert len(pd.read_csv(out / "history.csv")) == -(-20 // steps_per_epoch)


def test_dropout_with_tabm_networks_is_refused_with_the_fix() -> None:
    result = run("train", "--dropout", "0.1", "--epochs", "1", "--quiet")
    assert_clean_failure(result, "--dropout 0.1 needs plain networks", "--k 1", "--preset fast")


def test_help_everywhere() -> None:
    assert "usage: nnscratch" in run_script("--help").stdout  # the console script's own
    for command in ([], ["train"], ["evaluate"], ["predict"], ["download"], ["tune"], ["serve"]):
        result = run(*command, "--help")
        assert result.returncode == 0
        assert "usage: nnscratch" in result.stdout
        if command:
            assert "examples:" in result.stdout


@pytest.mark.parametrize(
    "command",
    ["train", "evaluate", "predict", "download", "experiment", "tune", "serve", "playground"],
)
def test_help_shows_only_real_defaults(command: str) -> None:
    text = run(command, "--help").stdout
    assert "(default: None)" not in text and "(default: False)" not in text
    options = re.split(r"\n  (?=-)", text)
    assert all(option.count("(default:") <= 1 for option in options), text
    if command == "train":
        assert "(default: 0)" in text  # --seed has a real default, and says so


def test_train_on_the_builtin_sample(synthetic_run: Path) -> None:
    stdout = (synthetic_run / "stdout.txt").read_text()
    assert "built-in synthetic sample (not real Spotify data)" in stdout
    assert "rows read 5,000" in stdout
    r = DEFAULT_RECIPE
    assert "piecewise-linear encoded" in stdout and f"an ensemble of {r.n_members}" in stdout
    assert re.search(r"X_train \(\d+, \d+\)", stdout)
    width = r.hidden[0]
    assert re.search(rf"W1 \({width}, (\d+)\) R1 \(\1, {r.k}\) S1 \({width}, {r.k}\)", stdout)
    assert f"TabM: {r.k} members share each W" in stdout
    for name in (
        "nnscratch MLP",
        "training mean",
        "LinearRegression",
        "HistGradientBoosting",
        "HistGradientBoosting (seed's 13 features)",
    ):
        assert name in stdout
    metrics = json.loads((synthetic_run / "metrics.json").read_text())
    assert {"data", "recipe", "results", "training", "timing", "nnscratch_version"} <= set(metrics)
    assert metrics["data"]["synthetic"] is True
    [name] = [k for k in metrics["results"] if k.startswith("nnscratch MLP")]
    hidden = "-".join(map(str, r.hidden))
    assert name.endswith(f"-{hidden}-1 k={r.k} ×{r.n_members}")
    model_scores = metrics["results"][name]
    assert set(model_scores) == {"validation", "test"}
    assert {"rmse", "mae", "r2"} <= set(model_scores["test"])
    assert model_scores["test"]["rmse"] < metrics["results"]["training mean"]["test"]["rmse"]
    history = pd.read_csv(synthetic_run / "history.csv")
    assert len(history) == metrics["training"]["epochs_run"] == 8
    assert list(history.columns) == ["epoch", "train_loss", "val_loss", "val_rmse", "learning_rate"]
    for plot in PLOTS:
        check_png(synthetic_run / plot)
    assert not [p for p in synthetic_run.parent.iterdir() if p.name.startswith(".")]


def test_evaluate_and_predict(synthetic_run: Path, tmp_path: Path) -> None:
    csv = tmp_path / "tracks.csv"
    frame = make_tracks(300, seed=11)
    frame.to_csv(csv, index=False)
    result = run("evaluate", "--model", str(synthetic_run / "model.npz"), "--data", str(csv))
    assert result.returncode == 0, result.stderr
    assert "RMSE" in result.stdout and "model (model.npz)" in result.stdout

    unscored = tmp_path / "new.csv"
    frame.drop(columns=["popularity"]).to_csv(unscored, index=False)
    out = tmp_path / "pred.csv"
    result = run_predict(synthetic_run / "model.npz", unscored, out)
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["id", "predicted_popularity"]
    assert predictions["predicted_popularity"].between(0, 100).all()
    assert 0 < len(predictions) < 300  # the junk rows are skipped ...
    assert "skipped" in result.stdout  # ... and reported
    assert set(predictions["id"]) <= set(frame["id"])
    assert "RMSE" not in result.stdout  # no popularity column, no score

    result = run_predict(synthetic_run / "model.npz", csv, out)
    assert result.returncode == 0 and "RMSE" in result.stdout


def test_predict_names_missing_feature_columns(synthetic_run: Path, tmp_path: Path) -> None:
    csv = tmp_path / "partial.csv"
    make_tracks(20, seed=1).drop(columns=["tempo", "valence"]).to_csv(csv, index=False)
    out = tmp_path / "pred.csv"
    result = run_predict(synthetic_run / "model.npz", csv, out)
    assert_clean_failure(result, "partial.csv", "missing required column(s): tempo, valence")
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (None, ["nope.csv", "file not found"]),
        ("id,name,popularity\n1,a,3\n", ["bad.csv", "missing required column(s)"]),
        ("\x00\x01\x02garbage", ["bad.csv", "binary"]),
        ("", ["bad.csv", "empty"]),
    ],
)
def test_bad_training_data(tmp_path: Path, content: str | None, fragments: list[str]) -> None:
    path = tmp_path / ("nope.csv" if content is None else "bad.csv")
    if content is not None:
        path.write_text(content)
    out = tmp_path / "runs" / "out"
    assert_clean_failure(run("train", "--data", str(path), "--out", str(out)), *fragments)
    assert not (tmp_path / "runs").exists()


def test_wrong_model_file(tmp_path: Path) -> None:
    fake = tmp_path / "model.npz"
    fake.write_text("not a model")
    csv = tmp_path / "t.csv"
    make_tracks(10).to_csv(csv, index=False)
    assert_clean_failure(
        run("evaluate", "--model", str(fake), "--data", str(csv)),
        "model.npz",
        "not an nnscratch model file",
    )
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(2))
    assert_clean_failure(
        run_predict(plain, csv, tmp_path / "p.csv"),
        "plain.npz",
    )
    assert not (tmp_path / "p.csv").exists()


def test_data_from_environment(tmp_path: Path) -> None:
    csv = tmp_path / "env.csv"
    make_tracks(400, seed=5).to_csv(csv, index=False)
    out = tmp_path / "run"
    result = run(
        "train", "--epochs", "2", "--out", str(out), "--quiet", env={"NNSCRATCH_DATA": str(csv)}
    )
    assert result.returncode == 0, result.stderr
    assert f"data: {csv}" in result.stdout
    assert "synthetic" not in result.stdout


def test_download_without_network_or_kagglehub(tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "kagglehub.py").write_text(
        "def dataset_download(name):\n"
        "    raise ConnectionError('Failed to resolve host: no network')\n"
    )
    result = run("download", "--dest", str(tmp_path / "data"), env={"PYTHONPATH": str(fake)})
    assert_clean_failure(result, "could not download", "--data PATH")
    assert not (tmp_path / "data" / "tracks.csv").exists()
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "kagglehub.py").write_text("raise ImportError('kagglehub is not installed')\n")
    result = run("download", env={"PYTHONPATH": str(blocked)}, cwd=tmp_path)
    assert_clean_failure(result, "kagglehub", "--data PATH")


def test_real_data_end_to_end(real_tracks_path: Path, real_sample_run) -> None:
    result, out = real_sample_run  # 3 epochs on the shared sample (with telemetry)
    assert result.returncode == 0, result.stderr
    assert "rows read 29,599, dropped 0, kept 29,599" in result.stdout
    assert re.search(r"X_train \(\d+, 20719\)", result.stdout)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["splits"] == {"train": 20719, "validation": 2960, "test": 5920}
    for plot in PLOTS:
        check_png(out / plot)
    result = run("evaluate", "--model", str(out / "model.npz"), "--data", str(real_tracks_path))
    assert result.returncode == 0 and "29,599 rows" in result.stdout


def test_seed_preset(tmp_path: Path) -> None:
    out = tmp_path / "seed"
    result = run("train", "--preset", "seed", "--epochs", "5", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "network: 13 → 64 → 32 → 16 → 1, hidden relu, output relu, he init" in result.stdout
    recipe = json.loads((out / "metrics.json").read_text())["recipe"]
    assert recipe["optimizer"] == "gd" and recipe["batch_size"] is None
    assert recipe["learning_rate"] == 0.05 and recipe["l2"] == 0.01
    assert recipe["max_rows"] == 30_000 and recipe["patience"] is None
    assert len(pd.read_csv(out / "history.csv")) == 5  # --epochs overrides the 3000 iterations
