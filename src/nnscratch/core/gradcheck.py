"""Checking backpropagation against central finite differences.

For every parameter θ_i::

    ∂J/∂θ_i ≈ (J(θ + h e_i) - J(θ - h e_i)) / (2h)          error O(h²)

and the analytic gradient ``a`` agrees with the numeric one ``n`` when::

    max_i |a_i - n_i| / max(|a_i| + |n_i|, floor)

is tiny. The ``floor`` keeps gradients that are (almost) exactly zero, such
as those of a dead ReLU unit, from dividing rounding noise by zero. Run it in
float64: in float32 the rounding noise of ``J`` swamps the difference.

:func:`check_gradients` checks the package's :class:`~nnscratch.core.network.Network`;
:func:`check_gradient_functions` checks any plain functions — ``f(params) → J`` and
``grad(params) → [∂J/∂p for p in params]`` over a list of arrays — such as a
learner's own forward pass, cost and backward pass::

    def f(params):
        weights, biases = params[:L], params[L:]
        Y_hat, _ = forward(weights, biases, X)
        return mse_cost(Y_hat, Y)

    def grad(params):
        weights, biases = params[:L], params[L:]
        Y_hat, cache = forward(weights, biases, X)
        dWs, dbs = backward(mse_gradient(Y_hat, Y), cache, weights)
        return dWs + dbs

    check_gradient_functions(f, grad, weights + biases)     # about 1e-9 when right
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from nnscratch.core.losses import l2_penalty
from nnscratch.core.network import Network

#: Activations with a kink at z = 0, where a finite difference may straddle it.
KINKED = frozenset({"relu", "leaky_relu"})


Masks = list[np.ndarray | None] | None


def objective(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    lmbda: float,
    masks: Masks,
    weights: np.ndarray | None = None,
) -> float:
    """``J`` on ``(X, Y)``; with dropout ``masks``, of the masked (training) forward pass;
    with sample ``weights``, ``(Σ_i w_i ℓ_i + λ/2 Σ‖W‖²) / Σ_i w_i``."""
    if weights is not None:
        Y_hat = net.predict(X) if masks is None else net.forward(X, dropout_masks=masks)
        data = float(np.dot(weights, net.loss_function.per_sample(Y_hat, Y)))
        squared = sum(float(np.vdot(W, W)) for W in net.params.weights)
        return (data + 0.5 * lmbda * squared) / float(np.sum(weights))
    if masks is None:
        return net.loss(X, Y, lmbda)
    Y_hat = net.forward(X, dropout_masks=masks)
    return net.loss_function.value(Y_hat, Y) + l2_penalty(net.params.weights, lmbda, X.shape[1])


def numerical_gradients(
    f: Callable[[list[np.ndarray]], float], params: list[np.ndarray], h: float = 1e-5
) -> list[np.ndarray]:
    """Central differences of ``f(params)`` for every entry of every array in ``params``
    (new arrays, one per parameter). Each entry is moved by ±h in place and put back, so
    ``f`` may read the arrays directly."""
    grads = []
    for p in params:
        grad = np.empty_like(p)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + h
            plus = f(params)
            p[i] = saved - h
            minus = f(params)
            p[i] = saved
            grad[i] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


def numerical_gradient(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    lmbda: float,
    h: float = 1e-5,
    masks: Masks = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Central-difference gradient of ``J`` over ``net.params.flat`` (a new flat array)."""
    (grad,) = numerical_gradients(
        lambda _: objective(net, X, Y, lmbda, masks, weights), [net.params.flat], h
    )
    return grad


def analytic_gradient(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    lmbda: float,
    masks: Masks = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Backpropagation's gradient over ``net.params.flat`` (a new flat array)."""
    net.forward(X, dropout_masks=masks)
    net.backward(Y, lmbda, weights)
    return net.grads.flat.copy()


def max_relative_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-4) -> float:
    """``max |a - n| / max(|a| + |n|, floor)`` over all entries."""
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), floor)
    return float(np.max(np.abs(analytic - numeric) / scale))


def check_gradients(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    lmbda: float = 0.0,
    h: float = 1e-5,
    masks: Masks = None,
    weights: np.ndarray | None = None,
) -> float:
    """Max relative error between backprop and finite differences for ``net`` on ``(X, Y)``.

    With dropout, pass fixed ``masks`` (one per hidden layer, values 0 or
    ``1/(1-p)``): both sides then see the same masked network. ``weights``
    ``(m,)`` checks the sample-weighted objective.
    """
    return max_relative_error(
        analytic_gradient(net, X, Y, lmbda, masks, weights),
        numerical_gradient(net, X, Y, lmbda, h, masks, weights),
    )


def check_gradient_functions(
    f: Callable[[list[np.ndarray]], float],
    grad: Callable[[list[np.ndarray]], Sequence[np.ndarray]],
    params: Sequence[np.ndarray],
    h: float = 1e-5,
) -> float:
    """Max relative error between ``grad(params)`` and central differences of ``f``.

    ``params`` is a list of arrays (copied to float64; the originals are not touched);
    ``grad`` returns one gradient per array, in the same order and shapes. A ``ValueError``
    names a gradient whose shape differs from its parameter's.
    """
    copies = [np.array(p, dtype=np.float64) for p in params]
    analytic = [np.asarray(g, dtype=np.float64) for g in grad([c.copy() for c in copies])]
    if len(analytic) != len(copies):
        raise ValueError(f"grad returned {len(analytic)} arrays for {len(copies)} parameters")
    for i, (g, p) in enumerate(zip(analytic, copies, strict=True)):
        if g.shape != p.shape:
            raise ValueError(f"gradient {i} has shape {g.shape}; its parameter has {p.shape}")
    numeric = numerical_gradients(f, copies, h)
    return max(max_relative_error(a, n) for a, n in zip(analytic, numeric, strict=True))


def network_away_from_kinks(
    sizes: list[int], hidden: str, output: str, m: int, seed: int
) -> tuple[Network, np.ndarray, np.ndarray]:
    """A random float64 network and batch whose pre-activations all stay ≥ 1e-2 from 0.

    ReLU and leaky ReLU have a kink at z = 0 where the derivative jumps; a
    finite difference that straddles it measures neither side. The finite
    difference moves each z by at most h·max|A| ≈ 1e-5, so redrawing until
    every |Z| ≥ 1e-2 keeps every probe on one side of the kink. Biases are
    drawn non-zero so that they matter too, and a ReLU output must be alive
    (positive) for at least half the batch, or its gradient is trivially 0.
    """
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        net = Network(sizes, hidden, output, dtype=np.float64, rng=rng)
        for b in net.params.biases:
            b[...] = rng.normal(0, 0.5, size=b.shape)
        X = rng.normal(0, 1, size=(sizes[0], m))
        Y = rng.normal(0, 1, size=(sizes[-1], m))
        net.forward(X)
        cache = net.cache_for(m)
        L = len(sizes) - 1
        W, b = net.params.weights, net.params.biases
        Z = [W[l - 1] @ cache.A[l - 1] + b[l - 1] for l in range(1, L + 1)]  # Z[1..L]
        kinked = [(hidden if l < L else output) in KINKED for l in range(1, L + 1)]
        kinks = [Z[l - 1] for l in range(1, L + 1) if kinked[l - 1]]
        alive = output != "relu" or (Z[-1] > 0).mean() >= 0.5
        if alive and all(np.abs(Z).min() >= 1e-2 for Z in kinks):
            return net, X, Y
    raise AssertionError("could not draw a batch away from the kinks")
