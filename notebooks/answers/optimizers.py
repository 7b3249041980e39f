"""Stage 7 — how a step changes the weights: gradient descent, momentum, Adam.

Each function takes one parameter array w, its gradient and the optimizer's state, and
returns new arrays (it leaves its inputs as they were); the training loop calls it for
every W[l] and b[l], keeping each one's state:

    gradient descent   w ← w − η g
    momentum           v ← μ v + g;  w ← w − η v                      (as PyTorch)
    Adam               m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²
                       w ← w − η m̂ / (√v̂ + ε),  m̂ = m / (1 − β1ᵗ),  v̂ = v / (1 − β2ᵗ)

t counts Adam's steps from 1. Adam's defaults are Kingma and Ba's (ICLR 2015).

Docs: docs/optimizers.md · notebook: notebooks/07_optimizers.py
Check: nnscratch learn check optimizers (or nnscratch learn watch)
"""

import numpy as np


def gd_step(w: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray:
    """Exercise 7.1 — a gradient descent step.

    One step of gradient descent: the new w = w − lr · grad.
    """
    return w - lr * grad


def momentum_step(
    w: np.ndarray,
    grad: np.ndarray,
    v: np.ndarray,
    lr: float,
    mu: float = 0.9,
) -> tuple[np.ndarray, np.ndarray]:
    """Exercise 7.2 — a momentum step.

    One step of momentum: v ← mu · v + grad, then w ← w − lr · v.

    v is the velocity from the step before (zeros at the first). Returns (w, v), new.
    """
    v = mu * v + grad
    return w - lr * v, v


def adam_step(
    w: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exercise 7.3 — an Adam step.

    One step of Adam, t = 1, 2, ... counting the steps taken with this one.

    m ← beta1 · m + (1 − beta1) · grad;  v ← beta2 · v + (1 − beta2) · grad²;
    m̂ = m / (1 − beta1ᵗ);  v̂ = v / (1 − beta2ᵗ);  w ← w − lr · m̂ / (√v̂ + eps).
    m and v start as zeros. Returns (w, m, v), new arrays.
    (Kingma and Ba's efficient form, lr·√(1 − beta2ᵗ)/(1 − beta1ᵗ) · m / (√v + eps),
    passes too.)
    """
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
