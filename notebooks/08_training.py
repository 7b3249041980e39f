# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Stage 8 — the training loop: your stages, composed
#
# ```
# for each epoch:
#     shuffle the columns (mini-batches only): order = rng.permutation(N)
#     for each batch (X_b, Y_b) of m_b columns:
#         Y_hat, cache = forward(...)              stage 4
#         J_b = cost + penalty                     stage 5
#         grads = backward(dZ_L, cache, ...)       stage 6
#         every W[l], b[l] ← step(...)             stage 7
#     losses.append(Σ_b m_b J_b / N)
# ```
#
# `batch_size=None` is the seed's full-batch gradient descent. This notebook builds on
# the functions you wrote in notebooks 04–07: they live in your course workspace
# (`nnscratch learn start` writes `mynet/`; copy each function you wrote here into its
# file, and `nnscratch learn check` checks them there). Docs:
# [Stage 6](../docs/6-training.md).

# %%
import matplotlib.pyplot as plt
import numpy as np
from course import fill, yours

from nnscratch.app.learn.exercises import check
from nnscratch.core.network import Network
from nnscratch.core.optimizers import Adam, GradientDescent, Momentum
from nnscratch.core.training import TrainConfig
from nnscratch.core.training import train as package_train

# your functions from notebooks 02-07, as your workspace holds them
initialize, forward, backward = yours("initialize", "forward", "backward")
mse_cost, mse_gradient, l2_penalty = yours("mse_cost", "mse_gradient", "l2_penalty")
gd_step, momentum_step, adam_step = yours("gd_step", "momentum_step", "adam_step")

rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, (4, 600))
Y = (np.sin(3 * X[0]) + X[1] * X[2])[None, :]

# %% [markdown]
# The package's loop, three ways: full batch, then shuffled mini-batches of 32 with
# momentum and with Adam. Each point is one epoch's mean batch cost.

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, optimizer, batch in (
    ("full batch, GD η=0.2", GradientDescent(0.2), None),
    ("batch 32, momentum", Momentum(0.05, 0.9), 32),
    ("batch 32, Adam", Adam(0.01), 32),
):
    net = Network([4, 32, 16, 1], dtype=np.float64, rng=0)
    config = TrainConfig(epochs=40, batch_size=batch)
    ax.semilogy(package_train(net, X, Y, optimizer, config=config, rng=0).train_loss, label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("training loss")
ax.legend()

# %% [markdown]
# ## Your turn (`training.py`)
#
# ### Exercise 8.1
# Write `train(weights, biases, X, Y, *, epochs, learning_rate, lmbda=0.0,
# batch_size=None, optimizer="gd", seed=0, output=None, cost=mse_cost,
# cost_gradient=mse_gradient, on_epoch=None)` → `(weights, biases, losses)`: make
# `rng = np.random.default_rng(seed)` once; every epoch with mini-batches, go through the
# columns in the order `rng.permutation(N)`; for each batch run your forward, cost
# (+ `l2_penalty`), backward and one step of the optimizer named (`"gd"`, `"momentum"`
# or `"adam"`, whose `t` counts steps from 1) on every array, each keeping its own
# state; `losses[e] = Σ_b m_b J_b / N`. `output`, `cost` and `cost_gradient` let stage 9
# reuse the loop for classes. The check runs four short trainings beside the package's.


# %%
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
    raise NotImplementedError  # your code here


train = fill(train)
check("8.1", train)

# %% [markdown]
# ## Your network, beside the engine
# Your `initialize` draws the weights; your `train` trains them; the package's engine
# trains a copy of the same weights with the same settings. The two loss curves lie on
# top of each other, to the last digits: this is `nnscratch learn train` in small.

# %%
weights, biases = initialize([4, 32, 16, 1], np.random.default_rng(0))
net = Network([4, 32, 16, 1], dtype=np.float64)
net.params.load_(weights, biases)
settings = dict(epochs=40, learning_rate=0.05, batch_size=32, optimizer="momentum", seed=0)
_, _, losses = train([w.copy() for w in weights], [b.copy() for b in biases], X, Y, **settings)
history = package_train(
    net, X, Y, Momentum(0.05, 0.9), config=TrainConfig(epochs=40, batch_size=32), rng=0
)
gap = np.max(np.abs(np.array(losses) - history.train_loss) / np.array(history.train_loss))
print(f"largest relative difference over 40 epochs: {gap:.1e}")
assert gap < 1e-8

fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(history.train_loss, linewidth=4, alpha=0.4, label="the engine")
ax.semilogy(losses, label="yours")
ax.set_xlabel("epoch")
ax.legend()
