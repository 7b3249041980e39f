"""The values fitted models hand to the application: a checked request, and predictions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Request:
    """A checked request: the network's inputs ``X`` ``(n, n_inputs)`` and how the network's
    outputs for them ``(n, n_outputs)`` become the answer (a server may batch many
    requests' ``X`` into one network call and hand each its own outputs)."""

    X: np.ndarray
    answer: Callable[[np.ndarray], dict[str, Any]]


@dataclass
class Predictions:
    """What ``nnscratch predict`` writes and says: ``frame`` (one row per input scored),
    how many inputs were ``read``, the ``report`` said before and the ``notes`` after."""

    frame: pd.DataFrame
    read: int
    unit: str = "rows"
    report: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
