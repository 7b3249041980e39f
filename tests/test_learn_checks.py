"""The course's checks: every reference answer passes, every named wrong answer fails with
its own hint, answers written differently but equivalent pass, and a check that breaks
on its own is reported as the checker's error, never as the learner's.

Each wrong answer below is a mistake learners make, with the words its hint must hold;
two different mistakes of one exercise never get the same message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.special
from sklearn.preprocessing import MinMaxScaler

from nnscratch.app.learn.exercise import Exercise, run
from nnscratch.app.learn.exercises import EXERCISES, STAGES, check
from nnscratch.app.learn.workspace import functions

ANSWERS = Path(__file__).resolve().parents[1] / "notebooks" / "answers"
ALL_NAMES = [e.name for e in EXERCISES.values()]
RIGHT = functions(ANSWERS, ALL_NAMES)
A = RIGHT  # the reference functions, which some wrong answers build on


@dataclass(frozen=True)
class Wrong:
    number: str
    mistake: str
    answer: Callable[..., Any]
    says: str


def _sig(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


# ------------------------------------------------------------------ stage 1


def year_raises(date):
    return float(date.strip()[:4])


def year_month_13(date):
    match = re.fullmatch(r"(\d{4})(-\d{1,2}){0,2}", date.strip())
    return float(match.group(1)) if match else float("nan")


def year_no_strip(date):
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-\d{1,2})?)?", date)
    if not match or (match.group(2) and int(match.group(2)) > 12):
        return float("nan")
    return float(match.group(1))


def minmax_each_on_itself(train, other):
    return (
        (train - train.min(0)) / np.ptp(train, 0),
        (other - other.min(0)) / np.ptp(other, 0),
    )


def minmax_on_both(train, other):
    both = np.vstack([train, other])
    low, width = both.min(0), np.ptp(both, 0)
    return (train - low) / width, (other - low) / width


def minmax_rows(train, other):
    low, width = train.min(1, keepdims=True), np.ptp(train, 1, keepdims=True)
    return (train - low) / width, other


def minmax_zscore(train, other):
    mean, std = train.mean(0), train.std(0)
    return (train - mean) / std, (other - mean) / std


def minmax_by_max(train, other):
    return train / train.max(0), other / train.max(0)


# ------------------------------------------------------------------ stage 2


def init_flat_biases(sizes, rng):
    weights, biases = A["initialize"](sizes, rng)
    return weights, [b.ravel() for b in biases]


def init_random_biases(sizes, rng):
    weights, biases = A["initialize"](sizes, rng)
    return weights, [rng.normal(size=b.shape) for b in biases]


def init_fan_out(sizes, rng):
    weights = [rng.standard_normal((o, i)) * np.sqrt(2 / o) for i, o in pairwise(sizes)]
    return weights, [np.zeros((o, 1)) for o in sizes[1:]]


def init_fresh_rng(sizes, rng):
    weights = [A["he_weights"](i, o, np.random.default_rng(0)) for i, o in pairwise(sizes)]
    return weights, [np.zeros((o, 1)) for o in sizes[1:]]


def init_own_rng(sizes, rng):
    return A["initialize"](sizes, np.random.default_rng(0))


def init_one_short(sizes, rng):
    weights, biases = A["initialize"](sizes, rng)
    return weights[:-1], biases[:-1]


# ------------------------------------------------------------------ stage 3


def relu_in_place(Z):
    Z[Z < 0] = 0
    return Z


def relu_derivative_in_place(Z):
    Z[Z <= 0] = 0
    Z[Z > 0] = 1
    return Z


# ------------------------------------------------------------------ stage 4


def layer_forward_swapped(W, b, A_prev):
    return A_prev @ W + b


def layer_forward_elementwise(W, b, A_prev):
    return W * A_prev + b


def forward_variant(kind: str) -> Callable[..., Any]:
    def forward(weights, biases, X):
        A_, cache, L = X, [], len(weights)
        layers = L - 1 if kind == "early" else L
        for l in range(1, layers + 1):
            W, b = weights[l - 1], biases[l - 1]
            Z = W @ A_ + b
            last = l == L
            if kind == "relu before bias":
                A_next = Z if last else np.maximum(W @ A_, 0) + b
            elif kind == "no relu":
                A_next = Z
            elif kind in ("relu out", "early"):
                A_next = np.maximum(Z, 0)
            else:
                A_next = Z if last else np.maximum(Z, 0)
            if kind == "outputs cached":
                cache.append((A_next, Z))
            elif kind == "activations as Z":
                cache.append((A_, A_next))
            else:
                cache.append((A_, Z))
            A_ = A_next
        return (A_, cache) if kind != "no cache" else A_

    return forward


# ------------------------------------------------------------------ stage 6


def backward_variant(kind: str) -> Callable[..., Any]:
    def backward(dZ_L, cache, weights, lmbda=0.0):
        L, m = len(weights), dZ_L.shape[1]
        scale = {"no l2": 0.0, "lambda W": lmbda}.get(kind, lmbda / m)
        dWs, dbs, dZ = [None] * L, [None] * L, dZ_L
        for l in range(L, 0, -1):
            A_prev, _ = cache[l - 1]
            dWs[l - 1] = dZ @ A_prev.T + scale * weights[l - 1]
            db = dZ.sum(axis=1, keepdims=kind != "flat db")
            dbs[l - 1] = db
            if l > 1:
                dA = weights[l - 1].T @ dZ
                dZ = dA if kind == "no derivative" else dA * (cache[l - 2][1] > 0)
        if kind == "reversed":
            return dWs[::-1], dbs[::-1]
        return dWs, dbs

    return backward


# ------------------------------------------------------------------ stage 7


def gd_in_place(w, grad, lr):
    w -= lr * grad
    return w


def adam_variant(kind: str) -> Callable[..., Any]:
    def adam_step(w, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * (grad if kind == "g not squared" else grad**2)
        t1 = {"t - 1": t - 1, "t + 1": t + 1}.get(kind, t)
        m_hat = m if kind in ("no correction", "only v") else m / (1 - beta1**t1)
        v_hat = v if kind in ("no correction", "only m") else v / (1 - beta2**t1)
        if kind == "no sqrt":
            return w - lr * m_hat / (v_hat + eps), m, v
        return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v

    return adam_step


# ------------------------------------------------------------------ stage 8


def train_variant(kind: str) -> Callable[..., Any]:
    """The reference loop with one mistake."""
    forward, backward = A["forward"], A["backward"]
    steps = {"gd": A["gd_step"], "momentum": A["momentum_step"], "adam": A["adam_step"]}

    def train(
        weights,
        biases,
        X,
        Y,
        *,
        epochs,
        learning_rate,
        lmbda=0.0,
        batch_size=None,
        optimizer="gd",
        seed=0,
        output=None,
        cost=A["mse_cost"],
        cost_gradient=A["mse_gradient"],
        on_epoch=None,
    ):
        rng = np.random.default_rng(seed)
        params, L, N = [*weights, *biases], len(weights), X.shape[1]
        m = N if batch_size is None else min(batch_size, N)
        lam = 0.0 if kind == "no lmbda" else lmbda
        state = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
        t, losses = 0, []
        for epoch in range(epochs):
            if kind == "reseeded":
                rng = np.random.default_rng(seed)
            if kind == "reset":
                state = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
            order = np.arange(N) if m == N or kind == "in order" else rng.permutation(N)
            total, each = 0.0, []
            for start in range(0, N, m):
                cols = order[start : start + m]
                W, b = params[:L], params[L:]
                Z_L, cache = forward(W, b, X[:, cols])
                Y_hat = output(Z_L) if output is not None else Z_L
                penalty = 0.0 if kind == "no penalty" else A["l2_penalty"](W, lam, len(cols))
                J = cost(Y_hat, Y[:, cols]) + penalty
                total += len(cols) * J
                each.append(J)
                dWs, dbs = backward(cost_gradient(Y_hat, Y[:, cols]), cache, W, lam)
                t += 1
                step_t = epoch + 1 if kind == "epoch t" else t
                for i, g in enumerate([*dWs, *dbs]):
                    if optimizer == "gd":
                        params[i] = steps["gd"](params[i], g, learning_rate)
                    elif optimizer == "momentum":
                        params[i], state[i][0] = steps["momentum"](
                            params[i], g, state[i][0], learning_rate
                        )
                    else:
                        params[i], state[i][0], state[i][1] = steps["adam"](
                            params[i], g, state[i][0], state[i][1], step_t, learning_rate
                        )
            if kind == "after":
                W, b = params[:L], params[L:]
                Z_L, _ = forward(W, b, X)
                Y_hat = output(Z_L) if output is not None else Z_L
                losses.append(cost(Y_hat, Y) + A["l2_penalty"](W, lam, N))
            else:
                losses.append(float(np.mean(each)) if kind == "plain mean" else total / N)
        if kind == "start weights":
            return weights, biases, losses
        if kind == "in place":  # the lists given, updated: a right answer too
            weights[:], biases[:] = params[:L], params[L:]
            return weights, biases, losses
        return params[:L], params[L:], losses

    return train


# ------------------------------------------------------------------ stage 9


def softmax_shift(shift: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], np.ndarray]:
    def softmax(Z):
        e = np.exp(Z - shift(Z))
        return e / e.sum(axis=0, keepdims=True)

    return softmax


def softmax_in_place(Z):
    Z -= Z.max(axis=0, keepdims=True)
    e = np.exp(Z)
    return e / e.sum(axis=0)


def tabm_variant(kind: str) -> Callable[..., Any]:
    def tabm_first_layer(W, R, S, B, X):
        P = np.einsum("ji,ikm->jkm", W, R[:, :, None] * X[:, None, :])
        if kind == "no s":
            return P + B[:, :, None]
        if kind == "no b":
            return S[:, :, None] * P
        return (S[:, :, None] * P + B[:, :, None]).transpose(0, 2, 1)

    return tabm_first_layer


def _m(Y):
    return Y.shape[1]


WRONG = [
    # 1.1 release_date → year
    Wrong(
        "1.1",
        "garbage becomes 0",
        lambda d: float(d.strip()[:4]) if d.strip()[:4].isdigit() else 0.0,
        "never 0",
    ),
    Wrong("1.1", "an error on text without a year", year_raises, "never an error"),
    Wrong("1.1", "a month 13 accepted", year_month_13, "no month 13"),
    Wrong("1.1", "spaces not stripped", year_no_strip, ".strip() it first"),
    Wrong("1.1", "the year as text", lambda d: d[:4], "returned the text"),
    # 1.2 Min-Max fitted on the training rows only
    Wrong("1.2", "each split scaled on itself", minmax_each_on_itself, "their own min and max"),
    Wrong("1.2", "fitted on training and validation rows", minmax_on_both, "together"),
    Wrong("1.2", "each row scaled", minmax_rows, "you scaled each row"),
    Wrong("1.2", "standardised instead", minmax_zscore, "that is standardisation"),
    Wrong("1.2", "divided by the maximum", minmax_by_max, "subtract the minimum first"),
    # 1.3 the one transpose
    Wrong(
        "1.3",
        "reshape for a transpose",
        lambda X: X.reshape(X.shape[1], X.shape[0]),
        "reshape keeps",
    ),
    Wrong("1.3", "no transpose", lambda X: X.copy(), "X as it was"),
    Wrong("1.3", "a view of X", lambda X: X.T, "a view of X"),
    Wrong("1.3", "a Fortran-ordered copy", lambda X: X.T.copy(order="F"), "not C-contiguous"),
    # 2.1 He initialisation
    Wrong(
        "2.1",
        "W transposed",
        lambda i, o, r: r.standard_normal((i, o)) * np.sqrt(2 / i),
        "a row per unit",
    ),
    Wrong(
        "2.1",
        "LeCun's variance",
        lambda i, o, r: r.standard_normal((o, i)) * np.sqrt(1 / i),
        "LeCun's",
    ),
    Wrong(
        "2.1",
        "the variance as a std",
        lambda i, o, r: r.standard_normal((o, i)) * (2 / i),
        "used as a standard deviation",
    ),
    Wrong(
        "2.1",
        "n[l] (fan-out) for n[l-1]",
        lambda i, o, r: r.standard_normal((o, i)) * np.sqrt(2 / o),
        "fan-out",
    ),
    Wrong(
        "2.1",
        "np.random, not the rng",
        lambda i, o, r: np.random.default_rng().standard_normal((o, i)) * np.sqrt(2 / i),
        "same seed gave different",
    ),
    Wrong(
        "2.1",
        "the naive small initialisation",
        lambda i, o, r: r.standard_normal((o, i)) * 0.01,
        "the naive small initialisation 0.01",
    ),
    Wrong(
        "2.1",
        "Glorot's variance for He's",
        lambda i, o, r: r.standard_normal((o, i)) * np.sqrt(2 / (i + o)),
        "which is Glorot's",
    ),
    Wrong("2.1", "every weight alike", lambda i, o, r: np.full((o, i), 0.05), "every entry"),
    # 2.2 Glorot initialisation
    Wrong("2.2", "He's variance for Glorot's", A["he_weights"], "which is He's"),
    Wrong(
        "2.2",
        "half Glorot's variance",
        lambda i, o, r: r.standard_normal((o, i)) * np.sqrt(1 / (i + o)),
        "half of Glorot's",
    ),
    Wrong("2.2", "a shifted mean", lambda i, o, r: A["glorot_weights"](i, o, r) + 0.5, "mean"),
    # 2.3 a network's initial parameters
    Wrong("2.3", "a bias with the wrong shape", init_flat_biases, "a bias is a column"),
    Wrong("2.3", "random biases", init_random_biases, "biases start at 0"),
    Wrong("2.3", "He's variance with n[l] for n[l-1]", init_fan_out, "not n[l]"),
    Wrong("2.3", "a fresh generator for every layer", init_fresh_rng, "are the same numbers"),
    Wrong("2.3", "the rng given is ignored", init_own_rng, "another seed gave the same"),
    Wrong("2.3", "one layer short", init_one_short, "weight matrices"),
    # 3.1 ReLU
    Wrong("3.1", "np.max for np.maximum", lambda Z: np.max(Z, 0), "np.max(Z, 0)"),
    Wrong("3.1", "the absolute value", np.abs, "|z|"),
    Wrong("3.1", "leaky ReLU", lambda Z: np.where(Z > 0, Z, 0.01 * Z), "leaky ReLU"),
    Wrong("3.1", "the mask for the value", lambda Z: (Z > 0).astype(float), "ReLU's derivative"),
    Wrong("3.1", "Z overwritten", relu_in_place, "changed its input `Z`"),
    # 3.2 ReLU's derivative
    Wrong("3.2", "ReLU for its derivative", lambda Z: np.maximum(Z, 0), "ReLU itself"),
    Wrong("3.2", "z >= 0", lambda Z: (Z >= 0).astype(float), "right but where z = 0"),
    Wrong("3.2", "sign(z)", np.sign, "sign(z)"),
    Wrong("3.2", "ones", np.ones_like, "1 everywhere"),
    Wrong(
        "3.2",
        "Z overwritten (a derivative that mutates its input)",
        relu_derivative_in_place,
        "changed its input `Z`",
    ),
    # 3.3 the sigmoid
    Wrong("3.3", "e^z for e^-z", lambda Z: 1 / (1 + np.exp(Z)), "σ(−z)"),
    Wrong(
        "3.3",
        "e^z / (1 + e^z), which overflows",
        lambda Z: np.exp(Z) / (1 + np.exp(Z)),
        "NaN at z = 800",
    ),
    Wrong("3.3", "tanh", np.tanh, "that is tanh"),
    # 3.4 the sigmoid's derivative
    Wrong("3.4", "z(1 − z) without σ", lambda Z: Z * (1 - Z), "apply σ first"),
    Wrong("3.4", "σ for σ'", _sig, "σ itself"),
    Wrong("3.4", "1 − σ²", lambda Z: 1 - _sig(Z) ** 2, "tanh's form"),
    Wrong(
        "3.4",
        "e^-z / (1 + e^-z)², which overflows",
        lambda Z: np.exp(-Z) / (1 + np.exp(-Z)) ** 2,
        "NaN at z = −800",
    ),
    # 4.1 one layer's forward pass
    Wrong("4.1", "A_prev @ W", layer_forward_swapped, "matrix product A @ B needs"),
    Wrong("4.1", "no bias", lambda W, b, A_prev: W @ A_prev, "the bias b is missing"),
    Wrong(
        "4.1",
        "the samples' layout (transposed)",
        lambda W, b, A_prev: A_prev.T @ W.T + b.T,
        "a row per sample",
    ),
    Wrong(
        "4.1", "* for the matrix product", layer_forward_elementwise, "`*` is not a matrix product"
    ),
    Wrong("4.1", "the bias subtracted", lambda W, b, A_prev: W @ A_prev - b, "subtracted"),
    # 4.2 the forward pass
    Wrong("4.2", "a ReLU on the output", forward_variant("relu out"), "ReLU on the output layer"),
    Wrong(
        "4.2",
        "a forward pass without its ReLU",
        forward_variant("no relu"),
        "collapses into one linear map",
    ),
    Wrong(
        "4.2", "ReLU before the bias", forward_variant("relu before bias"), "ReLU before the bias"
    ),
    Wrong("4.2", "a loop one layer short", forward_variant("early"), "one layer early"),
    Wrong(
        "4.2", "the layers' outputs cached", forward_variant("outputs cached"), "the layer's output"
    ),
    Wrong("4.2", "A cached for Z", forward_variant("activations as Z"), "before the ReLU"),
    Wrong("4.2", "no cache returned", forward_variant("no cache"), "the pair (Y_hat, cache)"),
    # 5.1 the MSE cost
    Wrong("5.1", "the mean (no ½)", lambda Yh, Y: float(np.sum((Yh - Y) ** 2) / _m(Y)), "has a ½"),
    Wrong("5.1", "no 1/m", lambda Yh, Y: float(np.sum((Yh - Y) ** 2) / 2), "divide by m"),
    Wrong(
        "5.1",
        "np.mean over every entry",
        lambda Yh, Y: float(np.mean((Yh - Y) ** 2) / 2),
        "averages over both axes",
    ),
    Wrong(
        "5.1", "an RMSE", lambda Yh, Y: float(np.sqrt(np.sum((Yh - Y) ** 2) / (2 * _m(Y)))), "RMSE"
    ),
    Wrong(
        "5.1",
        "absolute errors",
        lambda Yh, Y: float(np.sum(np.abs(Yh - Y)) / (2 * _m(Y))),
        "mean absolute",
    ),
    Wrong(
        "5.1",
        "the squares not summed",
        lambda Yh, Y: (Yh - Y) ** 2 / (2 * _m(Y)),
        "expected one number",
    ),
    # 5.2 the L2 penalty
    Wrong("5.2", "no ½", lambda Ws, lam, m: lam / m * sum(np.sum(W**2) for W in Ws), "has a ½"),
    Wrong(
        "5.2", "no 1/m", lambda Ws, lam, m: lam / 2 * sum(np.sum(W**2) for W in Ws), "divide by m"
    ),
    Wrong(
        "5.2",
        "the last layer only",
        lambda Ws, lam, m: lam / (2 * m) * np.sum(Ws[-1] ** 2),
        "only the last layer",
    ),
    Wrong(
        "5.2",
        "the norm not squared",
        lambda Ws, lam, m: lam / (2 * m) * sum(np.linalg.norm(W) for W in Ws),
        "not squared",
    ),
    # 5.3 the cost's gradient
    Wrong("5.3", "a missing 1/m", lambda Yh, Y: Yh - Y, "J has a 1/m"),
    Wrong("5.3", "the sign flipped", lambda Yh, Y: (Y - Yh) / _m(Y), "wrong sign"),
    Wrong("5.3", "the 2 of the square kept", lambda Yh, Y: 2 * (Yh - Y) / _m(Y), "cancels the 2"),
    # 6.1 one layer's backward pass
    Wrong(
        "6.1",
        "dW transposed",
        lambda dZ, Ap, W: (Ap @ dZ.T, dZ.sum(1, keepdims=True), W.T @ dZ),
        "is dWᵀ",
    ),
    Wrong("6.1", "a 1-D db", lambda dZ, Ap, W: (dZ @ Ap.T, dZ.sum(1), W.T @ dZ), "db is 1-D"),
    Wrong(
        "6.1",
        "db summed over the units",
        lambda dZ, Ap, W: (dZ @ Ap.T, dZ.sum(0, keepdims=True), W.T @ dZ),
        "over the units",
    ),
    Wrong(
        "6.1",
        "dW divided by m again",
        lambda dZ, Ap, W: (dZ @ Ap.T / _m(dZ), dZ.sum(1, keepdims=True), W.T @ dZ),
        "don't divide again",
    ),
    Wrong(
        "6.1",
        "db averaged",
        lambda dZ, Ap, W: (dZ @ Ap.T, dZ.mean(1, keepdims=True), W.T @ dZ),
        "averages over the samples",
    ),
    Wrong(
        "6.1",
        "W · dZ for Wᵀ · dZ",
        lambda dZ, Ap, W: (dZ @ Ap.T, dZ.sum(1, keepdims=True), W @ dZ),
        "The shapes do not line up",
    ),
    # 6.2 the activation's backward step
    Wrong("6.2", "the activation's derivative left out", lambda dA, Z: dA.copy(), "left out"),
    Wrong(
        "6.2",
        "ReLU for its derivative",
        lambda dA, Z: dA * np.maximum(Z, 0),
        "the activation itself",
    ),
    Wrong("6.2", "Z >= 0", lambda dA, Z: dA * (Z >= 0), "right but where Z = 0"),
    Wrong("6.2", "the mask from dA", lambda dA, Z: dA * (dA > 0), "the mask came from dA"),
    Wrong(
        "6.2",
        "dA overwritten",
        lambda dA, Z: (dA.__setitem__(Z <= 0, 0), dA)[1],
        "changed its input `dA`",
    ),
    # 6.3 the L-layer backward pass
    Wrong("6.3", "no L2 term", backward_variant("no l2"), "no L2 term"),
    Wrong("6.3", "the L2 term without 1/m", backward_variant("lambda W"), "it is (λ/m)"),
    Wrong(
        "6.3",
        "the activation's derivative left out of the chain",
        backward_variant("no derivative"),
        "left out of the chain",
    ),
    Wrong("6.3", "the layers in reverse", backward_variant("reversed"), "in reverse"),
    Wrong(
        "6.3", "a bias gradient of the wrong shape", backward_variant("flat db"), "keep it a column"
    ),
    # 7.1 a gradient descent step
    Wrong("7.1", "uphill", lambda w, g, lr: w + lr * g, "uphill"),
    Wrong("7.1", "no learning rate", lambda w, g, lr: w - g, "1/η times too big"),
    Wrong("7.1", "the step for the weights", lambda w, g, lr: -lr * g, "that is the step"),
    Wrong("7.1", "w updated in place", gd_in_place, "changed its input `w`"),
    # 7.2 a momentum step
    Wrong(
        "7.2",
        "the averaging form",
        lambda w, g, v, lr, mu=0.9: (w - lr * (mu * v + (1 - mu) * g), mu * v + (1 - mu) * g),
        "averaging form",
    ),
    Wrong(
        "7.2",
        "no velocity carried",
        lambda w, g, v, lr, mu=0.9: (w - lr * g, v),
        "plain gradient descent",
    ),
    Wrong(
        "7.2",
        "the step's sign",
        lambda w, g, v, lr, mu=0.9: (w + lr * (mu * v + g), mu * v + g),
        "wrong sign",
    ),
    # 7.3 an Adam step
    Wrong("7.3", "no bias correction", adam_variant("no correction"), "without bias correction"),
    Wrong(
        "7.3",
        "the bias correction a step behind (1 − βᵗ⁻¹)",
        adam_variant("t - 1"),
        "one step behind",
    ),
    Wrong(
        "7.3",
        "the bias correction a step ahead (1 − βᵗ⁺¹)",
        adam_variant("t + 1"),
        "one step ahead",
    ),
    Wrong("7.3", "only m corrected", adam_variant("only m"), "only m is bias-corrected"),
    Wrong("7.3", "only v corrected", adam_variant("only v"), "only v is bias-corrected"),
    Wrong("7.3", "v from g, not g²", adam_variant("g not squared"), "averages its square"),
    Wrong("7.3", "no square root", adam_variant("no sqrt"), "its square root"),
    # 8.1 the training loop
    Wrong(
        "8.1",
        "the loss after the epoch's steps",
        train_variant("after"),
        "after each epoch's steps",
    ),
    Wrong("8.1", "batches not shuffled", train_variant("in order"), "in the data's order"),
    Wrong("8.1", "a generator made every epoch", train_variant("reseeded"), "the same order"),
    Wrong(
        "8.1",
        "a plain mean of the batches' losses",
        train_variant("plain mean"),
        "short last batch",
    ),
    Wrong("8.1", "λ ignored", train_variant("no lmbda"), "λ made no difference"),
    Wrong(
        "8.1", "the penalty left out of the loss", train_variant("no penalty"), "lack the penalty"
    ),
    Wrong(
        "8.1",
        "the optimizer's state restarted every epoch",
        train_variant("reset"),
        "starts again every epoch",
    ),
    Wrong("8.1", "Adam's t counting epochs", train_variant("epoch t"), "t counts epochs"),
    Wrong(
        "8.1",
        "the starting weights returned",
        train_variant("start weights"),
        "is the starting one",
    ),
    # 9.1 a stable softmax
    Wrong("9.1", "no shift", softmax_shift(lambda Z: 0.0), "e^800 overflows"),
    Wrong(
        "9.1",
        "the column's minimum subtracted",
        softmax_shift(lambda Z: Z.min(0, keepdims=True)),
        "minimum still leaves",
    ),
    Wrong(
        "9.1",
        "the column's mean subtracted",
        softmax_shift(lambda Z: Z.mean(0, keepdims=True)),
        "subtracting its mean",
    ),
    Wrong(
        "9.1",
        "the whole block's maximum subtracted",
        softmax_shift(lambda Z: Z.max()),
        "whole block's maximum",
    ),
    Wrong("9.1", "rows normalised", lambda Z: A["softmax"](Z.T).T, "each row sums to 1"),
    Wrong("9.1", "not normalised", lambda Z: np.exp(Z - Z.max(0)), "do not sum to 1"),
    Wrong("9.1", "Z overwritten", softmax_in_place, "changed its input `Z`"),
    # 9.2 the cross-entropy cost
    Wrong("9.2", "0 · log 0", lambda Yh, Y: float(-np.sum(Y * np.log(Yh)) / _m(Y)), "0 · (−inf)"),
    Wrong(
        "9.2",
        "no 1/m",
        lambda Yh, Y: float(-np.log(Yh[Y == 1]).sum()),
        "average over the m samples",
    ),
    Wrong(
        "9.2", "the sign", lambda Yh, Y: float(np.log(Yh[Y == 1]).sum() / _m(Y)), "J is negative"
    ),
    Wrong(
        "9.2",
        "np.mean over the (K, m) block",
        lambda Yh, Y: float(-np.log(Yh[Y == 1]).sum() / Y.size),
        "1/K of the answer",
    ),
    Wrong(
        "9.2",
        "binary cross-entropy",
        lambda Yh, Y: float(-np.sum(Y * np.log(Yh) + (1 - Y) * np.log(1 - Yh)) / _m(Y)),
        "binary cross-entropy",
    ),
    Wrong(
        "9.2", "log base 10", lambda Yh, Y: float(-np.log10(Yh[Y == 1]).sum() / _m(Y)), "base 10"
    ),
    # 9.3 the softmax–cross-entropy gradient
    Wrong("9.3", "a missing 1/m", lambda Yh, Y: Yh - Y, "1/m carries"),
    Wrong("9.3", "the sign", lambda Yh, Y: (Y - Yh) / _m(Y), "wrong sign"),
    Wrong(
        "9.3",
        "softmax's derivative applied again",
        lambda Yh, Y: (Yh - Y) / _m(Y) * Yh * (1 - Yh),
        "derivative cancels",
    ),
    Wrong(
        "9.3",
        "the gradient with respect to Ŷ",
        lambda Yh, Y: -Y / Yh / _m(Y),
        "with respect to the probabilities",
    ),
    # 10.1 the piecewise-linear encoding
    Wrong(
        "10.1",
        "a step for a ramp",
        lambda x, e: (x[:, None] >= e[1:]).astype(float),
        "0 or 1 per bin",
    ),
    Wrong(
        "10.1", "not clipped", lambda x, e: (x[:, None] - e[:-1]) / (e[1:] - e[:-1]), "clip each"
    ),
    Wrong("10.1", "a row per bin", lambda x, e: A["piecewise_linear"](x, e).T, "a row per bin"),
    # 10.2 TabM's first layer
    Wrong("10.2", "no output scaling", tabm_variant("no s"), "output scaling s_k"),
    Wrong("10.2", "no member bias", tabm_variant("no b"), "bias b_k is missing"),
    Wrong("10.2", "members last", tabm_variant("last"), "members go in the middle"),
]


def he_uniform(n_in, n_out, rng):
    limit = np.sqrt(6 / n_in)
    return rng.uniform(-limit, limit, (n_out, n_in))


def adam_efficient(w, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Kingma and Ba's "efficient" ordering (Algorithm 1's footnote)."""
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return w - lr_t * m / (np.sqrt(v) + eps), m, v


