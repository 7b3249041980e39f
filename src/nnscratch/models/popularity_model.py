"""The fitted popularity model: raw rows in, popularity points out.

A :class:`PopularityModel` is the three things a trained model needs at
predict time, together in one object and one file:

1. the fitted feature stage (:class:`~nnscratch.data.preprocessing.Preprocessing`:
   which columns, the scalers and encoding fit on the training split, the
   training mean);
2. the network(s): a fitted :class:`~nnscratch.models.regressor.MLPRegressor` (one
   network or an ensemble);
3. the way back to target units: un-scale and clip to 0–100, done in
   exactly one place (:meth:`Preprocessing.to_points`).

Its file is the estimator's model file with the feature stage added to the
metadata under ``"preprocessing"``, so ``MLPRegressor.load`` reads the
network part of it too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nnscratch.models.regressor import MLPRegressor
from nnscratch.models.table_model import TableModel


@dataclass
class PopularityModel(TableModel):
    """A fitted feature stage and the network(s) trained on its output."""

    estimator: MLPRegressor

    def predict_scaled(self, X_scaled: np.ndarray) -> np.ndarray:
        """Scaled outputs ``(n_samples,)`` for scaled features ``(n_samples, n_features)``."""
        return self.estimator.predict(self.preprocessing.encode(X_scaled))

    def predict_points(self, cleaned: pd.DataFrame) -> np.ndarray:
        """Predicted target (popularity 0–100, float64) for every row of a cleaned frame."""
        out = np.empty(len(cleaned))
        for start, X in self.inputs_in_chunks(cleaned):
            out[start : start + len(X)] = self.preprocessing.to_points(self.estimator.predict(X))
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PopularityModel:
        """Read a model written by :meth:`save` (or by ``nnscratch train``), validating it."""
        return cls(*cls.read(path, MLPRegressor, "one written by `nnscratch train`"))
