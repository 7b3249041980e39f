"""Image augmentation for digits: seeded ``(rows, rng)`` transforms of a training batch.

Each transform takes a batch of images as rows ``(m, H·W)`` in [0, 1] and a
``numpy.random.Generator``, and rewrites the rows in place with a fresh random
distortion per image; the training loop applies it to its row buffer before the
one transpose (``train(batch_transform=...)``), never to the training data itself
nor to validation data. Three kinds, after Simard et al. (2003):

    Shift(max_px)                 each image moved by whole pixels, |dx|, |dy| ≤ max_px
    Affine(rotate, scale, shear,  a small rotation (degrees), scaling and shear about the
           translate)             centre and a shift (pixels), bilinear sampling
    Elastic(alpha, sigma)         a random displacement field, smoothed by a Gaussian of
                                  width sigma and scaled by alpha (pixels), bilinear

Pixels that come from outside the image are 0 (background); outputs stay in [0, 1].
Identity parameters (0) give back the batch bit for bit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

#: Images warped per pass. A pass's temporaries are a few ``(CHUNK, H, W)`` arrays; at 64
#: MNIST images (200 kB each) the allocator reuses them, where a batch of 256 at once
#: was mapped afresh from the kernel on every batch (twice the time, spent zeroing pages).
CHUNK = 64


def chunks(m: int) -> list[slice]:
    """``m`` rows as consecutive slices of at most :data:`CHUNK`."""
    return [slice(start, start + CHUNK) for start in range(0, m, CHUNK)]


def shifted(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``images`` ``(m, H, W)`` moved ``dx`` columns right and ``dy`` rows down, as a new
    array; what comes in from outside is 0."""
    _, H, W = images.shape
    out = np.zeros_like(images)
    src = images[:, max(0, -dy) : H - max(0, dy), max(0, -dx) : W - max(0, dx)]
    out[:, max(0, dy) : max(0, dy) + src.shape[1], max(0, dx) : max(0, dx) + src.shape[2]] = src
    return out


