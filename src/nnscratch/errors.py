"""The package's exception types.

Every problem a user can cause (a bad file, a missing column, a model file
from somewhere else, a learning rate that explodes) ends in one of these, with
a message that names the file, column or value at fault. Anything else that
escapes is a bug.
"""

from __future__ import annotations


class NNScratchError(Exception):
    """Base class of every error this package raises on purpose."""


class DataError(NNScratchError, ValueError):
    """A data file or frame cannot be used: unreadable, wrong columns, no usable rows."""


class ModelFileError(NNScratchError, ValueError):
    """A saved model file is missing, damaged, or not one this version can read."""


class TrainingDivergedError(NNScratchError, ArithmeticError):
    """The training loss became NaN or infinite."""


class OutputError(NNScratchError, OSError):
    """An output file or folder cannot be written (full or read-only disk, no permission).

    The message names the path; whatever was there before is left as it was.
    """


class ClusterError(NNScratchError, ConnectionError):
    """A Dask scheduler cannot be reached, or the extra that talks to one is not installed."""


class RequestError(NNScratchError, ValueError):
    """A web request that cannot be answered: its HTTP status (4xx) and a message that
    names the row, column or value at fault (``nnscratch serve``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
