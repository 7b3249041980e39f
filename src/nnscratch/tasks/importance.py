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
    score: Callable[[np.ndarray], float],
    X: np.ndarray,
    groups: dict[str, list[int]],
    *,
    higher_is_better: bool,
    n_repeats: int = REPEATS,
    seed: int = 0,
) -> list[Importance]:
    """How much ``score(X)`` worsens when each group's columns are shuffled across rows,
    most important first. ``X`` is not changed."""
    rng = np.random.default_rng(seed)
    baseline = score(X)
    work = X.copy()
    out = []
    for name, columns in groups.items():
        losses = []
        for _ in range(n_repeats):
            work[:, columns] = X[rng.permutation(len(X))][:, columns]
            shuffled = score(work)
            losses.append(baseline - shuffled if higher_is_better else shuffled - baseline)
        work[:, columns] = X[:, columns]
        out.append(Importance(name, float(np.mean(losses)), float(np.std(losses))))
    return sorted(out, key=lambda item: -item.mean)


def summary(importances: list[Importance], unit: str, top: int = 8) -> list[str]:
    """The lines under the results table: the top inputs."""
    shown = ", ".join(f"{i.input} {i.mean:.3g}" for i in importances[:top])
    return [f"what the model uses (validation {unit} lost when an input is shuffled): {shown}"]


def to_record(importances: list[Importance], unit: str) -> dict[str, object]:
    """``metrics.json``'s ``"importance"``: every input, most important first."""
    return {"score": unit, "repeats": REPEATS, "inputs": [asdict(i) for i in importances]}
