"""Stage 2 — where the parameters live, and how they start.

For layer sizes ``n = [n0, n1, ..., nL]`` the network has, for ``l = 1..L``::

    W[l]  shape (n[l], n[l-1])      b[l]  shape (n[l], 1)

He initialisation (for ReLU layers) draws ``W[l] ~ N(0, 2 / n[l-1])`` and sets
``b[l] = 0``, so the mean square activation stays about the same from layer
to layer instead of shrinking or exploding. Glorot (for tanh / sigmoid) draws
``W[l] ~ N(0, 2 / (n[l-1] + n[l]))``; the seed's ``"small"`` init draws
``0.01 · N(0, 1)``, which the analysis lab shows collapsing the signal.

All weights and biases are views into one flat array (weights first, then
biases). The optimizer can then update every parameter with a handful of
NumPy calls instead of a handful per layer, and the L2 term touches exactly
the weight prefix ``flat[:n_weights]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np


@dataclass
class Parameters:
    """Weights ``W[l]`` and biases ``b[l]`` as views into one flat array.

    ``weights[i]`` is ``W[i+1]`` of shape ``(n[i+1], n[i])``; ``biases[i]`` is
    ``b[i+1]`` of shape ``(n[i+1], 1)``. Writing to a view writes to ``flat``
    and back.
    """

    layer_sizes: tuple[int, ...]
    flat: np.ndarray
    weights: list[np.ndarray]
    biases: list[np.ndarray]

    @classmethod
    def zeros(cls, layer_sizes: Sequence[int], dtype: np.dtype | type = np.float32) -> Parameters:
        """All-zero parameters for ``layer_sizes`` (also the layout of gradients)."""
        sizes = tuple(int(n) for n in layer_sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"layer sizes must be >= 2 positive integers, got {list(sizes)}")
        w_shapes = [(n_out, n_in) for n_in, n_out in pairwise(sizes)]
        b_shapes = [(n_out, 1) for n_out in sizes[1:]]
        flat = np.zeros(sum(r * c for r, c in w_shapes + b_shapes), dtype=dtype)
        views, start = [], 0
        for rows, cols in w_shapes + b_shapes:
            views.append(flat[start : start + rows * cols].reshape(rows, cols))
            start += rows * cols
        n_layers = len(w_shapes)
        return cls(sizes, flat, views[:n_layers], views[n_layers:])

    def __getstate__(self) -> dict[str, object]:
        # Views do not survive pickling; keep the flat array and rebuild them.
        return {"layer_sizes": self.layer_sizes, "flat": self.flat}

    def __setstate__(self, state: dict[str, object]) -> None:
        fresh = Parameters.zeros(state["layer_sizes"], state["flat"].dtype)  # type: ignore[arg-type]
        fresh.flat[...] = state["flat"]
        self.__dict__.update(fresh.__dict__)

    @property
    def n_weights(self) -> int:
        """Number of weight entries: ``flat[:n_weights]`` are all the weights."""
        return sum(w.size for w in self.weights)

    @property
    def weight_part(self) -> np.ndarray:
        """All weights as one flat view (the part L2 regularises)."""
        return self.flat[: self.n_weights]

    @property
    def dtype(self) -> np.dtype:
        return self.flat.dtype

    def zeros_like(self) -> Parameters:
        return Parameters.zeros(self.layer_sizes, self.flat.dtype)

    def copy(self) -> Parameters:
        out = self.zeros_like()
        out.flat[...] = self.flat
        return out

    def load_(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> Parameters:
        """Copy given arrays into these parameters in place (shapes must match)."""
        for mine, theirs in zip(self.weights + self.biases, [*weights, *biases], strict=True):
            theirs = np.asarray(theirs)
            if mine.shape != theirs.shape:
                raise ValueError(f"shape mismatch: expected {mine.shape}, got {theirs.shape}")
            mine[...] = theirs
        return self


def _he(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)


def _glorot(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / (n_in + n_out))


def _small(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((n_out, n_in)) * 0.01


#: Weight initialisers by name: ``(n_in, n_out, rng) -> W`` of shape ``(n_out, n_in)``.
INITIALIZERS: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "he": _he,
    "glorot": _glorot,
    "small": _small,
}


def initialize(
    layer_sizes: Sequence[int],
    method: str = "he",
    *,
    rng: np.random.Generator | int | None = 0,
    dtype: np.dtype | type = np.float32,
) -> Parameters:
    """Draw initial parameters for ``layer_sizes``; biases start at zero.

    ``method`` is ``"he"`` (default, ``N(0, 2/n[l-1])``), ``"glorot"``
    (``N(0, 2/(n[l-1]+n[l]))``) or ``"small"`` (``0.01·N(0, 1)``, the seed's
    naive choice). Draws are made in float64 from ``rng`` (a Generator or a
    seed) layer by layer and then cast, so the same seed gives the same
    values in every dtype, to that dtype's precision.

    >>> p = initialize([13, 64, 32, 16, 1], rng=0)
    >>> [w.shape for w in p.weights]
    [(64, 13), (32, 64), (16, 32), (1, 16)]
    >>> [b.shape for b in p.biases]
    [(64, 1), (32, 1), (16, 1), (1, 1)]
    """
    try:
        draw = INITIALIZERS[method]
    except KeyError:
        raise ValueError(f"unknown init {method!r}; choose from {sorted(INITIALIZERS)}") from None
    rng = np.random.default_rng(rng)
    params = Parameters.zeros(layer_sizes, dtype)
    sizes = params.layer_sizes
    for W, n_in, n_out in zip(params.weights, sizes[:-1], sizes[1:], strict=True):
        W[...] = draw(n_in, n_out, rng)
    return params
