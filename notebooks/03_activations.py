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
# # Stage 3 — activations and their derivatives
#
# Backpropagation multiplies by `g'(Z)` at every layer. ReLU's derivative is 1 or 0:
# the gradient passes whole or not at all. The sigmoid's, `s (1 − s)`, is at most
# 0.25 and nearly 0 once `|z| > 4`: six sigmoid layers multiply the gradient by at
# most 0.25⁶ ≈ 2e-4. Docs: [Stage 3](../docs/3-activations.md).

# %%
import matplotlib.pyplot as plt
import numpy as np
from course import fill

from nnscratch.app.learn.exercises import check
from nnscratch.core.activations import ACTIVATIONS

z = np.linspace(-6, 6, 241)
sigmoid = 1 / (1 + np.exp(-z))
built = {"relu": np.maximum(z, 0), "sigmoid": sigmoid, "tanh": np.tanh(z)}
for name, values in built.items():  # the package's table gives the same
    np.testing.assert_allclose(ACTIVATIONS[name].function(z), values, rtol=1e-12)

fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for name in built:
    axes[0].plot(z, ACTIVATIONS[name].function(z), label=name)
    axes[1].plot(z, ACTIVATIONS[name].derivative(z), label=name)
axes[0].set_title("g(z)")
axes[1].set_title("g'(z): what the gradient is multiplied by")
axes[1].legend()

# %%
print("the most a sigmoid layer passes back:", ACTIVATIONS["sigmoid"].derivative(0.0))
print("six of them:", 0.25**6)

# %% [markdown]
# ## Your turn (`activations.py`)
# Each function takes a block `Z` of any shape, usually `(n[l], m)`, and returns a new
# array of the same shape, leaving `Z` as it was.
#
# ### Exercise 3.1
# Write `relu(Z)`: `max(z, 0)` for every entry.


# %%
def relu(Z: np.ndarray) -> np.ndarray:
    raise NotImplementedError  # your code here


relu = fill(relu)
check("3.1", relu)

# %% [markdown]
# ### Exercise 3.2
# Write `relu_derivative(Z)`: 1 where `z > 0`, else 0 (at exactly 0: 0, as the package).


# %%
def relu_derivative(Z: np.ndarray) -> np.ndarray:
    raise NotImplementedError  # your code here


relu_derivative = fill(relu_derivative)
check("3.2", relu_derivative)

# %% [markdown]
# ### Exercise 3.3
# Write `sigmoid(Z)`: `1 / (1 + e^(−z))`, with no NaN at `z = ±800`.


# %%
def sigmoid(Z: np.ndarray) -> np.ndarray:
    raise NotImplementedError  # your code here


sigmoid = fill(sigmoid)
check("3.3", sigmoid)

# %% [markdown]
# ### Exercise 3.4
# Write `sigmoid_derivative(Z)`: `σ(z) (1 − σ(z))`.


# %%
def sigmoid_derivative(Z: np.ndarray) -> np.ndarray:
    raise NotImplementedError  # your code here


sigmoid_derivative = fill(sigmoid_derivative)
check("3.4", sigmoid_derivative)
