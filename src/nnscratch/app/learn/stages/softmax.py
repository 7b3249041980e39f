"""Stage 9 — Part 2: a stable softmax, cross-entropy, and their gradient together.

Checked against the package's activation and loss tables to 1e-9. The softmax is tried
on an ordinary block and on one built so that every usual shortcut breaks a different
column: logits of ±800 (e^800 overflows float64), a column far below the others
(subtracting the whole block's maximum underflows it to 0/0), and columns where the
minimum or the mean is no safe shift. Cross-entropy is given probabilities that are
exactly 0 where the class is not the true one (0 · log 0 is NaN in NumPy).
"""

from __future__ import annotations

import math

import numpy as np

from nnscratch.app.learn.checking import Answer, as_number, compare, compare_number
from nnscratch.app.learn.exercise import Exercise, Stage
from nnscratch.core.activations import ACTIVATIONS
from nnscratch.core.losses import LOSSES

#: Columns: ±800; large, with a safe mean; far below the rest; ordinary logits.
EXTREME = np.array(
    [
        [800.0, 900.0, -800.0, 1.0],
        [-800.0, 100.0, -801.0, 2.0],
        [0.0, 200.0, -805.0, -0.5],
    ]
)


def _softmax(Z: np.ndarray) -> np.ndarray:
    return ACTIVATIONS["softmax"].function(Z)


def _exp_ratio(Z: np.ndarray, shift: np.ndarray | float) -> np.ndarray:
    with np.errstate(all="ignore"):
        e = np.exp(Z - shift)
        return e / e.sum(axis=0, keepdims=True)


def check_softmax(answer: Answer) -> str | None:
    Z = np.random.default_rng(9).normal(size=(3, 6)) * 3
    got = answer(Z)
    if unnormalised(got, _softmax(Z)):
        return "the columns do not sum to 1: divide each e^z by its column's sum"
    problem = compare(
        "softmax(Z)",
        got,
        _softmax(Z),
        mistakes=[
            (
                "each row sums to 1; each column (a sample) should: normalise over axis 0",
                np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True),
            ),
        ],
        formula="softmax(z)_k = e^(z_k) / Σ_j e^(z_j), per column",
    )
    if problem:
        return problem
    Z = EXTREME
    return compare(
        "softmax of logits at ±800",
        answer(Z),
        _softmax(Z),
        at=lambda index: f"column {index[1]} (z = {Z[index]:g})",
        mistakes=[
            (
                "NaN for large logits: e^800 overflows — subtract each column's max before "
                "exp (softmax does not change when a column is shifted)",
                _exp_ratio(Z, 0.0),
            ),
            (
                "NaN for large logits: subtracting the column's minimum still leaves e^1600 "
                "to overflow — subtract its maximum, so every exponent is ≤ 0",
                _exp_ratio(Z, Z.min(axis=0, keepdims=True)),
            ),
            (
                "NaN for a column at ±800: subtracting its mean leaves e^800 — subtract the "
                "column's maximum, so every exponent is ≤ 0",
                _exp_ratio(Z, Z.mean(axis=0, keepdims=True)),
            ),
            (
                "NaN in the column far below the others: the whole block's maximum sends its "
                "exponents to −1700, e^… = 0, 0/0 — subtract each column's own maximum "
                "(axis=0, keepdims=True)",
                _exp_ratio(Z, Z.max()),
            ),
        ],
        formula="subtract each column's max before exp",
    )


def unnormalised(got: object, expected: np.ndarray) -> bool:
    """Whether ``got`` is the softmax up to a factor per column (not divided by the sum)."""
    if not isinstance(got, np.ndarray) or got.shape != expected.shape:
        return False
    with np.errstate(all="ignore"):
        sums = got.sum(axis=0, keepdims=True)
        return bool(
            np.all(np.isfinite(got))
            and np.all(got >= 0)
            and not np.allclose(sums, 1)
            and np.allclose(got / sums, expected)
        )


def _probabilities() -> tuple[np.ndarray, np.ndarray]:
    """Softmax outputs (4, 10) and one-hot targets; two exact zeros off the true class."""
    rng = np.random.default_rng(91)
    Y_hat = _softmax(rng.normal(size=(4, 10)))
    labels = rng.integers(0, 4, 10)
    Y = np.eye(4)[:, labels]
    for column in (0, 1):
        wrong = (labels[column] + 1) % 4
        Y_hat[wrong, column] = 0.0
        Y_hat[:, column] /= Y_hat[:, column].sum()
    return Y_hat, Y


