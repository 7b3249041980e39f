"""``nnscratch tune``: seeded trials, folds, failures, outputs, and the same search on Dask."""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_cli import assert_clean_failure, check_png, run

from nnscratch.app.tune.search import (
    Search,
    connect,
    make_folds,
    run_fold,
    run_search,
    sample_trials,
    trials_frame,
)
from nnscratch.data.synthetic import make_tracks
from nnscratch.errors import ClusterError, TrainingDivergedError
from nnscratch.models.recipes import DEFAULT_RECIPE, DIGITS_RECIPE, Recipe
from nnscratch.tasks.base import Fold
from nnscratch.tasks.digits import Digits
from nnscratch.tasks.regression import TableRegression
from nnscratch.tasks.table import TABLE_SPACE

#: A quick base recipe for searches in tests: few epochs, small ensembles.
QUICK = DEFAULT_RECIPE.with_overrides(epochs=4, patience=2)


@pytest.fixture(scope="module")
def table_search(tmp_path_factory: pytest.TempPathFactory) -> Search:
    path = tmp_path_factory.mktemp("search") / "tracks.csv"
    make_tracks(700, seed=3).to_csv(path, index=False)
    task = TableRegression()
    return Search(task, task.load(str(path), QUICK, seed=0))


def test_trials_are_the_same_for_a_seed_and_a_prefix_of_longer_searches() -> None:
    space = TABLE_SPACE
    assert sample_trials(space, 6, seed=4) == sample_trials(space, 6, seed=4)
    assert sample_trials(space, 6, seed=4) != sample_trials(space, 6, seed=5)
    trials = sample_trials(space, 40, seed=4)
    names = {tuple(sorted(part)) for part in space}
    assert len(names) == 1 and {tuple(sorted(t)) for t in trials} == names  # same columns
    for t in trials:
        assert 3e-4 <= t["learning_rate"] <= 3e-3
        assert t["learning_rate"] == float(f"{t['learning_rate']:.3g}")
        assert t["k"] == 1 or t["dropout"] == 0.0  # TabM networks take no dropout
    assert {t["k"] > 1 for t in trials} == {True, False}  # both kinds are drawn


@pytest.mark.parametrize("labels", [None, np.repeat([0, 1, 2], 20)])
def test_folds_partition_the_rows(labels) -> None:
    folds = make_folds(60, 3, seed=1, labels=labels)
    held_out = np.concatenate([f.held_out for f in folds])
    assert sorted(held_out.tolist()) == list(range(60))
    for fold in folds:
        used = np.concatenate([fold.train, fold.early_stopping, fold.held_out])
        assert sorted(used.tolist()) == list(range(60))  # disjoint, and everything
        assert len(fold.early_stopping) == round(40 * 0.1)
    if labels is not None:  # stratified: each held-out fold has every class equally
        for fold in folds:
            assert (
                np.bincount(labels[fold.held_out]).tolist() == [7, 7, 6]
                or len(set(np.bincount(labels[fold.held_out]))) <= 2
            )
    with pytest.raises(ValueError, match="at least 2 folds"):
        make_folds(60, 1, seed=0)


class _Diverging(TableRegression):
    """A task whose fits diverge: the failure is recorded, not raised."""

    def fold_score(self, data: object, recipe: Recipe, fold: Fold, seed: int) -> float:
        raise TrainingDivergedError("training diverged at epoch 3")


def test_a_failing_fit_is_recorded_as_failed() -> None:
    fold = Fold(np.arange(3), np.arange(3, 4), np.arange(4, 6))
    search = Search(_Diverging(), None)
    record = run_fold(search, QUICK, {"learning_rate": 1.0}, fold, seed=0)
    assert record["status"] == "failed" and math.isnan(record["score"])
    assert "TrainingDivergedError: training diverged at epoch 3" in record["error"]


