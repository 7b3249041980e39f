"""Stage 6 — backpropagation: one layer, the activation's step, every layer with its cache.

One layer is checked against central finite differences of ``J = Σ G ⊙ (W·A + b)``
(``G`` plays dZ), to 1e-7; the L-layer pass against the package's backpropagation
(:meth:`nnscratch.core.network.Network.backward`) to 1e-8, on a 5-7-6-3 ReLU network
whose pre-activations all stay away from ReLU's kink (a finite difference agrees there,
and a ``>=`` cannot pass for ``>``). Each gradient is compared layer by layer from the
output down, so a hint says where the chain first goes wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnscratch.app.learn.checking import Answer, compare, matches
from nnscratch.app.learn.exercise import Exercise, Stage
from nnscratch.core.gradcheck import network_away_from_kinks, numerical_gradients


def check_layer_backward(answer: Answer) -> str | None:
    rng = np.random.default_rng(6)
    W, b, A, G = (rng.normal(size=s) for s in ((4, 3), (4, 1), (3, 8), (4, 8)))

    def J(params: list[np.ndarray]) -> float:
        W_, b_, A_ = params
        return float(np.sum(G * (W_ @ A_ + b_)))

    dW, db, dA = numerical_gradients(J, [W.copy(), b.copy(), A.copy()])
    result = answer(G, A, W)
    if not isinstance(result, tuple | list) or len(result) != 3:
        return "return the three gradients: (dW, db, dA_prev)"
    got_dW, got_db, got_dA = result
    m = A.shape[1]
    return (
        compare(
            "dW",
            got_dW,
            dW,
            rtol=1e-7,
            atol=1e-9,
            mistakes=[
                ("dW = A_prev · dZᵀ is dWᵀ: dW = dZ · A_prevᵀ, (n[l], n[l-1])", A @ G.T),
                ("dW is 1/m of the answer: dZ already holds the 1/m, don't divide again", dW / m),
            ],
            formula="dW = dZ · A_prevᵀ",
        )
        or compare(
            "db",
            got_db,
            db,
            rtol=1e-7,
            atol=1e-9,
            mistakes=[
                (
                    "db is 1-D: keep the column, dZ.sum(axis=1, keepdims=True), (n[l], 1)",
                    db.ravel(),
                ),
                (
                    "db was summed over the units (axis 0): sum over the samples, axis=1",
                    G.sum(axis=0, keepdims=True),
                ),
                (
                    "db averages over the samples: dZ already holds the 1/m — sum it",
                    db / m,
                ),
            ],
            formula="db = Σ over the columns of dZ, (n[l], 1)",
        )
        or compare(
            "dA_prev",
            got_dA,
            dA,
            rtol=1e-7,
            atol=1e-9,
            mistakes=[("dA_prev = (W · dZ)ᵀ turned around: dA_prev = Wᵀ · dZ", (W.T @ G).T)],
            formula="dA_prev = Wᵀ · dZ",
        )
    )


def check_relu_backward(answer: Answer) -> str | None:
    rng = np.random.default_rng(61)
    dA, Z = rng.normal(size=(5, 9)), rng.normal(size=(5, 9))
    Z[0, :3] = 0.0  # ReLU's kink: its derivative is 0 there
    return compare(
        "dZ",
        answer(dA, Z),
        dA * (Z > 0),
        at=lambda index: f"Z = {Z[index]:g}",
        mistakes=[
            ("dZ = dA: the activation's derivative is left out — dZ = dA ⊙ relu'(Z)", dA),
            (
                "that multiplies by relu(Z), the activation itself; the chain rule needs its "
                "derivative, relu'(Z) (1 where Z > 0, else 0)",
                dA * np.maximum(Z, 0),
            ),
            (
                "right but where Z = 0: relu'(0) is 0 (Z > 0, not Z >= 0)",
                dA * (Z >= 0),
            ),
            (
                "the mask came from dA: where the unit was active is where Z > 0",
                dA * (dA > 0),
            ),
        ],
        formula="dZ = dA ⊙ relu'(Z)",
    )


def reference() -> tuple[Any, np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """A float64 5-7-6-3 ReLU network away from the kinks, a batch, and its cache."""
    net, X, Y = network_away_from_kinks([5, 7, 6, 3], "relu", "identity", 11, seed=8)
    traced = net.trace(X)
    inputs = [X] + [A for _, A in traced[:-1]]
    cache = [(A_prev, Z) for A_prev, (Z, _) in zip(inputs, traced, strict=True)]
    return net, X, Y, cache


def package_gradients(net: Any, X: np.ndarray, Y: np.ndarray, lmbda: float) -> list[Any]:
    """(dWs, dbs) of the package's backpropagation, new arrays."""
    net.forward(X)
    net.backward(Y, lmbda)
    return [[w.copy() for w in net.grads.weights], [b.copy() for b in net.grads.biases]]


