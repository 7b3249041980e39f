"""Model files: one ``.npz`` of plain arrays plus JSON metadata, never a pickle.

Layout of a model file (a zip archive NumPy's ``np.load`` reads)::

    W1.npy ... WL.npy     weights, (n[l], n[l-1]), in the model's dtype
    b1.npy ... bL.npy     biases, (n[l], 1)
    m2.W1.npy ...         the same for ensemble members 2, 3, … (if any)
    metadata.npy          a 0-d unicode array holding the JSON below

The metadata records the format and package versions, the architecture,
activations, dtype, hyperparameters, feature names, training curves and,
when the model was trained through the data stage, the fitted scaling that
turns raw CSV columns into inputs and outputs back into popularity points.

Files are written atomically (:mod:`nnscratch.files`) with fixed zip
timestamps, so the same model gives the same bytes. :func:`load_model`
checks everything and refuses anything unexpected with a
:class:`~nnscratch.errors.ModelFileError` that names the problem.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nnscratch.activations import ACTIVATIONS
from nnscratch.errors import ModelFileError
from nnscratch.files import atomic_write

if TYPE_CHECKING:
    from nnscratch.model import MLPRegressor

FORMAT = "nnscratch-model"
FORMAT_VERSION = 1
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_DTYPES = {"float32": np.float32, "float64": np.float64}


def _array_names(n_layers: int, member: int = 0) -> list[str]:
    """``W1..WL, b1..bL`` for the first network; ``m2.W1``… for ensemble member 2 on."""
    prefix = f"m{member + 1}." if member else ""
    names = [f"W{l}" for l in range(1, n_layers + 1)] + [f"b{l}" for l in range(1, n_layers + 1)]
    return [prefix + name for name in names]


def write_npz(fh: io.BufferedIOBase | Any, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an ``.npz`` archive with fixed timestamps (same input, same bytes)."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def model_metadata(model: MLPRegressor) -> dict[str, Any]:
    from nnscratch import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nnscratch_version": __version__,
        "architecture": {
            "layer_sizes": list(model.network_.layer_sizes),
            "hidden_activation": model.activation,
            "output_activation": model.output_activation,
            "init": model.init,
        },
        "dtype": str(model.network_.dtype),
        "hyperparameters": model.get_params(deep=False),
        "n_features_in": int(model.n_features_in_),
        "feature_names": (
            [str(f) for f in model.feature_names_in_]
            if hasattr(model, "feature_names_in_")
            else None
        ),
        "n_outputs": int(model.n_outputs_),
        "y_ndim": int(model._y_ndim),
        "n_members": len(model.networks_),
        "training": [h.to_dict() for h in model.histories_],
        "preprocessing": getattr(model, "preprocessing_", None),
    }


def save_model(model: MLPRegressor, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` atomically; returns the path."""
    arrays: dict[str, np.ndarray] = {}
    for k, net in enumerate(model.networks_):
        names = _array_names(len(net.params.weights), k)
        for name, array in zip(names, net.params.weights + net.params.biases, strict=True):
            arrays[name] = np.ascontiguousarray(array)
    metadata = json.dumps(model_metadata(model), sort_keys=True, allow_nan=False)
    arrays["metadata"] = np.array(metadata)
    return atomic_write(path, lambda fh: write_npz(fh, arrays))


# --------------------------------------------------------------------------- loading


def _fail(path: Path, message: str) -> ModelFileError:
    return ModelFileError(f"{path}: {message}")


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise _fail(path, "model file not found")
    if path.is_dir() or not zipfile.is_zipfile(path):
        raise _fail(
            path, "not an nnscratch model file (not an .npz archive; damaged or truncated?)"
        )
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for name in archive.files:
                try:
                    arrays[name] = archive[name]
                except ValueError as exc:
                    if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
                        raise _fail(
                            path, f"entry {name!r} holds a pickled object; refusing to load it"
                        ) from exc
                    raise _fail(path, f"entry {name!r} is not a valid array ({exc})") from exc
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise _fail(path, f"damaged or truncated model file ({exc})") from exc
    return arrays


