"""What a fitted model that wraps a fitted estimator shares: its training history, its
members, the network outputs it gives people (in fixed blocks of rows), and its file.

The fitted models (:mod:`nnscratch.models.table_model`, :mod:`nnscratch.models.digit_model`)
derive from :class:`WrapsEstimator`; what a fitted model is to the application is the
protocols of :mod:`nnscratch.models.fitted`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nnscratch.core.training import History
from nnscratch.models.persistence import read_model_file, write_model_file

#: Rows a fitted model's networks see at a time when it predicts for people (``nnscratch
#: predict``, ``evaluate``, ``serve``): exactly this many, the last block padded with
#: zeros, so a row's answer does not depend on the rows beside it (MLPBase.predict_outputs).
#: A server's batches are small (a few requests of a few rows), and every block costs its
#: full width: the default popularity model took 1.35 ms for 24 rows in blocks of 32
#: against 2.13 ms in blocks of 64 (1.28 against 2.04 ms for one row), for 12 % more on
#: 192 rows (6.76 against 6.02 ms); large files share their blocks over threads and ran
#: at the same rows/s either way (AMD EPYC, OpenBLAS SkylakeX).
PREDICT_BLOCK = 32


class WrapsEstimator:
    """What a fitted model that wraps a fitted estimator says of its training, its network
    outputs for people (in :data:`PREDICT_BLOCK` rows), and how it is saved: the
    estimator's model file with the task and what the model adds (:meth:`_own_metadata`)
    in its metadata, so that the estimator's own ``load`` reads the network part of it."""

    estimator: Any
    #: The task that trains this kind of model (written into its file).
    task: ClassVar[str] = ""
    #: The class of the estimator it wraps (what reads the network part of its file).
    estimator_class: ClassVar[Any]

    def network_outputs(self, X: np.ndarray) -> np.ndarray:
        """The members' mean output ``(n, n_outputs)`` float64 for network inputs ``X``."""
        return self.estimator.predict_outputs(X, PREDICT_BLOCK, check_input=False)

    @property
    def history(self) -> History:
        """The first member's training history."""
        return self.estimator.history_

    @property
    def n_members(self) -> int:
        return len(self.estimator.networks_)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to ``path`` (``.npz`` + JSON, no pickle, atomic)."""
        return write_model_file(path, *self.to_arrays())

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """What its file holds: the estimator's arrays, and its metadata with the task and
        what the model adds (what :meth:`from_arrays` reads back)."""
        arrays, metadata = self.estimator.to_arrays()
        metadata.update(self._own_metadata(), task=self.task)
        return arrays, metadata

    def _own_metadata(self) -> dict[str, Any]:
        """What the model adds to its estimator's metadata (a section of its own)."""
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """Read a model written by :meth:`save` (or by ``nnscratch train``), validating it."""
        arrays, meta = read_model_file(path, cls.estimator_class.expected_arrays)
        return cls.from_arrays(arrays, meta, str(path))

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any], where: str) -> Any:
        """The model from its file's arrays and metadata, checked (``where`` names the file,
        or the part of one, in a :class:`~nnscratch.errors.ModelFileError`)."""
        raise NotImplementedError
