"""Stage 5 — the cost: mean squared error with the ½, the L2 penalty, the cost's gradient.

Checked against the package's loss module (:mod:`nnscratch.core.losses`) to 1e-9 on a
``(2, 40)`` batch (two outputs, so that a sum over the wrong axis shows); one number may
come back as a float or as an array of one entry.
"""

from __future__ import annotations

import numpy as np

from nnscratch.app.learn.checking import Answer, compare, compare_number
from nnscratch.app.learn.exercise import Exercise, Stage
from nnscratch.core.losses import l2_penalty, mse_gradient, mse_loss


def _batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return rng.normal(size=(2, 40)), rng.normal(size=(2, 40))


def check_mse_cost(answer: Answer) -> str | None:
    Y_hat, Y = _batch()
    m = Y.shape[1]
    squares = float(np.sum((Y_hat - Y) ** 2))
    return compare_number(
        "J",
        answer(Y_hat, Y),
        mse_loss(Y_hat, Y),
        mistakes=[
            ("J is twice the answer: the cost has a ½, 1/(2m) Σ (ŷ − y)²", squares / m),
            ("J is m × the answer: divide by m (the number of columns)", squares / 2),
            (
                "J was divided by every entry (m · n[L]) instead of by the m samples: "
                "np.mean averages over both axes",
                squares / (2 * Y.size),
            ),
            (
                "that is the root of the mean square (an RMSE): the cost has no square root",
                float(np.sqrt(squares / (2 * m))),
            ),
            (
                "that is the mean absolute error: square the differences, (ŷ − y)²",
                float(np.sum(np.abs(Y_hat - Y))) / (2 * m),
            ),
        ],
        formula="J = 1/(2m) Σ (ŷ − y)², m = Y.shape[1]",
    )


def check_l2_penalty(answer: Answer) -> str | None:
    rng = np.random.default_rng(51)
    weights = [rng.normal(size=s) for s in ((6, 4), (3, 6), (1, 3))]
    lmbda, m = 0.3, 25
    squares = sum(float(np.sum(W**2)) for W in weights)
    return compare_number(
        "the penalty",
        answer(weights, lmbda, m),
        l2_penalty(weights, lmbda, m),
        mistakes=[
            ("twice the answer: the penalty has a ½, λ/(2m) Σ‖W‖²", lmbda / m * squares),
            ("m × the answer: divide by m, λ/(2m) Σ‖W‖²", lmbda / 2 * squares),
            (
                "only the last layer's weights: the sum runs over every W[l]",
                lmbda / (2 * m) * float(np.sum(weights[-1] ** 2)),
            ),
            (
                "‖W‖ is not squared: Σ of the squared entries, np.sum(W ** 2)",
                lmbda / (2 * m) * sum(float(np.linalg.norm(W)) for W in weights),
            ),
        ],
        formula="λ/(2m) Σ_l ‖W[l]‖², the sum of every squared weight",
    )


def check_mse_gradient(answer: Answer) -> str | None:
    Y_hat, Y = _batch()
    m = Y.shape[1]
    return compare(
        "dZ[L]",
        answer(Y_hat, Y),
        mse_gradient(Y_hat, Y),
        mistakes=[
            ("dZ[L] is m × the answer: J has a 1/m, so its gradient does too", Y_hat - Y),
            (
                "dZ[L] has the wrong sign: (Ŷ − Y)/m, the direction in which J grows",
                (Y - Y_hat) / m,
            ),
            (
                "dZ[L] is twice the answer: the ½ in J cancels the 2 of the square, (Ŷ − Y)/m",
                2 * (Y_hat - Y) / m,
            ),
        ],
        formula="∂J/∂Ŷ = (Ŷ − Y)/m",
    )


STAGE = Stage(
    number=5,
    name="loss",
    title="the cost and its gradient",
    intro="""Stage 5 — the cost the network minimises, and where backpropagation starts.

For predictions Y_hat and targets Y, both (n[L], m), and weights W[1..L]:

    J  = 1/(2m) Σ (ŷ − y)²  +  λ/(2m) Σ_l ‖W[l]‖²     the ½ cancels the square's 2
    ∂J/∂Ŷ = (Ŷ − Y) / m                              the first dZ[L] (a linear output)

Biases are not regularised. The RMSE in the target's units is √(2J) at λ = 0.""",
    imports=("import numpy as np",),
    exercises=(
        Exercise(
            "5.1",
            "mse_cost",
            "the MSE cost",
            "(Y_hat: np.ndarray, Y: np.ndarray) -> float",
            """The data cost J = 1/(2m) Σ (ŷ − y)², one number.

Y_hat and Y: (n[L], m); the sum runs over every entry, m = Y.shape[1] samples.""",
            check_mse_cost,
            shapes="Y_hat (n[L], m), Y (n[L], m)",
        ),
        Exercise(
            "5.2",
            "l2_penalty",
            "the L2 penalty",
            "(weights: list[np.ndarray], lmbda: float, m: int) -> float",
            """The L2 penalty λ/(2m) Σ_l ‖W[l]‖², one number.

weights [W1..WL]; ‖W‖² is the sum of W's squared entries; m the batch's samples.""",
            check_l2_penalty,
        ),
        Exercise(
            "5.3",
            "mse_gradient",
            "the cost's gradient",
            "(Y_hat: np.ndarray, Y: np.ndarray) -> np.ndarray",
            """∂J/∂Ŷ = (Ŷ − Y) / m, (n[L], m): with a linear output layer, dZ[L].""",
            check_mse_gradient,
            shapes="Y_hat (n[L], m), Y (n[L], m) → dZ[L] (n[L], m)",
        ),
    ),
    docs="5-loss-backprop.md",
)
