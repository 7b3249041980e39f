"""What an estimator's model file holds: its arrays by name, its metadata, the checks that
a file's metadata and arrays agree, and the estimators' ``save`` and ``load``.

:meth:`ModelFileMixin.to_arrays` writes, for every ensemble member, the arrays its
network names (:meth:`~nnscratch.core.network.Network.array_shapes` for a plain network,
:meth:`~nnscratch.core.batchensemble.BatchEnsembleNetwork.array_shapes` for TabM),
prefixed ``m2.``, ``m3.``, … after the first (:func:`member_prefix`), and the JSON
metadata (architecture, dtype, hyperparameters, feature names, training curves).
:func:`expected_arrays` says from the metadata alone which arrays, of which shapes, a
valid file holds; :meth:`ModelFileMixin.from_arrays` rebuilds the estimator, its
members (:class:`~nnscratch.models.members.Member`) made from the arrays with the random
streams a fit from the same ``random_state`` has. The generic reader and writer are
:mod:`nnscratch.models.persistence`, which know nothing of estimators.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from nnscratch.core.activations import ACTIVATIONS
from nnscratch.core.batchensemble import BatchEnsembleNetwork
from nnscratch.core.network import Network
from nnscratch.core.training import History
from nnscratch.errors import ModelFileError
from nnscratch.models.members import (
    Architecture,
    Member,
    MemberStreams,
    OptimizerSettings,
    member_streams,
)
from nnscratch.models.persistence import ArraySpec, read_model_file, write_model_file

#: The dtypes a network trains and is stored in.
DTYPES = ("float32", "float64")


def as_float_dtype(dtype: Any) -> np.dtype:
    """``np.dtype`` for ``"float32"``, ``np.float32`` or ``np.dtype("float32")`` (or float64)."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return resolved


def member_prefix(member: int) -> str:
    """How a model file names ensemble member ``member``'s arrays (0-based): no prefix
    for the first (format-1 files held one network), ``m2.``, ``m3.``, … after it."""
    return f"m{member + 1}." if member else ""


def network_array_shapes(layer_sizes: list[int], k: int) -> dict[str, tuple[int, int]]:
    """One member's arrays by name and shape: a plain network's (``k = 1``) or TabM's."""
    network_class = Network if k == 1 else BatchEnsembleNetwork
    return network_class.array_shapes(layer_sizes, k)


def member_arrays(members: list[Member]) -> dict[str, np.ndarray]:
    """Every member's network arrays, by the names a model file gives them."""
    arrays: dict[str, np.ndarray] = {}
    for k, member in enumerate(members):
        prefix = member_prefix(k)
        arrays.update({prefix + name: a for name, a in member.network.state_dict().items()})
    return arrays


def read_members(
    arrays: dict[str, np.ndarray],
    meta: dict[str, Any],
    architecture: Architecture,
    settings: OptimizerSettings,
    streams: list[MemberStreams],
) -> list[Member]:
    """The members a file holds (its arrays already validated): each network built as
    ``architecture`` says and given its arrays, a fresh optimizer, the shuffle and dropout
    streams of the member it was, and its training history (an empty one where the file
    has none)."""
    trainings = meta.get("training") or [{}]
    if isinstance(trainings, dict):  # format-1 files: one network, one history
        trainings = [trainings]
    members = []
    for k, stream in enumerate(streams):
        network = architecture.network(0, stream.dropout)  # its weights are the file's
        prefix = member_prefix(k)
        network.load_state_dict({name: arrays[prefix + name] for name in network.state_dict()})
        history = History.from_dict(trainings[k]) if k < len(trainings) else History()
        members.append(Member(network, settings.optimizer(), stream.shuffle, history))
    return members


def _checked_architecture(meta: dict[str, Any]) -> tuple[list[int], int, int, np.dtype]:
    """``(layer sizes, k, members, dtype)`` from valid metadata; ``ValueError`` otherwise."""
    arch = meta["architecture"]
    sizes = [int(n) for n in arch["layer_sizes"]]
    missing = [k for k in ("hyperparameters", "n_features_in", "n_outputs") if k not in meta]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"invalid layer sizes {sizes}")
    for label in ("hidden", "output"):
        name = arch[f"{label}_activation"]
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown {label} activation {name!r}")
    if meta["dtype"] not in DTYPES:
        raise ValueError(f"unsupported dtype {meta['dtype']!r}")
    n_members = meta.get("n_members", 1)
    if not isinstance(n_members, int) or n_members < 1:
        raise ValueError(f"invalid number of ensemble members {n_members!r}")
    k = meta["hyperparameters"].get("k", 1)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"invalid k {k!r}")
    return sizes, k, n_members, np.dtype(meta["dtype"])


