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
# # Stage 4 — the forward pass
#
# For layers `l = 1..L`: `Z[l] = W[l] · A[l-1] + b[l]` (`(n[l], m)`, the bias broadcast
# over the columns), `A[l] = g(Z[l])`, with ReLU on the hidden layers and the identity
# on the output. Docs: [Stage 4](../docs/4-forward.md).

# %%
import matplotlib.pyplot as plt
import numpy as np
from course import fill

from nnscratch.app.learn.exercises import check
from nnscratch.core.network import Network

net = Network([13, 64, 32, 16, 1], dtype=np.float64, rng=0)  # the default network
X = np.random.default_rng(1).random((13, 200))  # (features, samples)

A, shapes = X, []
for l, (W, b) in enumerate(zip(net.params.weights, net.params.biases, strict=True), start=1):
    Z = W @ A + b
    A = Z if l == 4 else np.maximum(Z, 0)
    shapes.append((f"W[{l}]", W.shape, f"A[{l}]", A.shape))
for row in shapes:
    print(*row)
np.testing.assert_allclose(A, net.predict(X), rtol=1e-12)  # the package agrees

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(A.ravel(), bins=30)
ax.set_title("Ŷ at step 0: He init, 200 random inputs")

# %% [markdown]
# ## Your turn (`forward.py`)
#
# ### Exercise 4.1
# Write `layer_forward(W, b, A_prev)` → `Z = W · A_prev + b`, `(n[l], m)`.


# %%
def layer_forward(W: np.ndarray, b: np.ndarray, A_prev: np.ndarray) -> np.ndarray:
    raise NotImplementedError  # your code here


layer_forward = fill(layer_forward)
check("4.1", layer_forward)

# %% [markdown]
# ### Exercise 4.2
# Write `forward(weights, biases, X)` → `(Y_hat, cache)`: your `layer_forward` for every
# layer, ReLU on the hidden ones (`np.maximum(Z, 0)`, or your `relu`), the output linear;
# `cache[l-1] = (A[l-1], Z[l])`, each layer's input and pre-activation — exactly what the
# backward pass of stage 6 needs.


# %%
def forward(
    weights: list[np.ndarray], biases: list[np.ndarray], X: np.ndarray
) -> tuple[np.ndarray, list]:
    raise NotImplementedError  # your code here


forward = fill(forward)
check("4.2", forward)
