"""The BatchEnsemble (TabM) network: each member is a plain network, gradients, training."""

from __future__ import annotations

import numpy as np
import pytest

from nnscratch.batchensemble import BatchEnsembleNetwork
from nnscratch.network import Network
from nnscratch.optimizers import Adam
from nnscratch.training import TrainConfig, train

HEADS = {"mse": "identity", "cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


def problem(loss: str, n_in: int = 5, m: int = 7, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_in, m))
    if loss == "mse":
        return X, rng.normal(size=(2, m)), 2
    if loss == "binary_cross_entropy":
        return X, rng.integers(0, 2, size=(1, m)).astype(float), 1
    labels = rng.integers(0, 3, size=m)
    return X, np.eye(3)[labels].T, 3


def ensemble(loss: str, hidden: str, n_out: int, k: int = 3, seed: int = 1):
    net = BatchEnsembleNetwork(
        [5, 4, 3, n_out], k, hidden, HEADS[loss], loss=loss, dtype=np.float64, rng=seed
    )
    rng = np.random.default_rng(seed + 10)  # every vector away from its starting value
    for arrays in (net.params.R, net.params.S, net.params.B):
        for a in arrays:
            a += 0.3 * rng.normal(size=a.shape)
    return net


@pytest.mark.parametrize("loss", sorted(HEADS))
def test_each_member_is_the_plain_network_with_scaled_weights(loss: str) -> None:
    """Member k computes ``diag(s_k) W diag(r_k) · a + b_k``: a plain Network with those weights."""
    X, _, n_out = problem(loss)
    net = ensemble(loss, "tanh", n_out)
    members = net._forward_members(X)
    for k in range(net.k):
        plain = Network([5, 4, 3, n_out], "tanh", HEADS[loss], loss=loss, dtype=np.float64)
        for l, (W, R, S, B) in enumerate(
            zip(net.params.W, net.params.R, net.params.S, net.params.B, strict=True)
        ):
            plain.params.weights[l][...] = S[:, k : k + 1] * W * R[:, k][None, :]
            plain.params.biases[l][...] = B[:, k : k + 1]
        np.testing.assert_allclose(members[:, k, :], plain.predict(X), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(net.predict(X), members.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(net.forward(X), members, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("hidden", ["relu", "tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("loss", sorted(HEADS))
def test_gradients_match_finite_differences(loss: str, hidden: str) -> None:
    X, Y, n_out = problem(loss)
    net = ensemble(loss, hidden, n_out)
    lmbda = 0.3
    net.forward(X)
    objective = net.backward(Y, lmbda)
    m = X.shape[1]
    assert objective == pytest.approx(m * net.loss(X, Y, lmbda), rel=1e-12)
    analytic = net.grads.flat.copy()
    numeric = np.empty_like(analytic)
    flat, eps = net.params.flat, 1e-6
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = net.loss(X, Y, lmbda)
        flat[i] = keep - eps
        down = net.loss(X, Y, lmbda)
        flat[i] = keep
        numeric[i] = (up - down) / (2 * eps)
    error = np.linalg.norm(analytic - numeric) / np.linalg.norm(analytic + numeric)
    assert error < 1e-6, error


def test_first_layer_scalings_start_at_random_signs_and_the_rest_at_one() -> None:
    net = BatchEnsembleNetwork([6, 8, 1], 16, rng=0)
    assert set(np.unique(net.params.R[0])) == {-1.0, 1.0}
    assert (net.params.R[1] == 1).all() and all((S == 1).all() for S in net.params.S)
    assert all((B == 0).all() for B in net.params.B)
    again = BatchEnsembleNetwork([6, 8, 1], 16, rng=0)
    np.testing.assert_array_equal(net.params.flat, again.params.flat)


def test_trains_with_the_training_loop() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 400))
    Y = (np.sin(X[0]) + X[1] * X[2]).reshape(1, -1)
    net = BatchEnsembleNetwork([4, 32, 16, 1], 8, dtype=np.float32, rng=0)
    history = train(
        net,
        X.astype(np.float32),
        Y,
        Adam(3e-3),
        config=TrainConfig(epochs=60, batch_size=64, patience=10),
        validation=(X[:, :100].astype(np.float32), Y[:, :100]),
    )
    assert history.train_loss[-1] < 0.3 * history.train_loss[0]
    assert history.val_rmse[history.best_epoch] == min(history.val_rmse)


def test_estimators_with_k_fit_predict_and_round_trip_through_a_file(tmp_path) -> None:
    from sklearn.datasets import load_digits

    from nnscratch import MLPClassifier
    from nnscratch.model import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.random((300, 6))
    y = X[:, 0] * 2 + np.sin(3 * X[:, 1])
    regressor = MLPRegressor(
        hidden_layer_sizes=(16,), k=4, epochs=150, learning_rate=0.01, n_members=2, random_state=0
    )
    regressor.fit(X, y)
    assert isinstance(regressor.network_, BatchEnsembleNetwork) and regressor.network_.k == 4
    assert regressor.biases_[0].shape == (16, 4) and regressor.weights_[0].shape == (16, 6)
    assert regressor.score(X, y) > 0.8
    loaded = MLPRegressor.load(regressor.save(tmp_path / "r.npz"))
    np.testing.assert_array_equal(loaded.predict(X), regressor.predict(X))

    digits = load_digits()
    classifier = MLPClassifier(
        hidden_layer_sizes=(32,), k=8, epochs=40, learning_rate=0.01, random_state=0
    )
    classifier.fit(digits.data[:1200] / 16, digits.target[:1200])
    assert classifier.score(digits.data[1200:] / 16, digits.target[1200:]) > 0.85
    loaded = MLPClassifier.load(classifier.save(tmp_path / "c.npz"))
    np.testing.assert_array_equal(
        loaded.predict_proba(digits.data[1200:] / 16),
        classifier.predict_proba(digits.data[1200:] / 16),
    )
    with pytest.raises(ValueError, match="dropout is not offered with k > 1"):
        MLPRegressor(k=2, dropout=0.1).fit(X, y)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        MLPRegressor(k=0).fit(X, y)


def test_a_pickled_network_keeps_its_parameters_as_views() -> None:
    import pickle

    net = ensemble("mse", "relu", 2)
    copy = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(copy.params.flat, net.params.flat)
    copy.params.W[0][0, 0] = 123.0  # a view into the flat array the optimizer updates
    assert 123.0 in copy.params.flat
