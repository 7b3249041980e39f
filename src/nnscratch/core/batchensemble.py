"""A BatchEnsemble (TabM) network: ``k`` members that share each weight matrix.

Gorishniy et al. 2024 (TabM) make one MLP into ``k`` members that share every
weight matrix ``W[l]`` and differ only in cheap per-member vectors: an input
scaling ``r_k[l]``, an output scaling ``s_k[l]`` and a bias ``b_k[l]``. For
members ``k = 1..K`` and layers ``l = 1..L``::

    U_k[l] = r_k[l] ⊙ A_k[l-1]                     (n[l-1], m)    A_k[0] = X for every member
    P_k[l] = W[l] · U_k[l]                         (n[l], m)      the shared weights
    Z_k[l] = s_k[l] ⊙ P_k[l] + b_k[l]              (n[l], m)
    A_k[l] = g(Z_k[l])

``r`` of the first layer starts at random ±1 (so the members differ from the
first step), every other ``r`` and every ``s`` at 1, ``b`` at 0, ``W`` as in
:mod:`nnscratch.core.init`. Training minimises the **mean of the members' losses**
``J = 1/K Σ_k J_k`` (not the loss of the mean prediction); prediction
averages the members' outputs (probabilities, for a classifier).

Layout: the members' activations of a batch form one block, stored
``(n[l], K, m)`` — features, members, samples — which is ``(n[l], K·m)`` in
memory, so ``W[l] · U[l]`` for all members at once is **one** matrix product
and the per-call overhead is paid once for all members. Backpropagation, by
hand, with ``dZ`` of shape ``(n[l], K, m)``::

    db_k = Σ_samples dZ_k                 ds_k = Σ_samples dZ_k ⊙ P_k
    dP   = s ⊙ dZ                          dW   = dP · Uᵀ      (one product over K·m columns)
    dU   = Wᵀ · dP                         dr_k = Σ_samples dU_k ⊙ A_k[l-1]
    dA[l-1] = r ⊙ dU,  dZ[l-1] = dA[l-1] ⊙ g'(Z[l-1])

The first layer is the expensive one (``n[0]`` is the encoded input, wide)
and every member sees the same ``X``, so it is computed the other way round:
the members' scaled weights ``V[j,k,i] = W[j,i]·r_k[i]`` form one
``(n[1]·K, n[0])`` matrix, and ``P = V · X`` is one product over the ``m``
samples, with no ``(n[0], K, m)`` block. Its backward pass needs no ``dX``,
so one product gives everything::

    G  = dP · Xᵀ                          (n[1]·K, n[0]): G_k = dP_k · Xᵀ
    dW[j,i] = Σ_k G_k[j,i]·r_k[i]          dr_k[i] = Σ_j G_k[j,i]·W[j,i]

— two products for the first layer where the general rule takes three.

The class has the training loop's interface (:func:`nnscratch.core.training.train`
trains it as it trains a :class:`~nnscratch.core.network.Network`), and
:func:`nnscratch.core.gradcheck` style checks cover it in ``tests/test_batchensemble.py``.
Dropout is not offered here.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from nnscratch.core.blas import blas_threads_for_products, one_blas_thread
from nnscratch.core.init import draw_weights, load_named
from nnscratch.core.network import (
    InputExpansion,
    activations_and_loss,
    check_input_layout,
    expanded,
    to_network_layout,
)
from nnscratch.core.observe import LayerView

#: Columns per prediction batch.
PREDICT_BATCH = 2048


@dataclass
class EnsembleParameters:
    """``W[l]``, ``R[l]`` ``(n[l-1], K)``, ``S[l]`` and ``B[l]`` ``(n[l], K)``, as views
    into one flat array (what optimizers update); ``weight_mask`` marks the ``W`` entries."""

    layer_sizes: tuple[int, ...]
    k: int
    flat: np.ndarray
    W: list[np.ndarray]
    R: list[np.ndarray]
    S: list[np.ndarray]
    B: list[np.ndarray]
    weight_mask: np.ndarray

    @classmethod
    def zeros(
        cls, layer_sizes: Sequence[int], k: int, dtype: np.dtype | type
    ) -> EnsembleParameters:
        sizes = tuple(int(n) for n in layer_sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"layer sizes must be >= 2 positive integers, got {list(sizes)}")
        if k < 1:
            raise ValueError(f"k must be a positive integer, got {k}")
        shapes = list(ensemble_array_shapes(sizes, k).values())  # W1, R1, S1, B1, W2, …
        flat = np.zeros(sum(r * c for r, c in shapes), dtype=dtype)
        mask = np.zeros_like(flat)
        views, start = [], 0
        for index, (rows, cols) in enumerate(shapes):
            views.append(flat[start : start + rows * cols].reshape(rows, cols))
            if index % 4 == 0:
                mask[start : start + rows * cols] = 1
            start += rows * cols
        return cls(sizes, k, flat, views[0::4], views[1::4], views[2::4], views[3::4], mask)

    def __getstate__(self) -> dict[str, object]:
        # Views do not survive pickling; keep the flat array and rebuild them.
        return {"layer_sizes": self.layer_sizes, "k": self.k, "flat": self.flat}

    def __setstate__(self, state: dict[str, object]) -> None:
        flat: np.ndarray = state["flat"]  # type: ignore[assignment]
        fresh = EnsembleParameters.zeros(state["layer_sizes"], state["k"], flat.dtype)  # type: ignore[arg-type]
        fresh.flat[...] = flat
        self.__dict__.update(fresh.__dict__)

    @property
    def weights(self) -> list[np.ndarray]:
        """The shared ``W[l]``, as :class:`~nnscratch.core.init.Parameters` names them."""
        return self.W

    @property
    def biases(self) -> list[np.ndarray]:
        """The members' biases ``B[l]`` ``(n[l], K)``: one column per member."""
        return self.B

    def copy(self) -> EnsembleParameters:
        out = EnsembleParameters.zeros(self.layer_sizes, self.k, self.flat.dtype)
        out.flat[...] = self.flat
        return out

    def named(self) -> dict[str, np.ndarray]:
        """Every array by name, as :func:`ensemble_array_shapes` lists them (views)."""
        views = [a for layer in zip(self.W, self.R, self.S, self.B, strict=True) for a in layer]
        return dict(zip(ensemble_array_shapes(self.layer_sizes, self.k), views, strict=True))


