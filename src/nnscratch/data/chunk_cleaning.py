"""Stage 1 for a source read a chunk at a time: each chunk cleaned as a whole file is, and
what is said once for the whole source, from the chunks' reports.

    clean_chunk(tracks, ...)   one chunk's usable rows and its :class:`ChunkReport` (its
                               cleaning report, the columns it has no number in, how its
                               part is written), wherever the chunk was read
    SourceReport               the chunks' reports taken in input order: merged into the
                               report of one pass (:meth:`CleaningReport.merge`), and the
                               errors a whole file gets, raised in one place once the
                               source is read (:meth:`SourceReport.check`)

Cleaning is row by row, so the rows kept, the counts and the errors are those of
cleaning the whole file at once, however the source was cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from nnscratch.data.cleaning import CleaningReport, NoNumbers, clean, no_numbers
from nnscratch.data.tracks import TracksFile
from nnscratch.errors import DataError


@dataclass
class ChunkReport:
    """What one chunk tells of the whole source: its cleaning report, the columns with no
    number in any of its rows (:class:`NoNumbers`: the example an error would give), and
    how its part is written (``format_note``)."""

    report: CleaningReport
    no_numbers: dict[str, NoNumbers] = field(default_factory=dict)
    format_note: list[str] = field(default_factory=list)


def clean_chunk(
    tracks: TracksFile, features: Sequence[str], target: str | None, *, labels: bool = False
) -> tuple[pd.DataFrame, ChunkReport]:
    """A chunk's usable rows, cleaned as a whole file is (:func:`clean`: ``features``, and
    ``target`` where it names one, a class label with ``labels``), and its
    :class:`ChunkReport`."""
    cleaned, report = clean(tracks.frame, features, target, labels=labels, whole=False)
    empty = {
        column: no_numbers(tracks.frame, column)
        for column, count in report.missing.items()
        if count == report.rows_read
    }
    return cleaned, ChunkReport(report, empty, tracks.format_note())


class SourceReport:
    """What is said once for a whole source, from its chunks' reports taken in input
    order: the merged cleaning report, the format note, and (:meth:`check`, once the
    source is read) the errors a whole file gets."""

    def __init__(self, source: str, columns: Sequence[str]) -> None:
        self.source, self.columns = source, list(columns)
        self.report: CleaningReport | None = None
        self.format_note: list[str] = []
        self._no_numbers: dict[str, NoNumbers] = {}

    @property
    def read(self) -> int:
        return 0 if self.report is None else self.report.rows_read

    def add(self, chunk: ChunkReport) -> None:
        """The next chunk's report. A column's example comes from the first chunk with a
        value in it (as reading the file whole finds it)."""
        report = chunk.report
        self.report = report if self.report is None else self.report.merge(report, self.columns)
        self.format_note = chunk.format_note
        for column, found in chunk.no_numbers.items():
            kept = self._no_numbers.get(column)
            if kept is None or (kept.example is None and found.example is not None):
                self._no_numbers[column] = found

    def check(self) -> CleaningReport:
        """The merged report, or the error the whole file gets: no data row; a column (in
        ``columns``' order) with no number in any row; no usable row left."""
        report = self.report
        if report is None or report.rows_read == 0:
            raise DataError(f"{self.source}: has a header but no data rows")
        for column in self.columns:
            if report.missing.get(column, 0) == report.rows_read and column in self._no_numbers:
                raise self._no_numbers[column].error(self.source)
        if report.rows_kept == 0:
            raise DataError(
                f"{self.source}: no usable rows left after cleaning "
                f"{report.rows_read:,} row(s) ({report.reasons()})"
            )
        return report
