"""Stage 2 — initialisation: why He keeps the signal alive.

With z = Σ_j w_j a_j over n inputs and independent zero-mean weights,
Var(z) = n · Var(w) · E[a²]. ReLU keeps half of a symmetric z, so E[relu(z)²] = Var(z)/2.
He's Var(w) = 2/n[l-1] cancels both factors: the signal keeps its size through every
layer. The naive small initialisation, 0.01·N(0, 1), multiplies its RMS by 0.01·√(n/2)
a layer: by 0.06 for n = 64.

Shapes: W[l] is (n[l], n[l-1]) — a row per unit of layer l, a column per input — and
b[l] is (n[l], 1), a column that broadcasts over the m samples.

Docs: docs/2-init.md · notebook: notebooks/02_init.py
Check: nnscratch learn check init (or nnscratch learn watch)
"""

import numpy as np


def he_weights(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    """Exercise 2.1 — He initialisation.

    W for a layer of n_out units over n_in inputs, drawn with He's variance.

    Returns (n_out, n_in) — a row per unit — drawn from N(0, 2/n_in) with the generator
    given (rng.standard_normal), so the same seed gives the same weights.
    He's uniform form, U(−√(6/n_in), √(6/n_in)), has the same variance and passes too.
    """
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)


def glorot_weights(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    """Exercise 2.2 — Glorot initialisation.

    W as he_weights, with Glorot's variance 2/(n_in + n_out) (made for tanh).

    Returns (n_out, n_in), drawn with the generator given; the uniform form,
    U(±√(6/(n_in + n_out))), passes too.
    """
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / (n_in + n_out))


def initialize(
    layer_sizes: list[int],
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Exercise 2.3 — a network's initial parameters.

    Every layer's starting W and b, for layer_sizes [n0, n1, ..., nL].

    Returns (weights, biases): weights[l-1] = W[l], (n[l], n[l-1]), drawn with he_weights
    from the one rng, layer 1 first; biases[l-1] = b[l], zeros of shape (n[l], 1).
    E.g. [13, 64, 32, 16, 1]: W shapes (64, 13), (32, 64), (16, 32), (1, 16).
    """
    weights, biases = [], []
    for l in range(1, len(layer_sizes)):
        weights.append(he_weights(layer_sizes[l - 1], layer_sizes[l], rng))
        biases.append(np.zeros((layer_sizes[l], 1)))
    return weights, biases
