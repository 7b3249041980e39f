"""Stage 3 — activations and their derivatives.

Each function works entry by entry on a block Z of any shape, usually (n[l], m), and
returns a new array of the same shape, leaving Z as it was. Backpropagation multiplies
by g'(Z) at every layer: ReLU's derivative is 1 or 0, so the gradient passes whole or
not at all; the sigmoid's, σ(1 − σ), is at most 0.25 and nearly 0 once |z| > 4.

Docs: docs/3-activations.md · notebook: notebooks/03_activations.py
Check: nnscratch learn check activations (or nnscratch learn watch)
"""

import numpy as np


def relu(Z: np.ndarray) -> np.ndarray:
    """Exercise 3.1 — ReLU.

    relu(z) = max(z, 0) for every entry (np.maximum, not np.max).
    """
    return np.maximum(Z, 0)


def relu_derivative(Z: np.ndarray) -> np.ndarray:
    """Exercise 3.2 — ReLU's derivative.

    1 where z > 0, else 0 (at z = 0 exactly: 0, as the package and the seed).
    """
    return (Z > 0).astype(float)


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """Exercise 3.3 — the sigmoid.

    σ(z) = 1 / (1 + e^(−z)); it must not give NaN at z = ±800.
    """
    return 1 / (1 + np.exp(-Z))


def sigmoid_derivative(Z: np.ndarray) -> np.ndarray:
    """Exercise 3.4 — the sigmoid's derivative.

    σ'(z) = σ(z) (1 − σ(z)); it must not give NaN at z = ±800.
    """
    s = sigmoid(Z)
    return s * (1 - s)
