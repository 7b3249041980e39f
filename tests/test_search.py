"""``nnscratch tune``: trial 0 is the default, pruning, the time budget (on an injected
clock), resuming, ensemble selection, the outputs, bad input, and trials on Dask."""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_cli import assert_clean_failure, check_png, run

from nnscratch.app.tune import search as search_module
from nnscratch.app.tune import trials as trials_module
from nnscratch.app.tune.finish import choose, refit, trial_recipe
from nnscratch.app.tune.search import (
    Budget,
    Search,
    connect,
    make_folds,
    run_search,
    trials_frame,
)
from nnscratch.app.tune.selection import greedy_selection
from nnscratch.app.tune.study import (
    WARMUP_EPOCHS,
    StudySettings,
    create_study,
)
from nnscratch.app.tune.trials import TrialPlan, run_trial
from nnscratch.data.synthetic import make_tracks
from nnscratch.errors import ClusterError
from nnscratch.models.recipes import DEFAULT_RECIPE, DIGITS_RECIPE, Recipe
from nnscratch.tasks.digits import Digits
from nnscratch.tasks.regression import TableRegression
from nnscratch.tasks.table import DEFAULT_AS_DRAWN

optuna = pytest.importorskip("optuna", reason="the tune extra is not installed")

#: A quick base recipe for searches in tests: few epochs, small ensembles.
QUICK = DEFAULT_RECIPE.with_overrides(epochs=4, patience=2)


@pytest.fixture(scope="module")
def tracks_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("search") / "tracks.csv"
    make_tracks(700, seed=3).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def table_search(tracks_file: Path) -> Search:
    task = TableRegression()
    return Search(task, task.load(str(tracks_file), QUICK, seed=0))


def new_study(folder: Path, search: Search, base: Recipe = QUICK, seed: int = 0) -> Any:
    metric = search.task.metric
    settings = StudySettings(
        search.source,
        search.task.name,
        None,
        search.data.fingerprint(),
        seed,
        2,
        base.to_dict(),
        metric.key,
        metric.higher_is_better,
    )
    return create_study(folder, settings)


def folds_of(search: Search, seed: int = 0) -> list:
    n, labels = search.task.search_rows(search.data)
    return make_folds(n, 2, seed, labels)


