"""Stage 2 — where the parameters live, and how they start.

For layer sizes ``n = [n0, n1, ..., nL]`` the network has, for ``l = 1..L``::

    W[l]  shape (n[l], n[l-1])      b[l]  shape (n[l], 1)

He initialisation (for ReLU layers) draws ``W[l] ~ N(0, 2 / n[l-1])`` and sets
``b[l] = 0``, so the mean square activation stays about the same from layer
to layer instead of shrinking or exploding. Glorot (for tanh / sigmoid) draws
``W[l] ~ N(0, 2 / (n[l-1] + n[l]))``; the naive small initialisation ``"small"``
draws ``0.01 · N(0, 1)``, which the analysis lab shows collapsing the signal.

Each layer's weights and bias sit side by side in one block ``[W[l] | b[l]]``
of shape ``(n[l], n[l-1] + 1)``, and all blocks are views into one flat
array. The network then computes ``W[l]·A[l-1] + b[l]`` as one matrix product
``[W[l] | b[l]]·[A[l-1]; 1]`` (one BLAS call, no separate bias pass), the
backward pass gets ``[dW[l] | db[l]]`` from one product too, and the optimizer
updates every parameter with a handful of NumPy calls on the flat array.
``W[l]`` and ``b[l]`` are views of the block with the shapes above.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np


@dataclass
class Parameters:
    """Weights ``W[l]`` and biases ``b[l]``, stored as blocks ``[W[l] | b[l]]`` in one flat array.

    ``blocks[i]`` is ``[W[i+1] | b[i+1]]``, shape ``(n[i+1], n[i] + 1)``;
    ``weights[i]`` is ``W[i+1]``, ``(n[i+1], n[i])``; ``biases[i]`` is
    ``b[i+1]``, ``(n[i+1], 1)``. All are views: writing to one writes to
    ``flat``. ``weight_mask`` is 1 where ``flat`` holds a weight, 0 for biases
    (the L2 term only touches weights).
    """

    layer_sizes: tuple[int, ...]
    flat: np.ndarray
    blocks: list[np.ndarray]
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    weight_mask: np.ndarray

    @classmethod
    def zeros(cls, layer_sizes: Sequence[int], dtype: np.dtype | type = np.float32) -> Parameters:
        """All-zero parameters for ``layer_sizes`` (also the layout of gradients)."""
        sizes = tuple(int(n) for n in layer_sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"layer sizes must be >= 2 positive integers, got {list(sizes)}")
        shapes = [(n_out, n_in + 1) for n_in, n_out in pairwise(sizes)]
        flat = np.zeros(sum(r * c for r, c in shapes), dtype=dtype)
        mask = np.zeros(flat.size, dtype=dtype)
        blocks, start = [], 0
        for rows, cols in shapes:
            blocks.append(flat[start : start + rows * cols].reshape(rows, cols))
            mask[start : start + rows * cols].reshape(rows, cols)[:, :-1] = 1
            start += rows * cols
        weights = [block[:, :-1] for block in blocks]
        biases = [block[:, -1:] for block in blocks]
        return cls(sizes, flat, blocks, weights, biases, mask)

    def __getstate__(self) -> dict[str, object]:
        # Views do not survive pickling; keep the flat array and rebuild them.
        return {"layer_sizes": self.layer_sizes, "flat": self.flat}

    def __setstate__(self, state: dict[str, object]) -> None:
        fresh = Parameters.zeros(state["layer_sizes"], state["flat"].dtype)  # type: ignore[arg-type]
        fresh.flat[...] = state["flat"]
        self.__dict__.update(fresh.__dict__)

    @property
    def n_weights(self) -> int:
        """Number of weight entries (biases excluded)."""
        return sum(w.size for w in self.weights)

    @property
    def dtype(self) -> np.dtype:
        return self.flat.dtype

    def squared_weight_norm(self) -> float:
        """``Σ_l ‖W[l]‖²_F`` (biases excluded)."""
        return float(np.vdot(self.flat, self.flat * self.weight_mask))

    def zeros_like(self) -> Parameters:
        return Parameters.zeros(self.layer_sizes, self.flat.dtype)

    def copy(self) -> Parameters:
        out = self.zeros_like()
        out.flat[...] = self.flat
        return out

    def named(self) -> dict[str, np.ndarray]:
        """Every array by its name, as :func:`array_shapes` lists them (views into ``flat``)."""
        views = [*self.weights, *self.biases]
        return dict(zip(array_shapes(self.layer_sizes), views, strict=True))

    def load_(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> Parameters:
        """Copy given arrays into these parameters in place (shapes must match)."""
        for mine, theirs in zip(self.weights + self.biases, [*weights, *biases], strict=True):
            theirs = np.asarray(theirs)
            if mine.shape != theirs.shape:
                raise ValueError(f"shape mismatch: expected {mine.shape}, got {theirs.shape}")
            mine[...] = theirs
        return self


def array_shapes(layer_sizes: Sequence[int]) -> dict[str, tuple[int, int]]:
    """A plain network's arrays by name, in the order model files list them:
    ``W1..WL`` ``(n[l], n[l-1])``, then ``b1..bL`` ``(n[l], 1)``."""
    pairs = list(pairwise(int(n) for n in layer_sizes))
    shapes = {f"W{l}": (n_out, n_in) for l, (n_in, n_out) in enumerate(pairs, start=1)}
    shapes.update({f"b{l}": (n_out, 1) for l, (_, n_out) in enumerate(pairs, start=1)})
    return shapes


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
    (``N(0, 2/(n[l-1]+n[l]))``) or ``"small"`` (``0.01·N(0, 1)``, the naive
    small initialisation, to see why not). Draws are made in float64 from ``rng`` (a Generator or a
    seed) layer by layer and then cast, so the same seed gives the same
    values in every dtype, to that dtype's precision.

    >>> p = initialize([13, 64, 32, 16, 1], rng=0)
    >>> [w.shape for w in p.weights]
    [(64, 13), (32, 64), (16, 32), (1, 16)]
    >>> [b.shape for b in p.biases]
    [(64, 1), (32, 1), (16, 1), (1, 1)]
    """
    params = Parameters.zeros(layer_sizes, dtype)
    for W, drawn in zip(params.weights, draw_weights(params.layer_sizes, method, rng), strict=True):
        W[...] = drawn
    return params


def draw_weights(
    layer_sizes: Sequence[int], method: str = "he", rng: np.random.Generator | int | None = 0
) -> list[np.ndarray]:
    """``W[l]`` ``(n[l], n[l-1])`` for ``l = 1..L``, drawn in float64 by ``method`` from
    ``rng`` layer by layer (what :func:`initialize` and the TabM network start from)."""
    try:
        draw = INITIALIZERS[method]
    except KeyError:
        raise ValueError(f"unknown init {method!r}; choose from {sorted(INITIALIZERS)}") from None
    rng = np.random.default_rng(rng)
    return [draw(n_in, n_out, rng) for n_in, n_out in pairwise(layer_sizes)]


def load_named(views: dict[str, np.ndarray], arrays: dict[str, np.ndarray]) -> None:
    """Copy each of ``arrays`` into the view of the same name; ``ValueError`` naming a
    missing array or a shape that differs (a network's ``load_state_dict``)."""
    for name, view in views.items():
        if name not in arrays:
            raise ValueError(f"no array {name!r} to load")
        array = np.asarray(arrays[name])
        if array.shape != view.shape:
            raise ValueError(f"array {name!r}: shape {array.shape}, expected {view.shape}")
        view[...] = array