def test_search_ranks_trials_and_a_failed_trial_is_kept(table_search: Search) -> None:
    base = QUICK.with_overrides(learning_rate=1e-3)
    result = run_search(table_search, base, n_trials=3, cv=2, seed=0, jobs=1)
    table = trials_frame(result)
    assert len(table) == 3 and (table["status"] == "ok").all()
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["mean_rmse"].is_monotonic_increasing
    np.testing.assert_allclose(table["mean_rmse"], table[["fold_0", "fold_1"]].mean(axis=1))
    assert set(TABLE_SPACE[0]) <= set(table.columns)
    assert result.best_params == dict(result.trials.sort_values("rank").iloc[0]["params"])


def test_image_search_scores_accuracy() -> None:
    task = Digits()
    base = DIGITS_RECIPE.with_overrides(epochs=3, n_members=1)
    search = Search(task, task.load("digits", base, seed=0))
    result = run_search(search, base, n_trials=2, cv=2, seed=0, jobs=1)
    assert result.metric.key == "accuracy" and result.metric.higher_is_better
    ok = result.trials[result.trials["status"] == "ok"]
    assert len(ok) == 2 and ((ok["mean"] > 0) & (ok["mean"] <= 1)).all()
    assert ok.sort_values("rank")["mean"].iloc[0] > 0.8
    model, score = task.final(search.data, base.with_overrides(**result.best_params), seed=0)
    assert 0.5 < score <= 1 and model.image_shape == (8, 8)


