"""``nnscratch predict`` on a table larger than memory: a chunk at a time, the same rows.

:class:`StreamedPredictions` reads a tracks source (:func:`read_tracks_chunks`:
a CSV or Parquet file, a folder or a glob of parts), cleans each chunk row by row
(``clean(whole=False)``), and yields each chunk's predictions; memory holds one
chunk. What is said once for the whole file is added up as it goes: the cleaning
reports merge (:meth:`CleaningReport.merge`), and a table that holds the target
gets its scores from running sums. A row's prediction does not depend on its
neighbours (fixed-width prediction blocks), so the rows out are those of the
in-memory path, to the bit; so are the errors a whole file gets (a column with no
number in any chunk, no usable row at all), raised once the file has been read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.data.cleaning import CleaningReport, clean, no_numbers_error, to_number
from nnscratch.data.tables import CHUNK_ROWS
from nnscratch.data.tracks import read_tracks_chunks
from nnscratch.errors import DataError


class StreamedPredictions:
    """Iterate for each chunk's predictions (``id`` and the predicted columns, as
    ``predict_file`` writes them); afterwards ``read``, ``report``, ``notes`` and
    ``format_note`` describe the whole source as ``predict_file`` would."""

    unit = "rows"

    def __init__(self, model: Any, source: str, chunk_rows: int = CHUNK_ROWS) -> None:
        self.model, self.source, self.chunk_rows = model, source, chunk_rows
        self.report: CleaningReport | None = None
        self.format_note: list[str] = []
        self._sums = np.zeros(5)  # n, Σy, Σy², Σ(y-ŷ)², Σ|y-ŷ| over rows with the target
        self._empty_columns: dict[str, DataError] = {}

    @property
    def read(self) -> int:
        return 0 if self.report is None else self.report.rows_read

    def __iter__(self) -> Iterator[pd.DataFrame]:
        pre = self.model.preprocessing
        columns = pre.features + pre.categorical_columns
        for tracks in read_tracks_chunks(self.source, self.chunk_rows, features=columns,
                                         target=None):  # fmt: skip
            self.format_note = tracks.format_note()
            cleaned, report = clean(tracks.frame, pre.features, None, labels=self.model.labels,
                                    whole=False)  # fmt: skip
            self._remember_empty_columns(tracks.frame, report)
            merged = report if self.report is None else self.report.merge(report, pre.features)
            self.report = merged
            if len(cleaned):
                yield self._predict(cleaned)
        self._check_whole_file()

    def _predict(self, cleaned: pd.DataFrame) -> pd.DataFrame:
        points = getattr(self.model, "predict_points", None)
        if points is None:  # a table of classes: no running scores
            return self.model.predictions(cleaned)
        predicted = points(cleaned)
        self._add_scores(cleaned, predicted)
        return self.model.predictions(cleaned, points=predicted)

    def _add_scores(self, cleaned: pd.DataFrame, predicted: np.ndarray) -> None:
        pre = self.model.preprocessing
        if pre.target not in cleaned.columns:
            return
        actual = to_number(cleaned[pre.target])
        known = actual.between(*pre.target_bounds).to_numpy()
        y, error = actual.to_numpy()[known], actual.to_numpy()[known] - predicted[known]
        self._sums += [len(y), y.sum(), y @ y, error @ error, np.abs(error).sum()]

    def _remember_empty_columns(self, frame: pd.DataFrame, report: CleaningReport) -> None:
        """The error a whole file gets for a column without a number, in case no chunk has
        one (the first chunk with a value in that column gives the example)."""
        for column, count in report.missing.items():
            if count == report.rows_read and column not in self._empty_columns:
                self._empty_columns[column] = no_numbers_error(frame, column, self.source)

    def _check_whole_file(self) -> None:
        report = self.report
        if report is None:
            raise DataError(f"{self.source}: has a header but no data rows")
        for column in self.model.preprocessing.features:
            if report.missing.get(column, 0) == report.rows_read and column in self._empty_columns:
                raise self._empty_columns[column]
        if report.rows_kept == 0:
            raise DataError(f"{self.source}: no usable rows left after cleaning "
                            f"{report.rows_read:,} row(s) ({report.reasons()})")  # fmt: skip

    @property
    def notes(self) -> list[str]:
        """What ``predict_file`` says after its table: skipped rows, and the scores where
        the file holds the target."""
        notes = []
        if self.report is not None and self.report.rows_dropped:
            notes.append(f"skipped {self.report.rows_dropped:,} row(s) that cannot be scored: "
                         f"{self.report.reasons()}")  # fmt: skip
        n, sum_y, sum_y2, sse, sae = self._sums
        if n:
            spread = sum_y2 - sum_y * sum_y / n
            r2 = 1 - sse / spread if spread > 0 else float("nan")
            label = self.model.preprocessing.label
            notes.append(f"{label} present for {int(n):,} scored rows: RMSE "
                         f"{math.sqrt(sse / n):.2f}, MAE {sae / n:.2f}, R² {r2:.3f}")  # fmt: skip
        return notes
