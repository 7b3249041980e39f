"""Stage 5 (part 1) — the loss the network minimises.

For predictions ``Ŷ`` and targets ``Y``, both ``(1, m)``, and weights
``W[1..L]``::

    MSE(Ŷ, Y)   = 1/(2m) Σ (ŷ - y)²                    (the ½ cancels the 2 of the square)
    L2(W, λ, m) = λ/(2m) Σ_l ‖W[l]‖²_F                 (biases are not regularised)
    J           = MSE + L2

and their gradients::

    ∂MSE/∂Ŷ    = (Ŷ - Y) / m
    ∂L2/∂W[l]  = (λ/m) W[l]

RMSE in the target's units is ``sqrt(2 · MSE)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mse_loss(Y_hat: np.ndarray, Y: np.ndarray) -> float:
    """``1/(2m) Σ (ŷ - y)²`` over a ``(1, m)`` (or ``(m,)``) batch.

    >>> round(mse_loss(np.array([[1.0, 1.0, 4.0]]), np.array([[1.0, 0.0, 2.0]])), 6)
    0.833333
    """
    Y_hat = np.asarray(Y_hat, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64).reshape(Y_hat.shape)
    m = Y_hat.shape[-1]
    diff = (Y_hat - Y).ravel()
    return float(diff @ diff) / (2 * m)


def mse_gradient(Y_hat: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``∂MSE/∂Ŷ = (Ŷ - Y) / m``, shape of ``Y_hat``."""
    m = Y_hat.shape[-1]
    return (Y_hat - np.asarray(Y).reshape(Y_hat.shape)) / m


def l2_penalty(weights: Sequence[np.ndarray], lmbda: float, m: int) -> float:
    """``λ/(2m) Σ_l ‖W[l]‖²_F``.

    >>> l2_penalty([np.ones((2, 2))] * 4, lmbda=0.1, m=2)
    0.4
    """
    if lmbda == 0:
        return 0.0
    squares = sum(float(np.vdot(W, W)) for W in weights)
    return lmbda / (2 * m) * squares


def total_loss(
    Y_hat: np.ndarray, Y: np.ndarray, weights: Sequence[np.ndarray], lmbda: float
) -> float:
    """``J = MSE + L2`` for one batch of ``m = Y_hat.shape[-1]`` samples."""
    return mse_loss(Y_hat, Y) + l2_penalty(weights, lmbda, np.asarray(Y_hat).shape[-1])


def rmse_from_mse(mse: float) -> float:
    """RMSE from the ½-convention MSE: ``sqrt(2 · MSE)``."""
    return float(np.sqrt(2.0 * mse))
