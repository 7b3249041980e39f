"""Stage 8 — the training loop: the learner's ``train`` against the package's.

Four short runs from the same starting weights, each beside the package's loop
(:func:`nnscratch.core.training.train` on a float64 network): full-batch gradient
descent with L2, momentum on shuffled mini-batches whose last batch is short, Adam on
mini-batches, and a softmax output with cross-entropy (the output and the cost passed
in). The losses of every epoch and the final weights must agree to 1e-8 (Adam: 1e-5,
where the package folds its bias correction into the step). A run that differs is
matched against the loop's usual mistakes — the loss taken after the step, batches
not shuffled, a generator made afresh every epoch, a plain mean over batches of
different sizes, λ left out, an optimizer's state restarted every epoch, Adam's t
counted in epochs — each run the package's way with that one thing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnscratch.app.learn.checking import Answer, compare
from nnscratch.app.learn.exercise import Exercise, Stage
from nnscratch.core.activations import ACTIVATIONS
from nnscratch.core.init import initialize
from nnscratch.core.losses import LOSSES
from nnscratch.core.network import Network
from nnscratch.core.optimizers import Adam, GradientDescent, Momentum, Optimizer
from nnscratch.core.training import TrainConfig, train


@dataclass(frozen=True)
class Run:
    """One run the check makes: its data and settings, as ``train``'s keywords."""

    name: str
    sizes: tuple[int, ...]
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int | None = None
    lmbda: float = 0.0
    seed: int = 3
    classes: bool = False

    @property
    def tolerance(self) -> float:
        return 1e-5 if self.optimizer == "adam" else 1e-8


RUNS = (
    Run("full-batch gradient descent with L2", (4, 8, 6, 1), "gd", 0.1, 4, lmbda=0.1),
    Run("momentum on mini-batches of 16 (the last of 12)", (4, 8, 6, 1), "momentum", 0.05, 3, 16),
    Run("Adam on mini-batches of 16", (4, 8, 6, 1), "adam", 0.01, 3, 16),
    Run("a softmax output with cross-entropy", (4, 8, 3), "adam", 0.02, 3, classes=True),
)

#: The loop's named mistakes: (what differs from the package's loop, the hint).
MISTAKES = {
    "after": "your losses are those of the weights after each epoch's steps: record the "
    "J each batch computes on its forward pass, before its step",
    "in order": "your batches came in the data's order: shuffle every epoch, "
    "order = rng.permutation(N), with rng = np.random.default_rng(seed)",
    "reseeded": "every epoch saw the same order: make rng = np.random.default_rng(seed) "
    "once, before the first epoch, and draw a new permutation from it each epoch",
    "plain mean": "a plain mean of the batches' J counts the short last batch as much as a "
    "full one: the epoch's loss is Σ_b m_b J_b / N",
    "no lmbda": "λ made no difference: add l2_penalty(weights, lmbda, m_b) to J and pass "
    "lmbda to backward",
    "no penalty": "the weights are right but the losses lack the penalty: "
    "J_b = cost + l2_penalty(weights, lmbda, m_b)",
    "reset": "the optimizer's state starts again every epoch: make each array's velocity "
    "(or m and v) once, before the first epoch, and keep it",
    "epoch t": "Adam's t counts epochs: it counts steps, one per batch, from 1",
}