def expected_arrays(meta: dict[str, Any]) -> dict[str, ArraySpec]:
    """Every array a model file with metadata ``meta`` must hold; ``ValueError`` if the
    metadata itself is not valid."""
    sizes, k, n_members, dtype = _checked_architecture(meta)
    shapes = network_array_shapes(sizes, k)
    return {
        member_prefix(member) + name: ArraySpec(shape, dtype)
        for member in range(n_members)
        for name, shape in shapes.items()
    }


class ModelFileMixin:
    """An estimator's model file: :meth:`save` and :meth:`load`, through the named arrays
    and metadata of :meth:`to_arrays` and :meth:`from_arrays`.

    It reads the estimator's hyperparameters (``get_params``) and fitted attributes
    (``members_``, ``n_features_in_``, …), and asks it, through the hooks below, how its
    members are made (:meth:`_member_design`), to refresh the attributes it derives from
    them (:meth:`_sync_fitted_attributes`), and what its class adds to a file
    (:meth:`_extra_metadata`, :meth:`_restore_extra`).
    """

    # What it reads of the estimator: scikit-learn's get_params, these hyperparameters,
    # and these fitted attributes.
    get_params: Callable[..., dict[str, Any]]
    activation: str
    init: str
    dtype: Any
    random_state: Any
    members_: list[Member]
    n_features_in_: int
    n_outputs_: int

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to ``path`` (``.npz`` + JSON, no pickle, atomic)."""
        return write_model_file(path, *self.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """Read a model written by :meth:`save`, validating everything."""
        arrays, meta = read_model_file(path, cls.expected_arrays)
        kind = meta.get("estimator", "MLPRegressor")  # format-1 files held regressors only
        if kind != cls.__name__:
            raise ModelFileError(f"{path}: holds an {kind}; load it with {kind}.load")
        try:
            return cls.from_arrays(arrays, meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: metadata is incomplete or malformed ({exc})") from exc

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The fitted estimator as named arrays and JSON-ready metadata."""
        check_is_fitted(self, "members_")
        network = self.members_[0].network
        hyperparameters = self.get_params(deep=False)
        hyperparameters["dtype"] = as_float_dtype(self.dtype).name
        names = getattr(self, "feature_names_in_", None)  # set by a fit on a DataFrame
        metadata = {
            "estimator": type(self).__name__,
            "architecture": {
                "layer_sizes": list(network.layer_sizes),
                "hidden_activation": self.activation,
                "output_activation": network.output.name,
                "loss": network.loss_function.name,
                "init": self.init,
            },
            "dtype": network.dtype.name,
            "hyperparameters": hyperparameters,
            "n_features_in": int(self.n_features_in_),
            "feature_names": None if names is None else [str(f) for f in names],
            "n_outputs": int(self.n_outputs_),
            "n_members": len(self.members_),
            "training": [member.history.to_dict() for member in self.members_],
            **self._extra_metadata(),
        }
        return member_arrays(self.members_), metadata

    #: Every array a model file with metadata ``meta`` must hold (``ValueError`` if the
    #: metadata itself is not valid).
    expected_arrays = staticmethod(expected_arrays)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
        """A fitted estimator from :meth:`to_arrays`' output (already validated), with the
        random streams a fit from the same ``random_state`` has."""
        hyperparameters = dict(meta["hyperparameters"])
        if isinstance(hyperparameters.get("hidden_layer_sizes"), list):  # JSON has no tuples
            hyperparameters["hidden_layer_sizes"] = tuple(hyperparameters["hidden_layer_sizes"])
        try:
            model = cls(**hyperparameters)
        except TypeError as exc:
            raise ValueError(f"unknown hyperparameter in metadata ({exc})") from exc
        arch = meta["architecture"]
        architecture, settings = model._member_design(
            [int(n) for n in arch["layer_sizes"]],
            arch["output_activation"],
            arch.get("loss", "mse"),
            np.dtype(meta["dtype"]),
        )
        _, streams = member_streams(model.random_state, int(meta.get("n_members", 1)))
        model.members_ = read_members(arrays, meta, architecture, settings, streams)
        model.n_features_in_ = int(meta["n_features_in"])
        if meta.get("feature_names"):
            model.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
        model.n_outputs_ = int(meta["n_outputs"])
        model._restore_extra(meta)
        model._sync_fitted_attributes()
        return model

    def _member_design(
        self, layer_sizes: list[int], output: str, loss: str, dtype: np.dtype | None = None
    ) -> tuple[Architecture, OptimizerSettings]:
        """How the estimator's members are made: their networks' architecture for these
        layer sizes, output activation, loss and dtype, and their optimizer."""
        raise NotImplementedError

    def _sync_fitted_attributes(self) -> None:
        """Refresh the fitted attributes derived from ``members_``."""
        raise NotImplementedError

    def _extra_metadata(self) -> dict[str, Any]:
        """What the estimator's class adds to a model file's metadata."""
        return {}

    def _restore_extra(self, meta: dict[str, Any]) -> None:
        """Read back what :meth:`_extra_metadata` wrote."""
        return None
