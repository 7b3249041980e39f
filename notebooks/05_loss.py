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
# # Stage 5 — the cost the network minimises, and where backpropagation starts
#
# For predictions `Ŷ` and targets `Y`, both `(n[L], m)`:
# `J = 1/(2m) Σ (ŷ − y)² + λ/(2m) Σ_l ‖W[l]‖²`. The ½ is there so that the square's 2
# cancels in the gradient, `∂J/∂Ŷ = (Ŷ − Y)/m` — with a linear output, the first `dZ[L]`
# of the backward pass. The RMSE in the target's units is `√(2J)` at `λ = 0`.
# Docs: [Stage 5](../docs/5-loss-backprop.md).

# %%
import matplotlib.pyplot as plt
import numpy as np
from course import fill

from nnscratch.app.learn.exercises import check
from nnscratch.core.losses import l2_penalty as package_l2
from nnscratch.core.losses import mse_loss, rmse_from_mse

rng = np.random.default_rng(0)
Y = rng.normal(size=(1, 200))
Y_hat = Y + rng.normal(0, 0.3, size=Y.shape)  # predictions off by about 0.3
J = np.sum((Y_hat - Y) ** 2) / (2 * Y.shape[1])
print(f"J = {J:.4f}, RMSE = √(2J) = {np.sqrt(2 * J):.3f}")
np.testing.assert_allclose(J, mse_loss(Y_hat, Y))  # the package agrees
np.testing.assert_allclose(np.sqrt(2 * J), rmse_from_mse(mse_loss(Y_hat, Y)))

# %% [markdown]
# The gradient points where `J` grows: a small step against it lowers `J` by about
# `step · ‖∂J/∂Ŷ‖²`, which a finite difference confirms.

# %%
grad = (Y_hat - Y) / Y.shape[1]
step = 1e-3
lower = np.sum((Y_hat - step * grad - Y) ** 2) / (2 * Y.shape[1])
print(
    f"J after a step against the gradient: {lower:.6f} (predicted {J - step * np.sum(grad**2):.6f})"
)

scales = np.linspace(0, 3, 61)
weights = [rng.normal(size=(8, 4)), rng.normal(size=(1, 8))]
fig, ax = plt.subplots(figsize=(6, 3))
for lmbda in (0.01, 0.1, 1.0):
    ax.plot(
        scales,
        [package_l2([s * W for W in weights], lmbda, 200) for s in scales],
        label=f"λ = {lmbda}",
    )
ax.set_xlabel("the weights, scaled by")
ax.set_ylabel("λ/(2m) Σ‖W‖²")
ax.set_title("The L2 penalty grows with the square of the weights")
ax.legend()

# %% [markdown]
# ## Your turn (`loss.py`)
#
# ### Exercise 5.1
# Write `mse_cost(Y_hat, Y)`: `1/(2m) Σ (ŷ − y)²`, one number, with `m = Y.shape[1]`.


# %%
def mse_cost(Y_hat: np.ndarray, Y: np.ndarray) -> float:
    raise NotImplementedError  # your code here


mse_cost = fill(mse_cost)
check("5.1", mse_cost)

# %% [markdown]
# ### Exercise 5.2
# Write `l2_penalty(weights, lmbda, m)`: `λ/(2m) Σ_l ‖W[l]‖²` over every weight matrix
# (biases are not regularised).


# %%
def l2_penalty(weights: list[np.ndarray], lmbda: float, m: int) -> float:
    raise NotImplementedError  # your code here


l2_penalty = fill(l2_penalty)
check("5.2", l2_penalty)

# %% [markdown]
# ### Exercise 5.3
# Write `mse_gradient(Y_hat, Y)`: `∂J/∂Ŷ = (Ŷ − Y)/m`, the shape of `Y_hat`.


# %%
def mse_gradient(Y_hat: np.ndarray, Y: np.ndarray) -> np.ndarray:
    raise NotImplementedError  # your code here


mse_gradient = fill(mse_gradient)
check("5.3", mse_gradient)
