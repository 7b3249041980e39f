"""The BatchEnsemble (TabM) network: each member is a plain network, gradients, training."""

from __future__ import annotations

import numpy as np
import pytest

from nnscratch.core.batchensemble import BatchEnsembleNetwork
from nnscratch.core.network import Network
from nnscratch.core.optimizers import Adam
from nnscratch.core.training import TrainConfig, train

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


def ensemble(loss: str, hidden: str, n_out: int, k: int = 3, seed: int = 1) -> BatchEnsembleNetwork:
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


@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize("hidden", ["relu", "tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("loss", sorted(HEADS))
def test_gradients_match_finite_differences(loss: str, hidden: str, k: int) -> None:
    X, Y, n_out = problem(loss)
    net = ensemble(loss, hidden, n_out, k=k)
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


@pytest.mark.portable
def test_one_member_with_unit_scalings_is_the_plain_network_exactly() -> None:
    """k = 1, r = s = 1: the same outputs and gradients as :class:`Network`, bit for bit.

    Small integers (and a batch of 8) keep every product and sum exact in
    float64, so any difference would be a different computation, not rounding.
    """
    rng = np.random.default_rng(4)
    sizes = [6, 5, 4, 1]
    net = BatchEnsembleNetwork(sizes, 1, "relu", dtype=np.float64, rng=0)
    plain = Network(sizes, "relu", dtype=np.float64, rng=0)
    for l in range(len(sizes) - 1):
        W = rng.integers(-3, 4, size=net.params.W[l].shape).astype(float)
        b = rng.integers(-2, 3, size=net.params.B[l].shape).astype(float)
        net.params.W[l][...], net.params.B[l][...] = W, b
        plain.params.weights[l][...], plain.params.biases[l][...] = W, b
        net.params.R[l][...] = 1.0
    X = rng.integers(-4, 5, size=(6, 8)).astype(float)
    Y = rng.integers(-4, 5, size=(1, 8)).astype(float)
    np.testing.assert_array_equal(net.forward(X)[:, 0, :], plain.forward(X))
    np.testing.assert_array_equal(net.predict(X), plain.predict(X))
    assert net.backward(Y) == plain.backward(Y)
    for l in range(len(sizes) - 1):
        np.testing.assert_array_equal(net.grads.W[l], plain.grads.weights[l])
        np.testing.assert_array_equal(net.grads.B[l], plain.grads.biases[l])


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_agrees_with_pytorch_autograd(loss: str) -> None:
    """An independent TabM in PyTorch, in its own batch-first ``(m, K, n)`` layout."""
    torch = pytest.importorskip("torch", reason="PyTorch (the optional bench extra) not installed")
    X, Y, n_out = problem(loss, m=9, seed=5)
    net = ensemble(loss, "relu", n_out, k=4, seed=2)
    lmbda, m, k = 0.2, X.shape[1], net.k
    net.forward(X)
    ours_total = net.backward(Y, lmbda)
    tensors = {name: torch.tensor(a, requires_grad=True) for name, a in net.params.named().items()}
    h = torch.tensor(X.T)[:, None, :].expand(m, k, X.shape[0])  # every member sees x
    layers = len(net.params.W)
    for l in range(1, layers + 1):
        W, R, S, B = (tensors[f"{name}{l}"] for name in "WRSB")
        h = (h * R.T) @ W.T * S.T + B.T  # (m, K, n[l])
        if l < layers:
            h = torch.relu(h)
    if loss == "mse":
        data = ((h - torch.tensor(Y.T)[:, None, :]) ** 2).sum() / (2 * m * k)
    else:
        labels = torch.tensor(np.argmax(Y, axis=0)).repeat_interleave(k)
        data = torch.nn.functional.cross_entropy(h.reshape(m * k, n_out), labels)
    penalty = lmbda / (2 * m) * sum((tensors[f"W{l}"] ** 2).sum() for l in range(1, layers + 1))
    (data + penalty).backward()
    assert ours_total / m == pytest.approx((data + penalty).item(), rel=1e-12)
    for name, array in net.grads.named().items():
        np.testing.assert_allclose(array, tensors[name].grad.numpy(), rtol=1e-9, atol=1e-12)


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
    from nnscratch.models.regressor import MLPRegressor

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
