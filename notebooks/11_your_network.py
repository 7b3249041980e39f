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
# # Your network reads handwritten digits
#
# Everything below is your code: your `initialize` draws the weights, your `train` runs
# your forward pass, your softmax and cross-entropy, your backward pass and your
# momentum steps, batch after shuffled batch; your `forward` and `softmax` make the
# predictions. The package only reads the digits and, at the end, trains its own engine
# from your starting weights to show that the two compute the same numbers.
# `nnscratch learn train --data digits` does the same from the command line
# ([the course](../docs/learn.md)).

# %%
import matplotlib.pyplot as plt
import numpy as np
from course import yours

from nnscratch.core.network import Network, to_network_layout
from nnscratch.core.optimizers import Momentum
from nnscratch.core.training import TrainConfig
from nnscratch.core.training import train as package_train
from nnscratch.data.images import load_digit_sample

initialize, forward, train = yours("initialize", "forward", "train")
softmax, cross_entropy, softmax_cross_entropy_gradient = yours(
    "softmax", "cross_entropy", "softmax_cross_entropy_gradient"
)

digits = load_digit_sample(seed=0, dtype=np.float64)  # 1,437 training, 360 test images
X, X_test = to_network_layout(digits.X_train), to_network_layout(digits.X_test)
Y = np.eye(10)[:, digits.y_train]  # one-hot, (10, m)
print(X.shape, Y.shape, X_test.shape)

# %% [markdown]
# ## Train it
# The seed's architecture, 64 → 64 → 32 → 16 → 10, ReLU and a softmax output; momentum
# on shuffled mini-batches of 32, 60 epochs.

# %%
sizes = [64, 64, 32, 16, 10]
settings = dict(epochs=60, learning_rate=0.02, batch_size=32, optimizer="momentum", seed=0)
weights, biases = initialize(sizes, np.random.default_rng(0))
start = [w.copy() for w in weights], [b.copy() for b in biases]
weights, biases, losses = train(
    weights,
    biases,
    X,
    Y,
    output=softmax,
    cost=cross_entropy,
    cost_gradient=softmax_cross_entropy_gradient,
    **settings,
)
Z, _ = forward(weights, biases, X_test)
predicted = softmax(Z).argmax(axis=0)
accuracy = np.mean(predicted == digits.y_test)
print(f"your network: {accuracy:.2%} of the 360 test digits right")
assert accuracy >= 0.97

# %% [markdown]
# ## The engine, from your starting weights
# The package's network and loop, the same settings, the same shuffle: the losses agree
# to about 1e-15, so every stage you wrote computes what the engine computes.

# %%
net = Network(sizes, output_activation="softmax", loss="cross_entropy", dtype=np.float64)
net.params.load_(*start)
config = TrainConfig(epochs=60, batch_size=32)
history = package_train(net, X, Y, Momentum(0.02, 0.9), config=config, rng=0)
gap = np.max(np.abs(np.array(losses) - history.train_loss) / np.array(history.train_loss))
print(f"largest relative difference between the two runs' losses: {gap:.1e}")
assert gap < 1e-8

fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(history.train_loss, linewidth=4, alpha=0.4, label="the engine")
ax.semilogy(losses, label="yours")
ax.set_xlabel("epoch")
ax.set_ylabel("cross-entropy")
ax.legend()

# %% [markdown]
# ## What it gets wrong

# %%
wrong = np.flatnonzero(predicted != digits.y_test)[:8]
fig, axes = plt.subplots(1, max(len(wrong), 1), figsize=(10, 1.8), squeeze=False)
for ax, i in zip(axes[0], wrong, strict=False):
    ax.imshow(digits.X_test[i].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{predicted[i]} (is {digits.y_test[i]})", fontsize=9)
    ax.axis("off")
