"""The notebooks' exercises, checked: a learner's function against the package's own.

``check("2.1", he_weights)`` runs the learner's function on seeded inputs, compares
it with the package's implementation of the same stage (or, for gradients, with a
finite difference, as :mod:`nnscratch.core.gradcheck` does), and prints a pass or
one specific hint — the shape that is transposed, the factor that is missing::

    ✗ Exercise 5.2 (one layer's backward pass): dW has shape (3, 4); expected (4, 3) —
      did you transpose A?

Each exercise is one entry of :data:`EXERCISES` (as the lab's experiments are): a
title and a function that returns the first problem it finds, or ``None``. The
reference answers are the package's tested code; no solution is written here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nnscratch.core.activations import ACTIVATIONS
from nnscratch.core.batchensemble import BatchEnsembleNetwork
from nnscratch.core.gradcheck import max_relative_error
from nnscratch.core.losses import LOSSES
from nnscratch.core.network import Network
from nnscratch.core.optimizers import Adam, Momentum
from nnscratch.data.encoders import PiecewiseLinearEncoding
from nnscratch.data.tracks import year_from_release_date
from nnscratch.registry import Registry

#: A check: the learner's function → the first problem found (None: right).
Check = Callable[[Callable[..., Any]], str | None]


@dataclass(frozen=True)
class Exercise:
    title: str
    run: Check


EXERCISES: Registry[Exercise] = Registry("exercise")


def check(number: str, answer: Callable[..., Any]) -> bool:
    """Check the learner's ``answer`` to exercise ``number``; print ✓ or ✗ with a hint."""
    exercise = EXERCISES.lookup(number)
    try:
        problem = exercise.run(answer)
    except NotImplementedError:
        problem = "not written yet: replace `raise NotImplementedError` with your code"
    except Exception as exc:  # the learner's code failed: say how, not a traceback
        problem = f"your function raised {type(exc).__name__}: {exc}"
    mark = "✓" if problem is None else "✗"
    said = f"{mark} Exercise {number} ({exercise.title}): {problem or 'right'}"
    print(said)
    if problem is not None and os.environ.get(STRICT):
        raise AssertionError(said)
    return problem is None


#: Set (to anything) to make a wrong answer an error: how the notebooks run in CI.
STRICT = "NNSCRATCH_CHECK_STRICT"


def compare(
    name: str, got: Any, expected: np.ndarray, rtol: float = 1e-7, hint: str = ""
) -> str | None:
    """The first difference between ``got`` and ``expected``: type, shape (a transpose
    named), values (the largest relative error, and a constant factor where it is one)."""
    if not isinstance(got, np.ndarray):
        return f"{name} is a {type(got).__name__}; expected a NumPy array"
    if got.shape != expected.shape:
        turned = got.shape == expected.shape[::-1] and got.ndim == 2
        why = " — did you transpose?" if turned else ""
        return f"{name} has shape {got.shape}; expected {expected.shape}{why}"
    if np.allclose(got, expected, rtol=rtol, atol=1e-12, equal_nan=True):
        return None
    return f"{name} differs by a relative error of {relative_error(got, expected):.1e}" + (
        factor_hint(got, expected) or hint
    )


def relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    return max_relative_error(np.nan_to_num(got), np.nan_to_num(expected), floor=1e-12)


def factor_hint(got: np.ndarray, expected: np.ndarray) -> str:
    """`` — it is k × the right answer``, where it is a constant multiple."""
    mask = np.abs(expected) > 1e-9
    if not mask.any():
        return ""
    ratios = got[mask] / expected[mask]
    k = float(np.median(ratios))
    if np.allclose(ratios, k, rtol=1e-6) and not math.isclose(k, 1):
        return f" — it is {k:.4g} × the right answer: a missing or extra factor?"
    return ""


# ------------------------------------------------------------------ stage 1: data


