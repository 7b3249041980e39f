"""The fitted digits model: images in, digits and their probabilities out.

A :class:`DigitModel` is a fitted :class:`~nnscratch.models.classifier.MLPClassifier`
and the image shape it was trained on (28×28 for MNIST, 8×8 for the bundled
sample), in one object and one file: the classifier's model file with
``"images": {"shape": [rows, cols], "tta": false}`` added to its metadata. Pixels are
scaled to [0, 1] by :mod:`nnscratch.data.images`; nothing else is fitted.

With test-time augmentation (``tta``, chosen when training: ``--tta``) every answer
averages the probabilities of each image as it is and moved one pixel up, down, left
and right (:data:`TTA_SHIFTS`): five passes through the networks for one answer.

What it does for the server and for ONNX are parts of their own that it composes: its
``serving`` (:class:`~nnscratch.models.serving.DigitServing`) and its ``export``
(:class:`~nnscratch.models.onnx_export.DigitExport`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from nnscratch import __version__
from nnscratch.data.augment import shifted
from nnscratch.data.images import is_mnist_folder, load_images, read_png_folder
from nnscratch.errors import ModelFileError
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.metrics import (
    CLASSIFICATION_METRICS,
    Results,
    classification_metrics,
    most_probable,
)
from nnscratch.models.onnx_export import DigitExport
from nnscratch.models.requests import json_values
from nnscratch.models.serving import DigitServing
from nnscratch.models.values import Predictions
from nnscratch.models.wraps_estimator import WrapsEstimator

#: Test-time augmentation's copies of an image: ``(dx, dy)``, as it is and one pixel each way.
TTA_SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


@dataclass
class DigitModel(WrapsEstimator):
    """A digit classifier, the ``(rows, cols)`` of the images it reads, and whether it
    averages over shifted copies of each image (test-time augmentation)."""

    estimator: MLPClassifier
    image_shape: tuple[int, int]
    tta: bool = False

    task: ClassVar[str] = "digits"
    estimator_class: ClassVar[Any] = MLPClassifier

    @property
    def n_pixels(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    @property
    def seed(self) -> int:
        """The seed it was trained with (``random_state``; 0 where none was given): the one
        that splits a seeded image source into the same training and test images."""
        seed = self.estimator.random_state
        return int(seed) if isinstance(seed, int | np.integer) and seed is not True else 0

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    def _rows(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        X = images.reshape(len(images), -1)
        if X.shape[1] != self.n_pixels:
            raise ValueError(
                f"the model reads {self.image_shape[0]}×{self.image_shape[1]} images "
                f"({self.n_pixels} pixels), got {X.shape[1]} per image"
            )
        return X

    def network_outputs(self, X: np.ndarray) -> np.ndarray:
        """The members' mean output ``(n, classes)``; with ``tta``, also averaged over
        each image's :data:`TTA_SHIFTS` copies."""
        if not self.tta:
            return super().network_outputs(X)
        images = np.asarray(X).reshape(len(X), *self.image_shape)
        total = np.zeros((len(X), self.estimator.n_outputs_))
        for dx, dy in TTA_SHIFTS:
            moved = shifted(images, dx, dy) if dx or dy else images
            total += super().network_outputs(moved.reshape(len(X), -1))
        return total / len(TTA_SHIFTS)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """``(n, rows, cols)`` or ``(n, rows·cols)`` pixels in [0, 1] → ``(n, classes)``."""
        return self.estimator.proba_from_outputs(self.network_outputs(self._rows(images)))

    def predict(self, images: np.ndarray) -> np.ndarray:
        return most_probable(self.predict_proba(images), self.classes_)

    # ------------------------------------------------------------------ predict, evaluate

    def predictions(self, X: np.ndarray, first: pd.DataFrame) -> pd.DataFrame:
        """``first``'s columns (an index or file names), the label, ``p<class>`` (6 decimals)."""
        proba = self.predict_proba(X)
        out = first.assign(label=most_probable(proba, self.classes_))
        for k, c in enumerate(self.classes_):
            out[f"p{c}"] = np.round(proba[:, k], 6)
        return out

    def predict_file(self, source: str) -> Predictions:
        """One row per image: MNIST's test images in file order, or a folder's PNGs by name."""
        folder = Path(source)
        if folder.is_dir() and not is_mnist_folder(folder):
            names, X, notes = read_png_folder(folder, self.image_shape)
            frame = self.predictions(X, pd.DataFrame({"file": names}))
            return Predictions(frame, len(X), "images", [f"note: {n}" for n in notes])
        images = load_images(source, self.seed)
        index = pd.DataFrame({"index": np.arange(len(images.X_test))})
        frame = self.predictions(images.X_test, index)
        return Predictions(frame, len(frame), "images")

    def evaluate(self, source: str, model_file: str) -> tuple[Results, list[str]]:
        """The model scored on the test images of an image source: for a source split by a
        seed (the bundled digits, an ``.npz``), the split of the seed it was trained with,
        so none of its training images is scored."""
        images = load_images(source, self.seed)
        scores = classification_metrics(
            images.y_test, self.predict_proba(images.X_test), self.classes_
        )
        rows = {f"model ({model_file})": {"test": scores}}
        return Results(f"the test images of {images.source}", CLASSIFICATION_METRICS, rows), []

    def describe(self) -> dict[str, Any]:
        """What ``GET /model`` says of the model: task, shape, training, the images it reads."""
        return {
            "task": self.task,
            "nnscratch_version": __version__,
            **self.estimator.describe(),
            "image_shape": list(self.image_shape),
            "test_time_augmentation": self.tta,
            "classes": json_values(self.classes_),
        }

    # ------------------------------------------------------------------ parts and file

    @property
    def serving(self) -> DigitServing:
        """What ``nnscratch serve`` does with the model: pixels or a PNG in, digits out."""
        return DigitServing(self.estimator, self.image_shape, self.network_outputs)

    @property
    def export(self) -> DigitExport:
        """The classifier as one ONNX graph (refused with test-time augmentation)."""
        return DigitExport(self.estimator, self.image_shape, self.tta, self.task)

    def _own_metadata(self) -> dict[str, Any]:
        """The images' shape and whether answers are averaged over shifted copies."""
        return {"images": {"shape": list(self.image_shape), "tta": self.tta}}

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], meta: dict[str, Any], where: str
    ) -> DigitModel:
        """The model from its file's arrays and metadata (see :meth:`WrapsEstimator.load`)."""
        if meta.get("estimator") != "MLPClassifier" or "images" not in meta:
            raise ModelFileError(
                f"{where}: not a digits model (one written by `nnscratch train` on images)"
            )
        try:
            estimator = MLPClassifier.from_arrays(arrays, meta)
            rows, cols = (int(n) for n in meta["images"]["shape"])
            tta = meta["images"].get("tta", False)  # files before test-time augmentation
            if not isinstance(tta, bool):
                raise ValueError(f"images.tta must be true or false, got {tta!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{where}: metadata is incomplete or malformed ({exc})") from exc
        if rows * cols != estimator.n_features_in_:
            raise ModelFileError(
                f"{where}: images of {rows}×{cols} pixels, but the network takes "
                f"{estimator.n_features_in_} inputs"
            )
        return cls(estimator, (rows, cols), tta)