def ensemble_array_shapes(layer_sizes: Sequence[int], k: int) -> dict[str, tuple[int, int]]:
    """A TabM network's arrays by name, in the order model files list them: for each layer
    ``W{l}`` ``(n[l], n[l-1])``, ``R{l}`` ``(n[l-1], K)``, ``S{l}`` and ``B{l}`` ``(n[l], K)``."""
    shapes = {}
    for l, (n_in, n_out) in enumerate(pairwise(int(n) for n in layer_sizes), start=1):
        shapes.update(
            {f"W{l}": (n_out, n_in), f"R{l}": (n_in, k), f"S{l}": (n_out, k), f"B{l}": (n_out, k)}
        )
    return shapes


class _Buffers:
    """Training buffers for batch size ``m`` (lists indexed by layer ``l = 0..L``)."""

    def __init__(self, sizes: tuple[int, ...], k: int, m: int, dtype: np.dtype) -> None:
        self.m = m
        self.A = [np.empty((sizes[0], m), dtype)]  # A[0] = X, shared by the members
        self.A += [np.empty((n, k, m), dtype) for n in sizes[1:]]
        # U[1] and dU[1] are never formed: the first layer works on V and G (module docs)
        none = [np.empty((0,), dtype)] * 2
        self.U = none + [np.empty((n, k, m), dtype) for n in sizes[1:-1]]
        self.dU = none + [np.empty((n, k, m), dtype) for n in sizes[1:-1]]
        self.P = [np.empty((0,), dtype)] + [np.empty((n, k, m), dtype) for n in sizes[1:]]
        self.scratch = [np.empty((0,), dtype)] + [np.empty((n, k, m), dtype) for n in sizes[1:]]
        self.dZ = [np.empty((0,), dtype)] + [np.empty((n, k, m), dtype) for n in sizes[1:]]
        self.Y = np.empty((sizes[-1], k, m), dtype)
        self.G = np.empty((sizes[1], k, sizes[0]), dtype)  # dP · Xᵀ of the first layer