def _year(answer: Callable[[str], float]) -> str | None:
    dates = ["1999-05-01", "2003", "1987-11", "", "not a date", "1921-01-01"]
    expected = year_from_release_date(pd.Series(dates, dtype=object)).to_numpy(dtype=float)
    got = np.array([float(answer(d)) for d in dates])
    for date, g, e in zip(dates, got, expected, strict=True):
        if not (g == e or (math.isnan(g) and math.isnan(e))):
            return f"for {date!r} you gave {g}; expected {e} (NaN where there is no year)"
    return None


def _minmax(answer: Callable[..., tuple[np.ndarray, np.ndarray]]) -> str | None:
    rng = np.random.default_rng(11)
    train, val = rng.normal(5, 2, (200, 3)), rng.normal(6, 3, (50, 3))
    low, high = train.min(axis=0), train.max(axis=0)
    got_train, got_val = answer(train.copy(), val.copy())
    problem = compare("the scaled training rows", got_train, (train - low) / (high - low))
    if problem:
        return problem
    both = np.vstack([train, val])
    if np.allclose(got_val, (val - both.min(axis=0)) / np.ptp(both, axis=0)):
        return "the validation rows were scaled with a fit on them too: fit on training only"
    return compare("the scaled validation rows", got_val, (val - low) / (high - low))


# ------------------------------------------------------------------ stage 2: initialisation


def _variance_check(
    answer: Callable[..., np.ndarray], variance: Callable[[int, int], float], name: str
) -> str | None:
    n_in, n_out = 400, 300
    W = answer(n_in, n_out, np.random.default_rng(0))
    if not isinstance(W, np.ndarray) or W.shape != (n_out, n_in):
        shape = getattr(W, "shape", None)
        turned = " — W[l] is (n[l], n[l-1]): a row per unit" if shape == (n_in, n_out) else ""
        return f"W has shape {shape}; expected {(n_out, n_in)}{turned}"
    var, want = float(W.var()), variance(n_in, n_out)
    if abs(W.mean()) > 0.05 * math.sqrt(want):
        return f"the weights' mean is {W.mean():.3g}; expected about 0"
    if not 0.9 < var / want < 1.1:
        if math.isclose(math.sqrt(var), want, rel_tol=0.1):
            return (
                f"the weights' std is {math.sqrt(var):.3g}, the variance {name} wants: "
                "scale by its square root"
            )
        return f"variance {var:.3g}; {name} wants {want:.3g}"
    again = answer(n_in, n_out, np.random.default_rng(0))
    if not np.array_equal(W, again):
        return "the same seed gave different weights: draw from the rng given"
    return None


# ------------------------------------------------------------------ stage 3: activations


def _derivative(name: str) -> Check:
    def run(answer: Callable[[np.ndarray], np.ndarray]) -> str | None:
        z = np.linspace(-6, 6, 97)
        act = ACTIVATIONS[name]
        got = answer(z.copy())
        same_shape = isinstance(got, np.ndarray) and got.shape == z.shape
        if same_shape and np.allclose(got, act.function(z)):
            return f"that is {name} itself; its derivative is asked for"
        return compare(f"{name}'(z)", got, act.derivative(z), rtol=1e-9)

    return run


# ------------------------------------------------------------------ stage 4: forward


def _layer_forward(answer: Callable[..., np.ndarray]) -> str | None:
    rng = np.random.default_rng(4)
    W, b, A = rng.normal(size=(5, 3)), rng.normal(size=(5, 1)), rng.normal(size=(3, 7))
    got = answer(W, b, A)
    if isinstance(got, np.ndarray) and got.shape == (5, 7) and np.allclose(got, W @ A):
        return "Z = W·A + b: the bias is missing"
    return compare("Z", got, W @ A + b)


def _forward(answer: Callable[..., np.ndarray]) -> str | None:
    net = Network([4, 6, 5, 1], dtype=np.float64, rng=2)
    net.params.biases[2][...] = -1.0  # some outputs below 0: a ReLU there would show
    X = np.random.default_rng(3).normal(size=(4, 9))
    W = [w.copy() for w in net.params.weights]
    b = [v.copy() for v in net.params.biases]
    got = answer(W, b, X)
    relu_out = W[2] @ np.maximum(W[1] @ np.maximum(W[0] @ X + b[0], 0) + b[1], 0) + b[2]
    clipped = np.maximum(relu_out, 0)
    shaped = isinstance(got, np.ndarray) and got.shape == clipped.shape
    if shaped and np.allclose(got, clipped) and (relu_out < 0).any():
        return "the output layer is linear (identity): no ReLU on the last layer"
    return compare("Ŷ", got, net.predict(X))


