"""Stage 2: parameter layout and initialisers."""

from __future__ import annotations

import numpy as np
import pytest

from nnscratch.core.activations import relu
from nnscratch.core.init import INITIALIZERS, Parameters, initialize
from nnscratch.core.network import Network

DEFAULT_SIZES = [13, 64, 32, 16, 1]


def test_shapes_and_zero_biases() -> None:
    p = initialize(DEFAULT_SIZES, "he", rng=0)
    assert [w.shape for w in p.weights] == [(64, 13), (32, 64), (16, 32), (1, 16)]
    assert [b.shape for b in p.biases] == [(64, 1), (32, 1), (16, 1), (1, 1)]
    assert all((b == 0).all() for b in p.biases)
    assert p.flat.size == 13 * 64 + 64 * 32 + 32 * 16 + 16 + 64 + 32 + 16 + 1


def test_views_share_the_flat_buffer() -> None:
    p = initialize([3, 4, 1], rng=0, dtype=np.float64)
    p.weights[1][0, 2] = 123.0
    p.biases[0][3, 0] = -7.0
    assert 123.0 in p.flat and -7.0 in p.flat
    np.testing.assert_array_equal(p.blocks[0][:, :3], p.weights[0])
    np.testing.assert_array_equal(p.blocks[0][:, 3:], p.biases[0])
    assert p.flat.size == 4 * (3 + 1) + 1 * (4 + 1)
    assert p.n_weights == int(p.weight_mask.sum()) == 16
    np.testing.assert_array_equal(p.flat[p.weight_mask == 0], [0, 0, 0, -7.0, 0])
    assert p.squared_weight_norm() == pytest.approx(sum(float((w**2).sum()) for w in p.weights))
    p.flat[:] = 0
    assert not p.weights[0].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype(dtype: type) -> None:
    p = initialize(DEFAULT_SIZES, rng=1, dtype=dtype)
    assert p.flat.dtype == dtype
    assert all(w.dtype == dtype for w in p.weights + p.biases)


def test_he_variance_within_three_standard_errors() -> None:
    n_in, n_out = 1000, 500
    W = initialize([n_in, n_out], "he", rng=2, dtype=np.float64).weights[0]
    expected = 2.0 / n_in
    # Var of the sample variance of N(0, s²) over N draws is 2 s⁴ / (N - 1).
    standard_error = np.sqrt(2.0 * expected**2 / (W.size - 1))
    assert abs(W.var() - expected) < 3 * standard_error
    assert abs(W.mean()) < 3 * np.sqrt(expected / W.size)


def test_glorot_and_small_scales() -> None:
    W = initialize([800, 400], "glorot", rng=3, dtype=np.float64).weights[0]
    assert W.var() == pytest.approx(2.0 / 1200, rel=0.02)
    W = initialize([800, 400], "small", rng=3, dtype=np.float64).weights[0]
    assert W.std() == pytest.approx(0.01, rel=0.02)


@pytest.mark.portable
def test_seeded() -> None:
    a, b = initialize(DEFAULT_SIZES, rng=7), initialize(DEFAULT_SIZES, rng=7)
    c = initialize(DEFAULT_SIZES, rng=8)
    np.testing.assert_array_equal(a.flat, b.flat)
    assert not np.array_equal(a.flat, c.flat)
    # The same seed gives the same values in float32 and float64.
    d = initialize(DEFAULT_SIZES, rng=7, dtype=np.float64)
    np.testing.assert_array_equal(a.flat, d.flat.astype(np.float32))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown init 'zeros'"):
        initialize(DEFAULT_SIZES, "zeros")
    with pytest.raises(ValueError, match="layer sizes"):
        Parameters.zeros([5])
    with pytest.raises(ValueError, match="shape mismatch"):
        Parameters.zeros([2, 1]).load_([np.zeros((2, 1))], [np.zeros((1, 1))])
    assert set(INITIALIZERS) == {"he", "glorot", "small"}


def mean_square_through_relu_stack(method: str, depth: int = 10, width: int = 256) -> float:
    rng = np.random.default_rng(0)
    params = initialize([width] * (depth + 1), method, rng=rng, dtype=np.float64)
    A = rng.standard_normal((width, 2000))
    for W in params.weights:
        A = relu(W @ A)
    return float(np.mean(A**2))


def test_he_keeps_the_signal_and_small_init_collapses_it() -> None:
    # Input mean square is 1. With He init each ReLU layer keeps E[a²]:
    # Var(z) = 2/n · n · E[a²] = 2 E[a²], and E[relu(z)²] = Var(z) / 2.
    he = mean_square_through_relu_stack("he")
    small = mean_square_through_relu_stack("small")
    assert 0.5 < he < 2.0
    assert small < 1.0 / 100


def test_seed_claim_small_init_output_variance() -> None:
    # The seed's claim: with 0.01·N(0,1) init, the default network's output at
    # step 0 has a variance below a millionth of He init's.
    X = np.random.default_rng(0).random((13, 5000))
    variances = {}
    for method in ("he", "small"):
        net = Network(DEFAULT_SIZES, init=method, dtype=np.float64, rng=0)
        variances[method] = float(net.predict(X).var())
    assert variances["small"] < 1e-6 * variances["he"]