def test_tune_command_writes_everything_and_train_reproduces_the_best(tmp_path: Path) -> None:
    out = tmp_path / "tune"
    result = run("tune", "--trials", "3", "--cv", "2", "--max-rows", "900", "--jobs", "2",
                 "--out", str(out), "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in ("trials.csv", "best.json", "model.npz", "metrics.json"):
        assert (out / name).is_file(), name
    check_png(out / "search.png")
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and trials["rank"].tolist() == [1, 2, 3]
    metrics = json.loads((out / "metrics.json").read_text())
    best = Recipe.from_json(out / "best.json")
    assert best.max_rows == 900 and best.notes == "tuned: best of 3 trials"
    assert metrics["best"]["cv_mean"] == pytest.approx(trials["mean_rmse"].iloc[0])
    assert "rank" in result.stdout and "best configuration: test rmse" in result.stdout

    trained = tmp_path / "train"
    again = run("train", "--recipe", str(out / "best.json"), "--seed", "0", "--out",
                str(trained), "--quiet")  # fmt: skip
    assert again.returncode == 0, again.stderr
    results = json.loads((trained / "metrics.json").read_text())["results"]
    test_rmse = next(v for n, v in results.items() if n.startswith("nnscratch"))["test"]["rmse"]
    assert test_rmse == pytest.approx(metrics["best"]["test_rmse"], rel=1e-12)


def test_tune_classifies_a_table_column(tmp_path: Path) -> None:
    out = tmp_path / "tune"
    result = run("tune", "--task", "classification", "--target", "mode", "--trials", "2",
                 "--cv", "2", "--max-rows", "600", "--jobs", "1", "--out", str(out),
                 "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    trials = pd.read_csv(out / "trials.csv")
    assert "mean_accuracy" in trials and trials["mean_accuracy"].between(0, 1).all()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["search"]["task"] == "classification"
    assert 0 <= metrics["best"]["test_accuracy"] <= 1
    assert "best configuration: test accuracy" in result.stdout


def test_bad_tune_and_recipe_arguments(tmp_path: Path) -> None:
    assert_clean_failure(run("tune", "--cv", "1", "--out", str(tmp_path / "a")), "--cv must be")
    bad = tmp_path / "bad.json"
    bad.write_text('{"hidden": [8], "wings": 2}')
    result = run("train", "--recipe", str(bad), "--out", str(tmp_path / "b"))
    assert_clean_failure(result, "bad.json", "unknown recipe field(s): wings")
    bad.write_text("[1, 2")
    assert_clean_failure(run("train", "--recipe", str(bad)), "bad.json: not a JSON recipe")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_scheduler_without_the_extra_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(ClusterError, match=r"pip install 'nnscratch\[cluster\]'"):
        connect("tcp://127.0.0.1:1")


# --------------------------------------------------------------------------- Dask

distributed = pytest.importorskip(
    "distributed", reason="dask[distributed] not installed (pip install 'nnscratch[cluster]')"
)


def test_unreachable_scheduler_fails_in_bounded_time(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = run("tune", "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "t"),
                 env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"})  # fmt: skip
    seconds = time.perf_counter() - started
    assert_clean_failure(result, "cannot reach the Dask scheduler at tcp://127.0.0.1:9", "10 s")
    assert seconds < 30, seconds
    assert not (tmp_path / "t").exists()


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


def test_dask_gives_the_same_trials_and_best_as_local_processes(table_search, cluster) -> None:
    local = run_search(table_search, QUICK, n_trials=3, cv=2, seed=5, jobs=2)
    remote = run_search(table_search, QUICK, n_trials=3, cv=2, seed=5,
                        scheduler=cluster.scheduler_address)  # fmt: skip
    columns = ["rank", "trial", "mean", "std", "status", "fold_0", "fold_1"]
    pd.testing.assert_frame_equal(local.trials[columns], remote.trials[columns])
    assert list(local.trials["params"]) == list(remote.trials["params"])
    assert local.best_params == remote.best_params


def test_a_worker_killed_mid_search_loses_nothing(table_search, cluster, tmp_path) -> None:
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    killed = threading.Event()
    victims: list[str] = []
    pids = client.run(os.getpid)  # worker address → process id
    before = set(pids)

    def kill_one_worker(record: dict) -> None:
        if killed.is_set():
            return
        killed.set()
        victim = sorted(pids)[0]
        victims.append(victim)
        # SIGKILL: the worker process dies mid-task; its nanny starts a new one, and the
        # scheduler runs the lost tasks again elsewhere
        os.kill(pids[victim], signal.SIGKILL)

    try:
        result = run_search(table_search, QUICK, n_trials=4, cv=2, seed=1,
                            scheduler=cluster.scheduler_address,
                            on_result=kill_one_worker)  # fmt: skip
        deadline = time.monotonic() + 20
        while victims[0] in client.scheduler_info()["workers"] and time.monotonic() < deadline:
            time.sleep(0.2)
        after = set(client.scheduler_info()["workers"])
    finally:
        client.close()
    assert killed.is_set() and victims[0] in before and victims[0] not in after
    table = trials_frame(result)
    assert len(table) == 4  # every trial is reported: finished, or failed with a reason
    done = table["status"] == "ok"
    assert done.all(), table[["trial", "status", "error"]]  # the lost tasks were run again
    assert table.loc[~done, "error"].str.len().gt(0).all()
    table.to_csv(tmp_path / "trials.csv", index=False)
    assert len(pd.read_csv(tmp_path / "trials.csv")) == 4


def test_a_search_whose_scattered_data_dies_with_every_worker_sends_it_again(
    table_search, cluster
) -> None:
    # every copy of the scattered data goes, so Dask cancels the tasks that need it;
    # the search scatters it again once the nannies have restarted the workers
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    pids = client.run(os.getpid)
    killed = threading.Event()

    def kill_every_worker(record: dict) -> None:
        if not killed.is_set():
            killed.set()
            for pid in pids.values():
                os.kill(pid, signal.SIGKILL)

    try:
        result = run_search(table_search, QUICK, n_trials=3, cv=2, seed=2,
                            scheduler=cluster.scheduler_address,
                            on_result=kill_every_worker)  # fmt: skip
        alive = set(client.run(os.getpid).values())
    finally:
        client.close()
    assert killed.is_set() and not alive & set(pids.values())  # new worker processes
    table = trials_frame(result)
    assert list(table["status"]) == ["ok"] * 3, table[["trial", "status", "error"]]
    local = run_search(table_search, QUICK, n_trials=3, cv=2, seed=2, jobs=2)
    pd.testing.assert_frame_equal(local.trials[["trial", "mean", "fold_0", "fold_1"]],
                                  result.trials[["trial", "mean", "fold_0", "fold_1"]])  # fmt: skip
