"""What a fitted model that wraps a fitted estimator shares: its training history, its
members, and the network outputs it gives people (in fixed blocks of rows)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnscratch.core.training import History

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
    """What a fitted model that wraps a fitted estimator says of its training, and its
    network outputs for people (in :data:`PREDICT_BLOCK` rows)."""

    estimator: Any

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
