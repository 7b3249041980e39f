"""nnscratch — a multi-layer perceptron from scratch in NumPy, for Spotify track popularity.

The estimators and the data stage are exported here, as every peer library
does (``from nnscratch import MLPRegressor``)::

    MLPRegressor      the scikit-learn-compatible estimator     (nnscratch.models.regressor)
    MLPClassifier     its classifier sibling, softmax output     (nnscratch.models.classifier)
    PopularityModel   preprocessing + network(s): rows → points  (nnscratch.models)
    load_tracks       read a Spotify CSV of any recognised schema (nnscratch.data.tracks)
    prepare           clean, split, scale on the training split   (nnscratch.data.preprocessing)

The package is in layers, one folder each (``docs/layout.md``), imports only
pointing down::

    app/        5  the command line and one folder per feature (serve, playground, ...)
    tasks/      4  the only code that knows there are several kinds of work
    models/     3  estimators, fitted models, model files, recipes, metrics
    data/       2  files → numbers, and what is fitted on the training split
    core/       1  stages 2–6: the math, NumPy only
    errors      0  the exception types, each naming the file, column or value at fault
    files       0  atomic writes: nothing is ever half-written
    registry    0  named tables of one kind of thing (activations, tasks, ...)

They are imported on first use (PEP 562), so ``import nnscratch.core.network``
loads the from-scratch core alone: NumPy, no pandas or scikit-learn.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("nnscratch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

_EXPORTS = {
    "MLPRegressor": "nnscratch.models.regressor",
    "MLPClassifier": "nnscratch.models.classifier",
    "PopularityModel": "nnscratch.models.popularity_model",
    "load_tracks": "nnscratch.data.tracks",
    "prepare": "nnscratch.data.preprocessing",
}

if TYPE_CHECKING:
    from nnscratch.data.preprocessing import prepare
    from nnscratch.data.tracks import load_tracks
    from nnscratch.models.classifier import MLPClassifier
    from nnscratch.models.popularity_model import PopularityModel
    from nnscratch.models.regressor import MLPRegressor


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'nnscratch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "MLPClassifier",
    "MLPRegressor",
    "PopularityModel",
    "__version__",
    "load_tracks",
    "prepare",
]
