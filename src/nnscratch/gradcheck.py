"""Checking backpropagation against central finite differences.

For every parameter θ_i::

    ∂J/∂θ_i ≈ (J(θ + h e_i) - J(θ - h e_i)) / (2h)          error O(h²)

and the analytic gradient ``a`` agrees with the numeric one ``n`` when::

    max_i |a_i - n_i| / max(|a_i| + |n_i|, floor)

is tiny. The ``floor`` keeps gradients that are (almost) exactly zero, such
as those of a dead ReLU unit, from dividing rounding noise by zero. Run it in
float64: in float32 the rounding noise of ``J`` swamps the difference.
"""

from __future__ import annotations

import numpy as np

from nnscratch.losses import total_loss
from nnscratch.network import Network


def numerical_gradient(
    net: Network, X: np.ndarray, Y: np.ndarray, lmbda: float, h: float = 1e-5
) -> np.ndarray:
    """Central-difference gradient of ``J`` over ``net.params.flat`` (a new flat array)."""
    flat = net.params.flat
    grad = np.empty_like(flat)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + h
        plus = total_loss(net.predict(X), Y, net.params.weights, lmbda)
        flat[i] = saved - h
        minus = total_loss(net.predict(X), Y, net.params.weights, lmbda)
        flat[i] = saved
        grad[i] = (plus - minus) / (2 * h)
    return grad


def analytic_gradient(net: Network, X: np.ndarray, Y: np.ndarray, lmbda: float) -> np.ndarray:
    """Backpropagation's gradient over ``net.params.flat`` (a new flat array)."""
    net.forward(X)
    net.backward(Y, lmbda)
    return net.grads.flat.copy()


def max_relative_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-4) -> float:
    """``max |a - n| / max(|a| + |n|, floor)`` over all entries."""
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), floor)
    return float(np.max(np.abs(analytic - numeric) / scale))


def check_gradients(
    net: Network, X: np.ndarray, Y: np.ndarray, lmbda: float = 0.0, h: float = 1e-5
) -> float:
    """Max relative error between backprop and finite differences for ``net`` on ``(X, Y)``."""
    return max_relative_error(
        analytic_gradient(net, X, Y, lmbda), numerical_gradient(net, X, Y, lmbda, h)
    )