def data(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """60 samples of ``run.sizes[0]`` inputs; a curve, or one-hot classes."""
    rng = np.random.default_rng(80)
    X = rng.uniform(-1, 1, (run.sizes[0], 60))
    if run.classes:
        labels = (X[0] > 0).astype(int) + (X[1] > 0.3).astype(int)
        return X, np.eye(run.sizes[-1])[:, labels]
    return X, (np.sin(2 * X[0]) + X[1] * X[2])[None, :]


def starting_weights(run: Run) -> tuple[list[np.ndarray], list[np.ndarray]]:
    params = initialize(run.sizes, rng=81, dtype=np.float64)
    rng = np.random.default_rng(82)
    return [W.copy() for W in params.weights], [rng.normal(0, 0.1, b.shape) for b in params.biases]


def network(run: Run) -> Network:
    net = Network(
        run.sizes,
        output_activation="softmax" if run.classes else "identity",
        loss="cross_entropy" if run.classes else "mse",
        dtype=np.float64,
    )
    weights, biases = starting_weights(run)
    net.params.load_(weights, biases)
    return net


def make_optimizer(run: Run) -> Optimizer:
    return {
        "gd": lambda: GradientDescent(run.learning_rate),
        "momentum": lambda: Momentum(run.learning_rate, 0.9),
        "adam": lambda: Adam(run.learning_rate),
    }[run.optimizer]()


@dataclass
class Result:
    losses: list[float]
    weights: list[np.ndarray]
    biases: list[np.ndarray]


def package_run(run: Run) -> Result:
    """The package's loop on ``run``."""
    net = network(run)
    X, Y = data(run)
    config = TrainConfig(epochs=run.epochs, batch_size=run.batch_size, lmbda=run.lmbda)
    history = train(net, X, Y, make_optimizer(run), config=config, rng=run.seed)
    return Result(history.train_loss, net.params.weights, net.params.biases)


def mistaken_run(run: Run, mistake: str) -> Result:
    """The package's loop written out, with ``mistake`` (a key of :data:`MISTAKES`)."""
    net, (X, Y) = network(run), data(run)
    n, lmbda = X.shape[1], 0.0 if mistake == "no lmbda" else run.lmbda
    m = n if run.batch_size is None else min(run.batch_size, n)
    rng, optimizer, losses = np.random.default_rng(run.seed), make_optimizer(run), []
    for epoch in range(run.epochs):
        if mistake == "reseeded":
            rng = np.random.default_rng(run.seed)
        if mistake == "reset":
            optimizer = make_optimizer(run)
        order = np.arange(n) if m == n or mistake == "in order" else rng.permutation(n)
        total, batch_losses = 0.0, []
        for start in range(0, n, m):
            columns = order[start : start + m]
            net.forward(X[:, columns])
            objective = net.backward(Y[:, columns], lmbda)
            if mistake == "no penalty":
                objective -= 0.5 * lmbda * net.params.squared_weight_norm()
            total += objective
            batch_losses.append(objective / len(columns))
            if mistake == "epoch t" and isinstance(optimizer, Adam):
                optimizer.t = epoch  # the step makes it epoch + 1
            optimizer.step([net.params.flat], [net.grads.flat])
        if mistake == "after":
            total = n * net.loss(X, Y, lmbda)
        losses.append(float(np.mean(batch_losses)) if mistake == "plain mean" else total / n)
    return Result(losses, net.params.weights, net.params.biases)


def learner_run(answer: Answer, run: Run) -> Any:
    """The learner's ``train`` on ``run`` (the softmax and cross-entropy the package's)."""
    X, Y = data(run)
    weights, biases = starting_weights(run)
    extra: dict[str, Callable[..., Any]] = {}
    if run.classes:
        softmax, loss = ACTIVATIONS["softmax"], LOSSES["cross_entropy"]
        extra = {
            "output": softmax.function,
            "cost": loss.value,
            "cost_gradient": lambda Y_hat, Y: (Y_hat - Y) / Y.shape[1],
        }
    return answer(
        weights,
        biases,
        X,
        Y,
        epochs=run.epochs,
        learning_rate=run.learning_rate,
        lmbda=run.lmbda,
        batch_size=run.batch_size,
        optimizer=run.optimizer,
        seed=run.seed,
        **extra,
    )


def check_train(answer: Answer) -> str | None:
    for run in RUNS:
        problem = run_problem(run, learner_run(answer, run))
        if problem:
            return f"{run.name}: {problem}"
    return None


def run_problem(run: Run, result: Any) -> str | None:
    if not isinstance(result, tuple | list) or len(result) != 3:
        return "train returns (weights, biases, losses)"
    weights, biases, losses = result
    if not isinstance(losses, list | tuple | np.ndarray) or len(losses) != run.epochs:
        count = len(losses) if hasattr(losses, "__len__") else type(losses).__name__
        return f"losses has {count} entries for {run.epochs} epochs: one loss per epoch"
    want = package_run(run)
    losses = np.asarray(losses, dtype=np.float64)
    mistakes = [
        (MISTAKES[kind], np.asarray(mistaken_run(run, kind).losses)) for kind in applicable(run)
    ]
    problem = compare(
        "the losses",
        losses,
        np.asarray(want.losses),
        rtol=run.tolerance,
        mistakes=mistakes,
        at=lambda index: f"epoch {index[0] + 1}",
        formula="losses[e] = Σ_b m_b J_b / N, each J_b from the batch's forward pass",
    )
    return problem or parameters_problem(run, weights, biases, want)


def applicable(run: Run) -> list[str]:
    """The mistakes that change ``run``'s losses."""
    kinds = ["after", "no lmbda" if run.lmbda else None, "no penalty" if run.lmbda else None]
    if run.batch_size is not None:
        kinds += ["in order", "reseeded", "plain mean"]
    if run.optimizer != "gd":
        kinds.append("reset")
    if run.optimizer == "adam":
        kinds.append("epoch t")
    return [k for k in kinds if k is not None]


def parameters_problem(run: Run, weights: Any, biases: Any, want: Result) -> str | None:
    """The final weights and biases against the package's."""
    for name, got, expected in (("W", weights, want.weights), ("b", biases, want.biases)):
        if not isinstance(got, list | tuple) or len(got) != len(expected):
            return f"return the trained {name}s as a list of {len(expected)} arrays"
        for l, (g, e) in enumerate(zip(got, expected, strict=True), start=1):
            problem = compare(f"the trained {name}[{l}]", g, e, rtol=run.tolerance, atol=1e-12)
            if problem:
                start = (starting_weights(run)[0 if name == "W" else 1])[l - 1]
                if compare("", g, start) is None:
                    return (
                        f"the trained {name}[{l}] is the starting one: keep the new arrays "
                        "each step returns (weights[l] = new_w)"
                    )
                return problem
    return None


STAGE = Stage(
    number=8,
    name="training",
    title="the training loop",
    intro="""Stage 8 — the training loop: forward, cost, backward, step; batch after batch.

    for each epoch:
        shuffle the columns (mini-batches only): order = rng.permutation(N)
        for each batch (X_b, Y_b) of m_b columns:
            Y_hat, cache = forward(...)             stage 4 (and an output, stage 9)
            J_b = cost(Y_hat, Y_b) + penalty        stage 5
            grads = backward(dZ_L, cache, ...)      stage 6
            every W[l], b[l] ← step(...)            stage 7
        losses.append(Σ_b m_b J_b / N)

batch_size=None is the seed's full-batch gradient descent: one step per epoch on all N
samples, and no shuffle. The package's own loop is nnscratch.core.training.train;
nnscratch learn train runs yours beside it, from the same starting weights.""",
    imports=(
        "import numpy as np",
        "from backprop import backward",
        "from forward import forward",
        "from loss import l2_penalty, mse_cost, mse_gradient",
        "from optimizers import adam_step, gd_step, momentum_step",
    ),
    exercises=(
        Exercise(
            "8.1",
            "train",
            "the training loop",
            "(weights: list[np.ndarray], biases: list[np.ndarray], X: np.ndarray,"
            " Y: np.ndarray, *, epochs: int, learning_rate: float, lmbda: float = 0.0,"
            ' batch_size: int | None = None, optimizer: str = "gd", seed: int = 0,'
            " output=None, cost=mse_cost, cost_gradient=mse_gradient, on_epoch=None)"
            " -> tuple[list[np.ndarray], list[np.ndarray], list[float]]",
            """Train the network on X (n[0], N) and Y (n[L], N); returns (weights, biases, losses).

Make rng = np.random.default_rng(seed) once. Every epoch, with batch_size below N,
take order = rng.permutation(N) and go through the columns in that order, batch_size
at a time (the last batch may be smaller); with batch_size None, one batch of all N.
For each batch X_b, Y_b of m_b columns:
    Z_L, cache = forward(weights, biases, X_b)
    Y_hat = output(Z_L) if output is not None else Z_L
    J_b = cost(Y_hat, Y_b) + l2_penalty(weights, lmbda, m_b)
    dWs, dbs = backward(cost_gradient(Y_hat, Y_b), cache, weights, lmbda)
    then step every W[l] and b[l] with optimizer "gd" (gd_step), "momentum"
    (momentum_step, mu = 0.9) or "adam" (adam_step, t = 1, 2, ... counting the
    steps), each array keeping its own state across batches and epochs.
losses[e] = Σ_b m_b J_b / N for epoch e. Call on_epoch(e, losses[e]) after each epoch
where it is given.""",
            check_train,
            shapes="X (n[0], N), Y (n[L], N); a batch X_b (n[0], m_b)",
            keeps_inputs=False,
        ),
    ),
    docs="6-training.md",
)
