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
# # Stage 7 — the optimizers: how a step changes the weights
#
# Gradient descent steps `w ← w − η g`; momentum keeps a velocity `v ← μ v + g`,
# `w ← w − η v`; Adam keeps both moments of the gradient, `m` and `v`, and corrects
# their bias towards 0 in the first steps (`m̂ = m/(1 − β1ᵗ)`, `v̂ = v/(1 − β2ᵗ)`).
# Each step below is a plain function of one array and its state, returning new
# arrays; the training loop of stage 8 calls it for every `W[l]` and `b[l]`.
# Docs: [Stage 6](../docs/6-training.md), [optimizers](../docs/optimizers.md).

# %%
import matplotlib.pyplot as plt
import numpy as np
from course import fill

from nnscratch.app.learn.exercises import check
from nnscratch.core.network import Network
from nnscratch.core.optimizers import Adam, GradientDescent, Momentum
from nnscratch.core.training import TrainConfig, train

rng = np.random.default_rng(0)
X = rng.random((4, 1000))
Y = (np.sin(3 * X[0]) + X[1] * X[2])[None, :]

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, optimizer in {
    "GD η=0.1": GradientDescent(0.1),
    "momentum": Momentum(0.05, 0.9),
    "Adam": Adam(0.01),
}.items():
    net = Network([4, 32, 16, 1], dtype=np.float64, rng=0)
    history = train(net, X, Y, optimizer, config=TrainConfig(epochs=30, batch_size=32), rng=0)
    ax.semilogy(history.train_loss, label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("training loss")
ax.legend()

# %% [markdown]
# A momentum step written here equals the package's:

# %%
w, g, v = rng.normal(size=3), rng.normal(size=3), np.zeros(3)
ours = w.copy()
Momentum(0.1, 0.9).step([ours], [g.copy()])
v = 0.9 * v + g
np.testing.assert_allclose(ours, w - 0.1 * v)

# %% [markdown]
# ## Your turn (`optimizers.py`)
#
# ### Exercise 7.1
# Write `gd_step(w, grad, lr)` → the new `w`.


# %%
def gd_step(w: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray:
    raise NotImplementedError  # your code here


gd_step = fill(gd_step)
check("7.1", gd_step)

# %% [markdown]
# ### Exercise 7.2
# Write `momentum_step(w, grad, v, lr, mu=0.9)` → `(w, v)` after one step.


# %%
def momentum_step(
    w: np.ndarray, grad: np.ndarray, v: np.ndarray, lr: float, mu: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    raise NotImplementedError  # your code here


momentum_step = fill(momentum_step)
check("7.2", momentum_step)

# %% [markdown]
# ### Exercise 7.3
# Write `adam_step(w, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8)` →
# `(w, m, v)`, with `t` the step's number from 1 and both moments bias-corrected.
# (Kingma and Ba's "efficient" form, which folds the corrections into the step size,
# passes too: the check compares to 1e-5 of the step.)


# %%
def adam_step(
    w: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    raise NotImplementedError  # your code here


adam_step = fill(adam_step)
check("7.3", adam_step)
