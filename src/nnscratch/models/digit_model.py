"""The fitted digits model: images in, digits and their probabilities out.

A :class:`DigitModel` is a fitted :class:`~nnscratch.models.classifier.MLPClassifier`
and the image shape it was trained on (28×28 for MNIST, 8×8 for the bundled
sample), in one object and one file: the classifier's model file with
``"images": {"shape": [rows, cols]}`` added to its metadata. Pixels are
scaled to [0, 1] by :mod:`nnscratch.data.images`; nothing else is fitted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnscratch.errors import ModelFileError
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.persistence import read_model_file, write_model_file


@dataclass
class DigitModel:
    """A digit classifier and the ``(rows, cols)`` of the images it reads."""

    estimator: MLPClassifier
    image_shape: tuple[int, int]

    @property
    def n_pixels(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    def _rows(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        X = images.reshape(len(images), -1)
        if X.shape[1] != self.n_pixels:
            raise ValueError(
                f"the model reads {self.image_shape[0]}×{self.image_shape[1]} images "
                f"({self.n_pixels} pixels), got {X.shape[1]} per image"
            )
        return X

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """``(n, rows, cols)`` or ``(n, rows·cols)`` pixels in [0, 1] → ``(n, classes)``."""
        return self.estimator.predict_proba(self._rows(images))

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.estimator.predict(self._rows(images))

    def save(self, path: str | os.PathLike[str]) -> Path:
        arrays, metadata = self.estimator.to_arrays()
        metadata["images"] = {"shape": list(self.image_shape)}
        return write_model_file(path, arrays, metadata)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DigitModel:
        arrays, meta = read_model_file(path, MLPClassifier.expected_arrays)
        if meta.get("estimator") != "MLPClassifier" or "images" not in meta:
            raise ModelFileError(
                f"{path}: not a digits model (one written by `nnscratch train` on images)"
            )
        try:
            estimator = MLPClassifier.from_arrays(arrays, meta)
            rows, cols = (int(n) for n in meta["images"]["shape"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: metadata is incomplete or malformed ({exc})") from exc
        if rows * cols != estimator.n_features_in_:
            raise ModelFileError(
                f"{path}: images of {rows}×{cols} pixels, but the network takes "
                f"{estimator.n_features_in_} inputs"
            )
        return cls(estimator, (rows, cols))
