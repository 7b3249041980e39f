"""Stages 4 and 5 — the forward pass and backpropagation.

Layout (see ``docs/``): activations are ``(features, samples)``. For a batch
of ``m`` samples and layers ``l = 1..L``::

    A[0] = X                                   (n[0], m)
    Z[l] = W[l] · A[l-1] + b[l]                (n[l], m)   b broadcasts over columns
         = [W[l] | b[l]] · [A[l-1]; 1]                     one matrix product
    A[l] = g(Z[l])                             g = hidden activation, or the
                                               output activation at l = L
    Ŷ    = A[L]                                (1, m)

Backpropagation of ``J = J_data + λ/(2m) Σ‖W[l]‖²``, with ``J_data`` from the
loss table (:mod:`nnscratch.core.losses`; for MSE ``1/(2m) Σ(ŷ-y)²``)::

    dZ[L]   = ∂J_data/∂A[L] ⊙ g_out'(Z[L])         MSE: (A[L] - Y) / m ⊙ g_out'(Z[L])
    dW[l]   = dZ[l] · A[l-1]ᵀ + (λ/m) W[l]     (n[l], n[l-1])
    db[l]   = Σ_columns dZ[l]                  (n[l], 1)
    i.e. [dW[l] | db[l]] = dZ[l] · [A[l-1]; 1]ᵀ (+ the L2 term)   one matrix product
    dZ[l-1] = (W[l]ᵀ · dZ[l]) ⊙ g'(Z[l-1])     (n[l-1], m)

Inverted dropout (training only) multiplies a hidden layer's ``A[l]`` by a
mask ``M[l] = [U ≥ p] / (1 - p)``, ``U`` uniform from the network's seeded
generator, so the expected activation is unchanged and prediction needs no
rescaling; backward multiplies ``dA[l]`` by the same mask before ``g'``.

Each ``A[l-1]`` is stored with a row of ones beneath it, ``[A[l-1]; 1]``, so
the bias costs nothing extra in either direction (see :mod:`nnscratch.core.init`
for the matching ``[W | b]`` blocks). Every array above lives in a buffer
allocated once per batch size (:class:`ForwardCache`) or in the flat gradient
array (:class:`Parameters`); the hot path allocates nothing.

Users hand data around as ``(n_samples, n_features)``; the network works on
``(n_features, n_samples)``. The transpose happens at the network's entrance,
in :func:`to_network_layout`, and nowhere else.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from nnscratch.core.activations import ACTIVATIONS, Activation
from nnscratch.core.blas import blas_threads_for_products, one_blas_thread
from nnscratch.core.init import Parameters, array_shapes, initialize, load_named
from nnscratch.core.losses import LOSSES, Loss, total_loss
from nnscratch.core.observe import LayerView


@dataclass
class ForwardCache:
    """Buffers for one batch size ``m``; lists are indexed by layer ``l = 0..L``.

    ``A1[l]`` is ``[A[l]; 1]``, shape ``(n[l] + 1, m)`` with a last row of
    ones, for ``l < L``; ``A[l]`` is its first ``n[l]`` rows (a view), and
    ``A[L]`` is the output. Each ``Z[l]`` is computed into ``A[l]``'s buffer
    and the activation applied there in place: no derivative needs ``Z``
    afterwards (see :mod:`nnscratch.core.activations`), so it is not kept.
    ``scratch[l]`` holds what layer ``l``'s activation hands from forward to
    backward. Index 0 of ``dZ`` and ``scratch`` is unused.

    A cache with ``training=False`` serves prediction only: it has no
    backward buffers, and its forward pass keeps nothing for a backward one
    (``Activation.predict_inplace``), reading ``zeros[l]``, a read-only
    array of zeros shaped like ``A[l]``, instead.
    """

    m: int
    training: bool
    A1: list[np.ndarray]
    A: list[np.ndarray]
    dZ: list[np.ndarray]
    scratch: list[np.ndarray]
    zeros: list[np.ndarray]
    l2_scratch: np.ndarray
    masks: list[np.ndarray | None] | None = None
    dropped: list[bool] | None = None  # which layers the last forward pass masked

    @classmethod
    def allocate(cls, params: Parameters, m: int, *, training: bool = True) -> ForwardCache:
        """Buffers for batch size ``m``; ``training=False`` skips the backward ones
        and pads the rows of the rest (see :func:`batch_rows`)."""
        dtype = params.dtype
        sizes = params.layer_sizes
        empty = np.empty((0, 0), dtype=dtype)
        pad = not training

        def rows(n: int, *, ones: bool = False) -> np.ndarray:
            return batch_rows(n, m, dtype, ones=ones, pad=pad)

        def output_rows() -> np.ndarray:  # contiguous: np.vdot flattens dZ[L] without a copy
            return np.empty((sizes[-1], m), dtype=dtype)

        A1 = [rows(n + 1, ones=True) for n in sizes[:-1]]
        A = [a[:-1] for a in A1]  # the first n rows: a view, above the row of ones
        A.append(output_rows())
        hidden = sizes[1:-1]
        dZ = [empty, *(rows(n) for n in hidden), output_rows()] if training else []
        scratch = [empty, *(rows(n) for n in hidden), output_rows()]
        zeros = []
        if not training:  # one block of zeros; each layer reads its first n[l] rows
            block = rows(max(sizes[1:]))
            block[...] = 0
            block.flags.writeable = False
            zeros = [empty] + [block[:n] for n in sizes[1:]]
        l2_scratch = np.empty(params.flat.size if training else 0, dtype=dtype)
        masks = [None, *(rows(n) for n in hidden), None] if training else None
        dropped = [False] * len(sizes) if training else None
        return cls(m, training, A1, A, dZ, scratch, zeros, l2_scratch, masks, dropped)


def batch_rows(
    n_rows: int, m: int, dtype: np.dtype, *, ones: bool = False, pad: bool = True
) -> np.ndarray:
    """An empty (or all-ones) ``(n_rows, m)`` buffer; with ``pad``, its rows start
    an odd number of 64-byte cache lines apart (a view of a slightly wider array).

    Prediction buffers pad, training buffers do not; why, with the
    measurements, is in ``docs/performance.md`` ("Padded prediction rows").
    """
    make = np.ones if ones else np.empty
    if not pad:
        return make((n_rows, m), dtype=dtype)
    per_line = 64 // np.dtype(dtype).itemsize
    lines = -(-m // per_line)  # ⌈m / per_line⌉
    lines += 1 - lines % 2  # make it odd
    return make((n_rows, lines * per_line), dtype=dtype)[:, :m]


def to_network_layout(
    X: np.ndarray, dtype: np.dtype | type = np.float32, *, out: np.ndarray | None = None
) -> np.ndarray:
    """The one transpose: ``(n_samples, n_features)`` → ``(n_features, n_samples)``.

    Returns a new C-contiguous array of ``dtype`` (never a view of ``X``),
    so every row the network reads is one feature over consecutive samples;
    or fills ``out`` (shape ``(n_features, n_samples)``) and returns it. The
    network's prediction buffers passed as ``out`` keep each row contiguous
    but space the rows a cache line wider (see :func:`batch_rows`).
    """
    X = np.asarray(X)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D array (n_samples, n_features), got shape {X.shape}")
    if out is None:
        out = np.empty((X.shape[1], X.shape[0]), dtype=dtype)
    elif out.shape != (X.shape[1], X.shape[0]):
        raise ValueError(f"out has shape {out.shape}, expected {(X.shape[1], X.shape[0])}")
    out[...] = X.T
    return out


@runtime_checkable
class InputExpansion(Protocol):
    """``expand(rows, out)`` writes the network's input rows ``out`` ``(m, width)`` for a
    batch of a source's ``rows`` ``(m, n_source)``: an expansion computed a batch at a
    time (a table's piecewise-linear encoding), so that the expanded table is never held
    whole. Training (:func:`nnscratch.core.training.train`) and prediction
    (``predict_samples``) take one; ``width`` is ``n[0]``."""

    width: int

    def __call__(self, rows: np.ndarray, out: np.ndarray) -> object: ...


def expanded(rows: np.ndarray, expand: InputExpansion | None, n_inputs: int) -> np.ndarray:
    """``rows`` as the network's input rows ``(m, n_inputs)``: ``expand``'s output in a new
    array of ``rows``' dtype, or ``rows`` themselves without an expansion."""
    if expand is None:
        return rows
    out = np.empty((len(rows), n_inputs), dtype=rows.dtype)
    expand(rows, out)
    return out


@dataclass
class Dropout:
    """Inverted dropout: ``rates[l-1]`` is the drop probability of hidden layer ``l``.

    ``masks`` fixes the masks (one ``(n[l], m)`` array or ``None`` per hidden
    layer) instead of drawing them, for gradient checks.
    """

    rates: tuple[float, ...]
    rng: np.random.Generator
    masks: list[np.ndarray | None] | None = None

    def apply(self, l: int, A: np.ndarray, mask: np.ndarray) -> None:
        """``A ← A ⊙ M[l]``, drawing a fresh mask into ``mask`` (or copying the fixed one)."""
        p = self.rates[l - 1]
        if self.masks is not None:
            np.copyto(mask, self.masks[l - 1])
        else:
            self.rng.random(dtype=mask.dtype, out=mask)
            np.greater_equal(mask, p, out=mask)  # 1 where the unit stays
            mask *= 1.0 / (1.0 - p)
        A *= mask


def forward(
    params: Parameters,
    X: np.ndarray,
    hidden: Activation,
    output: Activation,
    cache: ForwardCache,
    dropout: Dropout | None = None,
) -> np.ndarray:
    """Run ``X`` of shape ``(n[0], m)`` through the network; returns ``Ŷ = A[L]``, ``(n[L], m)``.

    ``Ŷ`` is a buffer of ``cache``: copy it if you keep it past the next call.
    ``X`` may be ``cache.A[0]`` itself, already filled. With a prediction
    cache (``training=False``) nothing is kept for a backward pass; with a
    training cache and ``dropout``, hidden layers are masked.
    """
    L = len(params.blocks)
    if X is not cache.A[0]:
        np.copyto(cache.A[0], X)  # A[0] = X, above its row of ones
    for l in range(1, L + 1):
        # Z[l] = W[l] · A[l-1] + b[l]  =  [W[l] | b[l]] · [A[l-1]; 1]
        np.matmul(params.blocks[l - 1], cache.A1[l - 1], out=cache.A[l])
        g = output if l == L else hidden
        if cache.training:  # A[l] = g(Z[l]), in place, keeping what g' needs
            g.apply_inplace(cache.A[l], cache.scratch[l])
            masked = l < L and dropout is not None and bool(dropout.rates[l - 1])
            if masked:
                if not g.derivative_in_scratch:  # g' from A, before the mask changes A
                    g.derivative_from_output(cache.A[l], cache.scratch[l])
                dropout.apply(l, cache.A[l], cache.masks[l])  # A[l] ← A[l] ⊙ M[l]
            cache.dropped[l] = masked
        else:
            g.predict_inplace(cache.A[l], cache.scratch[l], cache.zeros[l])
    return cache.A[L]


def backward(
    params: Parameters,
    cache: ForwardCache,
    Y: np.ndarray,
    grads: Parameters,
    *,
    hidden: Activation,
    output: Activation,
    loss: Loss,
    lmbda: float = 0.0,
    weights: np.ndarray | None = None,
) -> float:
    """Fill ``grads`` with ``∂J/∂W[l]`` and ``∂J/∂b[l]`` for the last forward pass.

    ``Y`` has the shape of ``Ŷ``, ``(n[L], m)``. Returns ``m·J``, i.e.
    ``Σ_i ℓ_i + λ/2 Σ‖W[l]‖²`` (for MSE ``½ Σ(ŷ - y)² + λ/2 Σ‖W[l]‖²``),
    from what the gradients need anyway, so callers keep running loss sums
    for free. With sample ``weights`` ``(m,)`` the objective is scikit-learn's
    ``J = (Σ_i w_i ℓ_i + λ/2 Σ‖W‖²) / Σ_i w_i`` (so ``m`` becomes ``Σ w``), and the
    return value ``Σ_i w_i ℓ_i + λ/2 Σ‖W[l]‖²``.
    """
    L = len(params.blocks)
    dZ = cache.dZ[L]
    if weights is None:
        m = cache.m
        total = loss.output_delta(cache.A[L], Y, dZ)  # dA[L] = ∂J_data/∂A[L]
    else:
        m = float(np.sum(weights, dtype=np.float64))
        total = loss.weighted_output_delta(cache.A[L], Y, dZ, weights)
    if not loss.gives_dZ:
        output.backward_inplace(cache.A[L], dZ, cache.scratch[L])  # ⊙ g_out'(Z[L]) → dZ[L]
    for l in range(L, 0, -1):
        dZ = cache.dZ[l]
        # [dW[l] | db[l]] = dZ[l] · [A[l-1]; 1]ᵀ  (dW = dZ·A[l-1]ᵀ, db = Σ_columns dZ)
        np.matmul(dZ, cache.A1[l - 1].T, out=grads.blocks[l - 1])
        if l > 1:
            W = params.weights[l - 1]
            if W.shape[0] == 1:  # W[l]ᵀ · dZ[l] with n[l] = 1 is an outer product:
                np.multiply(W.T, dZ, out=cache.dZ[l - 1])  # broadcasting beats BLAS 2-4×
            else:
                np.matmul(W.T, dZ, out=cache.dZ[l - 1])  # W[l]ᵀ · dZ[l]
            if cache.dropped[l - 1]:  # through the mask, then g'(Z) kept in scratch
                cache.dZ[l - 1] *= cache.masks[l - 1]
                cache.dZ[l - 1] *= cache.scratch[l - 1]
            else:
                hidden.backward_inplace(cache.A[l - 1], cache.dZ[l - 1], cache.scratch[l - 1])
            # ... ⊙ g'(Z[l-1]) → dZ[l-1]
    if lmbda:  # + (λ/m) W[l] for every layer at once; the mask leaves biases alone
        np.multiply(params.flat, params.weight_mask, out=cache.l2_scratch)
        squared_weights = float(np.vdot(params.flat, cache.l2_scratch))  # Σ‖W[l]‖²
        cache.l2_scratch *= lmbda / m
        grads.flat += cache.l2_scratch
        return total + 0.5 * lmbda * squared_weights
    return total


class _CachePool:
    """Prediction buffers shared by the calls of one network, safely.

    A call takes a cache for its batch size under a lock (or allocates one),
    uses it alone, and gives it back; nothing a call writes is seen by
    another. At most ``per_size`` idle caches are kept per batch size, and
    at most ``sizes`` batch sizes.
    """

    def __init__(self, per_size: int = 8, sizes: int = 8) -> None:
        self._idle: dict[int, list[ForwardCache]] = {}
        self._lock = threading.Lock()
        self._per_size, self._sizes = per_size, sizes

    @contextlib.contextmanager
    def take(self, params: Parameters, m: int) -> Iterator[ForwardCache]:
        with self._lock:
            idle = self._idle.get(m)
            cache = idle.pop() if idle else None
        if cache is None:
            cache = ForwardCache.allocate(params, m, training=False)
        try:
            yield cache
        finally:
            with self._lock:
                if m not in self._idle and len(self._idle) >= self._sizes:
                    self._idle.clear()
                idle = self._idle.setdefault(m, [])
                if len(idle) < self._per_size:
                    idle.append(cache)


def activations_and_loss(
    hidden_activation: str, output_activation: str, loss: str
) -> tuple[Activation, Activation, Loss]:
    """The hidden and output activations and the loss, by name, checked to go together."""
    hidden, output, loss_function = (
        ACTIVATIONS.lookup(hidden_activation),
        ACTIVATIONS.lookup(output_activation),
        LOSSES.lookup(loss),
    )
    if not hidden.elementwise:
        raise ValueError(f"{hidden_activation!r} is an output activation, not a hidden one")
    if loss_function.gives_dZ and output.name != loss_function.output_activation:
        raise ValueError(
            f"the {loss} loss goes with a {loss_function.output_activation} output, "
            f"not {output_activation}"
        )
    return hidden, output, loss_function


def check_input_layout(X: np.ndarray, n_inputs: int) -> None:
    """``ValueError`` unless ``X`` is ``(n_inputs, m)``: the network layout."""
    if X.ndim != 2 or X.shape[0] != n_inputs:
        raise ValueError(
            f"expected input of shape ({n_inputs}, m) in the network layout, got {X.shape}"
        )


class Network:
    """A fully connected network: parameters, activations, a loss and reusable buffers.

    ``layer_sizes`` lists every layer's width, input first, e.g. the default
    ``[13, 64, 32, 16, 1]``. Inputs are ``(n[0], m)`` arrays of ``dtype``
    (see :func:`to_network_layout`). ``loss`` is a name from
    :data:`nnscratch.core.losses.LOSSES`.

    Training (:meth:`forward`, :meth:`backward`) uses buffers kept on the
    network and belongs to one thread. Prediction (:meth:`predict`,
    :meth:`predict_samples`) may be called from many threads at once: each
    call takes its own buffers from a pool under a lock.
    """

    _MAX_CACHES = 8

    def __init__(
        self,
        layer_sizes: Sequence[int],
        hidden_activation: str = "relu",
        output_activation: str = "identity",
        init: str = "he",
        *,
        loss: str = "mse",
        dropout: float | Sequence[float] = 0.0,
        dtype: np.dtype | type = np.float32,
        rng: np.random.Generator | int | None = 0,
        dropout_rng: np.random.Generator | int | None = None,
    ) -> None:
        self.hidden, self.output, self.loss_function = activations_and_loss(
            hidden_activation, output_activation, loss
        )
        self.params = initialize(layer_sizes, init, rng=rng, dtype=dtype)
        n_hidden = len(layer_sizes) - 2
        rates = (float(dropout),) * n_hidden if np.isscalar(dropout) else tuple(dropout)
        if len(rates) != n_hidden or not all(0 <= p < 1 for p in rates):
            raise ValueError(f"dropout must be {n_hidden} rate(s) in [0, 1), got {dropout!r}")
        self.dropout = Dropout(rates, np.random.default_rng(dropout_rng)) if any(rates) else None
        self.grads = self.params.zeros_like()
        self._caches: dict[int, ForwardCache] = {}
        self._last: ForwardCache | None = None
        self._pool = _CachePool()

    def __getstate__(self) -> dict[str, object]:
        # Buffers are scratch space: rebuilt on demand, never pickled.
        state = dict(self.__dict__)
        state["_caches"], state["_last"], state["_pool"] = {}, None, None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._pool = _CachePool()

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return self.params.layer_sizes

    @property
    def dtype(self) -> np.dtype:
        return self.params.dtype

    @staticmethod
    def array_shapes(layer_sizes: Sequence[int], k: int = 1) -> dict[str, tuple[int, int]]:
        """Every array :meth:`state_dict` holds for these sizes, by name, and its shape
        (``k`` is 1: it is there so both network classes answer the same call)."""
        if k != 1:
            raise ValueError(f"a plain network has k = 1, got {k}")
        return array_shapes(layer_sizes)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every parameter array by name, ``W1..WL`` then ``b1..bL`` (views: writing to
        one changes the network), as model files store them."""
        return self.params.named()

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy ``arrays`` (one per :meth:`state_dict` name, same shapes) into the network."""
        load_named(self.state_dict(), arrays)

    def cache_for(self, m: int) -> ForwardCache:
        """The training buffers for batch size ``m``, allocated on first use."""
        cache = self._caches.get(m)
        if cache is None:
            if len(self._caches) >= self._MAX_CACHES:
                self._caches.clear()
            cache = ForwardCache.allocate(self.params, m, training=True)
            self._caches[m] = cache
        return cache

    def drop_training_buffers(self) -> None:
        """Let go of the training buffers of every batch size but the last batch's (which
        :meth:`layer_views` reads): a fit's end; training makes them again as it needs."""
        self._caches = {m: c for m, c in self._caches.items() if c is self._last}

    def blas_threads_for(self, m: int) -> contextlib.AbstractContextManager[object]:
        """A ``with`` context for products on batches of ``m``: BLAS held to one
        thread where its threads do not pay (see :data:`ONE_BLAS_THREAD_BELOW`)."""
        return blas_threads_for_products(m * max(block.size for block in self.params.blocks))

    def _check_input(self, X: np.ndarray) -> np.ndarray:
        check_input_layout(X, self.layer_sizes[0])
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        return X

    def forward(
        self, X: np.ndarray, *, dropout_masks: list[np.ndarray | None] | None = None
    ) -> np.ndarray:
        """``Ŷ`` for ``X`` of shape ``(n[0], m)``, keeping what :meth:`backward` needs;
        a training buffer, valid until the next call. With dropout, fresh masks are
        drawn, unless ``dropout_masks`` fixes them (one per hidden layer)."""
        X = self._check_input(X)
        self._last = self.cache_for(X.shape[1])
        dropout = self.dropout
        if dropout is not None and dropout_masks is not None:
            dropout = Dropout(dropout.rates, dropout.rng, dropout_masks)
        return forward(self.params, X, self.hidden, self.output, self._last, dropout)

    def backward(
        self, Y: np.ndarray, lmbda: float = 0.0, weights: np.ndarray | None = None
    ) -> float:
        """Gradients of the last forward pass into ``self.grads``; returns
        ``m·J = Σ_i ℓ_i + λ/2 Σ‖W‖²`` (weighted: see :func:`backward`)."""
        if self._last is None:
            raise RuntimeError("backward() needs a forward() first")
        return backward(
            self.params,
            self._last,
            Y,
            self.grads,
            hidden=self.hidden,
            output=self.output,
            loss=self.loss_function,
            lmbda=lmbda,
            weights=weights,
        )

    def layer_views(self, before: Parameters | None = None) -> tuple[LayerView, ...]:
        """The read-only view of every layer for the last :meth:`forward` and
        :meth:`backward` (see :mod:`nnscratch.core.observe`): ``A[l]``, ``W[l]``, ``b[l]``,
        their gradients, and ``Z[l] = [W[l] | b[l]] · [A[l-1]; 1]`` recomputed on demand.
        ``before`` holds the parameters the batch went forward with, where an optimizer
        has stepped since (then ``update[l] = W[l] − before.W[l]``)."""
        cache = self._last
        if cache is None:
            raise RuntimeError("layer_views() needs a forward() and a backward() first")
        went = self.params if before is None else before
        return tuple(
            LayerView(
                l,
                activation=(self.output if l == len(self.layer_sizes) - 1 else self.hidden).name,
                A=cache.A[l],
                W=self.params.weights[l - 1],
                b=self.params.biases[l - 1],
                dW=self.grads.weights[l - 1],
                db=self.grads.biases[l - 1],
                pre_activation=functools.partial(np.matmul, went.blocks[l - 1], cache.A1[l - 1]),
                update=None if before is None else self.params.weights[l - 1] - went.weights[l - 1],
            )
            for l in range(1, len(self.layer_sizes))
        )

    def trace(self, X: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(Z[l], A[l])`` for ``l = 1..L`` on ``X`` ``(n[0], m)``, in new arrays: the
        network as it is now, without dropout (the telemetry's probe batch)."""
        A = self._check_input(X)
        L, out = len(self.params.blocks), []
        for l in range(1, L + 1):
            Z = self.params.weights[l - 1] @ A + self.params.biases[l - 1]
            A = (self.output if l == L else self.hidden).function(Z)
            out.append((Z, A))
        return out

    def predict(
        self, X: np.ndarray, batch_size: int = 4096, n_threads: int | None = None
    ) -> np.ndarray:
        """``Ŷ`` as a new ``(n[L], m)`` array for ``X`` of shape ``(n[0], m)``."""
        X = self._check_input(X)
        return self._predict_batches(
            X.shape[1],
            lambda start, stop, dest: np.copyto(dest, X[:, start:stop]),
            batch_size,
            n_threads,
        )

    def predict_samples(
        self,
        X: np.ndarray,
        batch_size: int = 4096,
        n_threads: int | None = None,
        *,
        expand: InputExpansion | None = None,
    ) -> np.ndarray:
        """``Ŷ`` as a new ``(n[L], m)`` array for ``X`` in the user layout ``(m, n[0])``.

        Each batch of rows goes through :func:`to_network_layout` straight
        into the network's input buffer: one copy, no full transposed array.
        With ``expand`` (:data:`InputExpansion`), ``X`` holds a source's rows and each
        batch is expanded into the network's inputs first: the same batches, the same bits
        as the expanded rows given whole.
        """
        X = np.asarray(X)
        if X.ndim != 2 or (expand is None and X.shape[1] != self.layer_sizes[0]):
            raise ValueError(f"expected X of shape (m, {self.layer_sizes[0]}), got {X.shape}")
        n_inputs = self.layer_sizes[0]
        return self._predict_batches(
            X.shape[0],
            lambda start, stop, dest: to_network_layout(
                expanded(X[start:stop], expand, n_inputs), dest.dtype, out=dest
            ),
            batch_size,
            n_threads,
        )

    def _predict_batches(
        self,
        m: int,
        fill: Callable[[int, int, np.ndarray], object],
        batch_size: int,
        n_threads: int | None,
    ) -> np.ndarray:
        """Forward ``m`` samples in batches; ``fill(start, stop, dest)`` writes a batch's input.

        Large inputs are split over ``n_threads`` threads (default: the CPU
        count, at most 4), each with its own buffers, since NumPy and BLAS
        release the GIL: batches are independent, so the result is the same
        whichever thread computes a batch. BLAS is held to one thread in every
        case: OpenBLAS on two threads rounds some products differently (a
        494-row float32 validation set on the default recipe's network), and
        a prediction must not depend on how many threads BLAS was given.
        """
        out = np.empty((self.layer_sizes[-1], m), dtype=self.dtype)
        starts = list(range(0, m, batch_size))
        threads = n_threads or min(os.cpu_count() or 1, 4)

        def run(indices: list[int]) -> None:
            with contextlib.ExitStack() as held:
                caches: dict[int, ForwardCache] = {}
                for start in indices:
                    stop = min(start + batch_size, m)
                    size = stop - start
                    if size not in caches:
                        caches[size] = held.enter_context(self._pool.take(self.params, size))
                    cache = caches[size]
                    fill(start, stop, cache.A[0])
                    out[:, start:stop] = forward(
                        self.params, cache.A[0], self.hidden, self.output, cache
                    )

        if threads == 1 or len(starts) < 4 * threads:
            with one_blas_thread():
                run(starts)
            return out
        with one_blas_thread(), ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, [starts[k::threads] for k in range(threads)]))
        return out

    def loss(self, X: np.ndarray, Y: np.ndarray, lmbda: float = 0.0) -> float:
        """``J = J_data + λ/(2m) Σ‖W‖²`` on ``(X, Y)``, in float64."""
        return total_loss(self.predict(X), Y, self.params.weights, lmbda, self.loss_function)