def shift_images(
    rows: np.ndarray, dx: np.ndarray, dy: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Move image ``i`` by ``dx[i]`` columns right and ``dy[i]`` rows down (whole pixels),
    in place; what comes in from outside is 0. Images that move alike move together."""
    images = rows.reshape(len(rows), *shape)
    moves = np.stack([np.asarray(dx), np.asarray(dy)], axis=1)
    kinds, which = np.unique(moves, axis=0, return_inverse=True)
    for k, (x, y) in enumerate(kinds.tolist()):
        if x or y:
            chosen = np.flatnonzero(which.ravel() == k)
            images[chosen] = shifted(images[chosen], x, y)
    return rows


def sample_bilinear(
    rows: np.ndarray, src_y: np.ndarray, src_x: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Rewrite each image with its values at source coordinates ``(m, H, W)``, bilinear,
    0 outside the image; in place. Integer coordinates give the values exactly.

    The images are framed by zeros (one row and column before, two after), and the
    coordinates clipped to [-1, H] × [-1, W]: every corner read is then one flat ``take``
    inside the frame, and a point far outside reads the frame's zeros."""
    H, W = shape
    m = len(rows)
    framed = np.zeros((m, H + 3, W + 3), dtype=rows.dtype)
    framed[:, 1 : H + 1, 1 : W + 1] = rows.reshape(m, H, W)
    y = np.clip(src_y, -1, H, dtype=rows.dtype)
    x = np.clip(src_x, -1, W, dtype=rows.dtype)
    y0, x0 = np.floor(y), np.floor(x)
    y -= y0  # the fractions
    x -= x0
    corner = (y0.astype(np.intp) + 1) * (W + 3) + (x0.astype(np.intp) + 1)
    corner += (np.arange(m) * ((H + 3) * (W + 3)))[:, None, None]
    flat = framed.reshape(-1)
    upper, right = flat[corner], flat[corner + 1]
    right -= upper
    right *= x
    upper += right  # the top edge, interpolated across
    lower, right = flat[corner + (W + 3)], flat[corner + (W + 4)]
    right -= lower
    right *= x
    lower += right
    lower -= upper
    lower *= y
    upper += lower
    np.clip(upper, 0, 1, out=upper)
    rows[...] = upper.reshape(m, H * W)
    return rows


@functools.lru_cache(maxsize=16)
def gaussian_matrix(n: int, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """``G`` ``(n, n)``: ``G @ v`` smooths ``v`` with a Gaussian of width ``sigma``,
    zero beyond the ends (SciPy's ``gaussian_filter1d(v, sigma, mode="constant")``).
    Made once per size and width (every batch reuses it), read-only."""
    radius = int(truncate * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    offset = np.arange(n)[None, :] - np.arange(n)[:, None]
    inside = np.abs(offset) <= radius
    matrix = np.where(inside, taps[np.clip(offset + radius, 0, 2 * radius)], 0.0)
    matrix.setflags(write=False)
    return matrix


def smooth_fields(fields: np.ndarray, sigma: float) -> np.ndarray:
    """Each ``(H, W)`` field of ``fields`` ``(k, H, W)`` smoothed by a Gaussian over rows
    and columns: ``G_H · F · G_Wᵀ``, as two matrix products over the whole stack."""
    k, H, W = fields.shape
    g_rows = gaussian_matrix(H, sigma).astype(fields.dtype)
    g_cols = gaussian_matrix(W, sigma).astype(fields.dtype)
    across = (fields.reshape(k * H, W) @ g_cols.T).reshape(k, H, W)
    down = g_rows @ across.transpose(1, 0, 2).reshape(H, k * W)
    return down.reshape(H, k, W).transpose(1, 0, 2)


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
    about the image centre, then a shift of up to ± ``translate`` pixels each way (not
    whole pixels), with bilinear sampling."""

    shape: tuple[int, int]
    rotate: float = 10.0
    scale: float = 0.1
    shear: float = 0.1
    translate: float = 2.0

    def __call__(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        draws = rng.uniform(-1, 1, size=(5, len(rows), 1, 1)).astype(np.float32)
        if not (self.rotate or self.scale or self.shear or self.translate):
            return rows
        grid = np.mgrid[0 : self.shape[0], 0 : self.shape[1]].astype(np.float32)
        for part in chunks(len(rows)):
            self.warp(rows[part], draws[:, part], grid)
        return rows

    def warp(self, rows: np.ndarray, draws: np.ndarray, grid: np.ndarray) -> None:
        """Transform ``rows`` in place by ``draws`` ``(5, m, 1, 1)`` in [-1, 1]: rotation,
        scale, shear, and the shift down and right, as fractions of their limits; ``grid``
        is the pixels' ``(y, x)`` ``(2, H, W)``."""
        angle = np.deg2rad(self.rotate) * draws[0]
        zoom = 1 + self.scale * draws[1]
        shear = self.shear * draws[2]
        H, W = self.shape
        cy, cx = (H - 1) / 2, (W - 1) / 2
        cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
        # the inverse map, output (y, x) → source, about the centre after the shift t:
        #   src_x = cos·(x' + shear·y') + sin·y' + cx,  src_y = −sin·(x' + shear·y') + cos·y' + cy
        # with x' = x − cx − t_x, y' = y − cy − t_y; as a·x + b·y + c per image:
        ax, bx = cos, cos * shear + sin
        ay, by = -sin, cos - sin * shear
        oy, ox = cy + self.translate * draws[3], cx + self.translate * draws[4]
        y, x = grid
        src_x = ax * x + (bx * y + (cx - ax * ox - bx * oy))
        src_y = ay * x + (by * y + (cy - ay * ox - by * oy))
        sample_bilinear(rows, src_y, src_x, self.shape)


@dataclass(frozen=True)
class Elastic:
    """Simard's elastic distortion: a uniform random displacement field smoothed by a
    Gaussian of ``sigma`` pixels and scaled by ``alpha`` pixels."""

    shape: tuple[int, int]
    alpha: float = 34.0
    sigma: float = 4.0

    def __call__(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        H, W = self.shape
        y, x = np.mgrid[0:H, 0:W].astype(np.float32)
        for part in chunks(len(rows)):
            m = len(rows[part])
            field = rng.random((2 * m, H, W), dtype=np.float32)
            if not self.alpha:
                continue
            field = smooth_fields(2 * field - 1, self.sigma).reshape(2, m, H, W)
            sample_bilinear(
                rows[part], y + self.alpha * field[0], x + self.alpha * field[1], self.shape
            )
        return rows


#: What ``--augment`` and ``augment=`` name.
AUGMENTATIONS = {"none": None, "shift": Shift, "affine": Affine, "elastic": Elastic}


def augmentation(name: str, shape: tuple[int, int]) -> Shift | Affine | Elastic | None:
    """The transform ``name`` for images of ``shape`` (None for ``"none"``), its sizes in
    pixels set for MNIST's 28 × 28 (elastic: Simard's α = 34, σ = 4, moving pixels by
    about 1.4) and scaled with the image (8 × 8 digits: shifts of one pixel, affine
    shifts up to 0.57, an elastic field smoothed over σ = 1.14 moving pixels by about 0.4)."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {', '.join(AUGMENTATIONS)}, got {name!r}")
    size = min(shape) / 28
    if name == "shift":
        return Shift(shape, max_px=max(1, round(2 * size)))
    if name == "affine":
        return Affine(shape, translate=2.0 * size)
    if name == "elastic":
        sigma = max(1.0, 4.0 * size)  # a field smoothed over σ moves pixels by about α / (6σ)
        return Elastic(shape, alpha=34.0 / 4.0 * size * sigma, sigma=sigma)
    kind = AUGMENTATIONS[name]
    return None if kind is None else kind(shape)
