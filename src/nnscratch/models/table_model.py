"""A model of a table's rows: the fitted feature stage and the estimator, in one file.

:class:`TableModel` is what the popularity model
(:mod:`nnscratch.models.popularity_model`) and the table classifier
(:mod:`nnscratch.models.table_classifier`) share:

1. the fitted feature stage (:class:`~nnscratch.data.preprocessing.Preprocessing`:
   which columns, the scalers and encodings fit on the training split);
2. the fitted estimator (one network or an ensemble);
3. what a saved model does for the command line and the server: read a file's
   rows, predict them as a frame, evaluate on a file, describe itself, answer
   a request (the ``FittedModel`` protocol of :mod:`nnscratch.tasks.base`).

Its file is the estimator's model file with the feature stage added to the
metadata under ``"preprocessing"`` (and the task under ``"task"``), so the
estimator's own ``load`` reads the network part of it too.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from nnscratch import __version__
from nnscratch.data.cleaning import CleaningReport, clean
from nnscratch.data.features import DERIVED_FEATURES
from nnscratch.data.preprocessing import Preprocessing
from nnscratch.data.tables import CHUNK_ROWS
from nnscratch.data.tracks import input_columns, read_tracks
from nnscratch.errors import ModelFileError, RequestError
from nnscratch.models.fitted import WrapsEstimator
from nnscratch.models.metrics import Results
from nnscratch.models.onnx_export import table_graph, table_input_spec
from nnscratch.models.persistence import read_model_file, write_model_file
from nnscratch.models.requests import (
    TableRows,
    rows_from_csv,
    rows_from_features,
    rows_from_json,
    rows_from_json_many,
)
from nnscratch.models.streaming import StreamedPredictions
from nnscratch.models.values import Predictions, Request

#: Columns whose values are whole numbers (a slider steps by 1).
_WHOLE = {"key", "mode", "explicit", "time_signature", "year", "duration_ms"}
#: What a text input starts with on the served page.
_TEXT_DEFAULTS = {"release_date": "2015-06-01", "name": "Untitled", "artists": "['Unknown']"}


@dataclass
class TableModel(WrapsEstimator):
    """A fitted feature stage and the estimator trained on its output."""

    preprocessing: Preprocessing
    estimator: Any  # an MLPRegressor or MLPClassifier

    #: The task that trains this kind of model (written into its file).
    task: ClassVar[str] = ""
    #: The page ``nnscratch serve`` shows for it (in ``nnscratch/app/serve/pages``).
    page: ClassVar[str] = "table.html"
    #: Whether the target holds class labels (kept as they are) or numbers.
    labels: ClassVar[bool] = False
    #: Rows encoded at a time: an encoded chunk is ``PREDICT_CHUNK × n_inputs`` floats,
    #: however long the file.
    PREDICT_CHUNK = 65_536

    @property
    def features(self) -> list[str]:
        """The columns (raw or derived) the model reads."""
        return list(self.preprocessing.features)

    @property
    def target(self) -> str:
        """The target column, by the package's name (what a cleaned frame calls it)."""
        return self.preprocessing.target

    @property
    def target_name(self) -> str:
        """The target as the user named it: outputs are ``predicted_<target_name>``."""
        return self.preprocessing.label

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

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to ``path`` (``.npz`` + JSON, no pickle, atomic): the
        estimator's model file with the feature stage under ``"preprocessing"``."""
        arrays, metadata = self.estimator.to_arrays()
        metadata["preprocessing"] = self.preprocessing.to_dict()
        metadata["task"] = self.task
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

    # ------------------------------------------------------------------ predict, evaluate

    def read_rows(
        self, source: str, *, with_target: bool
    ) -> tuple[pd.DataFrame, CleaningReport, list[str]]:
        """The usable rows of a file (its features; the target too if asked), the cleaning
        report, and a note where the file was not plain comma-separated."""
        pre = self.preprocessing
        target = pre.target if with_target else None
        tracks = read_tracks(source, features=pre.features + pre.categorical_columns, target=target)
        cleaned, report = clean(tracks.frame, pre.features, target, labels=self.labels)
        return cleaned, report, tracks.format_note()

    def predictions(self, cleaned: pd.DataFrame, **computed: Any) -> pd.DataFrame:
        """One row per row of ``cleaned``: ``id`` (when present), then
        ``predicted_<target_name>`` and what the kind of model adds (``computed`` passes on
        predictions already made)."""
        out = self._prediction_columns(cleaned, **computed)
        if "id" in cleaned.columns:
            out.insert(0, "id", cleaned["id"].astype("string").to_numpy())
        return out

    def _prediction_columns(self, cleaned: pd.DataFrame, **computed: Any) -> pd.DataFrame:
        raise NotImplementedError

    def predict_file(self, source: str) -> Predictions:
        """``nnscratch predict`` on a file: every usable row, skipped rows said."""
        cleaned, report, note = self.read_rows(source, with_target=False)
        notes = []
        if report.rows_dropped:
            notes.append(
                f"skipped {report.rows_dropped:,} row(s) that cannot be scored: {report.reasons()}"
            )
        frame, scored = self._predict_rows(cleaned)
        return Predictions(frame, report.rows_read, "rows", note, notes + scored)

    def predict_chunks(self, source: str, chunk_rows: int = CHUNK_ROWS) -> StreamedPredictions:
        """:meth:`predict_file` a chunk at a time, for a source larger than memory (a CSV or
        Parquet file, a folder or a glob of parts): the same rows, to the bit."""
        return StreamedPredictions(self, source, chunk_rows)

    def _predict_rows(self, cleaned: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """:meth:`predictions`, and lines about them beyond their count."""
        return self.predictions(cleaned), []

    def evaluate(self, source: str, model_file: str) -> tuple[Results, list[str]]:
        """The model (saved as ``model_file``) scored on every usable row of a file with
        its target, and the report lines to say before the table."""
        cleaned, report, note = self.read_rows(source, with_target=True)
        results, lines = self._evaluation(cleaned, model_file, source)
        return results, [*note, str(report), *lines]

    def _evaluation(
        self, cleaned: pd.DataFrame, model_file: str, source: str
    ) -> tuple[Results, list[str]]:
        raise NotImplementedError

    # ------------------------------------------------------------------ serving

    def describe(self) -> dict[str, Any]:
        """What ``GET /model`` says of the model: task, shape, training, what a row needs."""
        return {
            "task": self.task,
            "nnscratch_version": __version__,
            **self.estimator.describe(),
            "target": self.target_name,
            "features": self.features,
            "inputs": self.inputs(),
        }

    def inputs(self) -> list[dict[str, Any]]:
        """What a row needs: one entry per raw column; for a number its training range
        and a typical value (about the training median where the model has the
        piecewise-linear encoding's quantile edges, else the middle of the range)."""
        pre = self.preprocessing
        out: list[dict[str, Any]] = []
        for column in input_columns(pre.features):
            if column in pre.features and column not in DERIVED_FEATURES:
                out.append(self._number_input(column))
            else:
                out.append(
                    {"name": column, "kind": "text", "default": _TEXT_DEFAULTS.get(column, "")}
                )
        for category in pre.categories:
            out.append(
                {
                    "name": category.column,
                    "kind": "category",
                    "levels": [str(level) for level in category.levels_],
                    "default": str(category.levels_[0]) if len(category.levels_) else "",
                }
            )
        return out

    def _number_input(self, column: str) -> dict[str, Any]:
        pre = self.preprocessing
        i = pre.features.index(column)
        low, high = float(pre.x_scaler.data_min_[i]), float(pre.x_scaler.data_max_[i])
        whole = column in _WHOLE
        middle = (low + high) / 2
        if pre.encoder is not None:  # the middle quantile edge: about the median
            edges = pre.encoder.edges_[i]
            middle = low + float(edges[(len(edges) - 1) // 2]) * (high - low)
        return {
            "name": column,
            "kind": "number",
            "min": low,
            "max": high,
            "step": 1 if whole else (high - low) / 100 or 1,
            "default": round(middle) if whole else middle,
        }

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

    def tensor_inputs(self) -> list[dict[str, Any]]:
        """The Open Inference Protocol's inputs: each raw column, numbers as FP64, text and
        categories as BYTES (or all the features as one ``features`` tensor instead)."""
        return [
            {
                "name": item["name"],
                "datatype": "FP64" if item["kind"] == "number" else "BYTES",
                "shape": [-1],
            }
            for item in self.inputs()
        ]

    def tensor_request(self, tensors: dict[str, np.ndarray], max_rows: int) -> Request:
        """Named input tensors: ``features`` ``(n, len(features))`` (with a BYTES tensor per
        categorical column), or one ``(n,)`` tensor per raw column, read as JSON rows."""
        if "features" in tensors:
            X = np.asarray(tensors["features"], dtype=np.float64)
            categorical = {name: t for name, t in tensors.items() if name != "features"}
            return self._request(rows_from_features(self.preprocessing, X, categorical, max_rows))
        shapes = {name: t.shape for name, t in tensors.items()}
        if any(len(shape) != 1 for shape in shapes.values()) or len(set(shapes.values())) > 1:
            raise RequestError(400, f"each column's tensor must be (rows,), all alike: {shapes}")
        lists = {name: t.tolist() for name, t in tensors.items()}
        n = next(iter(shapes.values()))[0]
        rows = [{name: values[i] for name, values in lists.items()} for i in range(n)]
        return self.json_request({"rows": rows}, max_rows)

    def _request(self, rows: TableRows) -> Request:
        return Request(self._encoded(rows.X_scaled), functools.partial(self._answer, rows))

    def _encoded(self, X_scaled: np.ndarray) -> np.ndarray:
        """The network's inputs from scaled rows, in the network's dtype."""
        dtype = self.estimator.network_.dtype
        return self.preprocessing.encode(X_scaled.astype(dtype, copy=False))

    def _answer(self, rows: TableRows, outputs: np.ndarray) -> dict[str, Any]:
        answer: dict[str, Any] = {"rows": rows.positions, **self._answer_values(outputs)}
        if rows.ids is not None:
            answer["ids"] = rows.ids
        if rows.skipped:
            answer["skipped"] = rows.skipped
        return answer

    def _answer_values(self, outputs: np.ndarray) -> dict[str, Any]:
        """The predictions (and what the kind of model adds) from the network outputs."""
        raise NotImplementedError

    # ------------------------------------------------------------------ export

    def to_onnx(self) -> Any:
        """The whole model, scaling and encodings included, as an ONNX ``ModelProto``
        (needs the ``onnx`` extra; see :mod:`nnscratch.models.onnx_export`)."""
        return table_graph(self)

    def onnx_inputs(self) -> list[dict[str, Any]]:
        """What the ONNX graph takes, in order: the ``features`` columns (which derived
        from text, and from what) and each categorical column's level codes."""
        return table_input_spec(self)

    def onnx_feeds(self, cleaned: pd.DataFrame) -> dict[str, np.ndarray]:
        """The ONNX graph's inputs for the rows of a cleaned frame (:meth:`read_rows`):
        ``features`` ``(n, len(features))`` float64 and each categorical column's codes."""
        pre = self.preprocessing
        feeds = {"features": cleaned[pre.features].to_numpy(dtype=np.float64)}
        for category in pre.categories:
            feeds[category.column] = category.codes(cleaned[category.column].to_numpy())
        return feeds