def adam_eps_inside(w, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return w - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps), m, v


def cross_entropy_clipped(Y_hat, Y):
    return float(-np.sum(Y * np.log(np.clip(Y_hat, 1e-300, 1))) / Y.shape[1])


#: Right answers written differently from the reference: each must pass.
EQUIVALENT = [
    (
        "1.2",
        "scikit-learn's MinMaxScaler",
        lambda tr, o: (lambda s: (s.transform(tr), s.transform(o)))(MinMaxScaler().fit(tr)),
    ),
    ("1.3", "a copy of the transpose", lambda X: X.T.copy()),
    ("1.3", "np.array in C order", lambda X: np.array(X.T, order="C")),
    ("2.1", "He's uniform form", he_uniform),
    ("2.1", "rng.normal with a scale", lambda i, o, r: r.normal(0, np.sqrt(2 / i), (o, i))),
    (
        "2.2",
        "Glorot's uniform form",
        lambda i, o, r: r.uniform(-1, 1, (o, i)) * np.sqrt(6 / (i + o)),
    ),
    ("3.1", "a mask times z", lambda Z: Z * (Z > 0)),
    ("3.1", "np.clip", lambda Z: np.clip(Z, 0, None)),
    ("3.2", "a bool array", lambda Z: Z > 0),
    ("3.2", "np.heaviside", lambda Z: np.heaviside(Z, 0)),
    ("3.2", "integers from np.where", lambda Z: np.where(Z > 0, 1, 0)),
    ("3.3", "through tanh", lambda Z: 0.5 * (1 + np.tanh(Z / 2))),
    ("3.3", "scipy's expit", scipy.special.expit),
    ("3.4", "σ(z)·σ(−z)", lambda Z: _sig(Z) * _sig(-Z)),
    ("4.1", "np.dot", lambda W, b, A_prev: np.dot(W, A_prev) + b),
    ("4.1", "einsum", lambda W, b, A_prev: np.einsum("ij,jm->im", W, A_prev) + b),
    (
        "5.1",
        "a (1, 1) array from a product",
        lambda Yh, Y: ((Yh - Y).reshape(1, -1) @ (Yh - Y).reshape(-1, 1)) / (2 * Y.shape[1]),
    ),
    ("5.3", "np.subtract", lambda Yh, Y: np.subtract(Yh, Y) * (1 / Y.shape[1])),
    ("6.2", "np.where", lambda dA, Z: np.where(Z > 0, dA, 0.0)),
    (
        "7.2",
        "the learning rate inside the velocity",
        lambda w, g, v, lr, mu=0.9: (w - (mu * v + lr * g), mu * v + lr * g),
    ),
    ("7.3", "Kingma and Ba's efficient form", adam_efficient),
    ("7.3", "ε inside the square root", adam_eps_inside),
    ("8.1", "the lists given updated in place", train_variant("in place")),
    ("9.1", "scipy's softmax", lambda Z: scipy.special.softmax(Z, axis=0)),
    ("9.1", "through logsumexp", lambda Z: np.exp(Z - scipy.special.logsumexp(Z, axis=0))),
    ("9.2", "ŷ clipped away from 0", cross_entropy_clipped),
    (
        "9.2",
        "the true class picked by argmax",
        lambda Yh, Y: float(-np.mean(np.log(Yh[Y.argmax(0), np.arange(Y.shape[1])]))),
    ),
]


