"""Stage 9 — Part 2: K classes with a softmax output and cross-entropy.

For a (K, m) block of logits Z = Z[L], each column a sample:

    ŷ_k = e^(z_k) / Σ_j e^(z_j)                 per column: probabilities summing to 1
    J   = −1/m Σ_i Σ_k y_ki log ŷ_ki            Y one-hot (K, m)
    dZ  = (Ŷ − Y) / m                           softmax and cross-entropy together

so the network's backward pass starts from this dZ exactly as it starts from (Ŷ − Y)/m
for the squared error: your train runs digits with output=softmax,
cost=cross_entropy, cost_gradient=softmax_cross_entropy_gradient.

Docs: docs/7-classification.md · notebook: notebooks/09_softmax.py
Check: nnscratch learn check softmax (or nnscratch learn watch)
"""

import numpy as np


def softmax(Z: np.ndarray) -> np.ndarray:
    """Exercise 9.1 — a stable softmax.

    The softmax of every column of Z (K, m): each column of the result sums to 1.

    Stable: logits of ±800 must not give NaN — subtract each column's maximum before exp
    (the result does not change: softmax ignores a shift).
    """
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def cross_entropy(Y_hat: np.ndarray, Y: np.ndarray) -> float:
    """Exercise 9.2 — the cross-entropy cost.

    J = −1/m Σ_i Σ_k y_ki log ŷ_ki, one number.

    Y_hat: softmax probabilities (K, m); Y: one-hot (K, m). A probability may be exactly 0
    where y is 0: that term is 0 (in NumPy 0 · log 0 is NaN).
    """
    m = Y.shape[1]
    p_true = np.sum(Y_hat * Y, axis=0)  # each sample's probability of its true class
    return float(-np.sum(np.log(p_true)) / m)


def softmax_cross_entropy_gradient(Y_hat: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Exercise 9.3 — the softmax–cross-entropy gradient.

    dZ[L] = (Ŷ − Y) / m for a softmax output with cross-entropy, (K, m).
    """
    return (Y_hat - Y) / Y.shape[1]
