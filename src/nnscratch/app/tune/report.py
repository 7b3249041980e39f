"""What a search says as it goes and draws at the end: a line per trial (its score or
why it stopped, the best so far, the time left), and ``search.png`` (the best so far
against time, and Optuna's parameter importances)."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

from nnscratch.app.tune.search import SearchResult
from nnscratch.app.tune.trials import COMPLETE, TrialOutcome
from nnscratch.tasks.plots import search_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _shown(value: float, metric: str) -> str:
    return f"{value * 100:.2f}%" if metric == "accuracy" else f"{value:.3f}"


def clock(seconds: float) -> str:
    """``1:05:09``, ``4:09``: hours, minutes and seconds as a clock shows them."""
    whole = max(0, math.ceil(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def trial_line(outcome: TrialOutcome, so_far: SearchResult, left: float | None) -> str:
    """``trial 4  complete  10.612   83 s  best 10.588 (trial 0)  6:45 left``."""
    metric = so_far.metric
    if outcome.state == COMPLETE:
        what = f"complete  {_shown(outcome.value, metric)}"
    else:
        what = f"{outcome.state:<8}  ({outcome.note})"
    best = so_far.best()
    best_text = (
        "none yet" if best is None else f"{_shown(best.value, metric)} (trial {best.number})"
    )
    line = f"trial {outcome.number:>3}  {what}  {outcome.seconds:5.0f} s   best {best_text}"
    return line + ("" if left is None else f"   {clock(left)} left")


def importances(study: Any, optuna: Any) -> dict[str, float]:
    """Optuna's parameter importances (fANOVA, seeded) over the complete trials that drew
    parameters (trial 0, the base recipe as it is, drew none), largest first; empty
    where fewer than two such trials exist or they cannot be told apart."""
    drawn = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.params]
    if len(drawn) < 2:
        return {}
    copy = optuna.create_study(direction=study.direction)
    copy.add_trials(drawn)
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    try:
        with warnings.catch_warnings():  # "few trials": the figure says how many there were
            warnings.simplefilter("ignore", UserWarning)
            found = optuna.importance.get_param_importances(copy, evaluator=evaluator)
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}
    return {name: float(v) for name, v in found.items() if math.isfinite(v)}


def search_plot(study: Any, result: SearchResult, budget_s: float | None, optuna: Any) -> Figure:
    """``search.png`` for the study's trials (this run's and earlier ones)."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    starts = [t.datetime_start for t in trials.values() if t.datetime_start is not None]
    began = min(starts) if starts else None
    ended, values, states = [], [], []
    for outcome in result.outcomes:
        t = trials.get(outcome.number)
        if t is None or t.datetime_complete is None or began is None:
            continue
        ended.append((t.datetime_complete - began).total_seconds())
        values.append(outcome.value)
        states.append(outcome.state)
    return search_figure(
        ended,
        values,
        states,
        importances(study, optuna),
        result.metric,
        result.higher_is_better,
        budget_s,
    )
