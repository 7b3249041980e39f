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
# # Stage 1 — from a CSV to numbers the network can read
#
# A Spotify CSV holds text and numbers, some of them broken. Stage 1 turns it into a
# matrix: `release_date` → `year`, every value coerced to a number (`errors="coerce"`),
# rows that cannot be used dropped (and counted), Min-Max scaling **fitted on the
# training split only**, and — at the network's door — the one transpose from the
# user's `(samples, features)` to the network's `(features, samples)`.
# Docs: [Stage 1](../docs/1-data.md).

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from course import fill

from nnscratch.app.learn.exercises import check
from nnscratch.core import network
from nnscratch.data.cleaning import clean
from nnscratch.data.synthetic import make_tracks
from nnscratch.data.tracks import tracks_from_frame

raw = make_tracks(2_000, seed=0, junk_fraction=0.05)  # the built-in sample, some junk
raw[["release_date", "tempo", "energy"]].head()

# %% [markdown]
# ## Build it: dates to years, text to numbers, unusable rows out

# %%
years = pd.to_datetime(raw["release_date"], errors="coerce", format="mixed").dt.year
numbers = raw[["tempo", "energy"]].apply(pd.to_numeric, errors="coerce")
usable = years.notna() & numbers.notna().all(axis=1)
print(f"kept {usable.sum():,} of {len(raw):,} rows")

# %% [markdown]
# The package does the same, column by column, and says why each row went:

# %%
tracks = tracks_from_frame(raw)
cleaned, report = clean(tracks, ["year", "tempo", "energy"], None)
print(report)
np.testing.assert_array_equal(cleaned["year"].to_numpy(), years[usable].to_numpy())

# %% [markdown]
# ## The one transpose
# Users hand `(m, n)` arrays; inside the network every row is one feature over the
# batch's samples: `(n, m)`, contiguous.

# %%
X = cleaned[["year", "tempo", "energy"]].to_numpy()
X_net = network.to_network_layout(X, np.float64)  # the package's
print(X.shape, "→", X_net.shape, X_net.flags["C_CONTIGUOUS"])
np.testing.assert_array_equal(X_net, X.T)

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(cleaned["year"], bins=40)
ax.set_xlabel("release year")
ax.set_ylabel("tracks")
ax.set_title("The sample's years, after cleaning")

# %% [markdown]
# ## Your turn
# Each exercise is a function of your course workspace's `data.py` (`nnscratch learn
# start` writes it; `nnscratch learn check data` checks it there). Write it here or
# there: the check is the same.
#
# ### Exercise 1.1
# Write `release_year(date)`: `"1999-05-01"`, `"2003"` and `"1987-11"` give the year
# as a float (spaces around the text do not matter); anything else (empty, garbage,
# month 13) gives `nan`, never 0 and never an error.


# %%
def release_year(date: str) -> float:
    raise NotImplementedError  # your code here


release_year = fill(release_year)
check("1.1", release_year)

# %% [markdown]
# ### Exercise 1.2
# Write `minmax_scale(train, other)`: scale each column to [0, 1] with the minimum and
# maximum **of the training rows only**, and apply the same to `other` (validation
# rows may then fall outside [0, 1] — that is right: the model must not peek).


# %%
def minmax_scale(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raise NotImplementedError  # your code here


minmax_scale = fill(minmax_scale)
check("1.2", minmax_scale)

# %% [markdown]
# ### Exercise 1.3
# Write `to_network_layout(X)`: `(m, n)` → `(n, m)`, a new C-contiguous array. Try
# `X.reshape(n, m)` first and look at what the check says.


# %%
def to_network_layout(X: np.ndarray) -> np.ndarray:
    raise NotImplementedError  # your code here


to_network_layout = fill(to_network_layout)
check("1.3", to_network_layout)
