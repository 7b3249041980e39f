"""Part 2, stage 1 — handwritten digits: IDX files (MNIST), the bundled 8×8 digits.

The IDX format (big-endian)::

    labels   magic 2049 (0x00000801), count n,          then n bytes, one label each
    images   magic 2051 (0x00000803), count n, rows r, columns c,
             then n·r·c bytes, row-major pixels, 0 = background, 255 = ink

:func:`read_idx` reads either kind, gzipped or not, and checks the magic
number, the dimensions and that the file holds exactly the bytes its header
declares (a truncated or padded file is refused, naming it). Images become
rows of ``r·c`` pixels scaled to [0, 1] (``/ 255``), the user layout
``(n_samples, 784)`` that the network's entrance transposes.

:func:`load_mnist` reads a folder with the four standard files (the
official 60,000 training and 10,000 test images); :func:`load_digit_sample`
gives scikit-learn's bundled 8×8 digits (1,797 images, pixels 0–16 scaled
to [0, 1]), the offline classification sample.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from nnscratch.data.tables import is_table_folder
from nnscratch.errors import DataError

LABELS_MAGIC = 2049
IMAGES_MAGIC = 2051
#: The four standard MNIST files (each may also be gzipped, ending in ``.gz``).
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: Bytes read at most from one IDX file: a little over the 47 MB of MNIST's training images, ×4.
MAX_IDX_BYTES = 200_000_000


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read(MAX_IDX_BYTES + 1)
        else:
            with path.open("rb") as fh:
                data = fh.read(MAX_IDX_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read the file, it may be truncated ({exc})") from exc
    if len(data) > MAX_IDX_BYTES:
        raise DataError(f"{path}: larger than {MAX_IDX_BYTES:,} bytes; not an MNIST file")
    return data


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """An IDX label file as ``(n,)`` uint8, or an image file as ``(n, rows, cols)`` uint8."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 8:
        raise DataError(f"{path}: too short for an IDX header ({len(data)} bytes)")
    magic, count = (int(v) for v in np.frombuffer(data[:8], dtype=">u4"))
    if magic == LABELS_MAGIC:
        shape, offset = (count,), 8
    elif magic == IMAGES_MAGIC:
        if len(data) < 16:
            raise DataError(f"{path}: too short for an IDX image header ({len(data)} bytes)")
        rows, cols = (int(v) for v in np.frombuffer(data[8:16], dtype=">u4"))
        if not (0 < rows <= 1024 and 0 < cols <= 1024):
            raise DataError(f"{path}: implausible image size {rows}×{cols}")
        shape, offset = (count, rows, cols), 16
    else:
        raise DataError(
            f"{path}: magic number {magic} is not an IDX label (2049) or image (2051) file"
        )
    expected = offset + int(np.prod(shape))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(
            f"{path}: {what}: the header declares {count:,} item(s), {expected:,} bytes, "
            f"but the file has {len(data):,}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def flatten_images(images: np.ndarray, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """``(n, rows, cols)`` uint8 → ``(n, rows·cols)`` pixels scaled to [0, 1]."""
    flat = images.reshape(len(images), -1).astype(dtype)
    flat /= 255
    return flat


@dataclass
class DigitImages:
    """Flattened, scaled digit images and their labels, train and test."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int]
    source: str


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: no {stem} (or {stem}.gz); not an MNIST folder")


def _pair(folder: Path, images_key: str, labels_key: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = _find(folder, MNIST_FILES[images_key])
    labels_path = _find(folder, MNIST_FILES[labels_key])
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"{images_path}: holds labels, not images")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: holds images, not labels")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path}: {len(images):,} images but {labels_path.name} has "
            f"{len(labels):,} labels"
        )
    return images, labels


def is_mnist_folder(path: str | os.PathLike[str]) -> bool:
    folder = Path(path)
    return folder.is_dir() and any(
        (folder / f"{stem}{ext}").is_file() for stem in MNIST_FILES.values() for ext in ("", ".gz")
    )


def load_mnist(folder: str | os.PathLike[str], dtype: np.dtype | type = np.float32) -> DigitImages:
    """The four standard MNIST files in ``folder``: 60,000 training and 10,000 test images."""
    folder = Path(folder)
    train_images, train_labels = _pair(folder, "train_images", "train_labels")
    test_images, test_labels = _pair(folder, "test_images", "test_labels")
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(
            f"{folder}: training images are {train_images.shape[1:]}, test images "
            f"{test_images.shape[1:]}"
        )
    return DigitImages(
        flatten_images(train_images, dtype),
        train_labels.astype(np.int64),
        flatten_images(test_images, dtype),
        test_labels.astype(np.int64),
        (int(train_images.shape[1]), int(train_images.shape[2])),
        str(folder),
    )


