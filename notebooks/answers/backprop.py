"""Stage 6 — backpropagation: the gradients, from the output layer down.

With dZ[L] = ∂J/∂Z[L] (the cost's gradient, stage 5) and, for l = L..1,

    dW[l]   = dZ[l] · A[l-1]ᵀ + (λ/m) W[l]     (n[l], n[l-1])
    db[l]   = Σ over the columns of dZ[l]      (n[l], 1)
    dA[l-1] = W[l]ᵀ · dZ[l]                    (n[l-1], m)
    dZ[l-1] = dA[l-1] ⊙ relu'(Z[l-1])          the chain rule through the activation

Check your gradients yourself with finite differences:
nnscratch.core.gradcheck.check_gradient_functions(f, grad, params).

Docs: docs/5-loss-backprop.md · notebook: notebooks/06_backprop.py
Check: nnscratch learn check backprop (or nnscratch learn watch)
"""

import numpy as np
from activations import relu_derivative


def layer_backward(
    dZ: np.ndarray,
    A_prev: np.ndarray,
    W: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exercise 6.1 — one layer's backward pass.

    The gradients of one layer Z = W · A_prev + b, from dZ = ∂J/∂Z.

    dZ: (n[l], m), A_prev: (n[l-1], m), W: (n[l], n[l-1]).
    Returns (dW, db, dA_prev) = (dZ · A_prevᵀ, Σ over dZ's columns, Wᵀ · dZ), shapes
    (n[l], n[l-1]), (n[l], 1), (n[l-1], m). dZ already holds the cost's 1/m.
    """
    dW = dZ @ A_prev.T
    db = dZ.sum(axis=1, keepdims=True)
    dA_prev = W.T @ dZ
    return dW, db, dA_prev


def relu_backward(dA: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Exercise 6.2 — the activation's backward step.

    The chain rule through a ReLU: dZ = dA ⊙ relu'(Z), entry by entry.

    dA = ∂J/∂A and Z, the layer's pre-activation from the cache, both (n[l], m).
    """
    return dA * relu_derivative(Z)


def backward(
    dZ_L: np.ndarray,
    cache: list,
    weights: list[np.ndarray],
    lmbda: float = 0.0,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Exercise 6.3 — the L-layer backward pass.

    Every layer's gradients, from dZ_L = ∂J/∂Z[L] down to layer 1.

    dZ_L: (n[L], m) — mse_gradient's, or later softmax_cross_entropy_gradient's;
    cache: forward's, cache[l-1] = (A[l-1], Z[l]); weights [W1..WL]; m = dZ_L.shape[1].
    For l = L..1: dW[l], db[l], dA[l-1] = layer_backward(dZ[l], A[l-1], W[l]);
    dW[l] += (λ/m) W[l]; and, below the top, dZ[l-1] = relu_backward(dA[l-1], Z[l-1]).
    Returns (dWs, dbs) in layer order: [dW1..dWL], [db1..dbL].
    """
    L, m = len(weights), dZ_L.shape[1]
    dWs, dbs = [None] * L, [None] * L
    dZ = dZ_L
    for l in range(L, 0, -1):
        A_prev, _ = cache[l - 1]
        dW, db, dA_prev = layer_backward(dZ, A_prev, weights[l - 1])
        dWs[l - 1] = dW + (lmbda / m) * weights[l - 1]
        dbs[l - 1] = db
        if l > 1:
            dZ = relu_backward(dA_prev, cache[l - 2][1])
    return dWs, dbs
