"""Stage 10 — beyond the seed: the two ideas of the default recipe.

Piecewise-linear encoding turns a number x into T numbers, one per bin [b_{t−1}, b_t]:
e_t(x) = clip((x − b_{t−1}) / (b_t − b_{t−1}), 0, 1), so the first layer can give each
range of a feature its own slope. TabM makes one network K members that share every
W[l] and own cheap scalings: Z_k = s_k ⊙ (W · (r_k ⊙ A_k)) + b_k — an ensemble for
little more than one network's price.

Docs: docs/accuracy.md · notebook: notebooks/10_tabm.py
Check: nnscratch learn check tabm (or nnscratch learn watch)
"""

import numpy as np


def piecewise_linear(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Exercise 10.1 — the piecewise-linear encoding.

    Encode the n values x (n,) over the T bins that the T + 1 sorted edges
    make: returns (n, T), e_t(x) = clip((x − edges[t]) / (edges[t+1] − edges[t]), 0, 1).
    """
    low, high = edges[:-1], edges[1:]
    return np.clip((x[:, None] - low) / (high - low), 0, 1)


def tabm_first_layer(
    W: np.ndarray,
    R: np.ndarray,
    S: np.ndarray,
    B: np.ndarray,
    X: np.ndarray,
) -> np.ndarray:
    """Exercise 10.2 — TabM's first layer.

    The K members' pre-activations of the first layer, all at once.

    W (n[1], n[0]) shared; R (n[0], K), S and B (n[1], K) the members' own; X (n[0], m).
    Returns Z (n[1], K, m): Z[:, k, :] = S[:, k:k+1] * (W @ (R[:, k:k+1] * X)) + B[:, k:k+1].
    """
    U = R[:, :, None] * X[:, None, :]  # (n[0], K, m): each member's scaled inputs
    P = np.einsum("ji,ikm->jkm", W, U)  # W · (r_k ⊙ X) for every member at once
    return S[:, :, None] * P + B[:, :, None]