def test_every_exercise_has_a_reference_answer_that_passes() -> None:
    for exercise in EXERCISES.values():
        outcome = run(exercise, RIGHT[exercise.name])
        assert outcome.passed, outcome.render()


@pytest.mark.parametrize("wrong", WRONG, ids=lambda w: f"{w.number} {w.mistake}")
def test_a_wrong_answer_gets_its_own_hint(wrong: Wrong) -> None:
    outcome = run(EXERCISES[wrong.number], wrong.answer)
    assert outcome.status in ("wrong", "raised"), outcome.render()
    assert wrong.says in outcome.message, f"{wrong.mistake}: {outcome.message}"


def test_sixty_wrong_answers_three_a_stage_and_no_two_mistakes_share_a_message() -> None:
    assert len(WRONG) >= 60
    for stage in STAGES.values():
        numbers = {e.number for e in stage.exercises}
        assert sum(w.number in numbers for w in WRONG) >= 3, stage.name
    messages: dict[str, dict[str, str]] = {}
    for wrong in WRONG:
        message = run(EXERCISES[wrong.number], wrong.answer).message
        messages.setdefault(wrong.number, {})[wrong.mistake] = message
    for number, by_mistake in messages.items():
        assert len(set(by_mistake.values())) == len(by_mistake), (number, by_mistake)
        says = [w.says for w in WRONG if w.number == number]
        assert len(set(says)) == len(says), number