def chain_without_derivative(
    dZ_L: np.ndarray, cache: Sequence[tuple[np.ndarray, np.ndarray]], weights: list[np.ndarray]
) -> list[np.ndarray]:
    """The dW[l] a pass gets when it leaves ``relu'`` out of dZ[l-1] (no L2)."""
    dZ, dWs = dZ_L, []
    for l in range(len(weights), 0, -1):
        A_prev, _ = cache[l - 1]
        dWs.insert(0, dZ @ A_prev.T)
        dZ = weights[l - 1].T @ dZ
    return dWs


def check_backward(answer: Answer) -> str | None:
    net, X, Y, cache = reference()
    lmbda, m = 0.3, X.shape[1]
    weights = [W.copy() for W in net.params.weights]
    dZ_L = (cache[-1][1] - Y) / m  # a linear output: dZ[L] = (Ŷ − Y) / m
    expected = package_gradients(net, X, Y, lmbda)
    no_l2 = package_gradients(net, X, Y, 0.0)
    unscaled = package_gradients(net, X, Y, lmbda * m)
    no_derivative = chain_without_derivative(dZ_L, cache, weights)
    result = answer(dZ_L, cache, weights, lmbda)
    if not isinstance(result, tuple | list) or len(result) != 2:
        return "return two lists, (dWs, dbs), in layer order [dW1..dWL], [db1..dbL]"
    dWs, dbs = (list(part) if isinstance(part, list | tuple) else part for part in result)
    L = len(weights)
    if not isinstance(dWs, list) or not isinstance(dbs, list) or len(dWs) != L or len(dbs) != L:
        return f"dWs and dbs should each be a list of {L} arrays, one per layer"
    if all(matches(g, e, 1e-8, 1e-10) for g, e in zip(dWs, expected[0][::-1], strict=True)):
        return "your dWs are in reverse: list them in layer order, [dW1, ..., dWL]"
    for l in range(L, 0, -1):  # from the output down: the first layer that goes wrong
        problem = _layer_problem(
            l, dWs[l - 1], dbs[l - 1], expected, no_l2, unscaled, no_derivative[l - 1]
        )
        if problem:
            return problem
    return None


def _layer_problem(
    l: int,
    dW: Any,
    db: Any,
    expected: list[list[np.ndarray]],
    no_l2: list[list[np.ndarray]],
    unscaled: list[list[np.ndarray]],
    no_derivative: np.ndarray,
) -> str | None:
    W_expected, b_expected = expected[0][l - 1], expected[1][l - 1]
    where = (
        ""
        if l == len(expected[0])
        else f" (layer {l + 1} is right: the step from layer {l + 1} down to {l} is not — "
        f"dA[{l}] = W[{l + 1}]ᵀ · dZ[{l + 1}], dZ[{l}] = dA[{l}] ⊙ relu'(Z[{l}]))"
    )
    return compare(
        f"dW[{l}]",
        dW,
        W_expected,
        rtol=1e-8,
        atol=1e-10,
        mistakes=[
            (
                f"dW[{l}] has no L2 term: add (λ/m) W[{l}] to every dW (not to db)",
                no_l2[0][l - 1],
            ),
            (f"dW[{l}]'s L2 term is λ W: it is (λ/m) W[{l}]", unscaled[0][l - 1]),
            (
                f"dW[{l}] was computed without relu'(Z[{l}]) in dZ[{l}]: the activation's "
                "derivative is left out of the chain — dZ = relu_backward(dA, Z)",
                no_derivative,
            ),
            (
                f"dW[{l}] was computed without relu'(Z[{l}]) in dZ[{l}]: the activation's "
                "derivative is left out of the chain — dZ = relu_backward(dA, Z)",
                no_derivative + (expected[0][l - 1] - no_l2[0][l - 1]),
            ),
        ],
        formula=f"dW[{l}] = dZ[{l}] · A[{l - 1}]ᵀ + (λ/m) W[{l}]{where}",
    ) or compare(
        f"db[{l}]",
        db,
        b_expected,
        rtol=1e-8,
        atol=1e-10,
        formula=f"db[{l}] = Σ over the columns of dZ[{l}] (no L2 on biases){where}",
    )