# ------------------------------------------------------------------ stage 5: loss, backprop


def _mse(answer: Callable[..., float]) -> str | None:
    rng = np.random.default_rng(5)
    Y_hat, Y = rng.normal(size=(1, 40)), rng.normal(size=(1, 40))
    got = np.asarray(float(answer(Y_hat, Y)))
    return compare(
        "J", got, np.asarray(LOSSES["mse"].value(Y_hat, Y)), hint=" — J = 1/(2m) Σ (ŷ − y)²"
    )


def _layer_backward(answer: Callable[..., tuple[np.ndarray, ...]]) -> str | None:
    """``J = Σ G ⊙ (W·A + b)``: its gradients by finite differences, against the learner's
    ``layer_backward(dZ=G, A_prev=A, W=W)``."""
    rng = np.random.default_rng(6)
    W, b, A, G = (rng.normal(size=s) for s in ((4, 3), (4, 1), (3, 8), (4, 8)))
    dW, db, dA = answer(G, A, W)

    def J(W_: np.ndarray, b_: np.ndarray, A_: np.ndarray) -> float:
        return float(np.sum(G * (W_ @ A_ + b_)))

    numeric = [
        finite_difference(
            lambda x, i=i: J(*[x if j == i else v for j, v in enumerate((W, b, A))]), (W, b, A)[i]
        )
        for i in range(3)
    ]
    for name, got, want, hint in (
        ("dW", dW, numeric[0], " — did you transpose A?"),
        ("db", db, numeric[1], " — keep the (n, 1) column shape"),
        ("dA_prev", dA, numeric[2], " — Wᵀ·dZ"),
    ):
        problem = compare(name, got, want, rtol=1e-5, hint=" (against a finite difference)")
        if problem and "did you transpose?" in problem:
            return problem.replace(" — did you transpose?", hint)
        if problem:
            return problem + (hint if "shape" in problem else "")
    return None


def finite_difference(
    J: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Central differences of ``J`` at ``x``, entry by entry."""
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (J(x + step) - J(x - step)) / (2 * h)
    return grad


# ------------------------------------------------------------------ stage 6: optimizers


def _optimizer_steps(
    make: Callable[[], Any], learner: Callable[..., Any], state: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Three steps of the package's optimizer and of the learner's update, from the same
    weights and gradients: (the package's weights, the learner's) after each step."""
    rng = np.random.default_rng(7)
    w0 = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(3)]
    ours, theirs = w0.copy(), w0.copy()
    optimizer, extra = make(), [np.zeros_like(w0) for _ in range(state)]
    want, got = [], []
    for t, g in enumerate(grads, start=1):
        optimizer.step([ours], [g.copy()])
        theirs, *extra = learner(theirs.copy(), g.copy(), *extra, t)
        want.append(ours.copy())
        got.append(np.asarray(theirs))
    return want, got


def _momentum(answer: Callable[..., Any]) -> str | None:
    want, got = _optimizer_steps(
        lambda: Momentum(0.1, 0.9), lambda w, g, v, t: answer(w, g, v, 0.1, 0.9), 1
    )
    for t, (w, g) in enumerate(zip(want, got, strict=True), start=1):
        problem = compare(
            f"w after step {t}", g, w, rtol=1e-9, hint=" — v ← μ v + g, then w ← w − η v"
        )
        if problem:
            return problem
    return None


def _adam(answer: Callable[..., Any]) -> str | None:
    want, got = _optimizer_steps(
        lambda: Adam(0.01), lambda w, g, m, v, t: answer(w, g, m, v, t, 0.01), 2
    )
    for t, (w, g) in enumerate(zip(want, got, strict=True), start=1):
        problem = compare(
            f"w after step {t}",
            g,
            w,
            rtol=1e-6,
            hint=" — bias-correct both moments: m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ)",
        )
        if problem:
            return problem
    return None