@pytest.mark.parametrize(
    "number, form, answer", EQUIVALENT, ids=[f"{n} {f}" for n, f, _ in EQUIVALENT]
)
def test_an_equivalent_answer_passes(number: str, form: str, answer: Callable[..., Any]) -> None:
    outcome = run(EXERCISES[number], answer)
    assert outcome.passed, f"{form}: {outcome.render()}"


def test_fifteen_equivalent_forms() -> None:
    assert len(EQUIVALENT) >= 15


def test_a_learners_numpy_error_shows_their_line_and_the_shapes() -> None:
    outcome = run(EXERCISES["4.1"], layer_forward_swapped)
    assert outcome.status == "raised"
    lines = outcome.message.splitlines()
    assert lines[0].startswith("your code raised ValueError at test_learn_checks.py:")
    assert lines[1].strip() == "return A_prev @ W + b"
    assert "A_prev is (3, 7), W is (5, 3)" in outcome.message
    assert "W (n[l], n[l-1]) · A_prev (n[l-1], m)" in outcome.message


def test_an_unwritten_function_says_where_and_which() -> None:
    def forward(weights, biases, X):
        return helper(X)  # an unwritten helper of the learner's

    def helper(X):
        raise NotImplementedError

    outcome = run(EXERCISES["4.2"], forward)
    assert outcome.status == "not_written"
    assert "helper (test_learn_checks.py:" in outcome.message
    assert "which forward calls" in outcome.message


