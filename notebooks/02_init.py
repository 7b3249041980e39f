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
# # Stage 2 — initialisation: why He keeps the signal alive
#
# With `z = Σ_j w_j a_j` and independent zero-mean weights, `Var(z) = n · Var(w) · E[a²]`.
# ReLU keeps half of a symmetric `z`, so `E[relu(z)²] = Var(z) / 2`. He's
# `Var(w) = 2 / n` makes the two factors cancel: the signal's size is the same in every
# layer. The naive small initialisation `0.01 · N(0, 1)` multiplies it by `n · 1e-4 / 2` a
# layer — for `n = 256`, by 0.0128 (its RMS by √0.0128 ≈ 0.11). Docs:
# [Stage 2](../docs/2-init.md); live: the playground's spirals with `init=small`, then
# `init=he` ([setups](../docs/playground.md)).

# %%
import matplotlib.pyplot as plt
import numpy as np
from course import fill

from nnscratch.app.learn.exercises import check
from nnscratch.core.init import initialize

rng = np.random.default_rng(0)


def signal_through(weights: list[np.ndarray], X: np.ndarray) -> list[float]:
    """The RMS of each layer's ReLU activations: built here from the formula."""
    rms, A = [], X
    for W in weights:
        A = np.maximum(W @ A, 0)
        rms.append(float(np.sqrt(np.mean(A**2))))
    return rms


X = rng.standard_normal((256, 1000))
curves = {}
for method in ("he", "glorot", "small"):
    params = initialize([256] * 11, method, rng=0, dtype=np.float64)  # the package's draw
    curves[method] = signal_through(params.weights, X)
    print(f"{method:>6}: layer 1 {curves[method][0]:.3g}, layer 10 {curves[method][-1]:.3g}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for method, rms in curves.items():
    ax.semilogy(range(1, 11), rms, marker="o", label=method)
ax.set_xlabel("layer")
ax.set_ylabel("RMS of A[l]")
ax.legend()
ax.set_title("The signal through 10 ReLU layers of 256 units")

# %% [markdown]
# Each layer's factor, measured: the RMS of layer `l + 1` over layer `l`'s, averaged over
# the ten layers. He keeps it near 1; Glorot (`2 / (n_in + n_out)`, made for tanh) gives a
# ReLU layer half the variance it needs, so it multiplies the RMS by about √½ ≈ 0.71 a
# layer; the naive small initialisation by about 0.11, so ten layers leave ~3e-10 of it.

# %%
for method, rms in curves.items():
    factor = (rms[-1] / rms[0]) ** (1 / (len(rms) - 1))
    print(f"{method:>6}: × {factor:.2f} a layer, RMS after 10 layers {rms[-1]:.2g}")
glorot_factor = (curves["glorot"][-1] / curves["glorot"][0]) ** (1 / 9)
assert 0.5 < curves["he"][-1] < 2 and abs(glorot_factor - 0.5**0.5) < 0.03
assert 1e-10 < curves["small"][-1] < 1e-9

# %% [markdown]
# ## Your turn (`init.py` of your workspace)
#
# ### Exercise 2.1
# Write `he_weights(n_in, n_out, rng)`: a `(n_out, n_in)` matrix — a row per unit of the
# layer — drawn from `N(0, 2 / n_in)` with the generator given. (He's uniform form,
# `U(±√(6/n_in))`, has the same variance and passes too.)


# %%
def he_weights(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    raise NotImplementedError  # your code here


he_weights = fill(he_weights)
check("2.1", he_weights)

# %% [markdown]
# ### Exercise 2.2
# Write `glorot_weights(n_in, n_out, rng)`: the same shape, variance `2 / (n_in + n_out)`.


# %%
def glorot_weights(n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    raise NotImplementedError  # your code here


glorot_weights = fill(glorot_weights)
check("2.2", glorot_weights)

# %% [markdown]
# ### Exercise 2.3
# Write `initialize(layer_sizes, rng)` → `(weights, biases)`: for `[13, 64, 32, 16, 1]`,
# `W[l]` of shape `(n[l], n[l-1])` drawn with your `he_weights` from the one `rng`, layer
# 1 first, and every `b[l]` zeros of shape `(n[l], 1)` — a column, so that it broadcasts
# over the samples. This is where your network starts: `nnscratch learn train` hands the
# weights it draws to the package's engine too.


# %%
def initialize(
    layer_sizes: list[int], rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    raise NotImplementedError  # your code here


initialize = fill(initialize)
check("2.3", initialize)
