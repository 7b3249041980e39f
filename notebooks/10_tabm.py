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
# # Stage 10 — from one network to TabM, with piecewise-linear inputs
#
# Two ideas make the default recipe beat gradient boosting on the tracks
# ([accuracy](../docs/accuracy.md)). **Piecewise-linear encoding** turns a number into
# `T` numbers, `e_t(x) = clip((x − b_{t−1}) / (b_t − b_{t−1}), 0, 1)`, so the first
# layer can give each range of a feature its own slope. **TabM** makes one network `K`
# members that share every `W[l]` and own cheap scalings: `Z_k = s_k ⊙ (W · (r_k ⊙ A_k))
# + b_k` — an ensemble for little more than one network's price.

# %%
import matplotlib.pyplot as plt
import numpy as np
from course import fill

from nnscratch.app.learn.exercises import check
from nnscratch.core.batchensemble import BatchEnsembleNetwork
from nnscratch.data.encoders import PiecewiseLinearEncoding

x = np.linspace(-1, 7, 200)
encoder = PiecewiseLinearEncoding(include_input=False).fit(np.array([[0.0], [1], [3], [6]]))
encoded = encoder.transform(x[:, None])
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(x, encoded)
ax.set_title("e_t(x) for edges 0, 1, 3, 6")
ax.set_xlabel("x")

# %%
net = BatchEnsembleNetwork([5, 8, 1], k=4, dtype=np.float64, rng=0)
X = np.random.default_rng(1).normal(size=(5, 3))
p = net.params
Z1 = p.S[0][:, :, None] * np.einsum("ji,ikm->jkm", p.W[0], p.R[0][:, :, None] * X[:, None, :])
Z1 += p.B[0][:, :, None]
np.testing.assert_allclose(Z1, net.trace(X)[0][0], rtol=1e-12)  # the package agrees
print("members' outputs:", net.trace(X)[-1][1][0].round(3))

# %% [markdown]
# ## Your turn (`tabm.py`)
#
# ### Exercise 10.1
# Write `piecewise_linear(x, edges)` → `(len(x), len(edges) − 1)`.


# %%
def piecewise_linear(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    raise NotImplementedError  # your code here


piecewise_linear = fill(piecewise_linear)
check("10.1", piecewise_linear)

# %% [markdown]
# ### Exercise 10.2
# Write `tabm_first_layer(W, R, S, B, X)` → `Z[1]` `(n[1], K, m)`: `W (n[1], n[0])`,
# `R (n[0], K)`, `S` and `B` `(n[1], K)`, `X (n[0], m)`.


# %%
def tabm_first_layer(W, R, S, B, X):
    raise NotImplementedError  # your code here


tabm_first_layer = fill(tabm_first_layer)
check("10.2", tabm_first_layer)