def test_a_renamed_parameter_is_named() -> None:
    outcome = run(EXERCISES["7.1"], lambda weights, gradient: weights)
    assert outcome.status == "wrong" and "keep the parameters of the stub" in outcome.message


def test_a_checker_that_raises_is_the_checkers_error_not_the_learners() -> None:
    exercise = EXERCISES["3.1"]

    def broken(answer):
        answer(np.zeros((2, 2)))  # the learner's code runs fine ...
        return {}["a key the checker forgot"]  # ... and then the check itself breaks

    outcome = run(Exercise(**{**exercise.__dict__, "check": broken}), RIGHT["relu"])
    assert outcome.status == "checker"
    assert "the checker itself failed — a bug in nnscratch, not in your code" in outcome.message
    assert "KeyError" in outcome.message and "your code raised" not in outcome.message
    assert outcome.render().startswith("! Exercise 3.1")


@pytest.fixture
def lenient(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks as a learner meets them (make test runs the notebooks strict)."""
    monkeypatch.delenv("NNSCRATCH_CHECK_STRICT", raising=False)


def test_a_notebooks_check_prints_and_strict_mode_raises(lenient, monkeypatch, capsys) -> None:
    assert check("3.2", RIGHT["relu_derivative"])
    assert capsys.readouterr().out == "✓ Exercise 3.2 (ReLU's derivative)\n"
    assert not check("3.2", np.sign)
    assert "sign(z)" in capsys.readouterr().out
    monkeypatch.setenv("NNSCRATCH_CHECK_STRICT", "1")
    with pytest.raises(AssertionError, match=r"Exercise 3\.2"):
        check("3.2", np.sign)
    with pytest.raises(ValueError, match=r"unknown exercise '9\.9'"):
        check("9.9", np.sign)
