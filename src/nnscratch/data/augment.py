"""Image augmentation for digits: seeded ``(rows, rng)`` transforms of a training batch.

Each transform takes a batch of images as rows ``(m, H·W)`` in [0, 1] and a
``numpy.random.Generator``, and rewrites the rows in place with a fresh random
distortion per image; the training loop applies it to its row buffer before the
one transpose (``train(batch_transform=...)``), never to the training data itself
nor to validation data. Three kinds, after Simard et al. (2003):

    Shift(max_px)                 each image moved by whole pixels, |dx|, |dy| ≤ max_px
    Affine(rotate, scale, shear)  a small rotation (degrees), scaling and shear about the
                                  centre, bilinear sampling
    Elastic(alpha, sigma)         a random displacement field, smoothed by a Gaussian of
                                  width sigma and scaled by alpha (pixels), bilinear

Pixels that come from outside the image are 0 (background); outputs stay in [0, 1].
Identity parameters (0) give back the batch bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d


def shift_images(rows: np.ndarray, dx: np.ndarray, dy: np.ndarray, shape: tuple[int, int]
                 ) -> np.ndarray:  # fmt: skip
    """Move image ``i`` by ``dx[i]`` columns right and ``dy[i]`` rows down (whole pixels),
    in place; what comes in from outside is 0."""
    H, W = shape
    images = rows.reshape(len(rows), H, W)
    for i, (x, y) in enumerate(zip(dx.tolist(), dy.tolist(), strict=True)):
        if x == 0 and y == 0:
            continue
        moved = np.zeros((H, W), dtype=rows.dtype)
        src = images[i, max(0, -y) : H - max(0, y), max(0, -x) : W - max(0, x)]
        moved[max(0, y) : max(0, y) + src.shape[0], max(0, x) : max(0, x) + src.shape[1]] = src
        images[i] = moved
    return rows


def sample_bilinear(rows: np.ndarray, src_y: np.ndarray, src_x: np.ndarray,
                    shape: tuple[int, int]) -> np.ndarray:  # fmt: skip
    """Rewrite each image with its values at source coordinates ``(m, H, W)``, bilinear,
    0 outside the image; in place. Integer coordinates give the values exactly."""
    H, W = shape
    images = rows.reshape(len(rows), H, W)
    y0, x0 = np.floor(src_y).astype(np.int64), np.floor(src_x).astype(np.int64)
    fy, fx = (src_y - y0).astype(rows.dtype), (src_x - x0).astype(rows.dtype)
    index = np.arange(len(rows))[:, None, None]
    out = np.zeros_like(images)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            y, x = y0 + dy, x0 + dx
            inside = (y >= 0) & (y < H) & (x >= 0) & (x < W)
            values = images[index, np.clip(y, 0, H - 1), np.clip(x, 0, W - 1)]
            weight = wy * wx * inside
            out += np.where(weight != 0, values * weight, 0)
    np.clip(out, 0, 1, out=out)
    images[...] = out
    return rows


@dataclass(frozen=True)
class Shift:
    """Random whole-pixel shifts, ``|dx|, |dy| ≤ max_px``."""

    shape: tuple[int, int]
    max_px: int = 2

    def __call__(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        dx, dy = rng.integers(-self.max_px, self.max_px + 1, size=(2, len(rows)))
        return shift_images(rows, dx, dy, self.shape)


@dataclass(frozen=True)
class Affine:
    """Random rotation (± ``rotate`` degrees), scaling (1 ± ``scale``) and shear (± ``shear``)
    about the image centre, with bilinear sampling."""

    shape: tuple[int, int]
    rotate: float = 10.0
    scale: float = 0.1
    shear: float = 0.1

    def __call__(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        m = len(rows)
        angle = np.deg2rad(rng.uniform(-self.rotate, self.rotate, m))
        zoom = 1 + rng.uniform(-self.scale, self.scale, m)
        shear = rng.uniform(-self.shear, self.shear, m)
        if not (self.rotate or self.scale or self.shear):
            return rows
        H, W = self.shape
        cy, cx = (H - 1) / 2, (W - 1) / 2
        y, x = np.mgrid[0:H, 0:W].astype(np.float64)
        y, x = y[None] - cy, x[None] - cx
        cos, sin = (np.cos(angle) / zoom)[:, None, None], (np.sin(angle) / zoom)[:, None, None]
        sh = shear[:, None, None]
        src_x = cos * (x + sh * y) + sin * y + cx  # the inverse map: output → source
        src_y = -sin * (x + sh * y) + cos * y + cy
        return sample_bilinear(rows, src_y, src_x, self.shape)


@dataclass(frozen=True)
class Elastic:
    """Simard's elastic distortion: a uniform random displacement field smoothed by a
    Gaussian of ``sigma`` pixels and scaled by ``alpha`` pixels."""

    shape: tuple[int, int]
    alpha: float = 8.0
    sigma: float = 3.0

    def __call__(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        H, W = self.shape
        field = rng.uniform(-1, 1, size=(2, len(rows), H, W))
        if not self.alpha:
            return rows
        for axis in (2, 3):  # separable Gaussian smoothing over rows, then columns
            field = gaussian_filter1d(field, self.sigma, axis=axis, mode="constant")
        y, x = np.mgrid[0:H, 0:W].astype(np.float64)
        return sample_bilinear(rows, y + self.alpha * field[0], x + self.alpha * field[1],
                               self.shape)  # fmt: skip


#: What ``--augment`` and ``augment=`` name.
AUGMENTATIONS = {"none": None, "shift": Shift, "affine": Affine, "elastic": Elastic}


def augmentation(name: str, shape: tuple[int, int]) -> Shift | Affine | Elastic | None:
    """The transform ``name`` for images of ``shape`` (None for ``"none"``), its sizes in
    pixels set for MNIST's 28 × 28 and scaled with the image (8 × 8 digits: shifts of
    one pixel, a field of 2.3 pixels smoothed over 1)."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {', '.join(AUGMENTATIONS)}, got {name!r}")
    size = min(shape) / 28
    if name == "shift":
        return Shift(shape, max_px=max(1, round(2 * size)))
    if name == "elastic":
        return Elastic(shape, alpha=8.0 * size, sigma=max(1.0, 3.0 * size))
    kind = AUGMENTATIONS[name]
    return None if kind is None else kind(shape)