# ------------------------------------------------------------------ Part 2: softmax


def _softmax(answer: Callable[[np.ndarray], np.ndarray]) -> str | None:
    Z = np.random.default_rng(8).normal(size=(4, 6)) * 3
    Z[:, 0] += 800.0  # large logits: exp overflows unless the max is subtracted
    got = answer(Z.copy())
    if isinstance(got, np.ndarray) and got.shape == Z.shape and not np.isfinite(got).all():
        return "inf or NaN for large logits: subtract each column's max before exp"
    if isinstance(got, np.ndarray) and got.shape == Z.shape and np.allclose(got.sum(axis=1), 1):
        return "each row sums to 1; each column (a sample) should: normalise over axis 0"
    return compare("softmax(Z)", got, ACTIVATIONS["softmax"].function(Z), rtol=1e-9)


def _softmax_ce_gradient(answer: Callable[..., np.ndarray]) -> str | None:
    rng = np.random.default_rng(9)
    Y_hat = ACTIVATIONS["softmax"].function(rng.normal(size=(3, 10)))
    Y = np.eye(3)[:, rng.integers(0, 3, 10)]
    return compare("dZ", answer(Y_hat, Y), (Y_hat - Y) / 10, rtol=1e-9, hint=" — dZ = (Ŷ − Y) / m")


# ------------------------------------------------------------------ TabM, piecewise-linear


def _piecewise_linear(answer: Callable[..., np.ndarray]) -> str | None:
    edges = np.array([0.0, 1.0, 3.0, 6.0])
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 5.9, 6.0, 9.0])
    # at most n_bins + 1 distinct training values become the edges themselves
    encoder = PiecewiseLinearEncoding(include_input=False).fit(edges[:, None])
    return compare(
        "the encoding",
        answer(x, edges),
        encoder.transform(x[:, None]),
        hint=" — e_t(x) = clip((x − b_{t−1}) / (b_t − b_{t−1}), 0, 1)",
    )


def _tabm_first_layer(answer: Callable[..., np.ndarray]) -> str | None:
    net = BatchEnsembleNetwork([5, 4, 1], 3, dtype=np.float64, rng=1)
    rng = np.random.default_rng(10)
    for array in (net.params.R[0], net.params.S[0], net.params.B[0]):
        array[...] = rng.normal(size=array.shape)
    X = rng.normal(size=(5, 7))
    p = net.params
    got = answer(p.W[0].copy(), p.R[0].copy(), p.S[0].copy(), p.B[0].copy(), X)
    return compare(
        "Z[1]",
        got,
        net.trace(X)[0][0],
        rtol=1e-9,
        hint=" — Z_k = s_k ⊙ (W · (r_k ⊙ X)) + b_k, shape (n[1], K, m)",
    )


for _number, _title, _run in (
    ("1.1", "release_date → year", _year),
    ("1.2", "Min-Max fitted on the training rows only", _minmax),
    ("2.1", "He initialisation", lambda a: _variance_check(a, lambda i, o: 2 / i, "He")),
    (
        "2.2",
        "Glorot initialisation",
        lambda a: _variance_check(a, lambda i, o: 2 / (i + o), "Glorot"),
    ),
    ("3.1", "ReLU's derivative", _derivative("relu")),
    ("3.2", "the sigmoid's derivative", _derivative("sigmoid")),
    ("4.1", "one layer's forward pass", _layer_forward),
    ("4.2", "the forward pass", _forward),
    ("5.1", "the MSE cost", _mse),
    ("5.2", "one layer's backward pass", _layer_backward),
    ("6.1", "a momentum step", _momentum),
    ("6.2", "an Adam step", _adam),
    ("7.1", "a stable softmax", _softmax),
    ("7.2", "the softmax–cross-entropy gradient", _softmax_ce_gradient),
    ("8.1", "the piecewise-linear encoding", _piecewise_linear),
    ("8.2", "TabM's first layer", _tabm_first_layer),
):
    EXERCISES.add(Exercise(_title, _run), _number)
