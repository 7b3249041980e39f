"""Stage 5 (loss): MSE with the 1/(2m) convention and the L2 penalty."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nnscratch.core.losses import l2_penalty, mse_gradient, mse_loss, rmse_from_mse, total_loss


def test_seed_loss_example() -> None:
    assert mse_loss(np.array([[1, 1, 4]]), np.array([[1, 0, 2]])) == pytest.approx(5 / 6)


def test_seed_l2_example() -> None:
    assert l2_penalty([np.ones((2, 2))] * 4, lmbda=0.1, m=2) == pytest.approx(0.4)
    assert l2_penalty([np.ones((2, 2))] * 4, lmbda=0.0, m=2) == 0.0


def test_total_loss_adds_both() -> None:
    Y_hat, Y = np.array([[1.0, 1.0]]), np.array([[0.0, 1.0]])
    W = [np.full((2, 2), 2.0)]
    assert total_loss(Y_hat, Y, W, lmbda=0.5) == pytest.approx(1 / 4 + 0.5 / 4 * 16)


@given(y=arrays(np.float64, st.integers(1, 50), elements=st.floats(-100, 100)))
@settings(max_examples=50, deadline=None)
def test_rmse_and_gradient(y: np.ndarray) -> None:
    y_hat = y + 1.5
    assert rmse_from_mse(mse_loss(y_hat, y)) == pytest.approx(1.5)
    np.testing.assert_allclose(mse_gradient(y_hat[None, :], y[None, :]), 1.5 / y.size)