class FakeClock:
    """A clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("labels", [None, np.repeat([0, 1, 2], 20)])
def test_folds_partition_the_rows(labels) -> None:
    folds = make_folds(60, 3, seed=1, labels=labels, stop_fraction=0.125)
    held_out = np.concatenate([f.held_out for f in folds])
    assert sorted(held_out.tolist()) == list(range(60))
    for fold in folds:
        used = np.concatenate([fold.train, fold.early_stopping, fold.held_out])
        assert sorted(used.tolist()) == list(range(60))  # disjoint, and everything
        assert len(fold.early_stopping) == round(40 * 0.125)
    if labels is not None:  # stratified: each held-out fold has every class
        for fold in folds:
            assert set(labels[fold.held_out]) == {0, 1, 2}
    with pytest.raises(ValueError, match="at least 2 folds"):
        make_folds(60, 1, seed=0)


@pytest.fixture(scope="module")
def three_trials(table_search, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    """A search of 3 trials of QUICK, no budget: its study, its result and its folder (the
    tests below read it and do not change it)."""
    folder = tmp_path_factory.mktemp("three-trials")
    study = new_study(folder, table_search)
    result = run_search(
        table_search,
        QUICK,
        study,
        folds_of(table_search),
        seed=0,
        out=folder,
        budget=Budget(None),
        max_trials=3,
    )
    return study, result, folder


def test_trial_0_is_the_default_recipe_and_the_portfolio_comes_next(
    three_trials, table_search
) -> None:
    study, result, folder = three_trials
    first = result.outcomes[0]
    assert first.number == 0 and first.params == {}
    assert trial_recipe(QUICK, first.params, 0) is QUICK  # refit exactly as `train` fits it
    assert study.trials[0].user_attrs["default"] is True and study.trials[0].params == {}
    ran = [t for t in study.trials if t.state.is_finished()]
    assert [t.user_attrs["default"] for t in ran] == [True, False, False]
    portfolio = table_search.task.portfolio()
    assert [t.params for t in ran[1:]] == portfolio[:2]
    assert [t.user_attrs.get("portfolio") for t in ran] == [None, True, True]
    # the rest of the portfolio waits in the study for a resumed search
    waiting = [t for t in study.trials if t.state.name == "WAITING"]
    assert len(waiting) == len(portfolio) - 2
    table = trials_frame(result, study, QUICK).set_index("trial")
    assert table.loc[[0, 1, 2], "note"].tolist() == ["default recipe", "portfolio", "portfolio"]
    for o in result.complete:  # out-of-fold outputs for every training row, kept on disk
        assert o.oof.shape == (len(table_search.data.prepared.y_train), 1)
        assert np.isfinite(o.oof).all()
        assert (folder / "oof" / f"trial-{o.number}.npy").is_file()
        assert o.value == pytest.approx(np.mean(o.fold_scores))


def test_the_table_portfolio_is_in_the_search_space_and_differs_from_the_default() -> None:
    """Each configuration the portfolio enqueues is one the sampler could draw (every
    parameter it names, and no other), a valid recipe, and not the default recipe."""
    task = TableRegression()
    portfolio = task.portfolio()
    assert len(portfolio) >= 2
    for configuration in portfolio:
        trial = optuna.trial.FixedTrial(configuration)
        overrides = task.suggest(trial)
        assert trial.params == configuration
        recipe = DEFAULT_RECIPE.with_overrides(**overrides)
        assert recipe != DEFAULT_RECIPE
        task.check(recipe)
    assert len({json.dumps(c, sort_keys=True) for c in portfolio}) == len(portfolio)
    # each entry is the default as the sampler names it, with what the entry changes
    as_drawn = task.suggest(optuna.trial.FixedTrial(DEFAULT_AS_DRAWN))
    assert DEFAULT_RECIPE.with_overrides(**as_drawn) == DEFAULT_RECIPE


def finished_trial(values: dict[int, float]) -> Any:
    """A complete trial whose validation figure was ``values`` by epoch."""
    return optuna.trial.create_trial(
        state=optuna.trial.TrialState.COMPLETE,
        value=min(values.values()),
        intermediate_values=values,
    )


def test_a_trial_behind_the_finished_ones_is_pruned_before_its_last_epoch(table_search) -> None:
    base = replace(QUICK, epochs=40, patience=None, max_steps=None)
    perfect = {epoch: 0.0 for epoch in range(40)}  # no network gets an RMSE of 0 points
    plan = TrialPlan(1, {"learning_rate": 1e-3}, [finished_trial(perfect)] * 2)
    outcome = run_trial(table_search, base, plan, folds_of(table_search), seed=0)
    assert outcome.state == "pruned" and outcome.note == f"pruned at epoch {WARMUP_EPOCHS + 1}"
    assert len(outcome.figures) == WARMUP_EPOCHS + 1 < 40  # stopped before its last epoch
    assert outcome.oof is None and outcome.fold_scores == []
    # the same trial against finished ones it beats runs every epoch of every fold
    hopeless = {epoch: 1e9 for epoch in range(40)}
    plan = TrialPlan(1, {"learning_rate": 1e-3}, [finished_trial(hopeless)] * 2)
    outcome = run_trial(
        table_search, base.with_overrides(epochs=12), plan, folds_of(table_search), seed=0
    )
    assert outcome.state == "complete" and len(outcome.figures) == 12
    assert len(outcome.fold_scores) == 2


def test_a_trial_past_its_deadline_stops_at_its_next_epoch_end(table_search) -> None:
    base = replace(QUICK, epochs=40, patience=None, max_steps=None)
    plan = TrialPlan(1, {"learning_rate": 1e-3}, deadline=time.time() - 1.0)
    outcome = run_trial(table_search, base, plan, folds_of(table_search), seed=0)
    assert outcome.state == "pruned"
    assert outcome.note == "stopped at the budget's end, in fold 1 at epoch 1"
    assert outcome.oof is None and outcome.fold_scores == [] and outcome.figures == {}
    # a deadline still ahead stops nothing
    plan = replace(plan, deadline=time.time() + 3600.0)
    outcome = run_trial(table_search, replace(base, epochs=3), plan, folds_of(table_search), 0)
    assert outcome.state == "complete" and len(outcome.figures) == 3


class TimedTask(TableRegression):
    """A task each of whose folds takes ``fold_seconds`` on ``clock`` (and no time on the
    machine's own: the budget is tested on an injected clock); it keeps each trial's
    deadline as its first fold saw it (``deadlines``)."""

    def __init__(self, clock: FakeClock, fold_seconds: float) -> None:
        super().__init__()
        self.clock, self.fold_seconds = clock, fold_seconds
        self.deadlines: list[float | None] = []

    def fold_outputs(self, *args: Any, **kwargs: Any) -> np.ndarray:
        if self.clock.now % (2 * self.fold_seconds) == 0:  # a trial's first fold
            self.deadlines.append(kwargs["callbacks"][0].plan.deadline)
        self.clock.now += self.fold_seconds
        return super().fold_outputs(*args, **kwargs)


def test_no_trial_starts_after_the_budget_nor_one_that_would_end_after_it(
    table_search, tmp_path
) -> None:
    """Trials of 100 s (2 folds of 50 s) in a 350 s budget: they start at 0, 100 and 200 s;
    at 300 s the 50 s left are less than a trial takes, so the search ends there."""
    clock = FakeClock()
    search = Search(TimedTask(clock, fold_seconds=50.0), table_search.data)
    budget = Budget(350.0, clock=clock)
    study = new_study(tmp_path, search)
    started = time.time()
    result = run_search(
        search, QUICK, study, folds_of(search), seed=0, out=tmp_path, budget=budget, max_trials=1000
    )
    assert result.timeline == {0: (0, 100), 1: (100, 200), 2: (200, 300)}
    assert [o.state for o in result.outcomes] == ["complete"] * 3
    assert budget.left() == 50 and not budget.may_start([100.0]) and budget.may_start([50.0])
    assert Budget(None).may_start([1e9])  # no budget: only --trials stops it
    # trial 0 runs to its end; the others stop when the budget ends: 250 and 150 s of the
    # injected clock after they start, as seconds of the wall clock the workers share
    deadlines = search.task.deadlines
    assert deadlines[0] is None
    for deadline, left in zip(deadlines[1:], (250.0, 150.0), strict=True):
        assert started + left <= deadline <= time.time() + left


def test_search_png_starts_at_the_search_and_draws_the_best_so_far() -> None:
    """Trials ending at 30, 36, 42 and 48 s of a 40 s budget: the axis starts at the
    search's start, not at the first end; the best-so-far line steps down at each better
    trial; a trial stopped at the budget is a tick, not a dot."""
    from nnscratch.tasks.plots import search_figure

    figure = search_figure(
        [30.0, 36.0, 42.0, 48.0],
        [10.7, math.nan, 10.6, 10.65],
        ["complete", "pruned", "complete", "complete"],
        {},
        "rmse",
        higher_is_better=False,
        budget=40.0,
    )
    ax = figure.axes[0]
    assert ax.get_xlim()[0] == 0
    best = next(line for line in ax.get_lines() if line.get_label() == "best so far")
    np.testing.assert_allclose(best.get_xdata(), [0.5, 0.6, 0.7, 0.8])
    np.testing.assert_allclose(best.get_ydata(), [10.7, 10.7, 10.6, 10.6])
    (dots,) = ax.collections
    assert len(dots.get_offsets()) == 3
    ticks = next(line for line in ax.get_lines() if line.get_label() == "pruned or failed")
    np.testing.assert_allclose(ticks.get_xdata(), [0.6])


def test_the_ensemble_is_the_best_mix_of_out_of_fold_outputs() -> None:
    truth = np.zeros(4)
    outputs = {  # 0 is best alone; 1 and 2 err in opposite directions and cancel
        0: np.array([[0.5], [-0.5], [0.5], [-0.5]]),
        1: np.array([[1.0], [1.0], [1.0], [1.0]]),
        2: np.array([[-1.0], [-1.0], [-1.0], [-1.0]]),
    }

    def rmse(mean: np.ndarray) -> float:
        return float(np.sqrt(np.mean((mean[:, 0] - truth) ** 2)))

    weights = greedy_selection(outputs, rmse, higher_is_better=False, rounds=10)
    assert math.isclose(sum(weights.values()), 1) and weights[1] == weights[2] > 0
    blend = sum(w * outputs[t] for t, w in weights.items())
    assert rmse(blend) < rmse(outputs[0]) == 0.5  # better than the best alone
    # the first round takes the best alone; ties go to the lower trial number
    assert greedy_selection(outputs, rmse, False, rounds=1) == {0: 1.0}
    assert greedy_selection({3: outputs[1], 5: outputs[1]}, rmse, False, 4) == {3: 1.0}
    accuracy = lambda mean: -rmse(mean)  # noqa: E731 (higher is better)
    assert greedy_selection(outputs, accuracy, higher_is_better=True, rounds=10) == weights


def test_the_ensemble_refit_predicts_as_its_weights_say(three_trials, table_search) -> None:
    result = three_trials[1]
    final = choose(result, table_search, rounds=10)
    refit(final, result, table_search, QUICK, 0, lambda line: None)
    assert final.default.weights == {0: 1.0} and final.default.recipe is QUICK
    model, prepared = final.ensemble.model, table_search.data.prepared
    if len(final.ensemble.weights) > 1:
        expected = sum(
            w * final.refits[t][0].predict_scaled(prepared.X_test)
            for t, w in final.ensemble.weights.items()
        )
        np.testing.assert_allclose(model.predict_scaled(prepared.X_test), expected, atol=1e-12)
    task = table_search.task
    assert final.ensemble.test == pytest.approx(task.test_score(model, table_search.data))
    assert final.default.test == pytest.approx(task.final(table_search.data, QUICK, 0)[1])


def test_image_search_scores_accuracy(tmp_path) -> None:
    task = Digits()
    base = DIGITS_RECIPE.with_overrides(epochs=3, n_members=1, tta="off")
    search = Search(task, task.load("digits", base, seed=0))
    study = new_study(tmp_path, search, base)
    assert study.direction.name == "MAXIMIZE"
    result = run_search(
        search,
        base,
        study,
        folds_of(search),
        seed=0,
        out=tmp_path,
        budget=Budget(None),
        max_trials=2,
    )
    assert result.metric == "accuracy" and result.higher_is_better
    assert len(result.complete) == 2 and all(0.5 < o.value <= 1 for o in result.complete)
    assert result.complete[0].oof.shape == (len(search.data.train), 10)
    final = refit(choose(result, search, rounds=5), result, search, base, 0, lambda s: None)
    assert 0.5 < final.saved.test <= 1 and final.saved.model.image_shape == (8, 8)


@pytest.fixture(scope="module")
def tune(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``nnscratch tune --recipe QUICK ARGS``."""
    quick = tmp_path_factory.mktemp("recipe") / "quick.json"
    quick.write_text(json.dumps(QUICK.to_dict()))
    return lambda *args: run("tune", "--recipe", str(quick), *args)


def test_tune_writes_everything_and_train_reproduces_the_best(tracks_file, tune, tmp_path):
    out = tmp_path / "tune"
    result = tune(
        "--data", str(tracks_file), "--trials", "3", "--cv", "2", "--jobs", "2", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    for name in ("trials.csv", "best.json", "model.npz", "metrics.json", "study.db"):
        assert (out / name).is_file(), name
    check_png(out / "search.png")
    trials = pd.read_csv(out / "trials.csv")
    assert sorted(trials["trial"]) == [0, 1, 2]
    assert set(trials["state"]) <= {"complete", "pruned", "failed"}
    assert {"seconds", "state", "mean_rmse", "learning_rate", "hidden"} <= set(trials.columns)
    assert trials.loc[trials["trial"] == 0, "note"].str.startswith("default recipe").all()
    assert trials.loc[trials["trial"] == 0, "learning_rate"].item() == QUICK.learning_rate
    for line in ("trial   0  complete", "default recipe (trial 0)", "best single (trial"):
        assert line in result.stdout
    assert "best" in result.stdout and "OOF rmse" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["search"]["trials"] == 3 and metrics["default"]["trials"] == {"0": 1.0}

    best = Recipe.from_json(out / "best.json")
    trained = tmp_path / "train"
    again = run(
        "train",
        "--data",
        str(tracks_file),
        "--recipe",
        str(out / "best.json"),
        "--seed",
        "0",
        "--out",
        str(trained),
        "--quiet",
    )
    assert again.returncode == 0, again.stderr
    results = json.loads((trained / "metrics.json").read_text())["results"]
    test_rmse = next(v for n, v in results.items() if n.startswith("nnscratch"))["test"]["rmse"]
    assert test_rmse == pytest.approx(metrics["best"]["test_rmse"], rel=1e-12)
    assert best.epochs == QUICK.epochs


def test_a_budgeted_run_ends_and_a_resumed_one_adds_to_the_same_study(
    tracks_file, tune, tmp_path
) -> None:
    out = tmp_path / "tune"
    first = tune(
        "--data",
        str(tracks_file),
        "--time-budget",
        "2m",
        "--trials",
        "2",
        "--cv",
        "2",
        "--jobs",
        "1",
        "--ensemble",
        "0",
        "--out",
        str(out),
    )
    assert first.returncode == 0, first.stderr
    assert "left" in first.stdout  # each trial's line says the time left
    assert json.loads((out / "metrics.json").read_text())["ensemble"] is None
    again = run("tune", "--resume", str(out), "--trials", "2", "--jobs", "1")
    assert again.returncode == 0, again.stderr
    assert "(2 trials so far)" in again.stdout
    study = optuna.load_study(study_name="nnscratch-tune", storage=f"sqlite:///{out}/study.db")
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    assert [t.user_attrs["default"] for t in study.trials] == [True, False, False, False]
    assert len(pd.read_csv(out / "trials.csv")) == 4
    # the resumed search drew new configurations, not its first ones again
    assert study.trials[3].params != study.trials[1].params


def test_tune_classifies_a_table_column(tracks_file, tmp_path) -> None:
    out = tmp_path / "tune"
    result = run(
        "tune",
        "--data",
        str(tracks_file),
        "--task",
        "classification",
        "--target",
        "mode",
        "--trials",
        "2",
        "--cv",
        "2",
        "--jobs",
        "1",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    trials = pd.read_csv(out / "trials.csv")
    assert "mean_accuracy" in trials and trials["mean_accuracy"].dropna().between(0, 1).all()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["search"]["task"] == "classification"
    assert 0 <= metrics["ensemble"]["test_accuracy"] <= 1


def listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_bad_budgets_and_resumes_fail_in_one_line_and_write_nothing(tracks_file, tune, tmp_path):
    for bad in ("abc", "0", "-5m", "10x"):
        out = tmp_path / f"bad-{bad}"
        assert_clean_failure(tune(f"--time-budget={bad}", "--out", str(out)), "--time-budget")
        assert not out.exists()
    assert_clean_failure(run("tune", "--cv", "1", "--out", str(tmp_path / "a")), "--cv must be")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_failure(run("tune", "--resume", str(empty)), "no search to resume here")
    assert list(empty.iterdir()) == []

    out = tmp_path / "run"
    made = tune(
        "--data", str(tracks_file), "--trials", "1", "--cv", "2", "--jobs", "1", "--out", str(out)
    )
    assert made.returncode == 0, made.stderr
    before = listing(out)
    other = tmp_path / "other.csv"
    make_tracks(600, seed=9).to_csv(other, index=False)
    result = run("tune", "--resume", str(out), "--data", str(other))
    assert_clean_failure(result, "made on another data set")
    result = run("tune", "--resume", str(out), "--task", "classification", "--target", "mode")
    assert_clean_failure(result, "searched the regression task")
    assert_clean_failure(tune("--data", str(tracks_file), "--out", str(out)), "holds a search")
    assert listing(out) == before


def test_without_optuna_tune_says_what_to_install(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if not installed
    result = run("tune", "--out", str(tmp_path / "t"))
    assert_clean_failure(result, "pip install 'nnscratch[tune]'")


def test_scheduler_without_the_extra_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(ClusterError, match=r"pip install 'nnscratch\[cluster\]'"):
        connect("tcp://127.0.0.1:1")


# --------------------------------------------------------------------------- Dask

distributed = pytest.importorskip(
    "distributed", reason="dask[distributed] not installed (pip install 'nnscratch[cluster]')"
)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


def test_a_cancelled_trial_is_not_run_and_says_so() -> None:
    """Dask cancels a trial whose scattered data died with a worker: that is a trial not
    run (sent again, or recorded as failed), not an error of the search."""
    cancelled: cf.Future = cf.Future()
    assert cancelled.cancel()
    assert search_module._outcome(cancelled, TrialPlan(3, {})) is None
    assert search_module._why(cancelled).startswith("not run: CancelledError")


def test_trials_run_on_dask_and_a_killed_worker_loses_none(table_search, cluster, tmp_path):
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    pids = client.run(os.getpid)  # worker address → process id
    killed = threading.Event()

    def kill_one_worker(outcome: Any, so_far: Any) -> None:
        if not killed.is_set():
            killed.set()
            # SIGKILL: the worker dies, maybe mid-trial; its nanny starts a new one, and
            # the scheduler runs the lost trial again elsewhere
            os.kill(pids[sorted(pids)[0]], signal.SIGKILL)

    try:
        study = new_study(tmp_path, table_search)
        result = run_search(
            table_search,
            QUICK,
            study,
            folds_of(table_search),
            seed=0,
            out=tmp_path,
            budget=Budget(None),
            max_trials=4,
            scheduler=cluster.scheduler_address,
            on_trial=kill_one_worker,
        )
    finally:
        client.close()
    assert killed.is_set()
    assert [o.number for o in sorted(result.outcomes, key=lambda o: o.number)] == [0, 1, 2, 3]
    assert all(o.state in ("complete", "pruned") for o in result.outcomes), [
        (o.number, o.state, o.note) for o in result.outcomes
    ]
    table = trials_frame(result, study, QUICK)
    assert len(table) == 4 and table["rank"].notna().sum() == len(result.complete)


def test_a_trial_beside_others_holds_blas_to_one_thread(monkeypatch) -> None:
    """Local worker processes and Dask workers run a trial a core: each holds BLAS to one
    thread while it runs (a TabM network's first-layer products would use them all), and
    gives the process's setting back afterwards."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    seen: list[set[int]] = []
    monkeypatch.setattr(trials_module, "run_trial", lambda *args: seen.append(blas_threads()))
    with threadpool_limits(limits=2, user_api="blas"):
        trials_module.run_on_one_core(None, QUICK, TrialPlan(1, {}), [], 0)
        assert seen == [{1}] and blas_threads() == {2}
    assert search_module.DaskWorkers.submit.__code__.co_names.count("run_on_one_core") == 1


def test_a_trial_is_pruned_against_complete_trials_of_its_own_kind_of_network(
    table_search, tmp_path
) -> None:
    """TabM's members need more epochs than plain networks, so a trial's pruner gets the
    complete trials that train its kind of network, TabM or plain, and no others."""
    study = new_study(tmp_path, table_search)
    for params, value in (({}, 10.0), ({"k": 1, "n_members": 5}, 11.0), ({"k": 8}, 12.0)):
        trial = study.ask()
        trial.set_user_attr("params", search_module.plain_params(params))
        study.tell(trial, value)

    class Drawing:
        """The table task, drawing ``params`` for every new trial."""

        def __init__(self, params: dict[str, Any]) -> None:
            self.params = params

        def suggest(self, trial: Any) -> dict[str, Any]:
            return self.params

    for params, finished in (({"k": 32}, [10.0, 12.0]), ({"k": 1}, [11.0])):
        drawing = Search(Drawing(params), table_search.data)  # type: ignore[arg-type]
        _, plan = search_module._next_trial(study, drawing, QUICK)
        assert [t.value for t in plan.finished] == finished
    assert (
        search_module.network_kind(QUICK, {})
        == "tabm"
        == search_module.network_kind(QUICK, {"k": 16})
    )
    assert search_module.network_kind(DIGITS_RECIPE, {"hidden": (64,)}) == "plain"
