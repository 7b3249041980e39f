"""The learner's network where the package's plugs in: their stages behind the engine's seams.

:class:`LearnerNetwork` adapts a learner's stage functions to what the training loop
(:func:`nnscratch.core.training.train`), its step observers (:mod:`nnscratch.core.observe`,
the per-layer telemetry) and the live page already use for a network: ``forward`` and
``backward``, the parameters as arrays (one flat array with a view per ``W[l]`` and
``b[l]``, :class:`~nnscratch.core.init.Parameters`, as the package's own network keeps
them), ``predict``, ``trace`` and the read-only ``layer_views``. Inside, every number is
the learner's:

    forward(X)           their forward(weights, biases, X) → Z[L], cache; Ŷ = their softmax
                         of Z[L] for classes, Z[L] itself for a number
    backward(Y, λ)       J = their cost(Ŷ, Y) + their l2_penalty; dZ[L] = their cost's
                         gradient; their backward(dZ[L], cache, weights, λ) → the gradients
    layer_views, trace   A[l] and Z[l] read from their cache

and :class:`LearnerOptimizer` steps the flat parameters with their ``gd_step``,
``momentum_step`` or ``adam_step`` (each works entry by entry, so one call on the flat
array is every array's step). Nothing above the core learns that the network is the
learner's; the figures the loop logs about validation data (loss, accuracy) are the
package's measures of the learner's predictions.

What the learner's code raises reaches the caller as a
:class:`~nnscratch.errors.DataError` that shows their own line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nnscratch.app.learn.checking import Answer, LearnerRaised, NotWritten, describe_raised
from nnscratch.app.learn.exercises import STAGES
from nnscratch.app.learn.workspace import Workspace
from nnscratch.core.blas import blas_threads_for_products
from nnscratch.core.init import Parameters
from nnscratch.core.losses import LOSSES, Loss
from nnscratch.core.observe import LayerView
from nnscratch.core.optimizers import Optimizer
from nnscratch.errors import DataError

#: The learner's functions a network needs, and those a classifier adds.
NETWORK_FUNCTIONS = ("initialize", "forward", "backward", "mse_cost", "mse_gradient", "l2_penalty")
CLASS_FUNCTIONS = ("softmax", "cross_entropy", "softmax_cross_entropy_gradient")
STEPS = {"gd": "gd_step", "momentum": "momentum_step", "adam": "adam_step"}


def learner_call(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``function`` as the course calls the learner's code outside a check: it may change
    its inputs, and what it raises becomes a :class:`DataError` with their line."""
    answer = Answer(function, name, keeps_inputs=False)

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return answer(*args, **kwargs)
        except NotWritten as unwritten:
            raise DataError(f"{name}: not written yet: {unwritten.where}") from None
        except LearnerRaised as raised:
            raise DataError(f"your {name} failed: {describe_raised(raised)}") from None

    return call


def learner_functions(workspace: Workspace, names: Sequence[str]) -> dict[str, Callable[..., Any]]:
    """The learner's functions ``names`` from their stage files (inside ``importable``),
    each wrapped by :func:`learner_call`."""
    where = {e.name: s for s in STAGES.values() for e in s.exercises}
    return {name: learner_call(workspace.function(where[name], name), name) for name in names}


