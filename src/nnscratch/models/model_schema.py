"""What an estimator's model file holds: its arrays by name, its metadata, and the
checks that a file's metadata and arrays agree.

``to_arrays`` writes, for every ensemble member, the arrays its network names
(:meth:`~nnscratch.core.network.Network.array_shapes` for a plain network,
:meth:`~nnscratch.core.batchensemble.BatchEnsembleNetwork.array_shapes` for TabM),
prefixed ``m2.``, ``m3.``, … after the first (:func:`member_prefix`), and the
JSON metadata (architecture, dtype, hyperparameters, feature names, training
curves). :func:`expected_arrays` says from the metadata alone which arrays, of
which shapes, a valid file holds; :func:`from_arrays` rebuilds the estimator.
The generic reader and writer are :mod:`nnscratch.models.persistence`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from nnscratch.core.activations import ACTIVATIONS
from nnscratch.core.batchensemble import BatchEnsembleNetwork
from nnscratch.core.network import Network
from nnscratch.core.training import History
from nnscratch.models.members import member_streams
from nnscratch.models.persistence import ArraySpec

#: An :class:`nnscratch.models.base.MLPBase` (named, not imported: base imports this module).
MLPBase = Any

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


def to_arrays(est: MLPBase) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The fitted estimator as named arrays and JSON-ready metadata."""
    check_is_fitted(est, "networks_")
    arrays: dict[str, np.ndarray] = {}
    for member, net in enumerate(est.networks_):
        prefix = member_prefix(member)
        arrays.update({prefix + name: array for name, array in net.state_dict().items()})
    hyperparameters = est.get_params(deep=False)
    hyperparameters["dtype"] = as_float_dtype(est.dtype).name
    output, loss = est._head()
    metadata = {
        "estimator": type(est).__name__,
        "architecture": {
            "layer_sizes": list(est.network_.layer_sizes),
            "hidden_activation": est.activation,
            "output_activation": output,
            "loss": loss,
            "init": est.init,
        },
        "dtype": est.network_.dtype.name,
        "hyperparameters": hyperparameters,
        "n_features_in": int(est.n_features_in_),
        "feature_names": (
            [str(f) for f in est.feature_names_in_] if hasattr(est, "feature_names_in_") else None
        ),
        "n_outputs": int(est.n_outputs_),
        "n_members": len(est.networks_),
        "training": [h.to_dict() for h in est.histories_],
        **est._extra_metadata(),
    }
    return arrays, metadata


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


def from_arrays(cls: Any, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
    """A fitted ``cls`` from :func:`to_arrays`' output (already validated), with the random
    streams a fit from the same ``random_state`` has."""
    hyperparameters = dict(meta["hyperparameters"])
    if isinstance(hyperparameters.get("hidden_layer_sizes"), list):  # JSON has no tuples
        hyperparameters["hidden_layer_sizes"] = tuple(hyperparameters["hidden_layer_sizes"])
    try:
        model = cls(**hyperparameters)
    except TypeError as exc:
        raise ValueError(f"unknown hyperparameter in metadata ({exc})") from exc
    arch = meta["architecture"]
    sizes = [int(n) for n in arch["layer_sizes"]]
    model._split_rng, streams = member_streams(model.random_state, int(meta.get("n_members", 1)))
    model.networks_ = []
    for member, stream in enumerate(streams):
        net = model._network(
            sizes,
            arch["output_activation"],
            arch.get("loss", "mse"),
            0,
            stream.dropout,
            dtype=np.dtype(meta["dtype"]),
        )
        prefix = member_prefix(member)
        net.load_state_dict({name: arrays[prefix + name] for name in net.state_dict()})
        model.networks_.append(net)
    model.n_features_in_ = int(meta["n_features_in"])
    if meta.get("feature_names"):
        model.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
    model.n_outputs_ = int(meta["n_outputs"])
    model._restore_extra(meta)
    trainings = meta.get("training") or [{}]
    if isinstance(trainings, dict):
        trainings = [trainings]
    model.histories_ = [History.from_dict(t) for t in trainings]
    model._shuffle_rngs = [stream.shuffle for stream in streams]
    model._optimizers = [model._make_optimizer() for _ in model.networks_]
    model._sync_fitted_attributes()
    return model
