"""Stage 7 — the optimizers' steps: gradient descent, momentum, Adam.

Each step is a plain function of the weights, the gradient and the optimizer's state,
returning new arrays; three steps in a row (t = 1, 2, 3) are compared with the
package's optimizers (:mod:`nnscratch.core.optimizers`), which update in place, from
the same weights and gradients. Adam is compared to a relative 1e-5 of the step on
gradients of size 0.1 to 2, so Kingma and Ba's own "efficient" form (the bias
correction folded into the step size, ε outside it) passes as the textbook form does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnscratch.app.learn.checking import (
    Answer,
    as_array,
    compare,
    describe_type_and_shape,
    matches,
)
from nnscratch.app.learn.exercise import Exercise, Stage
from nnscratch.core.optimizers import Adam, GradientDescent, Momentum, Optimizer

#: Three gradients, each entry of size 0.1 to 2 and of either sign.
STEPS = 3


def _start() -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(7)
    w0 = rng.normal(size=(3, 4))
    grads = [rng.uniform(0.1, 2, (3, 4)) * rng.choice([-1, 1], (3, 4)) for _ in range(STEPS)]
    return w0, grads


def package_path(optimizer: Optimizer) -> list[np.ndarray]:
    """The weights after each of the :data:`STEPS` steps of the package's ``optimizer``."""
    w0, grads = _start()
    w, path = w0.copy(), []
    for g in grads:
        optimizer.step([w], [g.copy()])
        path.append(w.copy())
    return path


def learner_path(step: Callable[..., Any], n_state: int) -> list[Any]:
    """The weights after each step of the learner's ``step(w, g, *state, t)``, or the first
    wrong return (a hint) as a string."""
    w0, grads = _start()
    w, state, path = w0.copy(), [np.zeros_like(w0) for _ in range(n_state)], []
    for t, g in enumerate(grads, start=1):
        result = step(w, g, state, t)
        if n_state == 0:
            result = (result,)
        if not isinstance(result, tuple | list) or len(result) != 1 + n_state:
            names = "(w, v)" if n_state == 1 else "(w, m, v)"
            return [f"return the new weights and state, {names}, from every step"]
        w, *state = result
        path.append(w)
    return path


def compare_paths(
    got: list[Any],
    want: list[np.ndarray],
    mistakes: dict[str, list[np.ndarray]],
    rtol: float,
    formula: str,
) -> str | None:
    """Step by step: the first step whose weights differ, named by a mistake where one
    gives the same weights, else described by how that step differs from the right one
    (its sign, a factor, …); ``rtol`` is relative to the step's size."""
    w0, _ = _start()
    previous = w0
    for t, (g, w) in enumerate(zip(got, want, strict=True), start=1):
        if isinstance(g, str):
            return g
        g = as_array(g)
        step = w - previous
        if matches(g, w, rtol=0, atol=rtol * float(np.max(np.abs(step)))):
            previous = w
            continue
        for hint, path in mistakes.items():
            if matches(g, path[t - 1], rtol=1e-7, atol=1e-10):
                return hint
        problem = describe_type_and_shape(f"w after step {t}", g, w) or compare(
            f"step {t} (the change in w)", g - previous, step, rtol=rtol, atol=0
        )
        return f"{problem} — {formula}"
    return None


def _path(update: Callable[[np.ndarray, np.ndarray, list[np.ndarray], int], Any]) -> Any:
    """The weights along a hand-written (wrong) update ``update(w, g, state, t)``."""
    w0, grads = _start()
    w, state, path = w0.copy(), [np.zeros_like(w0), np.zeros_like(w0)], []
    for t, g in enumerate(grads, start=1):
        w = update(w, g, state, t)
        path.append(w)
    return path


LR = 0.1


def check_gd_step(answer: Answer) -> str | None:
    got = learner_path(lambda w, g, state, t: answer(w, g, LR), 0)
    return compare_paths(
        got,
        package_path(GradientDescent(LR)),
        {
            "the step went uphill: w − η·grad, against the gradient": _path(
                lambda w, g, s, t: w + LR * g
            ),
            "the step is 1/η times too big: multiply the gradient by the learning rate": _path(
                lambda w, g, s, t: w - g
            ),
            "that is the step, −η·grad; return the new weights, w − η·grad": _path(
                lambda w, g, s, t: -LR * g
            ),
        },
        1e-9,
        "w ← w − η · grad",
    )


def check_momentum_step(answer: Answer) -> str | None:
    mu = 0.9

    def velocity(w: np.ndarray, g: np.ndarray, s: list[np.ndarray], t: int) -> np.ndarray:
        s[0] = mu * s[0] + (1 - mu) * g
        return w - LR * s[0]

    def stale(w: np.ndarray, g: np.ndarray, s: list[np.ndarray], t: int) -> np.ndarray:
        return w - LR * (mu * np.zeros_like(g) + g)

    got = learner_path(lambda w, g, state, t: answer(w, g, state[0], LR, mu), 1)
    return compare_paths(
        got,
        package_path(Momentum(LR, mu)),
        {
            "v ← μ v + (1 − μ) g is the averaging form; this course, as PyTorch, keeps "
            "v ← μ v + g (the same steps with η / (1 − μ))": _path(velocity),
            "the steps are plain gradient descent (w moves by η·grad): move w by η·v, the "
            "new velocity, and return that v so that the next step gets it": _path(stale),
        },
        1e-9,
        "v ← μ v + grad, then w ← w − η v",
    )