class LearnerNetwork:
    """The learner's stages as a network of ``layer_sizes`` (see the module docs).

    ``functions`` holds their :data:`NETWORK_FUNCTIONS` (and, with ``classes``, the
    :data:`CLASS_FUNCTIONS`); ``weights`` and ``biases`` are where it starts (by default
    their ``initialize`` with ``rng``). Everything is float64, one thread.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        functions: dict[str, Callable[..., Any]],
        *,
        classes: bool,
        rng: np.random.Generator | int | None = 0,
        start: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
    ) -> None:
        self.functions, self.classes = functions, classes
        self.params = Parameters.zeros(layer_sizes, np.float64)
        self.grads = self.params.zeros_like()
        if start is None:
            start = functions["initialize"](list(layer_sizes), np.random.default_rng(rng))
        self.params.load_(*start)
        self.loss_function: Loss = LOSSES["cross_entropy" if classes else "mse"]
        self._last: tuple[np.ndarray, list[Any], np.ndarray] | None = None  # X, cache, Ŷ

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return self.params.layer_sizes

    @property
    def dtype(self) -> np.dtype:
        return self.params.dtype

    def blas_threads_for(self, m: int) -> contextlib.AbstractContextManager[object]:
        """BLAS as the package's network holds it for batches of ``m``."""
        return blas_threads_for_products(m * max(block.size for block in self.params.blocks))

    # ------------------------------------------------------------ the learner's stages

    def _output(self, Z_L: np.ndarray) -> np.ndarray:
        return self.functions["softmax"](Z_L) if self.classes else Z_L

    def _run(self, X: np.ndarray) -> tuple[list[Any], np.ndarray]:
        """Their forward pass on ``X`` ``(n[0], m)``: the cache and ``Ŷ``."""
        Z_L, cache = self.functions["forward"](self.params.weights, self.params.biases, X)
        return list(cache), np.asarray(self._output(np.asarray(Z_L)), dtype=np.float64)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """``Ŷ`` for ``X`` ``(n[0], m)``, keeping their cache for :meth:`backward`."""
        X = np.asarray(X, dtype=np.float64)
        cache, Y_hat = self._run(X)
        self._last = (X, cache, Y_hat)
        return Y_hat

    def backward(
        self, Y: np.ndarray, lmbda: float = 0.0, weights: np.ndarray | None = None
    ) -> float:
        """Their gradients of the last forward pass into ``grads``; returns ``m·J``."""
        if weights is not None:
            raise DataError("your network trains without sample weights")
        if self._last is None:
            raise RuntimeError("backward() needs a forward() first")
        _, cache, Y_hat = self._last
        f = self.functions
        m = Y.shape[1]
        cost, gradient = (
            (f["cross_entropy"], f["softmax_cross_entropy_gradient"])
            if self.classes
            else (f["mse_cost"], f["mse_gradient"])
        )
        J = float(cost(Y_hat, Y)) + float(f["l2_penalty"](self.params.weights, lmbda, m))
        dWs, dbs = f["backward"](gradient(Y_hat, Y), cache, self.params.weights, lmbda)
        self.grads.load_(dWs, dbs)
        return m * J

    def predict(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """``Ŷ`` for ``X`` ``(n[0], m)``, as a new array (nothing kept)."""
        return self._run(np.asarray(X, dtype=np.float64))[1]

    def loss(self, X: np.ndarray, Y: np.ndarray, lmbda: float = 0.0) -> float:
        """``J`` on ``(X, Y)`` by their cost and penalty."""
        Y_hat = self.predict(X)
        cost = self.functions["cross_entropy" if self.classes else "mse_cost"]
        return float(cost(Y_hat, Y)) + float(
            self.functions["l2_penalty"](self.params.weights, lmbda, Y.shape[1])
        )

    # ------------------------------------------------------------ what observers read

    def trace(self, X: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(Z[l], A[l])`` for ``l = 1..L`` on ``X``, from their forward pass's cache."""
        cache, Y_hat = self._run(np.asarray(X, dtype=np.float64))
        return layers_of(cache, Y_hat)

    def layer_views(self, before: Parameters | None = None) -> tuple[LayerView, ...]:
        """The read-only view of every layer for the last :meth:`forward` and
        :meth:`backward` (see :meth:`nnscratch.core.network.Network.layer_views`)."""
        if self._last is None:
            raise RuntimeError("layer_views() needs a forward() and a backward() first")
        _, cache, Y_hat = self._last
        L = len(self.layer_sizes) - 1
        views = []
        for l, (Z, A) in enumerate(layers_of(cache, Y_hat), start=1):
            W = self.params.weights[l - 1]
            views.append(
                LayerView(
                    l,
                    activation=("softmax" if self.classes else "identity") if l == L else "relu",
                    A=A,
                    W=W,
                    b=self.params.biases[l - 1],
                    dW=self.grads.weights[l - 1],
                    db=self.grads.biases[l - 1],
                    pre_activation=lambda Z=Z: Z,
                    update=None if before is None else W - before.weights[l - 1],
                )
            )
        return tuple(views)


def layers_of(cache: list[Any], Y_hat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(Z[l], A[l])`` for ``l = 1..L`` from a cache of ``(A[l-1], Z[l])`` pairs and
    ``Ŷ = A[L]``."""
    outputs = [np.asarray(entry[0]) for entry in cache[1:]] + [Y_hat]
    return [(np.asarray(entry[1]), A) for entry, A in zip(cache, outputs, strict=True)]


class LearnerOptimizer(Optimizer):
    """The learner's ``gd_step``, ``momentum_step`` (μ = 0.9) or ``adam_step`` as the
    package's :class:`~nnscratch.core.optimizers.Optimizer`: ``step(params, grads)``
    writes each step's new values into ``params`` (Adam's ``t`` counts the steps)."""

    def __init__(self, name: str, learning_rate: float, step: Callable[..., Any]) -> None:
        super().__init__(learning_rate)
        self.name, self._step, self.t = name, step, 0

    def reset(self) -> None:
        super().reset()
        self.t = 0

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        n_state = {"gd": 0, "momentum": 1, "adam": 2}[self.name]
        states = self._state(params, max(n_state, 1))  # allocated (and t reset) once
        self.t += 1
        for p, g, state in zip(params, grads, states, strict=True):
            if self.name == "gd":
                p[...] = self._step(p, g, self.learning_rate)
                continue
            if self.name == "momentum":
                new = self._step(p, g, state[0], self.learning_rate)
            else:
                new = self._step(p, g, state[0], state[1], self.t, self.learning_rate)
            p[...] = new[0]
            for buffer, value in zip(state, new[1:], strict=True):
                buffer[...] = value
