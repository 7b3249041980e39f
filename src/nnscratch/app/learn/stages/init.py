"""Stage 2 — initialisation: He's and Glorot's draws, and a whole network's parameters.

The draws are random, so they are checked by what defines them — shape, mean, variance
(within 6 %, on 40,000 or more draws), the generator they come from — not entry by
entry: He's uniform form ``U(−√(6/n_in), √(6/n_in))`` has He's variance and passes.
A variance that is off is named by which known one it is (LeCun's, Glorot's, fan-out,
a standard deviation used as a variance, the naive small initialisation 0.01·N(0, 1)).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from nnscratch.app.learn.checking import Answer
from nnscratch.app.learn.exercise import Exercise, Stage

#: A variance's relative error allowed: the sample variance of 40,000 normal draws is
#: within 1.5 % of the true one 99.7 % of the time.
VARIANCE_TOLERANCE = 0.06


def known_variances(n_in: int, n_out: int) -> dict[str, float]:
    """The variances a draw may have been given by mistake, by the hint that names each."""
    return {
        "He's 2/n_in": 2 / n_in,
        "Glorot's 2/(n_in + n_out)": 2 / (n_in + n_out),
        "LeCun's 1/n_in (made for linear and tanh units; He doubles it for ReLU, "
        "which zeroes half of z)": 1 / n_in,
        "2/n_out: the fan-out; He's uses n_in, the inputs each unit sums": 2 / n_out,
        "(2/n_in)²: the variance used as a standard deviation — scale a standard normal "
        "by the square root of the variance": (2 / n_in) ** 2,
        "1/(n_in + n_out), half of Glorot's: 2/(n_in + n_out)": 1 / (n_in + n_out),
        "0.01², the naive small initialisation 0.01·N(0, 1), whose signal vanishes within a "
        "few layers": 1e-4,
        "1, a standard normal not scaled at all": 1.0,
    }


def variance_problem(name: str, W: np.ndarray, want_name: str, n_in: int, n_out: int) -> str | None:
    """Shape, then mean and variance of a draw against ``want_name``'s variance."""
    if not isinstance(W, np.ndarray):
        return f"{name} is a {type(W).__name__}; expected a NumPy array"
    if W.shape != (n_out, n_in):
        turned = " — W[l] is (n[l], n[l-1]): a row per unit" if W.shape == (n_in, n_out) else ""
        return f"{name} has shape {W.shape}; expected {(n_out, n_in)}{turned}"
    values = W.astype(np.float64)
    if np.ptp(values) == 0:
        return (
            f"every entry of {name} is {values.flat[0]:.3g}: units that start alike learn "
            "alike — draw the weights at random"
        )
    known = known_variances(n_in, n_out)
    want = known[want_name]
    var = float(values.var())
    if abs(values.mean()) > 0.05 * math.sqrt(var):
        return f"the mean of {name} is {values.mean():.3g}; expected about 0"
    if abs(var / want - 1) <= VARIANCE_TOLERANCE:
        return None
    for said, variance in known.items():
        if said != want_name and abs(var / variance - 1) <= VARIANCE_TOLERANCE:
            return f"{name} has variance {var:.3g}, which is {said}; expected {want_name}"
    return f"{name} has variance {var:.3g}; expected {want_name} = {want:.3g}"


def _draw_check(want_name: str) -> Callable[[Answer], str | None]:
    def check(answer: Answer) -> str | None:
        n_in, n_out = 400, 300
        W = answer(n_in, n_out, np.random.default_rng(0))
        problem = variance_problem("W", W, want_name, n_in, n_out)
        if problem:
            return problem
        if not np.array_equal(W, answer(n_in, n_out, np.random.default_rng(0))):
            return (
                "the same seed gave different weights: draw from the rng given "
                "(rng.standard_normal(...)), never from np.random"
            )
        return None

    return check


