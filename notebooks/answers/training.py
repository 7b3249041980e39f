"""Stage 8 — the training loop: forward, cost, backward, step; batch after batch.

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
nnscratch learn train runs yours beside it, from the same starting weights.

Docs: docs/6-training.md · notebook: notebooks/08_training.py
Check: nnscratch learn check training (or nnscratch learn watch)
"""

import numpy as np
from backprop import backward
from forward import forward
from loss import l2_penalty, mse_cost, mse_gradient
from optimizers import adam_step, gd_step, momentum_step


def train(
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    epochs: int,
    learning_rate: float,
    lmbda: float = 0.0,
    batch_size: int | None = None,
    optimizer: str = "gd",
    seed: int = 0,
    output=None,
    cost=mse_cost,
    cost_gradient=mse_gradient,
    on_epoch=None,
) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    """Exercise 8.1 — the training loop.

    Train the network on X (n[0], N) and Y (n[L], N); returns (weights, biases, losses).

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
    where it is given.
    """
    rng = np.random.default_rng(seed)
    params = [*weights, *biases]  # W1..WL, then b1..bL: each steps alone
    L, N = len(weights), X.shape[1]
    m = N if batch_size is None else min(batch_size, N)
    state = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    t, losses = 0, []
    for epoch in range(epochs):
        order = rng.permutation(N) if m < N else np.arange(N)
        total = 0.0
        for start in range(0, N, m):
            columns = order[start : start + m]
            X_b, Y_b = X[:, columns], Y[:, columns]
            weights, biases = params[:L], params[L:]
            Z_L, cache = forward(weights, biases, X_b)
            Y_hat = output(Z_L) if output is not None else Z_L
            total += len(columns) * (cost(Y_hat, Y_b) + l2_penalty(weights, lmbda, len(columns)))
            dWs, dbs = backward(cost_gradient(Y_hat, Y_b), cache, weights, lmbda)
            t += 1
            for i, grad in enumerate([*dWs, *dbs]):
                if optimizer == "gd":
                    params[i] = gd_step(params[i], grad, learning_rate)
                elif optimizer == "momentum":
                    params[i], state[i][0] = momentum_step(
                        params[i], grad, state[i][0], learning_rate
                    )
                elif optimizer == "adam":
                    params[i], state[i][0], state[i][1] = adam_step(
                        params[i], grad, state[i][0], state[i][1], t, learning_rate
                    )
                else:
                    raise ValueError(f"unknown optimizer {optimizer!r}")
        losses.append(total / N)
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    return params[:L], params[L:], losses
