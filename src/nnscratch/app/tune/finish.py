"""The end of a search: the ensemble chosen, the models refit, the test split read once.

::

    best single   the complete trial with the best cross-validated score (trial 0, the
                  base recipe, is one of them: the best is never worse by that score)
    ensemble      greedy selection over the complete trials' out-of-fold outputs
                  (:mod:`~nnscratch.app.tune.selection`), ``rounds`` rounds
    refit         the default recipe, the best single and every member of the ensemble,
                  each on the whole training split with early stopping on the validation
                  split, as ``nnscratch train`` fits it (one fit per distinct recipe)
    test          each of the three scored once on the test split, nothing chosen by it

The model a search saves is the ensemble (or, with ``rounds`` 0 or where one trial has
all the weight, the best single), in one file any command reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from nnscratch.app.tune.search import Search, SearchResult
from nnscratch.app.tune.selection import greedy_selection
from nnscratch.models.ensemble import ensemble_of
from nnscratch.models.recipes import Recipe


@dataclass
class Contender:
    """One of the report's rows: a name, the trials it is made of (with their weights),
    its recipe (a single model's), out-of-fold score and, once refit, model and test
    score."""

    name: str
    weights: dict[int, float]
    cv: float
    recipe: Recipe | None = None
    model: Any = None
    test: float = float("nan")


@dataclass
class Final:
    """The default recipe, the best single trial and the ensemble (None where off)."""

    default: Contender
    best: Contender
    ensemble: Contender | None
    #: the refit models by trial number
    refits: dict[int, tuple[Any, float]] = field(default_factory=dict)

    @property
    def saved(self) -> Contender:
        """What the run saves as its model: the ensemble where there is one."""
        return self.ensemble if self.ensemble is not None else self.best

    def rows(self) -> list[Contender]:
        return [c for c in (self.default, self.best, self.ensemble) if c is not None]


def trial_recipe(base: Recipe, params: dict[str, Any], number: int) -> Recipe:
    """The recipe trial ``number`` ran (``params`` over ``base``), as ``train`` fits it."""
    if not params:
        return base
    return replace(base.with_overrides(**params), notes=f"tuned: trial {number} of a search")


def choose(result: SearchResult, search: Search, rounds: int) -> Final:
    """The three contenders, before any refit (see the module doc), each with its
    out-of-fold score: its (weighted) out-of-fold outputs scored on every training row."""
    task, data = search.task, search.data
    outputs = {o.number: o.oof for o in result.complete if o.oof is not None}
    rows = np.arange(task.search_rows(data)[0])

    def score(mean_outputs: np.ndarray) -> float:
        return task.outputs_score(data, mean_outputs, rows)

    def oof(weights: dict[int, float]) -> float:
        if not all(t in outputs for t in weights):
            return float("nan")
        return score(np.sum([w * outputs[t] for t, w in weights.items()], axis=0))

    default = Contender("default recipe (trial 0)", {0: 1.0}, oof({0: 1.0}))
    best_trial = result.best()
    if best_trial is None:  # nothing finished: the default, as it is
        return Final(
            default, replace(default, name="best single (none complete: the default)"), None
        )
    number = best_trial.number
    best = Contender(f"best single (trial {number})", {number: 1.0}, oof({number: 1.0}))
    if rounds < 1:
        return Final(default, best, None)
    weights = greedy_selection(outputs, score, result.higher_is_better, rounds)
    listed = ", ".join(map(str, weights))
    name = f"ensemble of {len(weights)} trial{'s' * (len(weights) > 1)} ({listed})"
    return Final(default, best, Contender(name, weights, oof(weights)))


def refit(
    final: Final,
    result: SearchResult,
    search: Search,
    base: Recipe,
    seed: int,
    say: Callable[[str], None],
) -> Final:
    """Each contender's trials refit once each, the contenders built and scored on the
    test split."""
    params = {o.number: o.params for o in result.outcomes}
    numbers = list(dict.fromkeys(t for c in final.rows() for t in c.weights))
    for i, number in enumerate(numbers, start=1):
        recipe = trial_recipe(base, params.get(number, {}), number)
        say(f"refit {i}/{len(numbers)}: trial {number} on the whole training split")
        final.refits[number] = search.task.final(search.data, recipe, seed)
    for contender in final.rows():
        members = [final.refits[t][0] for t in contender.weights]
        if len(members) == 1:
            number = next(iter(contender.weights))
            contender.recipe = trial_recipe(base, params.get(number, {}), number)
            contender.model, contender.test = final.refits[number]
        else:
            contender.model = ensemble_of(members, list(contender.weights.values()))
            contender.test = search.task.test_score(contender.model, search.data)
    return final
