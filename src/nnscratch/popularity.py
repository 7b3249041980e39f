"""The fitted popularity model: raw rows in, popularity points out.

A :class:`PopularityModel` is the three things a trained model needs at
predict time, together in one object and one file:

1. the fitted feature stage (:class:`~nnscratch.preprocessing.Preprocessing`:
   which columns, the scalers and encoding fit on the training split, the
   training mean);
2. the network(s): a fitted :class:`~nnscratch.model.MLPRegressor` (one
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.errors import ModelFileError
from nnscratch.model import MLPRegressor
from nnscratch.persistence import read_model_file, write_model_file
from nnscratch.preprocessing import Preprocessing
from nnscratch.training import History


@dataclass
class PopularityModel:
    """A fitted feature stage and the network(s) trained on its output."""

    preprocessing: Preprocessing
    estimator: MLPRegressor

    #: Rows encoded at a time by :meth:`predict_points`: an encoded chunk is
    #: ``PREDICT_CHUNK × n_inputs`` floats, however long the file.
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

    def predict_scaled(self, X_scaled: np.ndarray) -> np.ndarray:
        """Scaled outputs ``(n_samples,)`` for scaled features ``(n_samples, n_features)``."""
        return self.estimator.predict(self.preprocessing.encode(X_scaled))

    def predict_points(self, cleaned: pd.DataFrame) -> np.ndarray:
        """Predicted target (popularity 0–100, float64) for every row of a cleaned frame."""
        out = np.empty(len(cleaned))
        dtype = self.estimator.network_.dtype
        for start in range(0, len(cleaned), self.PREDICT_CHUNK):
            chunk = cleaned.iloc[start : start + self.PREDICT_CHUNK]
            X = self.preprocessing.transform(chunk, dtype=dtype)
            out[start : start + len(X)] = self.preprocessing.to_points(self.estimator.predict(X))
        return out

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to ``path`` (``.npz`` + JSON, no pickle, atomic)."""
        arrays, metadata = self.estimator.to_arrays()
        metadata["preprocessing"] = self.preprocessing.to_dict()
        return write_model_file(path, arrays, metadata)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PopularityModel:
        """Read a model written by :meth:`save` (or by ``nnscratch train``), validating it."""
        arrays, meta = read_model_file(path, MLPRegressor.expected_arrays)
        estimator = MLPRegressor.from_arrays(arrays, meta)
        state: Any = meta.get("preprocessing")
        if not state:
            raise ModelFileError(
                f"{path}: the model has no data preprocessing; it was not trained by "
                "`nnscratch train` (load it with MLPRegressor.load)"
            )
        try:
            pre = Preprocessing.from_dict(state)
        except ValueError as exc:
            raise ModelFileError(f"{path}: {exc}") from exc
        if pre.n_inputs != estimator.n_features_in_:
            raise ModelFileError(
                f"{path}: preprocessing makes {pre.n_inputs} inputs, the network takes "
                f"{estimator.n_features_in_}"
            )
        return cls(pre, estimator)