def load_digit_sample(
    seed: int = 0, test_size: float = 0.2, dtype: np.dtype | type = np.float32
) -> DigitImages:
    """scikit-learn's bundled 8×8 digits, split by a seeded stratified shuffle."""
    digits = load_digits()
    X = (digits.data / 16.0).astype(dtype)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=test_size, random_state=seed, stratify=digits.target
    )
    return DigitImages(
        X_train, y_train, X_test, y_test, (8, 8), "scikit-learn's bundled 8×8 digits"
    )


def load_npz_images(
    path: str | os.PathLike[str], seed: int = 0, dtype: np.dtype | type = np.float32
) -> DigitImages:
    """Images from an ``.npz`` holding ``X`` (``(n, rows, cols)`` or ``(n, pixels)``) and
    ``y``, split 80/20 by a seeded stratified shuffle; pixels above 1 are taken as 0–255."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not {"X", "y"} <= set(archive.files):
                raise DataError(f"{path}: needs arrays X and y, has {sorted(archive.files)}")
            X, y = archive["X"], archive["y"]
    except (OSError, ValueError, zlib.error, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz of images ({exc})") from exc
    if len(X) != len(y) or X.ndim not in (2, 3) or y.ndim != 1:
        raise DataError(f"{path}: X {X.shape} and y {y.shape} do not match as images and labels")
    if X.ndim == 3:
        shape = (int(X.shape[1]), int(X.shape[2]))
    else:
        side = round(np.sqrt(X.shape[1]))
        shape = (side, side) if side * side == X.shape[1] else (1, int(X.shape[1]))
    X = X.reshape(len(X), -1).astype(dtype)
    if X.size and X.max() > 1:
        X /= 255
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=y
    )
    return DigitImages(X_train, y_train, X_test, y_test, shape, str(path))


def load_images(source: str, seed: int = 0) -> DigitImages:
    """``digits`` (the bundled sample), an MNIST folder, or an ``.npz`` of ``X`` and ``y``."""
    if source == "digits":
        return load_digit_sample(seed)
    if source.endswith(".npz"):
        return load_npz_images(source, seed)
    if Path(source).is_dir():
        if not is_mnist_folder(source):
            names = ", ".join(MNIST_FILES.values())
            raise DataError(
                f"{source}: is a directory, not a CSV file, and has none of MNIST's files "
                f"({names}, or .gz)"
            )
        return load_mnist(source)
    raise DataError(f"{source}: not an image source (an MNIST folder, digits, or an .npz)")


def is_image_source(source: str | None) -> bool:
    """Whether ``--data`` names images rather than a table of tracks (a CSV or Parquet
    file, or a folder or glob of their parts)."""
    if source is None:
        return False
    if source == "digits" or source.endswith(".npz"):
        return True
    return Path(source).is_dir() and not is_table_folder(Path(source))


def png_pixels(
    source: str | os.PathLike[str] | bytes, image_shape: tuple[int, int], *, name: str = "image"
) -> tuple[np.ndarray, bool]:
    """One PNG (a path, or its bytes) as ``rows·cols`` pixels in [0, 1], white on black.

    Converted to greyscale, resized to ``image_shape`` by area averaging
    when its size differs, and inverted when its mean is above one half (a
    dark digit on a light background; the second value says so).
    :class:`DataError` naming ``name`` when it is not a readable image.
    """
    from PIL import Image, UnidentifiedImageError  # Pillow comes with matplotlib

    rows, cols = image_shape
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            grey = image.convert("L")
            if grey.size != (cols, rows):
                grey = grey.resize((cols, rows), Image.Resampling.BOX)
            values = np.asarray(grey, dtype=np.float32) / 255
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{name}: not a readable PNG image ({exc})") from exc
    inverted = bool(values.mean() > 0.5)
    if inverted:
        values = 1 - values
    return values.ravel(), inverted


def read_png_folder(
    folder: str | os.PathLike[str], image_shape: tuple[int, int]
) -> tuple[list[str], np.ndarray, list[str]]:
    """Every ``*.png`` in ``folder`` (sorted by name) as ``(n, rows·cols)`` pixels in [0, 1].

    Each image is converted to greyscale and, if its size differs from
    ``image_shape``, resized to it by area averaging (as MNIST's digits were
    anti-aliased down to 28×28). MNIST's digits are white on black; an image
    whose mean is above one half (a dark digit on a light background) is
    inverted, and said so in the third list. A file that is not a readable
    image is refused, naming it.
    """
    folder = Path(folder)
    paths = sorted(folder.glob("*.png"))
    if not paths:
        raise DataError(f"{folder}: no .png images in this folder")
    rows, cols = image_shape
    pixels = np.empty((len(paths), rows * cols), dtype=np.float32)
    notes: list[str] = []
    for k, path in enumerate(paths):
        pixels[k], inverted = png_pixels(path, image_shape, name=str(path))
        if inverted:
            notes.append(f"{path.name}: inverted (dark digit on a light background)")
    return [p.name for p in paths], pixels, notes
