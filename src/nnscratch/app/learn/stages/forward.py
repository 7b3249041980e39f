"""Stage 4 — one layer's pre-activation, and the forward pass with its cache.

Checked against the package's network (:meth:`nnscratch.core.network.Network.trace`)
in float64 to 1e-9, on a 4-6-5-2 network whose biases are not zero (a missing bias
shows) and whose output layer is partly negative (a ReLU on it shows).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnscratch.app.learn.checking import Answer, compare
from nnscratch.app.learn.exercise import Exercise, Stage
from nnscratch.core.network import Network


def check_layer_forward(answer: Answer) -> str | None:
    rng = np.random.default_rng(4)
    W, b, A = rng.normal(size=(5, 3)), rng.normal(size=(5, 1)), rng.normal(size=(3, 7))
    return compare(
        "Z",
        answer(W, b, A),
        W @ A + b,
        mistakes=[
            ("Z = W · A_prev + b: the bias b is missing", W @ A),
            (
                "A_prevᵀ · Wᵀ is Zᵀ, a row per sample: in the network's layout Z = W · A_prev "
                "+ b, (n[l], m)",
                A.T @ W.T + b.T,
            ),
            (
                "the bias was subtracted: Z = W · A_prev + b",
                W @ A - b,
            ),
        ],
        formula="Z = W · A_prev + b",
    )


def reference_network() -> tuple[Network, np.ndarray]:
    """A float64 4-6-5-2 network with non-zero biases, and a batch X (4, 9)."""
    net = Network([4, 6, 5, 2], dtype=np.float64, rng=2)
    rng = np.random.default_rng(3)
    for b in net.params.biases:
        b[...] = rng.normal(0, 0.3, size=b.shape)
    net.params.biases[-1][...] = [[-1.0], [0.5]]  # some outputs below 0
    return net, rng.normal(size=(4, 9))


def check_forward(answer: Answer) -> str | None:
    net, X = reference_network()
    weights = [W.copy() for W in net.params.weights]
    biases = [b.copy() for b in net.params.biases]
    traced = net.trace(X)  # (Z[l], A[l]) for l = 1..L
    result = answer(weights, biases, X)
    if not isinstance(result, tuple | list) or len(result) != 2:
        return (
            f"forward returned a {type(result).__name__}; return the pair (Y_hat, cache) — "
            "the cache is what backward needs"
        )
    Y_hat, cache = result
    problem = compare("Y_hat", Y_hat, traced[-1][1], mistakes=_output_mistakes(X, weights, biases))
    return problem or cache_problem(cache, X, traced)


def _output_mistakes(
    X: np.ndarray, weights: list[np.ndarray], biases: list[np.ndarray]
) -> list[tuple[str, np.ndarray]]:
    """What the usual wrong forward passes give on ``X``."""

    def run(hidden: Any, output: Any, layers: int, bias_after: bool = False) -> np.ndarray:
        A = X
        for l, (W, b) in enumerate(zip(weights[:layers], biases[:layers], strict=True), 1):
            g = output if l == layers else hidden
            A = g(W @ A) + b if bias_after else g(W @ A + b)
        return A

    relu, linear = (lambda Z: np.maximum(Z, 0)), (lambda Z: Z)
    L = len(weights)
    return [
        (
            "a ReLU on the output layer: it is linear, Y_hat = Z[L] (a ReLU there can die "
            "and predict 0 for good)",
            run(relu, relu, L),
        ),
        (
            "no ReLU on the hidden layers: without it every layer is linear and the whole "
            "network collapses into one linear map",
            run(linear, linear, L),
        ),
        (
            "ReLU before the bias: A[l] = relu(W[l] · A[l-1] + b[l]) — add b first",
            run(relu, linear, L, bias_after=True),
        ),
        (
            "that is layer L−1's output: the loop stops one layer early (range(L) over "
            "zip(weights, biases) goes through all L)",
            run(relu, relu, L - 1),
        ),
    ]


def cache_problem(cache: Any, X: np.ndarray, traced: list[tuple[np.ndarray, ...]]) -> str | None:
    """Whether ``cache[l-1]`` is ``(A[l-1], Z[l])`` for every layer."""
    L = len(traced)
    inputs = [X] + [A for _, A in traced[:-1]]  # A[0..L-1]
    if not isinstance(cache, list | tuple) or len(cache) != L:
        size = len(cache) if isinstance(cache, list | tuple) else type(cache).__name__
        return f"the cache has {size} entries; expected {L}, one (A_prev, Z) pair per layer"
    for l in range(1, L + 1):
        entry = cache[l - 1]
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            return f"cache[{l - 1}] should be the pair (A[{l - 1}], Z[{l}]) of layer {l}"
        A_prev, Z = entry
        if compare("", A_prev, traced[l - 1][1]) is None and l < L:
            return (
                f"cache[{l - 1}] starts with A[{l}], the layer's output: keep its input "
                f"A[{l - 1}] (what dW[{l}] = dZ · A[{l - 1}]ᵀ needs)"
            )
        if compare("", A_prev, inputs[l - 1]) is not None:
            return f"cache[{l - 1}][0] should be A[{l - 1}], the input of layer {l}"
        if compare("", Z, traced[l - 1][1]) is None and l < L:
            return (
                f"cache[{l - 1}][1] is A[{l}] = relu(Z[{l}]): keep Z[{l}], before the ReLU "
                "(what relu'(Z) needs)"
            )
        if compare("", Z, traced[l - 1][0]) is not None:
            return f"cache[{l - 1}][1] should be Z[{l}], layer {l}'s pre-activation"
    return None


STAGE = Stage(
    number=4,
    name="forward",
    title="the forward pass",
    intro="""Stage 4 — the forward pass.

