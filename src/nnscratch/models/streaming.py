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

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.data.cleaning import CleaningReport, clean, no_numbers_error, to_number
from nnscratch.data.tables import CHUNK_ROWS
from nnscratch.data.tracks import read_tracks_chunks
from nnscratch.errors import DataError
from nnscratch.models.metrics import RegressionSums


class CleanedChunks:
    """A tracks source's usable rows a chunk at a time, cleaned as a whole file is (the
    target too, where ``target`` names it); afterwards ``report`` (merged) and
    ``format_note`` describe the whole source, and the errors a whole file gets have been
    raised."""

    def __init__(self, model: Any, source: str, chunk_rows: int, target: str | None) -> None:
        self.model, self.source, self.chunk_rows, self.target = model, source, chunk_rows, target
        self.report: CleaningReport | None = None
        self.format_note: list[str] = []
        self._empty_columns: dict[str, DataError] = {}

    @property
    def read(self) -> int:
        return 0 if self.report is None else self.report.rows_read

    def __iter__(self) -> Iterator[pd.DataFrame]:
        pre = self.model.preprocessing
        columns = pre.features + pre.categorical_columns
        for tracks in read_tracks_chunks(
            self.source, self.chunk_rows, features=columns, target=self.target
        ):
            self.format_note = tracks.format_note()
            cleaned, report = clean(
                tracks.frame, pre.features, self.target, labels=self.model.labels, whole=False
            )
            self._remember_empty_columns(tracks.frame, report)
            order = [*pre.features, *([self.target] if self.target else [])]
            self.report = report if self.report is None else self.report.merge(report, order)
            if len(cleaned):
                yield cleaned
        self._check_whole_file()

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
        order = [*self.model.preprocessing.features, *([self.target] if self.target else [])]
        for column in order:
            if report.missing.get(column, 0) == report.rows_read and column in self._empty_columns:
                raise self._empty_columns[column]
        if report.rows_kept == 0:
            raise DataError(
                f"{self.source}: no usable rows left after cleaning "
                f"{report.rows_read:,} row(s) ({report.reasons()})"
            )


class StreamedPredictions:
    """Iterate for each chunk's predictions (``id`` and the predicted columns, as
    ``predict_file`` writes them); afterwards ``read``, ``report``, ``notes`` and
    ``format_note`` describe the whole source as ``predict_file`` would."""

    unit = "rows"

    def __init__(self, model: Any, source: str, chunk_rows: int = CHUNK_ROWS) -> None:
        self.model, self.chunks = model, CleanedChunks(model, source, chunk_rows, None)
        self.scored = RegressionSums()  # over the rows that hold the target too

    @property
    def read(self) -> int:
        return self.chunks.read

    @property
    def report(self) -> CleaningReport | None:
        return self.chunks.report

    @property
    def format_note(self) -> list[str]:
        return self.chunks.format_note

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for cleaned in self.chunks:
            yield self._predict(cleaned)

    def _predict(self, cleaned: pd.DataFrame) -> pd.DataFrame:
        points = getattr(self.model, "predict_points", None)
        if points is None:  # a table of classes: no running scores
            return self.model.predictions(cleaned)
        predicted = points(cleaned)
        pre = self.model.preprocessing
        if pre.target in cleaned.columns:
            actual = to_number(cleaned[pre.target])
            known = actual.between(*pre.target_bounds).to_numpy()
            self.scored.add(actual.to_numpy()[known], predicted[known])
        return self.model.predictions(cleaned, points=predicted)

    @property
    def notes(self) -> list[str]:
        """What ``predict_file`` says after its table: skipped rows, and the scores where
        the file holds the target."""
        notes, report = [], self.report
        if report is not None and report.rows_dropped:
            notes.append(
                f"skipped {report.rows_dropped:,} row(s) that cannot be scored: {report.reasons()}"
            )
        if self.scored.n:
            s = self.scored.scores()
            notes.append(
                f"{self.model.preprocessing.label} present for {s['n']:,} scored rows: "
                f"RMSE {s['rmse']:.2f}, MAE {s['mae']:.2f}, R² {s['r2']:.3f}"
            )
        return notes


def evaluate_chunks(
    model: Any, source: str, chunk_rows: int = CHUNK_ROWS
) -> tuple[RegressionSums, RegressionSums, CleanedChunks]:
    """A regression model's scores on every usable row of a source with its target, a
    chunk at a time: running sums for the model and for the training mean."""
    pre = model.preprocessing
    chunks = CleanedChunks(model, source, chunk_rows, pre.target)
    ours, mean = RegressionSums(), RegressionSums()
    constant = pre.target_mean if pre.target_mean is not None else 0.0
    for cleaned in chunks:
        y_true = cleaned[pre.target].to_numpy(dtype=np.float64)
        ours.add(y_true, model.predict_points(cleaned))
        mean.add(y_true, np.full(len(y_true), constant))
    return ours, mean, chunks
