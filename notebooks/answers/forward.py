"""Stage 4 — the forward pass.

Inside the network every array has a column per sample: X is (n[0], m). For layers
l = 1..L:

    Z[l] = W[l] · A[l-1] + b[l]      (n[l], m): b[l] (n[l], 1) broadcasts over columns
    A[l] = relu(Z[l])                on the hidden layers; the output is linear, A[L] = Z[L]

A[0] = X, and Y_hat = A[L]. The default network is 13 → 64 → 32 → 16 → 1.

Docs: docs/4-forward.md · notebook: notebooks/04_forward.py
Check: nnscratch learn check forward (or nnscratch learn watch)
"""

import numpy as np
from activations import relu


def layer_forward(W: np.ndarray, b: np.ndarray, A_prev: np.ndarray) -> np.ndarray:
    """Exercise 4.1 — one layer's forward pass.

    One layer's pre-activation Z = W · A_prev + b.

    W: (n[l], n[l-1]), b: (n[l], 1), A_prev: (n[l-1], m) → Z: (n[l], m).
    """
    return W @ A_prev + b


def forward(
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    X: np.ndarray,
) -> tuple[np.ndarray, list]:
    """Exercise 4.2 — the forward pass.

    The forward pass through every layer, keeping what backward needs.

    weights [W1..WL] and biases [b1..bL] as initialize gives them; X: (n[0], m).
    For l = 1..L: Z[l] = layer_forward(W[l], b[l], A[l-1]) with A[0] = X, then
    A[l] = relu(Z[l]) for l < L, and A[L] = Z[L] (a linear output).
    Returns (Y_hat, cache): Y_hat = A[L], (n[L], m), and cache a list of L pairs,
    cache[l-1] = (A[l-1], Z[l]) — layer l's input and pre-activation.
    """
    A, cache = X, []
    L = len(weights)
    for l in range(1, L + 1):
        Z = layer_forward(weights[l - 1], biases[l - 1], A)
        cache.append((A, Z))
        A = Z if l == L else relu(Z)
    return A, cache
