"""Stage 3: activation functions, derivatives, and their in-place forms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nnscratch.core.activations import ACTIVATIONS, relu, relu_derivative, sigmoid

NAMES = sorted(n for n, a in ACTIVATIONS.items() if a.elementwise)
finite = st.floats(-30, 30, allow_nan=False, width=64)


def test_table() -> None:
    assert set(NAMES) == {"relu", "identity", "sigmoid", "tanh", "leaky_relu"}
    assert set(ACTIVATIONS) - set(NAMES) == {"softmax"}
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        ACTIVATIONS.lookup("softplus")


def test_relu_and_its_derivative_as_the_seed_defines_them() -> None:
    z = np.array([-2.0, -0.0, 0.0, 1e-9, 3.0])
    np.testing.assert_array_equal(relu(z), [0, 0, 0, 1e-9, 3])
    np.testing.assert_array_equal(relu_derivative(z), [0, 0, 0, 1, 1])


def test_known_values() -> None:
    z = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"].function(z), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(ACTIVATIONS["tanh"].derivative(z), 1 - np.tanh(z) ** 2)
    np.testing.assert_allclose(ACTIVATIONS["leaky_relu"].function(z), [-0.01, 0, 2])
    np.testing.assert_allclose(ACTIVATIONS["leaky_relu"].derivative(z), [0.01, 0.01, 1])
    np.testing.assert_array_equal(ACTIVATIONS["identity"].derivative(z), [1, 1, 1])


def test_sigmoid_is_stable_for_huge_inputs() -> None:
    z = np.array([-1e308, -1e4, -745.0, 0.0, 745.0, 1e4, 1e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid(z)
        ds = ACTIVATIONS["sigmoid"].derivative(z)
    assert np.isfinite(s).all() and np.isfinite(ds).all()
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    assert np.all(np.diff(s) >= 0)


@pytest.mark.parametrize("name", NAMES)
@given(z=arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 7)), elements=finite))
@settings(max_examples=60, deadline=None)
def test_derivative_matches_finite_differences(name: str, z: np.ndarray) -> None:
    act = ACTIVATIONS[name]
    z = z[np.abs(z) > 1e-3].reshape(-1, 1) if name in ("relu", "leaky_relu") else z
    h = 1e-6
    numeric = (act.function(z + h) - act.function(z - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(z), numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(z=arrays(np.float64, (4, 6), elements=finite))
@settings(max_examples=30, deadline=None)
def test_in_place_forms_match_the_math(name: str, dtype: type, z: np.ndarray) -> None:
    act = ACTIVATIONS[name]
    Z = z.astype(dtype)
    A, scratch = Z.copy(), np.empty_like(Z)
    act.apply_inplace(A, scratch)
    np.testing.assert_allclose(A, act.function(Z), rtol=1e-6, atol=1e-7)
    dA = np.linspace(-1, 1, Z.size, dtype=dtype).reshape(Z.shape)
    expected = dA * act.derivative(Z)
    act.backward_inplace(A, dA, scratch)
    np.testing.assert_allclose(dA, expected, rtol=1e-5, atol=1e-6)
    assert A.dtype == dtype and dA.dtype == dtype
    # the prediction form keeps nothing for backward but gives the same bits
    predicted, zeros = Z.copy(), np.zeros_like(Z)
    zeros.flags.writeable = False  # it may only read the zeros
    act.predict_inplace(predicted, np.empty_like(Z), zeros)
    np.testing.assert_array_equal(predicted, A)
    assert predicted.dtype == dtype


@pytest.mark.parametrize("name", NAMES)
def test_prediction_form_keeps_nan(name: str) -> None:
    Z = np.array([[np.nan, -1.0, 2.0]])
    ACTIVATIONS[name].predict_inplace(Z, np.empty_like(Z), np.zeros_like(Z))
    assert np.isnan(Z[0, 0]), "a NaN must survive the activation so divergence is seen"


# --------------------------------------------------------------------------- softmax

softmax = ACTIVATIONS["softmax"]


def test_softmax_columns_sum_to_one_and_match_the_definition() -> None:
    z = np.array([[1.0, -2.0], [2.0, 0.0], [3.0, 5.0]])
    expected = np.exp(z) / np.exp(z).sum(axis=0)
    np.testing.assert_allclose(softmax.function(z), expected, rtol=1e-12)
    Z = z.copy()
    softmax.apply_inplace(Z, np.empty_like(Z))
    np.testing.assert_allclose(Z, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_finite_for_logits_of_ten_thousand(dtype: type) -> None:
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [0.0, 1e4, -1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        softmax.apply_inplace(Z, np.empty_like(Z))
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z.sum(axis=0), 1, rtol=1e-6)
    np.testing.assert_array_equal(np.argmax(Z, axis=0), [0, 2, 1])


@given(z=arrays(np.float64, st.tuples(st.integers(2, 5), st.integers(1, 4)), elements=finite))
@settings(max_examples=40, deadline=None)
def test_softmax_backward_is_its_jacobian_product(z: np.ndarray) -> None:
    a = softmax.function(z)
    dA = np.random.default_rng(0).normal(size=z.shape)
    expected = np.stack(
        [(np.diag(a[:, j]) - np.outer(a[:, j], a[:, j])) @ dA[:, j] for j in range(z.shape[1])],
        axis=1,
    )
    got = dA.copy()
    softmax.backward_inplace(a, got, np.empty_like(a))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
