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

It models any numeric column of a table the same way (``--target``); its
file is the estimator's model file with the feature stage added to the
metadata (:class:`~nnscratch.models.table_model.TableModel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.data.cleaning import to_number
from nnscratch.models.metrics import REGRESSION_METRICS, Results, regression_metrics
from nnscratch.models.regressor import MLPRegressor
from nnscratch.models.serving import TableRegressionServing
from nnscratch.models.streaming import evaluate_chunks
from nnscratch.models.table_model import TableModel, table_model_parts


@dataclass
class PopularityModel(TableModel):
    """A fitted feature stage and the network(s) trained on its output."""

    estimator: MLPRegressor
    task = "regression"
    estimator_class = MLPRegressor

    def predict_scaled(self, X_scaled: np.ndarray) -> np.ndarray:
        """Scaled outputs ``(n_samples,)`` for scaled features ``(n_samples, n_features)``
        (a split in memory or memory-mapped), encoded a batch at a time: the bits of
        predicting the encoded rows, without holding them."""
        expand = self.preprocessing.expansion
        if expand is None:
            return self.estimator.predict(X_scaled)
        return self.estimator.predict_outputs(np.asarray(X_scaled), expand=expand)[:, 0]

    def predict_points(self, cleaned: pd.DataFrame) -> np.ndarray:
        """Predicted target (popularity 0–100, float64) for every row of a cleaned frame."""
        out = np.empty(len(cleaned))
        for start, X in self.inputs_in_chunks(cleaned):
            outputs = self.network_outputs(X)[:, 0]
            out[start : start + len(X)] = self.preprocessing.to_points(outputs)
        return out

    @property
    def serving(self) -> TableRegressionServing:
        """What ``nnscratch serve`` does with the model: rows in, points out."""
        dtype = self.estimator.network_.dtype
        return TableRegressionServing(self.preprocessing, dtype, self.network_outputs)

    def _prediction_columns(
        self, cleaned: pd.DataFrame, points: np.ndarray | None = None
    ) -> pd.DataFrame:
        """``predicted_<target>`` in the target's units, 2 decimals (``points``: already
        predicted)."""
        points = self.predict_points(cleaned) if points is None else points
        return pd.DataFrame({f"predicted_{self.target_name}": np.round(points, 2)})

    def _predict_rows(self, cleaned: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """The predictions, and RMSE, MAE and R² on the rows where the file holds the
        target too."""
        points = self.predict_points(cleaned)
        frame = self.predictions(cleaned, points=points)
        pre = self.preprocessing
        if pre.target not in cleaned.columns:
            return frame, []
        actual = to_number(cleaned[pre.target])
        known = actual.between(*pre.target_bounds).to_numpy()
        if not known.any():
            return frame, []
        scores = regression_metrics(actual.to_numpy()[known], points[known])
        return frame, [
            f"{pre.label} present for {known.sum():,} scored rows: RMSE {scores['rmse']:.2f}, "
            f"MAE {scores['mae']:.2f}, R² {scores['r2']:.3f}"
        ]

    def evaluate(self, source: str, model_file: str) -> tuple[Results, list[str]]:
        """The model (saved as ``model_file``) scored on every usable row of a source with
        its target, read a chunk at a time (sums, not the rows: memory stays flat), and
        the report lines to say before the table."""
        ours, mean, chunks = evaluate_chunks(self, source)
        rows = {
            f"model ({model_file})": {"test": ours.scores()},
            "training mean": {"test": mean.scores()},
        }
        title = (
            f"{self.preprocessing.label} points on {source} ({ours.n:,} rows; "
            "'test' = every usable row of this file)"
        )
        return Results(title, REGRESSION_METRICS, rows), [*chunks.format_note, str(chunks.report)]

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], meta: dict[str, Any], where: str
    ) -> PopularityModel:
        """The model from its file's arrays and metadata (see :meth:`WrapsEstimator.load`)."""
        return cls(
            *table_model_parts(
                arrays, meta, MLPRegressor, where, "one written by `nnscratch train`"
            )
        )