class _PredictionBuffers:
    """One thread's buffers for predicting batches of up to ``m`` samples with ``net``:
    ``P`` and ``U``, each the widest layer's ``(n[l], K, m)`` block, and ``zeros``, a read-only
    block of zeros (the activations' ``zeros``) that every thread of a call may share.
    :meth:`block` views the front of one as a layer's ``(n, K, size)`` for a batch of
    ``size <= m`` samples."""

    def __init__(self, net: BatchEnsembleNetwork, m: int, zeros: np.ndarray | None = None) -> None:
        self.k, self.size = net.k, self.width(net) * m
        self.P = np.empty(self.size, dtype=net.dtype)
        self.U = np.empty(self.size, dtype=net.dtype)
        self.zeros = zeros if zeros is not None else self.zeros_for(net, m)

    @staticmethod
    def width(net: BatchEnsembleNetwork) -> int:
        return max(net.layer_sizes[1:]) * net.k

    @classmethod
    def zeros_for(cls, net: BatchEnsembleNetwork, m: int) -> np.ndarray:
        zeros = np.zeros(cls.width(net) * m, dtype=net.dtype)
        zeros.flags.writeable = False
        return zeros

    def block(self, buffer: np.ndarray, n: int, size: int) -> np.ndarray:
        """The first ``n·K·size`` numbers of ``buffer`` as an ``(n, K, size)`` array."""
        return buffer[: n * self.k * size].reshape(n, self.k, size)


def _flat2(a: np.ndarray) -> np.ndarray:
    """A ``(n, K, m)`` block as the ``(n, K·m)`` matrix it is in memory."""
    return a.reshape(a.shape[0], -1)


def _members_flat(a: np.ndarray) -> np.ndarray:
    """A ``(n, K, m)`` block as the ``(n·K, m)`` matrix it also is in memory."""
    return a.reshape(-1, a.shape[2])


