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
# # Stage 5 — the loss and backpropagation
#
# `J = 1/(2m) Σ (ŷ − y)² + λ/(2m) Σ ‖W‖²`. Backwards, layer by layer:
# `dW[l] = dZ[l] · A[l-1]ᵀ + (λ/m) W[l]`, `db[l] = Σ_columns dZ[l]`,
# `dZ[l-1] = (W[l]ᵀ · dZ[l]) ⊙ g'(Z[l-1])`, starting from `dZ[L] = (Ŷ − Y) / m`.
# A finite difference checks every entry. Docs: [Stage 5](../docs/5-loss-backprop.md).

# %%
import matplotlib.pyplot as plt
import numpy as np
from solutions import fill

from nnscratch.app.learn.exercises import check
from nnscratch.core.gradcheck import check_gradients
from nnscratch.core.network import Network

rng = np.random.default_rng(0)
X, Y = rng.normal(size=(4, 30)), rng.normal(size=(1, 30))
net = Network([4, 6, 1], dtype=np.float64, rng=3)
W1, b1, W2, b2 = (
    a.copy()
    for a in (
        *net.params.weights[:1],
        *net.params.biases[:1],
        *net.params.weights[1:],
        *net.params.biases[1:],
    )
)
Z1 = W1 @ X + b1
A1 = np.maximum(Z1, 0)
Y_hat = W2 @ A1 + b2
dZ2 = (Y_hat - Y) / 30
dW2, dZ1 = dZ2 @ A1.T, (W2.T @ dZ2) * (Z1 > 0)
dW1 = dZ1 @ X.T
net.forward(X)
net.backward(Y)
np.testing.assert_allclose(net.grads.weights[0], dW1, rtol=1e-10)  # by hand = the package
np.testing.assert_allclose(net.grads.weights[1], dW2, rtol=1e-10)
print("backprop against finite differences:", check_gradients(net, X, Y, lmbda=0.1))

# %%
errors = [check_gradients(Network([4, 6, 1], dtype=np.float64, rng=s), X, Y) for s in range(8)]
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(errors, "o")
ax.set_title("max relative error, 8 seeds (float64)")
ax.set_xlabel("seed")

# %% [markdown]
# ### Exercise 5.1
# Write `mse_cost(Y_hat, Y)`: `1/(2m) Σ (ŷ − y)²` for `(1, m)` arrays, a float.


# %%
def mse_cost(Y_hat: np.ndarray, Y: np.ndarray) -> float:
    raise NotImplementedError  # your code here


mse_cost = fill(mse_cost)
check("5.1", mse_cost)

# %% [markdown]
# ### Exercise 5.2
# Write `layer_backward(dZ, A_prev, W)` → `(dW, db, dA_prev)` for `Z = W · A_prev + b`.
# The check compares with a finite difference.


# %%
def layer_backward(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray):
    raise NotImplementedError  # your code here


layer_backward = fill(layer_backward)
check("5.2", layer_backward)