def _backward_signature() -> str:
    return (
        "(dZ_L: np.ndarray, cache: list, weights: list[np.ndarray], lmbda: float = 0.0)"
        " -> tuple[list[np.ndarray], list[np.ndarray]]"
    )


STAGE = Stage(
    number=6,
    name="backprop",
    title="backpropagation",
    intro="""Stage 6 — backpropagation: the gradients, from the output layer down.

With dZ[L] = ∂J/∂Z[L] (the cost's gradient, stage 5) and, for l = L..1,

    dW[l]   = dZ[l] · A[l-1]ᵀ + (λ/m) W[l]     (n[l], n[l-1])
    db[l]   = Σ over the columns of dZ[l]      (n[l], 1)
    dA[l-1] = W[l]ᵀ · dZ[l]                    (n[l-1], m)
    dZ[l-1] = dA[l-1] ⊙ relu'(Z[l-1])          the chain rule through the activation

Check your gradients yourself with finite differences:
nnscratch.core.gradcheck.check_gradient_functions(f, grad, params).""",
    imports=("import numpy as np", "from activations import relu_derivative"),
    exercises=(
        Exercise(
            "6.1",
            "layer_backward",
            "one layer's backward pass",
            "(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray)"
            " -> tuple[np.ndarray, np.ndarray, np.ndarray]",
            """The gradients of one layer Z = W · A_prev + b, from dZ = ∂J/∂Z.

dZ: (n[l], m), A_prev: (n[l-1], m), W: (n[l], n[l-1]).
Returns (dW, db, dA_prev) = (dZ · A_prevᵀ, Σ over dZ's columns, Wᵀ · dZ), shapes
(n[l], n[l-1]), (n[l], 1), (n[l-1], m). dZ already holds the cost's 1/m.""",
            check_layer_backward,
            shapes="dZ (n[l], m), A_prev (n[l-1], m), W (n[l], n[l-1])",
        ),
        Exercise(
            "6.2",
            "relu_backward",
            "the activation's backward step",
            "(dA: np.ndarray, Z: np.ndarray) -> np.ndarray",
            """The chain rule through a ReLU: dZ = dA ⊙ relu'(Z), entry by entry.

dA = ∂J/∂A and Z, the layer's pre-activation from the cache, both (n[l], m).""",
            check_relu_backward,
            shapes="dA (n[l], m), Z (n[l], m) → dZ (n[l], m)",
        ),
        Exercise(
            "6.3",
            "backward",
            "the L-layer backward pass",
            _backward_signature(),
            """Every layer's gradients, from dZ_L = ∂J/∂Z[L] down to layer 1.

dZ_L: (n[L], m) — mse_gradient's, or later softmax_cross_entropy_gradient's;
cache: forward's, cache[l-1] = (A[l-1], Z[l]); weights [W1..WL]; m = dZ_L.shape[1].
For l = L..1: dW[l], db[l], dA[l-1] = layer_backward(dZ[l], A[l-1], W[l]);
dW[l] += (λ/m) W[l]; and, below the top, dZ[l-1] = relu_backward(dA[l-1], Z[l-1]).
Returns (dWs, dbs) in layer order: [dW1..dWL], [db1..dbL].""",
            check_backward,
            shapes="dZ[l] (n[l], m), A[l-1] (n[l-1], m), W[l] (n[l], n[l-1])",
        ),
    ),
    docs="5-loss-backprop.md",
)
