"""The notebooks' exercise checks: each passes the reference answer and catches plausible
wrong ones with a hint that says what is wrong."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from nnscratch.app.learn.exercises import EXERCISES, check

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
import solutions as s

RIGHT = {
    "1.1": s.release_year, "1.2": s.minmax_scale, "2.1": s.he_weights,
    "2.2": s.glorot_weights, "3.1": s.relu_derivative, "3.2": s.sigmoid_derivative,
    "4.1": s.layer_forward, "4.2": s.forward, "5.1": s.mse_cost, "5.2": s.layer_backward,
    "6.1": s.momentum_step, "6.2": s.adam_step, "7.1": s.softmax,
    "7.2": s.softmax_cross_entropy_gradient, "8.1": s.piecewise_linear,
    "8.2": s.tabm_first_layer,
}  # fmt: skip


def _sig(z):
    return 1 / (1 + np.exp(-z))


#: For each exercise, two or more plausible wrong answers and what the hint must say.
WRONG = {
    "1.1": [(lambda d: float(d[:4]) if d[:4].isdigit() else 0.0, "expected nan"),
            (lambda d: float(d[5:7]) if len(d) >= 7 and d[5:7].isdigit() else float("nan"),
             "you gave")],
    "1.2": [(lambda tr, o: s.minmax_scale(np.vstack([tr, o]), o)[1:] * 2, "shape"),
            (lambda tr, o: ((tr - tr.min(0)) / np.ptp(tr, 0), (o - o.min(0)) / np.ptp(o, 0)),
             "validation"),
            (lambda tr, o: (tr, o), "relative error")],
    "2.1": [(lambda i, o, r: r.standard_normal((i, o)) * np.sqrt(2 / i), "a row per unit"),
            (lambda i, o, r: r.standard_normal((o, i)) * np.sqrt(1 / i), "He wants"),
            (lambda i, o, r: r.standard_normal((o, i)) * (2 / i), "square root"),
            (lambda i, o, r: np.random.default_rng().standard_normal((o, i)) * np.sqrt(2 / i),
             "same seed")],
    "2.2": [(s.he_weights, "Glorot wants"),
            (lambda i, o, r: r.standard_normal((o, i)) * np.sqrt(2 / (i + o)) + 0.5, "mean")],
    "3.1": [(lambda z: np.maximum(z, 0), "itself"),
            (lambda z: np.ones_like(z), "relative error")],
    "3.2": [(_sig, "itself"), (lambda z: _sig(z) * (1 + _sig(z)), "relative error")],
    "4.1": [(lambda W, b, A: A.T @ W.T + b.T, "transpose"),
            (lambda W, b, A: W @ A, "bias is missing")],
    "4.2": [(lambda W, b, X: np.maximum(s.forward(W, b, X), 0), "output layer is linear"),
            (lambda W, b, X: s.forward(W[:-1], b[:-1], X), "shape")],
    "5.1": [(lambda Yh, Y: float(np.mean((Yh - Y) ** 2)), "2 × the right answer"),
            (lambda Yh, Y: float(np.sum((Yh - Y) ** 2) / 2), "40 ×")],
    "5.2": [(lambda dZ, A, W: (A @ dZ.T, dZ.sum(1, keepdims=True), W.T @ dZ),
             "did you transpose A?"),
            (lambda dZ, A, W: (dZ @ A.T, dZ.sum(1), W.T @ dZ), "keep the (n, 1)"),
            (lambda dZ, A, W: (dZ @ A.T / 8, dZ.sum(1, keepdims=True), W.T @ dZ), "factor")],
    "6.1": [(lambda w, g, v, lr, mu: (w - lr * g, v), "v ← μ v + g"),
            (lambda w, g, v, lr, mu: (w + lr * (mu * v + g), mu * v + g), "relative error")],
    "6.2": [(lambda w, g, m, v, t, lr: (w - lr * ((0.9 * m + 0.1 * g) /
             (np.sqrt(0.999 * v + 0.001 * g * g) + 1e-8)), 0.9 * m + 0.1 * g,
             0.999 * v + 0.001 * g * g), "bias-correct"),
            (lambda w, g, m, v, t, lr: (w - lr * g, m, v), "relative error")],
    "7.1": [(lambda Z: np.exp(Z) / np.exp(Z).sum(0), "subtract each column's max"),
            (lambda Z: s.softmax(Z.T).T, "each row sums to 1")],
    "7.2": [(lambda Yh, Y: Yh - Y, "10 ×"), (lambda Yh, Y: (Y - Yh) / Y.shape[1], "-1 ×")],
    "8.1": [(lambda x, e: (x[:, None] >= e[1:]).astype(float), "relative error"),
            (lambda x, e: np.clip((x[:, None] - e[:-1]) / (e[1:] - e[:-1]), 0, 1).T, "shape")],
    "8.2": [(lambda W, R, S, B, X: np.einsum("ji,ikm->jkm", W, R[:, :, None] * X[:, None, :]),
             "s_k ⊙"),
            (lambda W, R, S, B, X: s.tabm_first_layer(W, R, S, B, X).transpose(0, 2, 1),
             "shape")],
}  # fmt: skip


@pytest.fixture(autouse=True)
def lenient(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks as a learner meets them (make test runs the notebooks strict)."""
    monkeypatch.delenv("NNSCRATCH_CHECK_STRICT", raising=False)


def test_sixteen_exercises_two_a_notebook() -> None:
    assert sorted(EXERCISES) == sorted(RIGHT) and len(EXERCISES) == 16
    assert {n.split(".")[0] for n in EXERCISES} == {str(k) for k in range(1, 9)}


@pytest.mark.parametrize("number", sorted(RIGHT))
def test_the_right_answer_passes(number: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(number, RIGHT[number])
    assert capsys.readouterr().out.startswith(f"✓ Exercise {number} (")


@pytest.mark.parametrize("number", sorted(WRONG))
def test_wrong_answers_are_caught_with_a_hint(number: str, capsys) -> None:
    assert len(WRONG[number]) >= 2
    for wrong, says in WRONG[number]:
        assert not check(number, wrong)
        out = capsys.readouterr().out
        assert out.startswith(f"✗ Exercise {number} (") and says in out, out


def test_an_unwritten_or_crashing_answer_says_so(capsys) -> None:
    def he_weights(n_in, n_out, rng):
        raise NotImplementedError

    assert not check("2.1", he_weights)
    assert "not written yet" in capsys.readouterr().out
    assert not check("3.1", lambda z: z.undefined)
    assert "raised AttributeError" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"unknown exercise '9\.9'"):
        check("9.9", he_weights)


def test_strict_mode_makes_a_wrong_answer_an_error(monkeypatch, capsys) -> None:
    monkeypatch.setenv("NNSCRATCH_CHECK_STRICT", "1")
    assert check("3.1", s.relu_derivative)
    with pytest.raises(AssertionError, match=r"Exercise 3\.1"):
        check("3.1", lambda z: np.maximum(z, 0))
