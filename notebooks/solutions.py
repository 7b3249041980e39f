"""Reference answers to the notebooks' exercises — read them after trying.

A notebook's exercise cell defines the learner's function; the next cell passes it
through :func:`fill`, which returns it unchanged, or this file's answer when
``NNSCRATCH_SOLUTIONS=1`` (how CI runs every notebook with the answers filled in).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np


def fill(function: Callable[..., Any]) -> Callable[..., Any]:
    """The learner's ``function``, or the answer of the same name when
    ``NNSCRATCH_SOLUTIONS`` is set."""
    if os.environ.get("NNSCRATCH_SOLUTIONS"):
        return globals()[function.__name__]
    return function


# 1.1
def release_year(date: str) -> float:
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", date.strip())
    if not match:
        return float("nan")
    month, day = match.group(2), match.group(3)
    if (month and not 1 <= int(month) <= 12) or (day and not 1 <= int(day) <= 31):
        return float("nan")
    return float(match.group(1))


# 1.2
def minmax_scale(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low, high = train.min(axis=0), train.max(axis=0)
    width = np.where(high > low, high - low, 1.0)
    return (train - low) / width, (other - low) / width


# 2.1
def he_weights(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)


# 2.2
def glorot_weights(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / (n_in + n_out))


# 3.1
def relu_derivative(z: np.ndarray) -> np.ndarray:
    return (z > 0).astype(z.dtype)


# 3.2
def sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    s = 1 / (1 + np.exp(-z))
    return s * (1 - s)


# 4.1
def layer_forward(W: np.ndarray, b: np.ndarray, A_prev: np.ndarray) -> np.ndarray:
    return W @ A_prev + b


# 4.2
def forward(weights: list[np.ndarray], biases: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    A = X
    for l, (W, b) in enumerate(zip(weights, biases, strict=True), start=1):
        Z = W @ A + b
        A = Z if l == len(weights) else np.maximum(Z, 0)
    return A


# 5.1
def mse_cost(Y_hat: np.ndarray, Y: np.ndarray) -> float:
    m = Y.shape[1]
    return float(np.sum((Y_hat - Y) ** 2) / (2 * m))


# 5.2
def layer_backward(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    return dZ @ A_prev.T, dZ.sum(axis=1, keepdims=True), W.T @ dZ


# 6.1
def momentum_step(w: np.ndarray, grad: np.ndarray, v: np.ndarray, lr: float, mu: float
                  ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    v = mu * v + grad
    return w - lr * v, v


# 6.2
def adam_step(w, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


# 7.1
def softmax(Z: np.ndarray) -> np.ndarray:
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


# 7.2
def softmax_cross_entropy_gradient(Y_hat: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return (Y_hat - Y) / Y.shape[1]


# 8.1
def piecewise_linear(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    low, high = edges[:-1], edges[1:]
    return np.clip((x[:, None] - low) / (high - low), 0, 1)


# 8.2
def tabm_first_layer(W, R, S, B, X):
    U = R[:, :, None] * X[:, None, :]  # (n[0], K, m): each member's scaled inputs
    P = np.einsum("ji,ikm->jkm", W, U)
    return S[:, :, None] * P + B[:, :, None]
