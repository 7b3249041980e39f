"""What ``nnscratch serve`` does with a fitted model's requests: a body (JSON, CSV, a PNG,
the Open Inference Protocol's tensors) read into the network's inputs, and the network's
outputs made into the answer.

A model that can be served composes one of these as its ``serving`` (a
:class:`~nnscratch.models.fitted.Servable`):

    TableServing                 a table's rows: JSON, a CSV body, tensors by column
      TableRegressionServing       … answered in the target's units
      TableClassificationServing   … answered with labels and probabilities
    DigitServing                 images: JSON pixels, a PNG body, a pixels tensor

Each holds what it needs of its model (the feature stage, the classifier, the image
shape, and the model's own network outputs, which the server asks for on many
requests' inputs at once). What a body holds is read and checked by
:mod:`nnscratch.models.requests` (4xx naming the row, column or value); the answer a row
gets is the one ``nnscratch predict`` writes for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from nnscratch.data.images import png_pixels
from nnscratch.data.preprocessing import Preprocessing
from nnscratch.errors import DataError, RequestError
from nnscratch.models.classifier import MLPClassifier, most_probable
from nnscratch.models.request_schemas import (
    Schema,
    class_answer_properties,
    pixels_schema,
    rows_schema,
    table_answer_schema,
)
from nnscratch.models.requests import (
    TableRows,
    json_values,
    pixels_from_json,
    row_inputs,
    rows_from_csv,
    rows_from_features,
    rows_from_json,
    rows_from_json_many,
)
from nnscratch.models.values import Request

#: The network's outputs ``(n, n_outputs)`` for its inputs ``X`` ``(n, n_inputs)``.
NetworkOutputs = Callable[[np.ndarray], np.ndarray]


def class_tensor_outputs(classes: np.ndarray) -> list[dict[str, Any]]:
    """Labels (of the classes' type) and probabilities ``(rows, classes)`` as tensors."""
    label = {"b": "BOOL", "i": "INT64", "u": "INT64", "f": "FP64"}.get(classes.dtype.kind, "BYTES")
    return [
        {"name": "predictions", "datatype": label, "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(classes)]},
    ]


@dataclass(frozen=True)
class TableServing:
    """A table model's requests: rows as JSON (read together where many wait), a CSV body,
    or tensors; a subclass says what the answer holds (:meth:`_values`,
    :meth:`tensor_outputs`)."""

    #: the model's fitted feature stage: what a row needs and how it is scaled and encoded
    preprocessing: Preprocessing
    #: the network's dtype (its inputs are made in it)
    dtype: np.dtype
    #: the model's own network outputs for network inputs
    outputs: NetworkOutputs

    page: ClassVar[str] = "table.html"

    def network_outputs(self, X: np.ndarray) -> np.ndarray:
        """The network's outputs ``(n, n_outputs)`` for the inputs of many requests at
        once (what the server batches)."""
        return self.outputs(X)

    def json_request(self, payload: Any, max_rows: int) -> Request:
        """``{"rows": [...]}`` checked: every row usable, or a 4xx naming the first that
        is not (no pandas on the way: see :mod:`nnscratch.models.requests`)."""
        return self._request(rows_from_json(self.preprocessing, payload, max_rows))

    def json_requests(self, payloads: list[Any], max_rows: int) -> list[Request | RequestError]:
        """Many JSON bodies read together (:func:`~nnscratch.models.requests.rows_from_json_many`)
        and encoded in one pass; each body's request or error is the one it gets alone."""
        read = rows_from_json_many(self.preprocessing, payloads, max_rows)
        usable = [rows for rows in read if isinstance(rows, TableRows)]
        if not usable:
            return read  # type: ignore[return-value]
        X = self._encoded(np.concatenate([rows.X_scaled for rows in usable]))
        results: list[Request | RequestError] = []
        start = 0
        for rows in read:
            if isinstance(rows, RequestError):
                results.append(rows)
                continue
            stop = start + len(rows.X_scaled)
            results.append(Request(X[start:stop], functools.partial(self._answer, rows)))
            start = stop
        return results

    def body_request(self, media: str, body: bytes, max_rows: int) -> Request:
        """A CSV body, read as a file: unusable rows skipped and listed."""
        if media != "text/csv":
            raise RequestError(415, "a table model takes JSON rows or a CSV body, not an image")
        return self._request(rows_from_csv(self.preprocessing, body, max_rows))

    def request_schemas(self, max_rows: int) -> dict[str, Schema]:
        """The JSON Schema of each body ``/predict`` reads, by media type: JSON rows (or
        records) and a CSV file."""
        csv = (
            "a CSV file, read as `nnscratch predict` reads one: a header naming the columns "
            "(those of JSON rows), rows that cannot be scored skipped and listed with the "
            f"reason; at most {max_rows:,} rows"
        )
        return {
            "application/json": rows_schema(self.preprocessing, max_rows),
            "text/csv": {"type": "string", "description": csv},
        }

    def answer_schema(self) -> Schema:
        """The JSON Schema of ``/predict``'s answer."""
        return table_answer_schema(self._value_schemas())

    def tensor_inputs(self) -> list[dict[str, Any]]:
        """The Open Inference Protocol's inputs: each raw column, numbers as FP64, text and
        categories as BYTES (or all the features as one ``features`` tensor instead)."""
        return [
            {
                "name": item["name"],
                "datatype": "FP64" if item["kind"] == "number" else "BYTES",
                "shape": [-1],
            }
            for item in row_inputs(self.preprocessing)
        ]

    def tensor_request(self, tensors: dict[str, np.ndarray], max_rows: int) -> Request:
        """Named input tensors: ``features`` ``(n, len(features))`` (with a BYTES tensor per
        categorical column), or one ``(n,)`` tensor per raw column, read as JSON rows."""
        pre = self.preprocessing
        if "features" in tensors:
            X = np.asarray(tensors["features"], dtype=np.float64)
            categorical = {name: t for name, t in tensors.items() if name != "features"}
            return self._request(rows_from_features(pre, X, categorical, max_rows))
        shapes = {name: t.shape for name, t in tensors.items()}
        if any(len(shape) != 1 for shape in shapes.values()) or len(set(shapes.values())) > 1:
            raise RequestError(400, f"each column's tensor must be (rows,), all alike: {shapes}")
        lists = {name: t.tolist() for name, t in tensors.items()}
        n = next(iter(shapes.values()))[0]
        rows = [{name: values[i] for name, values in lists.items()} for i in range(n)]
        return self.json_request({"rows": rows}, max_rows)

    def tensor_outputs(self) -> list[dict[str, Any]]:
        """The Open Inference Protocol's outputs."""
        raise NotImplementedError

    def _request(self, rows: TableRows) -> Request:
        return Request(self._encoded(rows.X_scaled), functools.partial(self._answer, rows))

    def _encoded(self, X_scaled: np.ndarray) -> np.ndarray:
        """The network's inputs from scaled rows, in the network's dtype."""
        return self.preprocessing.encode(X_scaled.astype(self.dtype, copy=False))

    def _answer(self, rows: TableRows, outputs: np.ndarray) -> dict[str, Any]:
        answer: dict[str, Any] = {"rows": rows.positions, **self._values(outputs)}
        if rows.ids is not None:
            answer["ids"] = rows.ids
        if rows.skipped:
            answer["skipped"] = rows.skipped
        return answer

    def _values(self, outputs: np.ndarray) -> dict[str, Any]:
        """The predictions (and what the kind of model adds) from the network outputs."""
        raise NotImplementedError

    def _value_schemas(self) -> dict[str, Schema]:
        """The JSON Schema of what :meth:`_values` gives, by name."""
        raise NotImplementedError


@dataclass(frozen=True)
class TableRegressionServing(TableServing):
    """A table model of a number: each row answered in the target's units."""

    def tensor_outputs(self) -> list[dict[str, Any]]:
        """The Open Inference Protocol's outputs: the predictions, in the target's units."""
        return [{"name": "predictions", "datatype": "FP64", "shape": [-1]}]

    def _value_schemas(self) -> dict[str, Schema]:
        unit = {"type": "number", "description": f"{self.preprocessing.target}, 2 decimals"}
        return {"predictions": {"type": "array", "items": unit}}

    def _values(self, outputs: np.ndarray) -> dict[str, Any]:
        """Points, 2 decimals, as ``nnscratch predict`` writes them."""
        points = np.round(self.preprocessing.to_points(outputs[:, 0]), 2)
        return {"predictions": points.tolist()}


@dataclass(frozen=True)
class TableClassificationServing(TableServing):
    """A table model of class labels: each row answered with its label and the
    probabilities of every class."""

    #: the fitted classifier: its classes, and how its outputs become labels
    classifier: MLPClassifier

    def tensor_outputs(self) -> list[dict[str, Any]]:
        """The Open Inference Protocol's outputs: the labels and the probabilities."""
        return class_tensor_outputs(self.classifier.classes_)

    def _value_schemas(self) -> dict[str, Schema]:
        return class_answer_properties(self.classifier.classes_)

    def _values(self, outputs: np.ndarray) -> dict[str, Any]:
        """The labels, the classes, each row's probabilities (6 decimals), as ``nnscratch
        predict`` writes them."""
        classifier = self.classifier
        proba = classifier.proba_from_outputs(outputs)
        return {
            "predictions": json_values(classifier.labels_from_proba(proba)),
            "classes": json_values(classifier.classes_),
            "probabilities": np.round(proba, 6).tolist(),
        }


@dataclass(frozen=True)
class DigitServing:
    """A digits model's requests: pixels as JSON, a PNG body, or a ``pixels`` tensor; each
    image answered with its digit and the probabilities of every class."""

    #: the fitted classifier: its classes and the network's dtype
    classifier: MLPClassifier
    #: ``(rows, cols)`` of the images the model reads
    image_shape: tuple[int, int]
    #: the model's own network outputs for network inputs (test-time augmentation included)
    outputs: NetworkOutputs

    page: ClassVar[str] = "digits.html"

    def network_outputs(self, X: np.ndarray) -> np.ndarray:
        """The network's outputs ``(n, classes)`` for the images of many requests at once
        (what the server batches)."""
        return self.outputs(X)

    def json_request(self, payload: Any, max_rows: int) -> Request:
        """``{"pixels": [...]}`` or ``{"images": [[...], …]}``, checked."""
        X = pixels_from_json(payload, self.image_shape, max_rows)
        return Request(X.astype(self.classifier.network_.dtype), self._answer)

    def body_request(self, media: str, body: bytes, max_rows: int) -> Request:
        """A PNG body (any size, resized; dark-on-light inverted)."""
        if media != "image/png":
            raise RequestError(415, "a digits model takes JSON pixels or a PNG image, not CSV")
        try:
            pixels, inverted = png_pixels(body, self.image_shape, name="the request body")
        except DataError as exc:
            raise RequestError(422, str(exc)) from None
        X = pixels.reshape(1, -1).astype(self.classifier.network_.dtype)
        return Request(X, lambda outputs: self._answer(outputs) | {"inverted": inverted})

    def request_schemas(self, max_rows: int) -> dict[str, Schema]:
        """The JSON Schema of each body ``/predict`` reads, by media type: pixels as JSON,
        and a PNG."""
        png = (
            "a PNG image of any size: made greyscale, resized by area averaging, inverted "
            "if it is dark on light, as `nnscratch predict` reads one"
        )
        return {
            "application/json": pixels_schema(self.image_shape, max_rows),
            "image/png": {"type": "string", "format": "binary", "description": png},
        }

    def answer_schema(self) -> Schema:
        """The JSON Schema of ``/predict``'s answer (``inverted``: for a PNG)."""
        inverted = {"type": "boolean", "description": "a PNG's: whether it was inverted"}
        values = class_answer_properties(self.classifier.classes_)
        return {
            "type": "object",
            "properties": values | {"inverted": inverted},
            "required": list(values),
        }

    def tensor_inputs(self) -> list[dict[str, Any]]:
        """The Open Inference Protocol's input: the pixels, one row of ``rows·cols`` an image."""
        n_pixels = self.image_shape[0] * self.image_shape[1]
        return [{"name": "pixels", "datatype": "FP32", "shape": [-1, n_pixels]}]

    def tensor_outputs(self) -> list[dict[str, Any]]:
        """The Open Inference Protocol's outputs: the labels and the probabilities."""
        return class_tensor_outputs(self.classifier.classes_)

    def tensor_request(self, tensors: dict[str, np.ndarray], max_rows: int) -> Request:
        """A ``pixels`` tensor ``(n, rows·cols)`` or ``(n, rows, cols)``, values in [0, 1]."""
        if "pixels" not in tensors:
            raise RequestError(400, f"the input is 'pixels', got {', '.join(tensors)}")
        pixels = tensors["pixels"]
        if pixels.ndim not in (2, 3):
            shape = list(pixels.shape)
            n_pixels = self.image_shape[0] * self.image_shape[1]
            raise RequestError(400, f"pixels must be (images, {n_pixels}), got {shape}")
        images = pixels.reshape(len(pixels), -1).tolist()
        return self.json_request({"images": images}, max_rows)

    def _answer(self, outputs: np.ndarray) -> dict[str, Any]:
        classes = self.classifier.classes_
        proba = np.round(self.classifier.proba_from_outputs(outputs), 6)
        return {
            "predictions": json_values(most_probable(proba, classes)),
            "classes": json_values(classes),
            "probabilities": proba.tolist(),
        }