def check_initialize(answer: Answer) -> str | None:
    sizes = [300, 400, 100, 100, 100, 3]
    result = answer(sizes, np.random.default_rng(1))
    if not isinstance(result, tuple | list) or len(result) != 2:
        return "return two lists: (weights, biases)"
    weights, biases = (list(part) for part in result)
    L = len(sizes) - 1
    if len(weights) != L or len(biases) != L:
        return (
            f"{len(weights)} weight matrices and {len(biases)} biases for {len(sizes)} layer "
            f"sizes: one W[l] and one b[l] per pair of consecutive sizes ({L})"
        )
    for l in range(1, L + 1):
        problem = _layer_problem(l, weights[l - 1], biases[l - 1], sizes[l - 1], sizes[l])
        if problem:
            return problem
    if np.array_equal(weights[2], weights[3]):
        return (
            "W[3] and W[4] are the same numbers: draw every layer from the one rng you were "
            "given, in order (not from a new generator each time)"
        )
    again = answer(sizes, np.random.default_rng(1))[0]
    if not all(np.array_equal(a, b) for a, b in zip(weights, again, strict=True)):
        return "the same seed gave different weights: draw every W from the rng given"
    other = answer(sizes, np.random.default_rng(2))[0]
    if all(np.array_equal(a, b) for a, b in zip(weights, other, strict=True)):
        return (
            "another seed gave the same weights: draw from the rng you were given, not from "
            "a generator made inside initialize"
        )
    return None


def _layer_problem(l: int, W: np.ndarray, b: np.ndarray, n_in: int, n_out: int) -> str | None:
    if not isinstance(b, np.ndarray) or b.shape != (n_out, 1):
        shape = getattr(b, "shape", None)
        return (
            f"b[{l}] has shape {shape}; expected {(n_out, 1)}: a bias is a column (n[l], 1), "
            "so that it broadcasts over the m samples in Z = W·A + b"
        )
    if np.any(b != 0):
        return f"b[{l}] is not zero: biases start at 0 (the weights break the symmetry)"
    if isinstance(W, np.ndarray) and W.shape == (n_out, n_in) and W.size < 10_000:
        return None  # too few draws to judge a variance by; the shape is right
    problem = variance_problem(f"W[{l}]", W, "He's 2/n_in", n_in, n_out)
    if problem and "2/n_out" in problem:
        return (
            f"W[{l}] has variance 2/n[{l}] = 2/{n_out}: He's uses n[l-1], the layer's "
            f"inputs ({n_in}), not n[l]"
        )
    return problem


STAGE = Stage(
    number=2,
    name="init",
    title="initialisation",
    intro="""Stage 2 — initialisation: why He keeps the signal alive.

With z = Σ_j w_j a_j over n inputs and independent zero-mean weights,
Var(z) = n · Var(w) · E[a²]. ReLU keeps half of a symmetric z, so E[relu(z)²] = Var(z)/2.
He's Var(w) = 2/n[l-1] cancels both factors: the signal keeps its size through every
layer. The naive small initialisation, 0.01·N(0, 1), multiplies its RMS by 0.01·√(n/2)
a layer: by 0.06 for n = 64.

Shapes: W[l] is (n[l], n[l-1]) — a row per unit of layer l, a column per input — and
b[l] is (n[l], 1), a column that broadcasts over the m samples.""",
    imports=("import numpy as np",),
    exercises=(
        Exercise(
            "2.1",
            "he_weights",
            "He initialisation",
            "(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray",
            """W for a layer of n_out units over n_in inputs, drawn with He's variance.

Returns (n_out, n_in) — a row per unit — drawn from N(0, 2/n_in) with the generator
given (rng.standard_normal), so the same seed gives the same weights.
He's uniform form, U(−√(6/n_in), √(6/n_in)), has the same variance and passes too.""",
            _draw_check("He's 2/n_in"),
        ),
        Exercise(
            "2.2",
            "glorot_weights",
            "Glorot initialisation",
            "(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray",
            """W as he_weights, with Glorot's variance 2/(n_in + n_out) (made for tanh).

Returns (n_out, n_in), drawn with the generator given; the uniform form,
U(±√(6/(n_in + n_out))), passes too.""",
            _draw_check("Glorot's 2/(n_in + n_out)"),
        ),
        Exercise(
            "2.3",
            "initialize",
            "a network's initial parameters",
            "(layer_sizes: list[int], rng: np.random.Generator)"
            " -> tuple[list[np.ndarray], list[np.ndarray]]",
            """Every layer's starting W and b, for layer_sizes [n0, n1, ..., nL].

Returns (weights, biases): weights[l-1] = W[l], (n[l], n[l-1]), drawn with he_weights
from the one rng, layer 1 first; biases[l-1] = b[l], zeros of shape (n[l], 1).
E.g. [13, 64, 32, 16, 1]: W shapes (64, 13), (32, 64), (16, 32), (1, 16).""",
            check_initialize,
            shapes="W[l] (n[l], n[l-1]), b[l] (n[l], 1)",
        ),
    ),
    docs="2-init.md",
)
