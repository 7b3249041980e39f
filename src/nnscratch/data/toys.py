"""Small data sets to watch a network learn on (``nnscratch playground``).

Two-class points in the plane — two moons, circles, spirals, XOR, Gaussian
blobs — a 1-D regression curve, and scikit-learn's bundled 8×8 digits. Every
set is generated from the seed given (same seed, same points) and split into
training and validation halves the same way. Inputs are in the user layout
``(n_samples, n_features)``, roughly within [-1, 1] (digits: pixels in [0, 1]).

The digits are the command line's: its split of the same seed
(:func:`~nnscratch.data.images.load_digit_sample`) keeps its test images apart,
and the halves are drawn from its training images only, so a model trained here
and scored by ``nnscratch evaluate --data digits`` is scored on images it never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnscratch.data.images import load_digit_sample

#: Points a generated set holds (half for training, half for validation).
N_POINTS = 600


@dataclass
class ToyData:
    """A toy set's splits; ``classes`` is None for regression."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    classes: np.ndarray | None

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def classification(self) -> bool:
        return self.classes is not None


def _moons(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    half = n // 2
    t = rng.uniform(0, np.pi, n)
    upper = np.c_[np.cos(t[:half]), np.sin(t[:half])]
    lower = np.c_[1 - np.cos(t[half:]), 0.5 - np.sin(t[half:])]
    X = (np.r_[upper, lower] - [0.5, 0.25]) / 1.25
    return X, np.r_[np.zeros(half), np.ones(n - half)]


def _circles(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = (np.arange(n) >= n // 2).astype(float)
    radius = np.where(y == 1, 0.35, 0.85)
    t = rng.uniform(0, 2 * np.pi, n)
    return radius[:, None] * np.c_[np.cos(t), np.sin(t)], y


def _spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two arms of 1.5 turns, 0.45 apart, points evenly along them (the radius drawn as the
    root of a uniform draw): spirals still at the default noise, 0.1."""
    y = (np.arange(n) >= n // 2).astype(float)
    r = np.sqrt(rng.uniform(0.02, 1.0, n))
    t = 3.0 * np.pi * r + np.pi * y
    return 1.35 * r[:, None] * np.c_[np.cos(t), np.sin(t)], y


def _xor(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-1, 1, (n, 2))
    X += 0.05 * np.sign(X)  # a small gap around the axes
    return X, (X[:, 0] * X[:, 1] < 0).astype(float)


def _blobs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = (np.arange(n) >= n // 2).astype(float)
    centres = np.where(y[:, None] == 1, [0.45, 0.45], [-0.45, -0.45])
    return centres + rng.normal(0, 0.2, (n, 2)), y


def _curve(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-1, 1, (n, 1))
    return x, np.sin(3 * x[:, 0]) * 0.8


#: The generated sets: name → ``(n, rng) -> (X, y)`` before noise.
GENERATORS: dict[str, Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "moons": _moons,
    "circles": _circles,
    "spirals": _spirals,
    "xor": _xor,
    "blobs": _blobs,
    "curve": _curve,
}
#: Every set the playground offers.
TOY_SETS = (*GENERATORS, "digits")


def make_toy(name: str, noise: float = 0.1, seed: int = 0, n: int = N_POINTS) -> ToyData:
    """The set ``name`` with Gaussian ``noise`` (std, in input units; on the target for
    ``curve``; not used for ``digits``), split in two seeded halves."""
    rng = np.random.default_rng(seed)
    if name == "digits":  # the command line's training images for this seed, no test image
        images = load_digit_sample(seed, dtype=np.float64)
        X = np.round(images.X_train * 255) / 255  # as an 8-bit PNG of a digit holds them
        y = images.y_train.astype(float)
    elif name in GENERATORS:
        X, y = GENERATORS[name](n, rng)
        if name == "curve":
            y = y + rng.normal(0, noise, len(y))
        else:
            X = X + rng.normal(0, noise, X.shape)
    else:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(TOY_SETS)}")
    order = rng.permutation(len(y))
    train, val = order[: len(y) // 2], order[len(y) // 2 :]
    classes = None if name == "curve" else np.unique(y).astype(int)
    if classes is not None:
        y = y.astype(int)
    return ToyData(name, X[train], y[train], X[val], y[val], classes)