Inside the network every array has a column per sample: X is (n[0], m). For layers
l = 1..L:

    Z[l] = W[l] · A[l-1] + b[l]      (n[l], m): b[l] (n[l], 1) broadcasts over columns
    A[l] = relu(Z[l])                on the hidden layers; the output is linear, A[L] = Z[L]

A[0] = X, and Y_hat = A[L]. The default network is 13 → 64 → 32 → 16 → 1.""",
    imports=("import numpy as np", "from activations import relu"),
    exercises=(
        Exercise(
            "4.1",
            "layer_forward",
            "one layer's forward pass",
            "(W: np.ndarray, b: np.ndarray, A_prev: np.ndarray) -> np.ndarray",
            """One layer's pre-activation Z = W · A_prev + b.

W: (n[l], n[l-1]), b: (n[l], 1), A_prev: (n[l-1], m) → Z: (n[l], m).""",
            check_layer_forward,
            shapes="W (n[l], n[l-1]) · A_prev (n[l-1], m) + b (n[l], 1) → Z (n[l], m)",
        ),
        Exercise(
            "4.2",
            "forward",
            "the forward pass",
            "(weights: list[np.ndarray], biases: list[np.ndarray], X: np.ndarray)"
            " -> tuple[np.ndarray, list]",
            """The forward pass through every layer, keeping what backward needs.

weights [W1..WL] and biases [b1..bL] as initialize gives them; X: (n[0], m).
For l = 1..L: Z[l] = layer_forward(W[l], b[l], A[l-1]) with A[0] = X, then
A[l] = relu(Z[l]) for l < L, and A[L] = Z[L] (a linear output).
Returns (Y_hat, cache): Y_hat = A[L], (n[L], m), and cache a list of L pairs,
cache[l-1] = (A[l-1], Z[l]) — layer l's input and pre-activation.""",
            check_forward,
            shapes="W[l] (n[l], n[l-1]), b[l] (n[l], 1), A[l-1] (n[l-1], m)",
        ),
    ),
    docs="4-forward.md",
)