class BatchEnsembleNetwork:
    """``k`` members sharing each weight matrix; see the module docs for the math.

    ``layer_sizes`` as for :class:`~nnscratch.core.network.Network` (input first).
    Training buffers belong to one thread; prediction allocates per call and
    may run from many threads at once.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        k: int,
        hidden_activation: str = "relu",
        output_activation: str = "identity",
        init: str = "he",
        *,
        loss: str = "mse",
        dtype: np.dtype | type = np.float32,
        rng: np.random.Generator | int | None = 0,
    ) -> None:
        self.hidden, self.output, self.loss_function = activations_and_loss(
            hidden_activation, output_activation, loss
        )
        self.k = int(k)
        self.params = EnsembleParameters.zeros(layer_sizes, self.k, dtype)
        self.grads = EnsembleParameters.zeros(layer_sizes, self.k, dtype)
        rng = np.random.default_rng(rng)
        sizes = self.params.layer_sizes
        for W, drawn in zip(self.params.W, draw_weights(sizes, init, rng), strict=True):
            W[...] = drawn
        self.params.R[0][...] = rng.choice([-1.0, 1.0], size=self.params.R[0].shape)
        for R in self.params.R[1:]:
            R[...] = 1.0
        for S in self.params.S:
            S[...] = 1.0
        self._buffers: dict[int, _Buffers] = {}
        self._last: _Buffers | None = None
        self._V = np.empty((sizes[1], self.k, sizes[0]), dtype)  # training's first-layer weights
        self._kept_V: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # prediction's

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_buffers"], state["_last"], state["_kept_V"] = {}, None, None
        return state

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return self.params.layer_sizes

    @property
    def dtype(self) -> np.dtype:
        return self.params.flat.dtype

    @staticmethod
    def array_shapes(layer_sizes: Sequence[int], k: int) -> dict[str, tuple[int, int]]:
        """Every array :meth:`state_dict` holds for these sizes, by name, and its shape."""
        return ensemble_array_shapes(layer_sizes, k)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every parameter array by name, ``W1, R1, S1, B1, W2, …`` (views: writing to
        one changes the network), as model files store them."""
        return self.params.named()

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy ``arrays`` (one per :meth:`state_dict` name, same shapes) into the network."""
        load_named(self.state_dict(), arrays)

    def cache_for(self, m: int) -> _Buffers:
        """The training buffers for batch size ``m`` (``.A[0]`` is the ``(n[0], m)`` input)."""
        buffers = self._buffers.get(m)
        if buffers is None:
            if len(self._buffers) >= 8:
                self._buffers.clear()
            buffers = _Buffers(self.layer_sizes, self.k, m, self.dtype)
            self._buffers[m] = buffers
        return buffers

    def drop_training_buffers(self) -> None:
        """Let go of the training buffers of every batch size but the last batch's (which
        :meth:`layer_views` reads): a fit's end; training makes them again as it needs."""
        self._buffers = {m: b for m, b in self._buffers.items() if b is self._last}

    def blas_threads_for(self, m: int) -> contextlib.AbstractContextManager[object]:
        """BLAS on one thread where a batch's largest product is small (as ``Network``)."""
        return blas_threads_for_products(m * self.k * max(W.size for W in self.params.W))

    def _first_layer_weights(self, out: np.ndarray | None = None) -> np.ndarray:
        """The members' first-layer weights ``V[j,k,i] = W[j,i]·r_k[i]``, ``(n[1], K, n[0])``,
        C-contiguous (``V.reshape(n[1]·K, n[0])`` is then a view, not a copy)."""
        W, R = self.params.W[0], self.params.R[0]
        if out is None:
            out = np.empty((W.shape[0], self.k, W.shape[1]), dtype=W.dtype)
        return np.multiply(W[:, None, :], R.T[None, :, :], out=out)

    def _prediction_weights(self) -> np.ndarray:
        """:meth:`_first_layer_weights` for prediction, kept between calls while ``W[1]`` and
        ``R[1]`` stay as they were (comparing them costs a tenth of forming ``V`` again;
        training, or any write to the parameters, makes the next call form it anew)."""
        kept = self._kept_V
        W, R = self.params.W[0], self.params.R[0]
        if kept is not None and np.array_equal(kept[0], W) and np.array_equal(kept[1], R):
            return kept[2]
        V = self._first_layer_weights()
        V.flags.writeable = False  # shared by calls from many threads: read only
        self._kept_V = (W.copy(), R.copy(), V)  # one assignment: a thread sees old or new
        return V

    # ------------------------------------------------------------------ training

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Every member's output for ``X`` ``(n[0], m)``: ``(n[L], K, m)``, a training buffer."""
        check_input_layout(X, self.layer_sizes[0])
        buffers = self.cache_for(X.shape[1])
        if X is not buffers.A[0]:
            np.copyto(buffers.A[0], X)
        self._last = buffers
        p, L = self.params, len(self.params.W)
        for l in range(1, L + 1):
            if l == 1:  # P = V · X, V[j,k,i] = W[j,i]·r_k[i]
                V = self._first_layer_weights(out=self._V)
                np.matmul(V.reshape(-1, V.shape[2]), buffers.A[0], out=_members_flat(buffers.P[1]))
            else:  # U = r ⊙ A[l-1], P = W · U
                np.multiply(buffers.A[l - 1], p.R[l - 1][:, :, None], out=buffers.U[l])
                np.matmul(p.W[l - 1], _flat2(buffers.U[l]), out=_flat2(buffers.P[l]))
            Z = buffers.A[l]
            np.multiply(buffers.P[l], p.S[l - 1][:, :, None], out=Z)  # Z = s ⊙ P + b
            Z += p.B[l - 1][:, :, None]
            g = self.output if l == L else self.hidden
            g.apply_inplace(_flat2(Z), _flat2(buffers.scratch[l]))
        return buffers.A[L]

    def backward(
        self, Y: np.ndarray, lmbda: float = 0.0, weights: np.ndarray | None = None
    ) -> float:
        """Gradients of ``J = 1/K Σ_k J_k (+ λ/(2m) Σ‖W‖²)`` into ``self.grads``; returns
        ``m·J``. ``Y`` is ``(n[L], m)``, the same targets for every member. With sample
        ``weights`` ``(m,)`` each member's loss is weighted as in
        :func:`nnscratch.core.network.backward` (``m`` becomes ``Σ w``)."""
        buffers = self._last
        if buffers is None:
            raise RuntimeError("backward() needs a forward() first")
        p, g, L, m = self.params, self.grads, len(self.params.W), buffers.m
        buffers.Y[...] = np.asarray(Y).reshape(self.layer_sizes[-1], 1, m)
        dZ = buffers.dZ[L]
        # (A - Y) / (K·m): the output delta of the mean of the K members' losses
        A_L, Y_L = _flat2(buffers.A[L]), _flat2(buffers.Y)
        if weights is None:
            total = self.loss_function.output_delta(A_L, Y_L, _flat2(dZ))
        else:  # columns are member-major: the same weights for every member
            tiled = np.tile(np.asarray(weights, dtype=dZ.dtype), self.k)
            total = self.loss_function.weighted_output_delta(A_L, Y_L, _flat2(dZ), tiled)
            m = float(np.sum(weights, dtype=np.float64))
        if not self.loss_function.gives_dZ:
            self.output.backward_inplace(
                _flat2(buffers.A[L]), _flat2(dZ), _flat2(buffers.scratch[L])
            )
        for l in range(L, 0, -1):
            dZ = buffers.dZ[l]
            np.sum(dZ, axis=2, out=g.B[l - 1])  # db
            np.einsum("ikm,ikm->ik", dZ, buffers.P[l], out=g.S[l - 1])  # ds
            dZ *= p.S[l - 1][:, :, None]  # dP = s ⊙ dZ
            if l == 1:  # G = dP · Xᵀ; dW and dr from G (module docs)
                G = buffers.G
                np.matmul(_members_flat(dZ), buffers.A[0].T, out=G.reshape(-1, G.shape[2]))
                np.einsum("jki,ik->ji", G, p.R[0], out=g.W[0])
                np.einsum("jki,ji->ik", G, p.W[0], out=g.R[0])
                continue
            np.matmul(_flat2(dZ), _flat2(buffers.U[l]).T, out=g.W[l - 1])  # dW = dP · Uᵀ
            dU = buffers.dU[l]
            np.matmul(p.W[l - 1].T, _flat2(dZ), out=_flat2(dU))  # dU = Wᵀ · dP
            np.einsum("ikm,ikm->ik", dU, buffers.A[l - 1], out=g.R[l - 1])
            below = buffers.dZ[l - 1]
            np.multiply(dU, p.R[l - 1][:, :, None], out=below)  # dA[l-1] = r ⊙ dU
            self.hidden.backward_inplace(
                _flat2(buffers.A[l - 1]), _flat2(below), _flat2(buffers.scratch[l - 1])
            )
        total /= self.k
        if lmbda:
            squared = 0.0
            for W, dW in zip(p.W, g.W, strict=True):
                squared += float(np.vdot(W, W))
                dW += (lmbda / m) * W
            total += 0.5 * lmbda * squared
        return total

    def layer_views(self, before: EnsembleParameters | None = None) -> tuple[LayerView, ...]:
        """The read-only view of every layer for the last :meth:`forward` and
        :meth:`backward`, as :meth:`Network.layer_views` gives it: ``A[l]`` and ``Z[l]`` are
        ``(n[l], K, m)`` (``Z = s ⊙ P + b`` recomputed on demand), ``W[l]`` the shared
        weights, ``b[l]`` the members' biases ``(n[l], K)``."""
        buffers = self._last
        if buffers is None:
            raise RuntimeError("layer_views() needs a forward() and a backward() first")
        went = self.params if before is None else before

        def pre_activation(l: int) -> np.ndarray:
            Z = buffers.P[l] * went.S[l - 1][:, :, None]
            Z += went.B[l - 1][:, :, None]
            return Z

        p, g = self.params, self.grads
        return tuple(
            LayerView(
                l,
                activation=(self.output if l == len(self.layer_sizes) - 1 else self.hidden).name,
                A=buffers.A[l],
                W=p.W[l - 1],
                b=p.B[l - 1],
                dW=g.W[l - 1],
                db=g.B[l - 1],
                pre_activation=functools.partial(pre_activation, l),
                update=None if before is None else p.W[l - 1] - went.W[l - 1],
            )
            for l in range(1, len(self.layer_sizes))
        )

    # ------------------------------------------------------------------ prediction

    def _forward_members(
        self,
        X: np.ndarray,
        V: np.ndarray | None = None,
        buffers: _PredictionBuffers | None = None,
    ) -> np.ndarray:
        """``(n[L], K, m)`` for a batch, a view into ``buffers`` (a caller's for many
        batches, else this call's own); ``V`` is :meth:`_first_layer_weights`, made here
        unless a caller with many batches made it. Each layer's product ``P`` and then its
        activations live in ``buffers.P``, the next layer's ``U = r ⊙ A`` and the
        activation's scratch in ``buffers.U``: two blocks of the widest layer, whatever
        the depth, and the same products as new arrays for each (the same bits)."""
        p, L, m = self.params, len(self.params.W), X.shape[1]
        V = self._first_layer_weights() if V is None else V
        buffers = buffers if buffers is not None else _PredictionBuffers(self, m)
        A = X
        for l in range(1, L + 1):
            n = self.layer_sizes[l]
            Z = buffers.block(buffers.P, n, m)
            if l == 1:
                np.matmul(V.reshape(-1, V.shape[2]), A, out=Z.reshape(-1, m))
            else:
                U = buffers.block(buffers.U, self.layer_sizes[l - 1], m)
                np.multiply(A, p.R[l - 1][:, :, None], out=U)
                np.matmul(p.W[l - 1], _flat2(U), out=_flat2(Z))
            Z *= p.S[l - 1][:, :, None]
            Z += p.B[l - 1][:, :, None]
            g = self.output if l == L else self.hidden
            scratch, zeros = buffers.block(buffers.U, n, m), buffers.block(buffers.zeros, n, m)
            g.predict_inplace(_flat2(Z), _flat2(scratch), _flat2(zeros))
            A = Z
        return A

    def trace(self, X: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(Z[l], A[l])`` ``(n[l], K, m)`` for ``l = 1..L`` on ``X`` ``(n[0], m)``, in new
        arrays: every member as it is now (the telemetry's probe batch)."""
        check_input_layout(X, self.layer_sizes[0])
        p, L, m = self.params, len(self.params.W), X.shape[1]
        A = np.broadcast_to(np.asarray(X, dtype=self.dtype)[:, None, :], (X.shape[0], self.k, m))
        out = []
        for l in range(1, L + 1):
            U = A * p.R[l - 1][:, :, None]
            Z = (p.W[l - 1] @ _flat2(U)).reshape(-1, self.k, m)
            Z *= p.S[l - 1][:, :, None]
            Z += p.B[l - 1][:, :, None]
            A = (self.output if l == L else self.hidden).function(_flat2(Z)).reshape(Z.shape)
            out.append((Z, A))
        return out

    def predict(
        self, X: np.ndarray, batch_size: int = PREDICT_BATCH, n_threads: int | None = None
    ) -> np.ndarray:
        """The members' mean output ``(n[L], m)`` for ``X`` ``(n[0], m)``."""
        X = np.asarray(X, dtype=self.dtype)
        return self._predict_batches(X.shape[1], lambda a, b: X[:, a:b], batch_size, n_threads)

    def predict_samples(
        self,
        X: np.ndarray,
        batch_size: int = PREDICT_BATCH,
        n_threads: int | None = None,
        *,
        expand: InputExpansion | None = None,
    ) -> np.ndarray:
        """As :meth:`predict`, for ``X`` in the user layout ``(m, n[0])`` (with ``expand``,
        a source's rows, expanded a batch at a time: see ``Network.predict_samples``)."""
        X = np.asarray(X)
        if X.ndim != 2 or (expand is None and X.shape[1] != self.layer_sizes[0]):
            raise ValueError(f"expected X of shape (m, {self.layer_sizes[0]}), got {X.shape}")
        n_inputs = self.layer_sizes[0]
        return self._predict_batches(
            X.shape[0],
            lambda a, b: to_network_layout(expanded(X[a:b], expand, n_inputs), self.dtype),
            batch_size,
            n_threads,
        )

    def _predict_batches(
        self,
        m: int,
        batch: Callable[[int, int], np.ndarray],
        batch_size: int,
        n_threads: int | None = None,
    ) -> np.ndarray:
        """The members' mean output for ``m`` samples, ``batch(start, stop)`` giving a batch's
        ``(n[0], size)`` input. Large inputs (at least 4 batches a thread) are shared out over
        ``n_threads`` threads (default: the CPU count, at most 4), by :meth:`Network.predict`'s
        rule: every batch is computed the same way whichever thread takes it, BLAS on one
        thread, so the bits do not depend on the number of threads. A validation split of a
        few batches stays on its thread, and so does any split predicted every epoch while
        members train side by side (``n_threads=1``: each member on its own core, and one
        batch's buffers a member, not one a thread)."""
        out = np.empty((self.layer_sizes[-1], m), dtype=self.dtype)
        V = self._prediction_weights()  # once for every batch
        starts = list(range(0, m, batch_size))

        zeros = _PredictionBuffers.zeros_for(self, min(batch_size, m))  # read only: shared

        def run(share: list[int]) -> None:
            buffers = _PredictionBuffers(self, min(batch_size, m), zeros)  # this thread's
            for start in share:
                stop = min(start + batch_size, m)
                members = self._forward_members(batch(start, stop), V, buffers)
                out[:, start:stop] = members.mean(axis=1)

        threads = n_threads or min(os.cpu_count() or 1, 4)
        with one_blas_thread():
            if threads == 1 or len(starts) < 4 * threads:
                run(starts)
                return out
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(run, [starts[k::threads] for k in range(threads)]))
        return out

    def loss(self, X: np.ndarray, Y: np.ndarray, lmbda: float = 0.0) -> float:
        """``J`` for ``X`` and ``Y``: the mean of the members' losses (+ L2), float64."""
        members = self._forward_members(np.asarray(X, dtype=self.dtype))
        m = X.shape[1]
        Yb = np.broadcast_to(np.asarray(Y).reshape(self.layer_sizes[-1], 1, m), members.shape)
        data = self.loss_function.value(_flat2(members), np.ascontiguousarray(_flat2(Yb)))
        squared = sum(float(np.vdot(W, W)) for W in self.params.W)
        return data + lmbda / (2 * m) * squared
