"""The fitted table classifier: raw rows in, class labels and probabilities out.

:class:`TableModel` is what a model of a table's rows is: the fitted feature
stage and the estimator, in one object and one file.
:class:`TabularClassifier` is :class:`~nnscratch.models.popularity_model.PopularityModel`'s
twin for a column of class labels (``nnscratch train --task classification
--target COLUMN``, e.g. a Spotify file's ``explicit``):

1. the fitted feature stage (:class:`~nnscratch.data.preprocessing.Preprocessing`,
   with no target scaler: labels are not scaled);
2. a fitted :class:`~nnscratch.models.classifier.MLPClassifier` (one network or an
   ensemble) whose ``classes_`` are the labels as they were in the file.

Its file is the classifier's model file with the feature stage added to the
metadata under ``"preprocessing"``, so ``MLPClassifier.load`` reads the
network part of it too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.core.training import History
from nnscratch.data.preprocessing import Preprocessing
from nnscratch.errors import ModelFileError
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.persistence import peek_metadata, read_model_file, write_model_file


@dataclass
class TableModel:
    """A fitted feature stage and the estimator trained on its output: what the
    popularity model and the table classifier share (properties, the file)."""

    preprocessing: Preprocessing
    estimator: Any  # an MLPRegressor or MLPClassifier

    #: Rows encoded at a time: an encoded chunk is ``PREDICT_CHUNK × n_inputs`` floats,
    #: however long the file.
    PREDICT_CHUNK = 65_536

    @property
    def features(self) -> list[str]:
        """The columns (raw or derived) the model reads."""
        return list(self.preprocessing.features)

    @property
    def target(self) -> str:
        return self.preprocessing.target

    @property
    def history(self) -> History:
        """The first member's training history."""
        return self.estimator.history_

    @property
    def n_members(self) -> int:
        return len(self.estimator.networks_)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return self.estimator.network_.layer_sizes

    def inputs_in_chunks(self, cleaned: pd.DataFrame) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, X)`` for each :attr:`PREDICT_CHUNK` rows of a cleaned frame, ``X``
        the network's inputs for those rows (the estimator's dtype)."""
        dtype = self.estimator.network_.dtype
        for start in range(0, len(cleaned), self.PREDICT_CHUNK):
            chunk = cleaned.iloc[start : start + self.PREDICT_CHUNK]
            yield start, self.preprocessing.transform(chunk, dtype=dtype)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to ``path`` (``.npz`` + JSON, no pickle, atomic): the
        estimator's model file with the feature stage under ``"preprocessing"``."""
        arrays, metadata = self.estimator.to_arrays()
        metadata["preprocessing"] = self.preprocessing.to_dict()
        return write_model_file(path, arrays, metadata)

    @staticmethod
    def read(
        path: str | os.PathLike[str], estimator_class: Any, what: str
    ) -> tuple[Preprocessing, Any]:
        """The feature stage and the ``estimator_class`` of a file written by :meth:`save`;
        :class:`ModelFileError` naming ``path`` (``what`` says which model it should be)."""
        arrays, meta = read_model_file(path, estimator_class.expected_arrays)
        state: Any = meta.get("preprocessing")
        if not state:
            raise ModelFileError(
                f"{path}: the model has no data preprocessing, so it is not {what} "
                f"(load it with {estimator_class.__name__}.load)"
            )
        try:
            estimator = estimator_class.from_arrays(arrays, meta)
            pre = Preprocessing.from_dict(state)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: metadata is incomplete or malformed ({exc})") from exc
        if pre.n_inputs != estimator.n_features_in_:
            raise ModelFileError(
                f"{path}: preprocessing makes {pre.n_inputs} inputs, the network takes "
                f"{estimator.n_features_in_}"
            )
        return pre, estimator


@dataclass
class TabularClassifier(TableModel):
    """A fitted feature stage and the classifier trained on its output."""

    estimator: MLPClassifier

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    def predict_proba_scaled(self, X_scaled: np.ndarray) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` for scaled features ``(n, n_columns)``."""
        return self.estimator.predict_proba(self.preprocessing.encode(X_scaled))

    def predict_proba(self, cleaned: pd.DataFrame) -> np.ndarray:
        """Class probabilities ``(n_rows, n_classes)`` (columns in ``classes_`` order)
        for every row of a cleaned frame."""
        out = np.empty((len(cleaned), len(self.classes_)))
        for start, X in self.inputs_in_chunks(cleaned):
            out[start : start + len(X)] = self.estimator.predict_proba(X)
        return out

    def predict(self, cleaned: pd.DataFrame) -> np.ndarray:
        """The most probable class of every row, ``(n_rows,)``, of ``classes_``'s type."""
        return self.classes_[np.argmax(self.predict_proba(cleaned), axis=1)]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TabularClassifier:
        """Read a model written by :meth:`save`, validating it."""
        if peek_metadata(path).get("estimator") != "MLPClassifier":
            raise ModelFileError(
                f"{path}: not a table classifier (one written by `nnscratch train --task "
                "classification`)"
            )
        return cls(*cls.read(path, MLPClassifier, "a table classifier"))