def _read_metadata(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    raw = arrays.pop("metadata", None)
    if raw is None or raw.dtype.kind != "U" or raw.ndim != 0:
        raise _fail(path, "no metadata entry; not an nnscratch model file")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise _fail(path, f"metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(path, "not an nnscratch model file (metadata has no nnscratch format tag)")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise _fail(path, f"invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise _fail(
            path,
            f"written by a newer nnscratch (format version {version}, "
            f"nnscratch {meta.get('nnscratch_version', '?')}); this version reads format version "
            f"{FORMAT_VERSION}: upgrade nnscratch",
        )
    if version < 1:
        raise _fail(path, f"unsupported format version {version}")
    return meta


def _check_architecture(path: Path, meta: dict[str, Any]) -> tuple[list[int], np.dtype]:
    try:
        arch = meta["architecture"]
        sizes = [int(n) for n in arch["layer_sizes"]]
        hidden, output = arch["hidden_activation"], arch["output_activation"]
        dtype_name = meta["dtype"]
        for key in ("hyperparameters", "n_features_in", "n_outputs"):
            meta[key]  # presence check
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, f"metadata is incomplete or malformed (missing {exc})") from exc
    if len(sizes) < 2 or min(sizes) < 1:
        raise _fail(path, f"invalid layer sizes {sizes}")
    for label, name in (("hidden", hidden), ("output", output)):
        if name not in ACTIVATIONS:
            raise _fail(path, f"unknown {label} activation {name!r}")
    if dtype_name not in _DTYPES:
        raise _fail(path, f"unsupported dtype {dtype_name!r}")
    return sizes, np.dtype(_DTYPES[dtype_name])


def _expected_shapes(sizes: list[int], n_members: int) -> dict[str, tuple[int, int]]:
    """Every array name a model file must hold, with its shape."""
    L = len(sizes) - 1
    shapes = {}
    for k in range(n_members):
        names = _array_names(L, k)
        for l in range(1, L + 1):
            shapes[names[l - 1]] = (sizes[l], sizes[l - 1])  # W[l]
            shapes[names[L + l - 1]] = (sizes[l], 1)  # b[l]
    return shapes


def _check_arrays(
    path: Path, arrays: dict[str, np.ndarray], sizes: list[int], dtype: np.dtype, n_members: int
) -> None:
    expected = _expected_shapes(sizes, n_members)
    missing = [n for n in expected if n not in arrays]
    extra = sorted(set(arrays) - set(expected))
    if missing:
        raise _fail(path, f"missing array(s): {', '.join(missing)}")
    if extra:
        raise _fail(path, f"unexpected array(s): {', '.join(extra)}")
    for name, shape in expected.items():
        array = arrays[name]
        if array.shape != shape:
            raise _fail(
                path, f"array {name} has shape {array.shape}, but layer sizes {sizes} need {shape}"
            )
        if array.dtype != dtype:
            raise _fail(path, f"array {name} is {array.dtype}, but the model is {dtype}")
        if not np.isfinite(array).all():
            raise _fail(path, f"array {name} contains NaN or infinite values")


def load_model(path: str | os.PathLike[str]) -> MLPRegressor:
    """Read and validate a model file written by :func:`save_model`."""
    from nnscratch.model import MLPRegressor

    path = Path(path)
    arrays = _read_arrays(path)
    meta = _read_metadata(path, arrays)
    sizes, dtype = _check_architecture(path, meta)
    n_members = meta.get("n_members", 1)
    if not isinstance(n_members, int) or n_members < 1:
        raise _fail(path, f"invalid number of ensemble members {n_members!r}")
    _check_arrays(path, arrays, sizes, dtype, n_members)
    hyperparameters = dict(meta["hyperparameters"])
    if isinstance(hyperparameters.get("hidden_layer_sizes"), list):  # JSON has no tuples
        hyperparameters["hidden_layer_sizes"] = tuple(hyperparameters["hidden_layer_sizes"])
    try:
        model = MLPRegressor(**hyperparameters)
    except TypeError as exc:
        raise _fail(path, f"unknown hyperparameter in metadata ({exc})") from exc
    n_layers = len(sizes) - 1
    members = []
    for k in range(n_members):
        names = _array_names(n_layers, k)
        members.append(
            ([arrays[n] for n in names[:n_layers]], [arrays[n] for n in names[n_layers:]])
        )
    training = meta.get("training")
    if isinstance(training, dict):
        meta["training"] = [training]
    model._restore(meta, sizes, members)
    return model