def check_cross_entropy(answer: Answer) -> str | None:
    rng = np.random.default_rng(92)
    Y_hat, Y = _softmax(rng.normal(size=(4, 10))), np.eye(4)[:, rng.integers(0, 4, 10)]
    K, m = Y.shape
    picked = float(np.sum(Y * np.log(Y_hat)))
    binary = Y * np.log(Y_hat) + (1 - Y) * np.log(1 - Y_hat)
    problem = compare_number(
        "J",
        answer(Y_hat, Y),
        LOSSES["cross_entropy"].value(Y_hat, Y),
        mistakes=[
            ("J is m × the answer: average over the m samples, −1/m Σ", -picked),
            (
                "J is negative: it is −1/m Σ y log ŷ (log of a probability is ≤ 0)",
                picked / m,
            ),
            (
                "J is 1/K of the answer: np.mean over the whole (K, m) block divides by K·m; "
                "divide by the m samples",
                -picked / (K * m),
            ),
            (
                "that is binary cross-entropy, which adds (1 − y) log(1 − ŷ): with K classes "
                "J = −1/m Σ y log ŷ",
                float(-np.sum(binary) / m),
            ),
            (
                "a log in base 10: cross-entropy takes the natural log, np.log",
                -picked / m / np.log(10),
            ),
        ],
        formula="J = −1/m Σ_i Σ_k y_ki log ŷ_ki",
    )
    if problem:
        return problem
    Y_hat, Y = _probabilities()  # now with exact zeros where y is 0
    got = answer(Y_hat, Y)
    value = as_number(got)
    if value is not None and math.isnan(value):
        return (
            "J is NaN when a probability is exactly 0: there y is 0 too, and y · log ŷ is "
            "0 · (−inf) = NaN in NumPy — take the log of the true class's probability only "
            "(Y_hat[Y == 1]), or clip ŷ away from 0 first"
        )
    return compare_number(
        "J with probabilities of exactly 0",
        got,
        LOSSES["cross_entropy"].value(Y_hat, Y),
        formula="a term with y = 0 is 0",
    )


def check_softmax_gradient(answer: Answer) -> str | None:
    Y_hat, Y = _probabilities()
    m = Y.shape[1]
    with np.errstate(all="ignore"):
        wrt_output = -Y / Y_hat / m
    return compare(
        "dZ",
        answer(Y_hat, Y),
        (Y_hat - Y) / m,
        mistakes=[
            ("dZ is m × the answer: the cost's 1/m carries into its gradient", Y_hat - Y),
            ("dZ has the wrong sign: (Ŷ − Y)/m", (Y - Y_hat) / m),
            (
                "multiplied by ŷ(1 − ŷ) again: with cross-entropy, softmax's derivative "
                "cancels out — dZ = (Ŷ − Y)/m",
                (Y_hat - Y) / m * Y_hat * (1 - Y_hat),
            ),
            (
                "that is ∂J/∂Ŷ = −Y / (m Ŷ), the gradient with respect to the probabilities; "
                "with respect to Z it is (Ŷ − Y)/m",
                wrt_output,
            ),
        ],
        formula="dZ = (Ŷ − Y) / m",
    )


STAGE = Stage(
    number=9,
    name="softmax",
    title="softmax and cross-entropy",
    intro="""Stage 9 — Part 2: K classes with a softmax output and cross-entropy.

For a (K, m) block of logits Z = Z[L], each column a sample:

    ŷ_k = e^(z_k) / Σ_j e^(z_j)                 per column: probabilities summing to 1
    J   = −1/m Σ_i Σ_k y_ki log ŷ_ki            Y one-hot (K, m)
    dZ  = (Ŷ − Y) / m                           softmax and cross-entropy together

so the network's backward pass starts from this dZ exactly as it starts from (Ŷ − Y)/m
for the squared error: your train runs digits with output=softmax,
cost=cross_entropy, cost_gradient=softmax_cross_entropy_gradient.""",
    imports=("import numpy as np",),
    exercises=(
        Exercise(
            "9.1",
            "softmax",
            "a stable softmax",
            "(Z: np.ndarray) -> np.ndarray",
            """The softmax of every column of Z (K, m): each column of the result sums to 1.

Stable: logits of ±800 must not give NaN — subtract each column's maximum before exp
(the result does not change: softmax ignores a shift).""",
            check_softmax,
            shapes="Z (K, m) → (K, m)",
        ),
        Exercise(
            "9.2",
            "cross_entropy",
            "the cross-entropy cost",
            "(Y_hat: np.ndarray, Y: np.ndarray) -> float",
            """J = −1/m Σ_i Σ_k y_ki log ŷ_ki, one number.

Y_hat: softmax probabilities (K, m); Y: one-hot (K, m). A probability may be exactly 0
where y is 0: that term is 0 (in NumPy 0 · log 0 is NaN).""",
            check_cross_entropy,
            shapes="Y_hat (K, m), Y (K, m)",
        ),
        Exercise(
            "9.3",
            "softmax_cross_entropy_gradient",
            "the softmax–cross-entropy gradient",
            "(Y_hat: np.ndarray, Y: np.ndarray) -> np.ndarray",
            """dZ[L] = (Ŷ − Y) / m for a softmax output with cross-entropy, (K, m).""",
            check_softmax_gradient,
            shapes="Y_hat (K, m), Y (K, m) → dZ (K, m)",
        ),
    ),
    docs="7-classification.md",
)
