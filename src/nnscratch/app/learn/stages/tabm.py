"""Stage 10 — beyond the seed: piecewise-linear inputs and TabM's first layer.

Checked against the package's encoder (:class:`~nnscratch.data.encoders.PiecewiseLinearEncoding`)
and its TabM network (:class:`~nnscratch.core.batchensemble.BatchEnsembleNetwork`) to 1e-9.
"""

from __future__ import annotations

import numpy as np

from nnscratch.app.learn.checking import Answer, compare
from nnscratch.app.learn.exercise import Exercise, Stage
from nnscratch.core.batchensemble import BatchEnsembleNetwork
from nnscratch.data.encoders import PiecewiseLinearEncoding


def check_piecewise_linear(answer: Answer) -> str | None:
    edges = np.array([0.0, 1.0, 3.0, 6.0])
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 5.9, 6.0, 9.0])
    # at most n_bins + 1 distinct training values become the edges themselves
    encoder = PiecewiseLinearEncoding(include_input=False).fit(edges[:, None])
    low, high = edges[:-1], edges[1:]
    ramp = (x[:, None] - low) / (high - low)
    return compare(
        "the encoding",
        answer(x, edges),
        encoder.transform(x[:, None]),
        mistakes=[
            (
                "0 or 1 per bin: a bin's value rises linearly across it — "
                "clip((x − b_{t−1}) / (b_t − b_{t−1}), 0, 1)",
                (x[:, None] >= high).astype(float),
            ),
            ("values below 0 and above 1: clip each to [0, 1]", ramp),
            (
                "(T, n): a row per bin; the encoding has a row per value, (n, T)",
                np.clip(ramp, 0, 1).T,
            ),
        ],
        formula="e_t(x) = clip((x − b_{t−1}) / (b_t − b_{t−1}), 0, 1)",
    )


def check_tabm_first_layer(answer: Answer) -> str | None:
    net = BatchEnsembleNetwork([5, 4, 1], 3, dtype=np.float64, rng=1)
    rng = np.random.default_rng(10)
    p = net.params
    for array in (p.R[0], p.S[0], p.B[0]):
        array[...] = rng.normal(size=array.shape)
    X = rng.normal(size=(5, 7))
    W, R, S, B = p.W[0].copy(), p.R[0].copy(), p.S[0].copy(), p.B[0].copy()
    unscaled = np.einsum("ji,ikm->jkm", W, R[:, :, None] * X[:, None, :])
    expected = net.trace(X)[0][0]
    return compare(
        "Z[1]",
        answer(W, R, S, B, X),
        expected,
        mistakes=[
            (
                "each member's output scaling s_k is missing: Z_k = s_k ⊙ (W · (r_k ⊙ X)) + b_k",
                unscaled + B[:, :, None],
            ),
            (
                "each member's bias b_k is missing: Z_k = s_k ⊙ (W · (r_k ⊙ X)) + b_k",
                S[:, :, None] * unscaled,
            ),
            (
                "(n[1], m, K): the members go in the middle, Z[1] is (n[1], K, m)",
                expected.transpose(0, 2, 1),
            ),
        ],
        formula="Z_k = s_k ⊙ (W · (r_k ⊙ X)) + b_k, shape (n[1], K, m)",
    )


STAGE = Stage(
    number=10,
    name="tabm",
    title="piecewise-linear inputs and TabM",
    intro="""Stage 10 — beyond the seed: the two ideas of the default recipe.

Piecewise-linear encoding turns a number x into T numbers, one per bin [b_{t−1}, b_t]:
e_t(x) = clip((x − b_{t−1}) / (b_t − b_{t−1}), 0, 1), so the first layer can give each
range of a feature its own slope. TabM makes one network K members that share every
W[l] and own cheap scalings: Z_k = s_k ⊙ (W · (r_k ⊙ A_k)) + b_k — an ensemble for
little more than one network's price.""",
    imports=("import numpy as np",),
    exercises=(
        Exercise(
            "10.1",
            "piecewise_linear",
            "the piecewise-linear encoding",
            "(x: np.ndarray, edges: np.ndarray) -> np.ndarray",
            """Encode the n values x (n,) over the T bins that the T + 1 sorted edges
make: returns (n, T), e_t(x) = clip((x − edges[t]) / (edges[t+1] − edges[t]), 0, 1).""",
            check_piecewise_linear,
            shapes="x (n,), edges (T + 1,) → (n, T)",
        ),
        Exercise(
            "10.2",
            "tabm_first_layer",
            "TabM's first layer",
            "(W: np.ndarray, R: np.ndarray, S: np.ndarray, B: np.ndarray, X: np.ndarray)"
            " -> np.ndarray",
            """The K members' pre-activations of the first layer, all at once.

W (n[1], n[0]) shared; R (n[0], K), S and B (n[1], K) the members' own; X (n[0], m).
Returns Z (n[1], K, m): Z[:, k, :] = S[:, k:k+1] * (W @ (R[:, k:k+1] * X)) + B[:, k:k+1].""",
            check_tabm_first_layer,
            shapes="W (n[1], n[0]), R (n[0], K), S (n[1], K), B (n[1], K), X (n[0], m)",
        ),
    ),
    docs="accuracy.md",
)
