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
# # Stage 6 — backpropagation, from the output layer down
#
# Start from `dZ[L] = ∂J/∂Z[L]` (stage 5: `(Ŷ − Y)/m`) and, for `l = L..1`:
# `dW[l] = dZ[l] · A[l-1]ᵀ + (λ/m) W[l]`, `db[l] = Σ_columns dZ[l]`,
# `dA[l-1] = W[l]ᵀ · dZ[l]`, and the chain step through the activation,
# `dZ[l-1] = dA[l-1] ⊙ g'(Z[l-1])`. The forward pass's cache holds `A[l-1]` and `Z[l]`
# for every layer: all this needs. A finite difference checks every entry.
# Docs: [Stage 5](../docs/5-loss-backprop.md).

# %%
import matplotlib.pyplot as plt
import numpy as np
from course import fill

from nnscratch.app.learn.exercises import check
from nnscratch.core.gradcheck import check_gradient_functions, check_gradients
from nnscratch.core.network import Network

rng = np.random.default_rng(0)
X, Y = rng.normal(size=(4, 30)), rng.normal(size=(1, 30))
net = Network([4, 6, 1], dtype=np.float64, rng=3)
W1, W2 = (w.copy() for w in net.params.weights)
b1, b2 = (b.copy() for b in net.params.biases)
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
print("the package's backprop against finite differences:", check_gradients(net, X, Y, 0.1))

# %% [markdown]
# The same check works on plain functions — `f(params) → J` and `grad(params) → grads`,
# one gradient per array — so it checks the gradients written by hand above, and
# will check yours:


# %%
def f(params):
    W1, b1, W2, b2 = params
    Y_hat = W2 @ np.maximum(W1 @ X + b1, 0) + b2
    return float(np.sum((Y_hat - Y) ** 2) / (2 * Y.shape[1]))


def grad(params, with_derivative=True):
    W1, b1, W2, b2 = params
    Z1 = W1 @ X + b1
    A1 = np.maximum(Z1, 0)
    dZ2 = (W2 @ A1 + b2 - Y) / Y.shape[1]
    dZ1 = (W2.T @ dZ2) * ((Z1 > 0) if with_derivative else 1)
    return [dZ1 @ X.T, dZ1.sum(1, keepdims=True), dZ2 @ A1.T, dZ2.sum(1, keepdims=True)]


params = [W1, b1, W2, b2]
print("by hand:", check_gradient_functions(f, grad, params))
print("without ReLU's derivative:", check_gradient_functions(f, lambda p: grad(p, False), params))

# %%
errors = [check_gradients(Network([4, 6, 1], dtype=np.float64, rng=s), X, Y) for s in range(8)]
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(errors, "o")
ax.set_title("max relative error, 8 seeds (float64)")
ax.set_xlabel("seed")

# %% [markdown]
# ## Your turn (`backprop.py`)
#
# ### Exercise 6.1
# Write `layer_backward(dZ, A_prev, W)` → `(dW, db, dA_prev)` for `Z = W · A_prev + b`.
# The check compares with a finite difference.


# %%
def layer_backward(
    dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    raise NotImplementedError  # your code here


layer_backward = fill(layer_backward)
check("6.1", layer_backward)

# %% [markdown]
# ### Exercise 6.2
# Write `relu_backward(dA, Z)`: the chain step through a ReLU, `dZ = dA ⊙ relu'(Z)`.


# %%
def relu_backward(dA: np.ndarray, Z: np.ndarray) -> np.ndarray:
    raise NotImplementedError  # your code here


relu_backward = fill(relu_backward)
check("6.2", relu_backward)

# %% [markdown]
# ### Exercise 6.3
# Write `backward(dZ_L, cache, weights, lmbda=0.0)` → `(dWs, dbs)`, every layer from `L`
# down to 1 with your `layer_backward` and `relu_backward` and the cache of stage 4
# (`cache[l-1] = (A[l-1], Z[l])`), `(λ/m) W[l]` added to each `dW[l]`, and the lists in
# layer order. The check runs it on a 5-7-6-3 network beside the package's.


# %%
def backward(
    dZ_L: np.ndarray, cache: list, weights: list[np.ndarray], lmbda: float = 0.0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    raise NotImplementedError  # your code here


backward = fill(backward)
check("6.3", backward)
