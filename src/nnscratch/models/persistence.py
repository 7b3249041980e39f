"""Model files: named arrays plus JSON metadata in one ``.npz``, never a pickle.

Layout of a model file (a zip archive NumPy's ``np.load`` also reads)::

    NAME.npy ...          one member per named array
    metadata.npy          a 0-d unicode array holding the JSON metadata

This module knows nothing of networks or estimators: it writes the arrays and
metadata it is given, and reads them back after checking them against what
the caller expects (``expect(metadata) -> {name: ArraySpec}``). The
estimators call it (:meth:`nnscratch.models.regressor.MLPRegressor.save`); it never
calls them.

Reading costs memory in proportion to the model the metadata describes, not
to what a member declares: every member's ``.npy`` header (shape, dtype,
byte count) is checked against the expected spec *before* its data is read,
and the expected total is capped (:data:`MAX_ARRAY_BYTES`). Files are
written atomically (:mod:`nnscratch.files`) with fixed zip timestamps, so the
same model gives the same bytes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from nnscratch import __version__
from nnscratch.errors import ModelFileError
from nnscratch.files import atomic_write

FORMAT = "nnscratch-model"
FORMAT_VERSION = 1
#: The most array data a model file may claim (its metadata's architecture): 1 GiB,
#: about 268 million float32 parameters.
MAX_ARRAY_BYTES = 1 << 30
#: The most JSON metadata a model file may hold.
MAX_METADATA_BYTES = 64 << 20
METADATA = "metadata"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class ArraySpec:
    """What a named array must be: its shape and dtype."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize


def _write_npz(fh: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an ``.npz`` archive with fixed timestamps (same input, same bytes)."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def write_npz(fh: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``fh`` as an ``.npz`` archive (no metadata; for tests and tools)."""
    _write_npz(fh, arrays)


def write_model_file(
    path: str | os.PathLike[str], arrays: dict[str, np.ndarray], metadata: dict[str, Any]
) -> Path:
    """Write ``arrays`` and ``metadata`` (stamped with the format and versions) atomically."""
    if METADATA in arrays:
        raise ValueError(f"{METADATA!r} is reserved for the metadata")
    stamped = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nnscratch_version": __version__,
        **metadata,
    }
    members = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    members[METADATA] = np.array(json.dumps(stamped, sort_keys=True, allow_nan=False))
    return atomic_write(path, lambda fh: _write_npz(fh, members))


# --------------------------------------------------------------------------- reading


def _fail(path: Path, message: str) -> ModelFileError:
    return ModelFileError(f"{path}: {message}")


def _describe(shape: tuple[int, ...], dtype: np.dtype) -> str:
    count = math.prod(shape)
    return f"shape {shape} of {dtype} ({count:,} values, {count * dtype.itemsize:,} bytes)"


def _header(path: Path, archive: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a member's ``.npy`` header declares, reading nothing else."""
    with archive.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:  # pragma: no cover - read_magic already refuses other versions
            raise ValueError(f"unknown .npy version {version}")
    name = member.removesuffix(".npy")
    if dtype.hasobject:
        raise _fail(path, f"entry {name!r} holds a pickled object; refusing to load it")
    if fortran and len(shape) > 1:
        raise _fail(path, f"entry {name!r} is stored in Fortran order; not an nnscratch file")
    return tuple(int(n) for n in shape), dtype


def _read_member(archive: zipfile.ZipFile, member: str) -> np.ndarray:
    with archive.open(member) as fh:
        return np.lib.format.read_array(fh, allow_pickle=False)


def _read_metadata(path: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    member = f"{METADATA}.npy"
    if member not in archive.namelist():
        raise _fail(path, "no metadata entry; not an nnscratch model file")
    shape, dtype = _header(path, archive, member)
    if dtype.kind != "U" or shape != ():
        raise _fail(path, "no metadata entry; not an nnscratch model file")
    if dtype.itemsize > MAX_METADATA_BYTES:
        raise _fail(
            path,
            f"metadata declares {dtype.itemsize:,} bytes, more than the "
            f"{MAX_METADATA_BYTES:,} a model file may hold",
        )
    try:
        meta = json.loads(str(_read_member(archive, member)))
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


def _check_members(
    path: Path,
    archive: zipfile.ZipFile,
    expected: dict[str, ArraySpec],
    max_bytes: int,
) -> None:
    members = [n for n in archive.namelist() if n.endswith(".npy")]
    for member in members:  # a pickled object anywhere is refused as such, first
        _header(path, archive, member)
    present = {n.removesuffix(".npy") for n in members}
    present.discard(METADATA)
    others = [n for n in archive.namelist() if not n.endswith(".npy")]
    missing = [n for n in expected if n not in present]
    extra = sorted(present - set(expected)) + others
    if missing:
        raise _fail(path, f"missing array(s): {', '.join(missing)}")
    if extra:
        raise _fail(path, f"unexpected array(s): {', '.join(extra)}")
    total = sum(spec.nbytes for spec in expected.values())
    if total > max_bytes:
        raise _fail(
            path,
            f"the model it describes holds {total:,} bytes of arrays, more than the "
            f"{max_bytes:,} this reader accepts",
        )
    for name, spec in expected.items():
        shape, dtype = _header(path, archive, f"{name}.npy")  # read again: headers are small
        if shape != spec.shape or dtype != spec.dtype:
            raise _fail(
                path,
                f"array {name} declares {_describe(shape, dtype)}, but the model needs "
                f"{_describe(spec.shape, np.dtype(spec.dtype))}",
            )


@contextlib.contextmanager
def _open(path: Path) -> Iterator[zipfile.ZipFile]:
    """The model file as a zip archive; a missing, damaged or truncated file is refused."""
    if not path.exists():
        raise _fail(path, "model file not found")
    if path.is_dir() or not zipfile.is_zipfile(path):
        raise _fail(
            path, "not an nnscratch model file (not an .npz archive; damaged or truncated?)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            yield archive
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise _fail(path, f"damaged or truncated model file ({exc})") from exc


def peek_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A model file's validated metadata alone, without reading its arrays."""
    path = Path(path)
    with _open(path) as archive:
        return _read_metadata(path, archive)


def read_model_file(
    path: str | os.PathLike[str],
    expect: Callable[[dict[str, Any]], dict[str, ArraySpec]],
    *,
    max_bytes: int = MAX_ARRAY_BYTES,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read and validate a model file; returns ``(arrays, metadata)``.

    ``expect(metadata)`` returns every array the file must hold, with its
    spec, or raises ``ValueError`` naming what is wrong with the metadata.
    Everything else is refused with a :class:`ModelFileError` naming the
    file and the problem: a missing, damaged or truncated file, a newer
    format, a pickled object, an array missing, unexpected, of another shape
    or dtype than the metadata implies (checked from its header before its
    data is read), more than ``max_bytes`` in all, or not finite.
    """
    path = Path(path)
    with _open(path) as archive:
        meta = _read_metadata(path, archive)
        try:
            expected = expect(meta)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise _fail(path, f"metadata is incomplete or malformed ({exc})") from exc
        _check_members(path, archive, expected, max_bytes)
        arrays = {name: _read_member(archive, f"{name}.npy") for name in expected}
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise _fail(path, f"array {name} contains NaN or infinite values")
    return arrays, meta
