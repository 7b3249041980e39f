"""``nnscratch predict`` on a table larger than memory: a chunk at a time, the same rows.

Scoring a source is two roles, kept apart so that a chunk can be scored anywhere:

    score_chunk(model, tracks)    one chunk's rows cleaned (``clean(whole=False)``) and
                                  predicted, with its cleaning report and running scores
                                  (:class:`ScoredChunk`): what a chunk read here and a
                                  partition on a Dask worker both go through
    StreamedPredictions           the scorer: takes the scored chunks in input order,
                                  yields their predictions, and adds up what is said once
                                  for the whole source (``SourceReport``)

:class:`~nnscratch.data.chunk_cleaning.SourceReport` is the one place where the
chunks' cleaning reports merge (:meth:`CleaningReport.merge`) and where the errors
a whole file gets are raised once the source has been read (a column with no
number in any chunk, no usable row at all). A table that holds the target gets
its scores from running sums. A row's prediction does not depend on its
neighbours (fixed-width prediction blocks), so the rows out are those of the
in-memory path, to the bit, and so are the report, the notes and the errors,
wherever the chunks were scored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.data.chunk_cleaning import ChunkReport, SourceReport, clean_chunk
from nnscratch.data.cleaning import CleaningReport, to_number
from nnscratch.data.tables import CHUNK_ROWS
from nnscratch.data.tracks import TracksFile, read_tracks_chunks
from nnscratch.models.metrics import RegressionSums


@dataclass
class ScoredChunk:
    """One chunk scored: its predictions (``id`` and the predicted columns, as
    ``predict_file`` writes them; None where no row was usable), the running scores of
    the rows that hold the target too, and its :class:`ChunkReport`."""

    predictions: pd.DataFrame | None
    scored: RegressionSums
    report: ChunkReport


def score_chunk(model: Any, tracks: TracksFile) -> ScoredChunk:
    """A chunk of a source cleaned and predicted: the one per-chunk function, whether the
    chunk was read here or is a partition on a Dask worker."""
    pre = model.preprocessing
    cleaned, report = clean_chunk(tracks, pre.features, None, labels=model.labels)
    scored = RegressionSums()
    if not len(cleaned):
        return ScoredChunk(None, scored, report)
    points = getattr(model, "predict_points", None)
    if points is None:  # a table of classes: no running scores
        return ScoredChunk(model.predictions(cleaned), scored, report)
    predicted = points(cleaned)
    if pre.target in cleaned.columns:
        actual = to_number(cleaned[pre.target])
        known = actual.between(*pre.target_bounds).to_numpy()
        scored.add(actual.to_numpy()[known], predicted[known])
    return ScoredChunk(model.predictions(cleaned, points=predicted), scored, report)


def read_columns(model: Any) -> list[str]:
    """The columns a table model reads from a file: its features and categorical columns."""
    pre = model.preprocessing
    return [*pre.features, *pre.categorical_columns]


def scored_chunks(model: Any, source: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[ScoredChunk]:
    """A source read and scored here, ``chunk_rows`` rows at a time, in input order."""
    for tracks in read_tracks_chunks(source, chunk_rows, features=read_columns(model), target=None):
        yield score_chunk(model, tracks)


class StreamedPredictions:
    """The scorer: iterate for each chunk's predictions (``id`` and the predicted
    columns), taken from ``chunks`` (scored chunks in input order; by default read and
    scored here, ``chunk_rows`` at a time); afterwards ``read``, ``report``, ``notes``
    and ``format_note`` describe the whole source as ``predict_file`` would, and its
    errors have been raised."""

    unit = "rows"

    def __init__(
        self,
        model: Any,
        source: str,
        chunk_rows: int = CHUNK_ROWS,
        *,
        chunks: Iterable[ScoredChunk] | None = None,
    ) -> None:
        self.model, self.source = model, source
        self.chunks = scored_chunks(model, source, chunk_rows) if chunks is None else chunks
        self.whole = SourceReport(source, model.preprocessing.features)
        self.scored = RegressionSums()  # over the rows that hold the target too

    @property
    def read(self) -> int:
        return self.whole.read

    @property
    def report(self) -> CleaningReport | None:
        return self.whole.report

    @property
    def format_note(self) -> list[str]:
        return self.whole.format_note

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for chunk in self.chunks:
            self.whole.add(chunk.report)
            self.scored.merge(chunk.scored)
            if chunk.predictions is not None:
                yield chunk.predictions
        self.whole.check()

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
) -> tuple[RegressionSums, RegressionSums, SourceReport]:
    """A regression model's scores on every usable row of a source with its target, a
    chunk at a time: running sums for the model and for the training mean, and the
    source's report (its whole-file errors raised)."""
    pre = model.preprocessing
    whole = SourceReport(source, [*pre.features, pre.target])
    ours, mean = RegressionSums(), RegressionSums()
    constant = pre.target_mean if pre.target_mean is not None else 0.0
    for tracks in read_tracks_chunks(
        source, chunk_rows, features=read_columns(model), target=pre.target
    ):
        cleaned, report = clean_chunk(tracks, pre.features, pre.target, labels=model.labels)
        whole.add(report)
        if not len(cleaned):
            continue
        y_true = cleaned[pre.target].to_numpy(dtype=np.float64)
        ours.add(y_true, model.predict_points(cleaned))
        mean.add(y_true, np.full(len(y_true), constant))
    whole.check()
    return ours, mean, whole
