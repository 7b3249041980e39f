"""Stage 3 — ReLU and the sigmoid, and their derivatives, on a ``(n, m)`` block.

The probe block holds exact zeros (where ReLU's derivative is a convention: 0 here, as
in the package and the seed), values over [−6, 6], and ±800 (where ``e^z`` overflows
float64 unless the formula avoids it). Each answer is compared with the package's
activation table to 1e-9; a bool or integer array is a fine derivative.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnscratch.app.learn.checking import Answer, compare
from nnscratch.app.learn.exercise import Exercise, Stage
from nnscratch.core.activations import ACTIVATIONS


def probe_block() -> np.ndarray:
    """A (4, 25) block: zeros, [−6, 6], and ±800 in the last column."""
    Z = np.linspace(-6, 6, 100).reshape(4, 25)
    Z[:, 3] = 0.0
    Z[:, -1] = [800.0, -800.0, 30.0, -30.0]
    return Z


def _at(Z: np.ndarray) -> Callable[[tuple[int, ...]], str]:
    return lambda index: f"z = {Z[index]:g}"


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return ACTIVATIONS["sigmoid"].function(z)


def check_relu(answer: Answer) -> str | None:
    Z = probe_block()
    return compare(
        "relu(Z)",
        answer(Z),
        ACTIVATIONS["relu"].function(Z),
        at=_at(Z),
        mistakes=[
            (
                "np.max(Z, 0) is the largest entry of each column (a reduction over axis 0); "
                "np.maximum(Z, 0) compares every entry with 0",
                Z.max(axis=0),
            ),
            ("negative z came out positive: that is |z|, not max(z, 0)", np.abs(Z)),
            (
                "0.01·z where z < 0: that is leaky ReLU; ReLU gives 0 there",
                np.where(Z > 0, Z, 0.01 * Z),
            ),
            (
                "0 or 1: that is ReLU's derivative; ReLU itself is max(z, 0)",
                (Z > 0).astype(float),
            ),
        ],
        formula="relu(z) = max(z, 0), entry by entry",
    )


def check_relu_derivative(answer: Answer) -> str | None:
    Z = probe_block()
    return compare(
        "relu'(Z)",
        answer(Z),
        ACTIVATIONS["relu"].derivative(Z),
        at=_at(Z),
        mistakes=[
            ("that is ReLU itself; its derivative is asked for", np.maximum(Z, 0)),
            (
                "right but where z = 0: ReLU'(0) is 0 here (1 if z > 0 else 0, the convention "
                "of the package and the seed) — use z > 0, not z >= 0",
                (Z >= 0).astype(float),
            ),
            ("−1 where z < 0: that is sign(z); ReLU' is 0 there", np.sign(Z)),
            ("1 everywhere: ReLU' is 0 where z ≤ 0", np.ones_like(Z)),
        ],
        formula="relu'(z) = 1 where z > 0, else 0",
    )


def check_sigmoid(answer: Answer) -> str | None:
    Z = probe_block()
    with np.errstate(all="ignore"):
        ratio_form = np.exp(Z) / (1 + np.exp(Z))
    return compare(
        "sigmoid(Z)",
        answer(Z),
        _sigmoid(Z),
        at=_at(Z),
        mistakes=[
            ("that is σ(−z): the exponent is −z, σ(z) = 1 / (1 + e^(−z))", _sigmoid(-Z)),
            (
                "NaN at z = 800: e^z overflows there (inf / inf); 1 / (1 + e^(−z)) does not",
                ratio_form,
            ),
            ("that is tanh(z); σ(z) = 1 / (1 + e^(−z)) = (1 + tanh(z/2)) / 2", np.tanh(Z)),
        ],
        formula="σ(z) = 1 / (1 + e^(−z))",
    )


def check_sigmoid_derivative(answer: Answer) -> str | None:
    Z = probe_block()
    s = _sigmoid(Z)
    with np.errstate(all="ignore"):
        exp_form = np.exp(-Z) / (1 + np.exp(-Z)) ** 2
    return compare(
        "σ'(Z)",
        answer(Z),
        ACTIVATIONS["sigmoid"].derivative(Z),
        at=_at(Z),
        mistakes=[
            ("that is σ itself; its derivative is asked for", s),
            (
                "that is z(1 − z): the formula is σ(z)(1 − σ(z)) — apply σ first",
                Z * (1 - Z),
            ),
            ("1 − σ² is tanh's form (1 − tanh²); σ' = σ(1 − σ)", 1 - s**2),
            (
                "NaN at z = −800: e^(−z) / (1 + e^(−z))² overflows to inf / inf there; "
                "compute s = σ(z) first, then s(1 − s)",
                exp_form,
            ),
        ],
        formula="σ'(z) = σ(z)(1 − σ(z))",
    )


def _exercise(number: str, name: str, title: str, doc: str, check: object) -> Exercise:
    return Exercise(
        number,
        name,
        title,
        "(Z: np.ndarray) -> np.ndarray",
        doc,
        check,  # type: ignore[arg-type]
        shapes="Z (n, m) → the same shape",
    )


STAGE = Stage(
    number=3,
    name="activations",
    title="activations and their derivatives",
    intro="""Stage 3 — activations and their derivatives.

Each function works entry by entry on a block Z of any shape, usually (n[l], m), and
returns a new array of the same shape, leaving Z as it was. Backpropagation multiplies
by g'(Z) at every layer: ReLU's derivative is 1 or 0, so the gradient passes whole or
not at all; the sigmoid's, σ(1 − σ), is at most 0.25 and nearly 0 once |z| > 4.""",
    imports=("import numpy as np",),
    exercises=(
        _exercise(
            "3.1",
            "relu",
            "ReLU",
            "relu(z) = max(z, 0) for every entry (np.maximum, not np.max).",
            check_relu,
        ),
        _exercise(
            "3.2",
            "relu_derivative",
            "ReLU's derivative",
            "1 where z > 0, else 0 (at z = 0 exactly: 0, as the package and the seed).",
            check_relu_derivative,
        ),
        _exercise(
            "3.3",
            "sigmoid",
            "the sigmoid",
            "σ(z) = 1 / (1 + e^(−z)); it must not give NaN at z = ±800.",
            check_sigmoid,
        ),
        _exercise(
            "3.4",
            "sigmoid_derivative",
            "the sigmoid's derivative",
            "σ'(z) = σ(z) (1 − σ(z)); it must not give NaN at z = ±800.",
            check_sigmoid_derivative,
        ),
    ),
    docs="3-activations.md",
)