def _adam_mistake(kind: str) -> Callable[..., np.ndarray]:
    b1, b2, eps = 0.9, 0.999, 1e-8

    def update(w: np.ndarray, g: np.ndarray, s: list[np.ndarray], t: int) -> np.ndarray:
        s[0] = b1 * s[0] + (1 - b1) * g
        s[1] = b2 * s[1] + (1 - b2) * (g if kind == "g not squared" else g * g)
        c1, c2 = 1 - b1**t, 1 - b2**t
        if kind == "no correction":
            c1 = c2 = 1.0
        elif kind in ("t + 1", "t - 1"):
            k = t + 1 if kind == "t + 1" else t - 1
            c1, c2 = 1 - b1**k, 1 - b2**k
        elif kind == "only m":
            c2 = 1.0
        elif kind == "only v":
            c1 = 1.0
        with np.errstate(all="ignore"):
            m_hat, v_hat = s[0] / c1, s[1] / c2
            if kind == "no sqrt":
                return w - LR * m_hat / (v_hat + eps)
            return w - LR * m_hat / (np.sqrt(v_hat) + eps)

    return update


ADAM_MISTAKES = {
    "no correction": "Adam without bias correction: m̂ = m / (1 − β1ᵗ), v̂ = v / (1 − β2ᵗ) — "
    "early steps are otherwise far too small for m and too large for v",
    "t + 1": "the bias correction is one step ahead: at step t use 1 − β1ᵗ and 1 − β2ᵗ, "
    "with t counting from 1",
    "t - 1": "the first step (t = 1) gave NaN: the bias correction is one step behind, and "
    "1 − β^(t−1) is 0 there — at step t use 1 − β1ᵗ and 1 − β2ᵗ, with t counting from 1",
    "only m": "only m is bias-corrected: v̂ = v / (1 − β2ᵗ) too",
    "only v": "only v is bias-corrected: m̂ = m / (1 − β1ᵗ) too",
    "g not squared": "v averages the gradient itself: it averages its square, "
    "v ← β2 v + (1 − β2) grad²",
    "no sqrt": "the step divides by v̂: divide by its square root, √v̂ + ε",
}


def check_adam_step(answer: Answer) -> str | None:
    got = learner_path(lambda w, g, state, t: answer(w, g, state[0], state[1], t, LR), 2)
    return compare_paths(
        got,
        package_path(Adam(LR)),
        {hint: _path(_adam_mistake(kind)) for kind, hint in ADAM_MISTAKES.items()},
        1e-5,
        "m ← β1 m + (1 − β1) g; v ← β2 v + (1 − β2) g²; w ← w − η m̂ / (√v̂ + ε)",
    )


STAGE = Stage(
    number=7,
    name="optimizers",
    title="the optimizers' steps",
    intro="""Stage 7 — how a step changes the weights: gradient descent, momentum, Adam.

Each function takes one parameter array w, its gradient and the optimizer's state, and
returns new arrays (it leaves its inputs as they were); the training loop calls it for
every W[l] and b[l], keeping each one's state:

    gradient descent   w ← w − η g
    momentum           v ← μ v + g;  w ← w − η v                      (as PyTorch)
    Adam               m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²
                       w ← w − η m̂ / (√v̂ + ε),  m̂ = m / (1 − β1ᵗ),  v̂ = v / (1 − β2ᵗ)

t counts Adam's steps from 1. Adam's defaults are Kingma and Ba's (ICLR 2015).""",
    imports=("import numpy as np",),
    exercises=(
        Exercise(
            "7.1",
            "gd_step",
            "a gradient descent step",
            "(w: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray",
            """One step of gradient descent: the new w = w − lr · grad.""",
            check_gd_step,
        ),
        Exercise(
            "7.2",
            "momentum_step",
            "a momentum step",
            "(w: np.ndarray, grad: np.ndarray, v: np.ndarray, lr: float, mu: float = 0.9)"
            " -> tuple[np.ndarray, np.ndarray]",
            """One step of momentum: v ← mu · v + grad, then w ← w − lr · v.

v is the velocity from the step before (zeros at the first). Returns (w, v), new.""",
            check_momentum_step,
        ),
        Exercise(
            "7.3",
            "adam_step",
            "an Adam step",
            "(w: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,"
            " lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8)"
            " -> tuple[np.ndarray, np.ndarray, np.ndarray]",
            """One step of Adam, t = 1, 2, ... counting the steps taken with this one.

m ← beta1 · m + (1 − beta1) · grad;  v ← beta2 · v + (1 − beta2) · grad²;
m̂ = m / (1 − beta1ᵗ);  v̂ = v / (1 − beta2ᵗ);  w ← w − lr · m̂ / (√v̂ + eps).
m and v start as zeros. Returns (w, m, v), new arrays.
(Kingma and Ba's efficient form, lr·√(1 − beta2ᵗ)/(1 − beta1ᵗ) · m / (√v + eps),
passes too.)""",
            check_adam_step,
        ),
    ),
    docs="optimizers.md",
)
