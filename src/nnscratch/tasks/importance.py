"""What a table model uses: permutation importance on the validation split.

For each input (a feature's column, or a categorical column's whole one-hot
block), its values are shuffled across the validation rows ``n_repeats`` times
(seeded), breaking its link to the target while keeping its distribution, and
the model is scored again::

    importance = how much worse the score gets   (mean ± std over the repeats)

in the score's own units: RMSE points for a number, log-loss for classes. An
input the model does not use scores about 0; one that alone gives the target
away (a leak) dwarfs all others, which is what the picture is for. The same
idea as scikit-learn's ``permutation_importance``, over column groups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from nnscratch.data.preprocessing import PreparedData

#: Shuffles per input (scikit-learn's default).
REPEATS = 5
#: Validation rows scored, at most: a seeded subsample of larger splits (scikit-learn's
#: ``max_samples``). Each input costs ``REPEATS`` predictions of these rows; 5,000 rank the
#: inputs as well as 59,000 do and keep it seconds on a 600,000-row file.
MAX_ROWS = 5_000


@dataclass(frozen=True)
class Scorer:
    """How a model is scored on validation rows: ``predict(X)`` gives its outputs for any
    inputs ``X`` ``(n, columns)``; ``score(outputs, rows)`` the score of the outputs for the
    validation split's rows ``rows`` ``(n,)``; in ``unit``, higher better or not."""

    predict: Callable[[np.ndarray], np.ndarray]
    score: Callable[[np.ndarray, np.ndarray], float]
    unit: str
    higher_is_better: bool


@dataclass(frozen=True)
class Importance:
    """One input's importance: the mean and standard deviation of the score's loss."""

    input: str
    mean: float
    std: float


def input_groups(data: PreparedData) -> dict[str, list[int]]:
    """Each input's columns of ``X``: a feature's one, a categorical column's block."""
    groups = {name: [j] for j, name in enumerate(data.feature_names)}
    for category, (start, stop) in zip(data.categories, data.categorical_blocks, strict=True):
        groups[category.column] = list(range(start, stop))
    return groups


def permutation_importance(
    scorer: Scorer,
    X: np.ndarray,
    groups: dict[str, list[int]],
    *,
    n_repeats: int = REPEATS,
    seed: int = 0,
    max_rows: int = MAX_ROWS,
) -> list[Importance]:
    """How much the score of the validation inputs ``X`` worsens when each group's columns
    are shuffled across rows, most important first. ``X`` is not changed. At most
    ``max_rows`` rows are scored, a seeded subsample. A group's ``n_repeats`` shuffled
    copies go through ``scorer.predict`` as one stack (one call, large enough to keep
    every core busy), and each copy is scored on its own."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(X))
    if len(X) > max_rows:
        rows = np.sort(rng.choice(len(X), size=max_rows, replace=False))
        X = X[rows]
    n = len(X)
    baseline = scorer.score(scorer.predict(X), rows)
    stack = np.tile(X, (n_repeats, 1))
    out = []
    for name, columns in groups.items():
        for r in range(n_repeats):
            stack[r * n : (r + 1) * n, columns] = X[rng.permutation(n)][:, columns]
        outputs = scorer.predict(stack)
        shuffled = np.array(
            [scorer.score(outputs[r * n : (r + 1) * n], rows) for r in range(n_repeats)]
        )
        losses = baseline - shuffled if scorer.higher_is_better else shuffled - baseline
        for r in range(n_repeats):
            stack[r * n : (r + 1) * n, columns] = X[:, columns]
        out.append(Importance(name, float(np.mean(losses)), float(np.std(losses))))
    return sorted(out, key=lambda item: -item.mean)


def summary(importances: list[Importance], unit: str, top: int = 8) -> list[str]:
    """The lines under the results table: the top inputs."""
    shown = ", ".join(f"{i.input} {i.mean:.3g}" for i in importances[:top])
    return [f"what the model uses (validation {unit} lost when an input is shuffled): {shown}"]


def to_record(importances: list[Importance], unit: str) -> dict[str, object]:
    """``metrics.json``'s ``"importance"``: every input, most important first."""
    return {
        "score": unit,
        "repeats": REPEATS,
        "max_rows": MAX_ROWS,
        "inputs": [asdict(i) for i in importances],
    }
