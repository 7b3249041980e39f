"""A model of a table's rows: the fitted feature stage and the estimator, in one file.

:class:`TableModel` is what the popularity model
(:mod:`nnscratch.models.popularity_model`) and the table classifier
(:mod:`nnscratch.models.table_classifier`) share:

1. the fitted feature stage (:class:`~nnscratch.data.preprocessing.Preprocessing`:
   which columns, the scalers and encodings fit on the training split);
2. the fitted estimator (one network or an ensemble);
3. what a saved model does for the command line: read a file's rows, predict them
   as a frame, evaluate on a file, describe itself (the ``FittedModel`` protocol of
   :mod:`nnscratch.models.fitted`).

What it does for the server and for ONNX are parts of their own that it composes:
its ``serving`` (:mod:`nnscratch.models.serving`; each kind of table model says what
its answers hold) and its ``export`` (:class:`~nnscratch.models.onnx_export.TableExport`).

Its file is the estimator's model file with the feature stage added to the
metadata under ``"preprocessing"`` (and the task under ``"task"``), so the
estimator's own ``load`` reads the network part of it too
(:func:`table_model_parts` reads it back).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from nnscratch import __version__
from nnscratch.data.cleaning import CleaningReport, clean
from nnscratch.data.preprocessing import Preprocessing
from nnscratch.data.tables import CHUNK_ROWS
from nnscratch.data.tracks import read_tracks
from nnscratch.errors import ModelFileError
from nnscratch.models.metrics import Results
from nnscratch.models.onnx_export import TableExport
from nnscratch.models.requests import row_inputs
from nnscratch.models.streaming import StreamedPredictions
from nnscratch.models.values import Predictions
from nnscratch.models.wraps_estimator import WrapsEstimator


@dataclass
class TableModel(WrapsEstimator):
    """A fitted feature stage and the estimator trained on its output."""

    preprocessing: Preprocessing
    estimator: Any  # an MLPRegressor or MLPClassifier

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
    def target_name(self) -> str:
        """The target as the user named it: outputs are ``predicted_<target_name>``."""
        return self.preprocessing.label

    @property
    def export(self) -> TableExport:
        """The whole model, scaling and encodings included, as one ONNX graph."""
        return TableExport(self.preprocessing, self.estimator, self.task, self.labels)

    def inputs_in_chunks(self, cleaned: pd.DataFrame) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, X)`` for each :attr:`PREDICT_CHUNK` rows of a cleaned frame, ``X``
        the network's inputs for those rows (the estimator's dtype)."""
        dtype = self.estimator.network_.dtype
        for start in range(0, len(cleaned), self.PREDICT_CHUNK):
            chunk = cleaned.iloc[start : start + self.PREDICT_CHUNK]
            yield start, self.preprocessing.transform(chunk, dtype=dtype)

    def _own_metadata(self) -> dict[str, Any]:
        """The feature stage, under ``"preprocessing"``."""
        return {"preprocessing": self.preprocessing.to_dict()}

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

    def describe(self) -> dict[str, Any]:
        """What ``GET /model`` says of the model: task, shape, training, what a row needs."""
        return {
            "task": self.task,
            "nnscratch_version": __version__,
            **self.estimator.describe(),
            "target": self.target_name,
            "features": self.features,
            "inputs": row_inputs(self.preprocessing),
        }


def table_model_parts(
    arrays: dict[str, np.ndarray], meta: dict[str, Any], estimator_class: Any, where: str, what: str
) -> tuple[Preprocessing, Any]:
    """The feature stage and the ``estimator_class`` of a table model's file (its arrays and
    metadata); :class:`ModelFileError` naming ``where`` (``what`` says which model it should
    be)."""
    state: Any = meta.get("preprocessing")
    if not state:
        raise ModelFileError(
            f"{where}: the model has no data preprocessing, so it is not {what} "
            f"(load it with {estimator_class.__name__}.load)"
        )
    try:
        estimator = estimator_class.from_arrays(arrays, meta)
        pre = Preprocessing.from_dict(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}: metadata is incomplete or malformed ({exc})") from exc
    if pre.n_inputs != estimator.n_features_in_:
        raise ModelFileError(
            f"{where}: preprocessing makes {pre.n_inputs} inputs, the network takes "
            f"{estimator.n_features_in_}"
        )
    return pre, estimator
