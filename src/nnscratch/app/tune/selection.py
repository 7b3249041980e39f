"""Greedy ensemble selection with replacement (Caruana, Niculescu-Mizil, Crew and Ksikes,
"Ensemble selection from libraries of models", ICML 2004), as AutoGluon and auto-sklearn
build their ensembles.

From the out-of-fold outputs ``Oₜ`` ``(n, n_outputs)`` of the search's completed trials::

    E = {}                                     a multiset of trials
    repeat `rounds` times:
        add to E the trial t (any, again or not) whose mean output with E's,
            (Σ_{s∈E} Oₛ + Oₜ) / (|E| + 1), scores best on the rows' targets
    keep the first rounds' E whose score was the best; weights = counts / |E|

The first round picks the best single trial, so the ensemble's out-of-fold score is
never worse than it; ties go to the lower trial number (the default recipe first).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

#: Rounds of selection by default (``tune --ensemble``): auto-sklearn's 50 is for
#: hundreds of models, AutoGluon's 25 for dozens; a search here runs a few dozen at most.
ROUNDS = 25


def greedy_selection(
    outputs: dict[int, np.ndarray],
    score: Callable[[np.ndarray], float],
    higher_is_better: bool,
    rounds: int = ROUNDS,
) -> dict[int, float]:
    """The weight of each selected trial (summing to 1), from each trial's out-of-fold
    ``outputs`` and ``score`` (the task's metric of a mean output); see the module doc."""
    if rounds < 1 or not outputs:
        raise ValueError("ensemble selection needs at least one round and one trial")
    sign = -1.0 if higher_is_better else 1.0  # minimise sign·score
    numbers = sorted(outputs)
    total = np.zeros_like(outputs[numbers[0]], dtype=np.float64)
    chosen: list[int] = []
    best_score, best_size = np.inf, 0
    for size in range(1, rounds + 1):
        trial_scores = [sign * score((total + outputs[t]) / size) for t in numbers]
        pick = numbers[int(np.argmin(trial_scores))]  # the first of equals
        chosen.append(pick)
        total += outputs[pick]
        if min(trial_scores) < best_score:
            best_score, best_size = min(trial_scores), size
    counts = Counter(chosen[:best_size])
    return {t: counts[t] / best_size for t in sorted(counts)}
