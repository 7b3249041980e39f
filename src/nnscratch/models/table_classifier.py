"""The fitted table classifier: raw rows in, class labels and probabilities out.

:class:`TabularClassifier` is :class:`~nnscratch.models.popularity_model.PopularityModel`'s
twin for a column of class labels (``nnscratch train --task classification
--target COLUMN``, e.g. a Spotify file's ``explicit``):

1. the fitted feature stage (:class:`~nnscratch.data.preprocessing.Preprocessing`,
   with no target scaler: labels are not scaled);
2. a fitted :class:`~nnscratch.models.classifier.MLPClassifier` (one network or an
   ensemble) whose ``classes_`` are the labels as they were in the file.

Its file is the classifier's model file with the feature stage added to the
metadata (:class:`~nnscratch.models.table_model.TableModel`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.errors import ModelFileError
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.metrics import (
    CLASSIFICATION_METRICS,
    Results,
    classification_metrics,
)
from nnscratch.models.persistence import peek_metadata
from nnscratch.models.requests import json_values
from nnscratch.models.serving import TableClassificationServing
from nnscratch.models.table_model import TableModel, table_model_parts


@dataclass
class TabularClassifier(TableModel):
    """A fitted feature stage and the classifier trained on its output."""

    estimator: MLPClassifier
    task = "classification"
    labels = True
    estimator_class = MLPClassifier

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    @property
    def threshold(self) -> float | None:
        """The estimator's decision threshold (``None``: the most probable class)."""
        return self.estimator.decision_threshold

    def predict_proba_scaled(self, X_scaled: np.ndarray) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` for scaled features ``(n, n_columns)``."""
        expand = self.preprocessing.expansion  # encoded a batch at a time, never whole
        if expand is None:
            return self.estimator.predict_proba(X_scaled)
        outputs = self.estimator.predict_outputs(np.asarray(X_scaled), expand=expand)
        return self.estimator.proba_from_outputs(outputs)

    def predict_proba(self, cleaned: pd.DataFrame) -> np.ndarray:
        """Class probabilities ``(n_rows, n_classes)`` (columns in ``classes_`` order)
        for every row of a cleaned frame."""
        out = np.empty((len(cleaned), len(self.classes_)))
        for start, X in self.inputs_in_chunks(cleaned):
            out[start : start + len(X)] = self.estimator.proba_from_outputs(self.network_outputs(X))
        return out

    def predict(self, cleaned: pd.DataFrame) -> np.ndarray:
        """The most probable class of every row, ``(n_rows,)``, of ``classes_``'s type."""
        return self.estimator.labels_from_proba(self.predict_proba(cleaned))

    def _prediction_columns(self, cleaned: pd.DataFrame, **computed: Any) -> pd.DataFrame:
        """``predicted_<target>`` (the label), then ``p_<class>`` per class (6 decimals)."""
        proba = self.predict_proba(cleaned)
        labels = self.estimator.labels_from_proba(proba)
        out = pd.DataFrame({f"predicted_{self.target_name}": labels})
        for k, c in enumerate(self.classes_):
            out[f"p_{c}"] = np.round(proba[:, k], 6)
        return out

    def _evaluation(
        self, cleaned: pd.DataFrame, model_file: str, source: str
    ) -> tuple[Results, list[str]]:
        y = cleaned[self.preprocessing.target].to_numpy()
        known = np.isin(y, self.classes_)
        proba = self.predict_proba(cleaned[known])
        rows = {
            f"model ({model_file})": {
                "test": classification_metrics(y[known], proba, self.classes_, self.threshold)
            }
        }
        title = (
            f"{self.target_name} on {source} ({int(known.sum()):,} rows; 'test' = every "
            "usable row of this file)"
        )
        lines = []
        if not known.all():
            unknown = sorted(map(str, pd.unique(y[~known])))[:5]
            lines.append(
                f"skipped {int((~known).sum()):,} row(s) whose label is not a class of the "
                "model: " + ", ".join(unknown)
            )
        return Results(title, CLASSIFICATION_METRICS, rows), lines

    def describe(self) -> dict[str, Any]:
        """The table model's description, the classes, and the decision threshold (``None``:
        the most probable class)."""
        return super().describe() | {
            "classes": json_values(self.classes_),
            "threshold": self.threshold,
        }

    @property
    def serving(self) -> TableClassificationServing:
        """What ``nnscratch serve`` does with the model: rows in, labels and probabilities
        out."""
        dtype = self.estimator.network_.dtype
        return TableClassificationServing(
            self.preprocessing, dtype, self.network_outputs, self.estimator
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TabularClassifier:
        """Read a model written by :meth:`save`, validating it."""
        if peek_metadata(path).get("estimator") != "MLPClassifier":
            raise ModelFileError(
                f"{path}: not a table classifier (one written by `nnscratch train --task "
                "classification`)"
            )
        return super().load(path)

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], meta: dict[str, Any], where: str
    ) -> TabularClassifier:
        """The model from its file's arrays and metadata (see :meth:`WrapsEstimator.load`)."""
        return cls(*table_model_parts(arrays, meta, MLPClassifier, where, "a table classifier"))
