"""Stages 4–5: forward pass and backpropagation, proven against finite differences."""

from __future__ import annotations

import ast
from itertools import product
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnscratch.core.activations import ACTIVATIONS
from nnscratch.core.gradcheck import (
    analytic_gradient,
    check_gradient_functions,
    check_gradients,
    max_relative_error,
    network_away_from_kinks,
    numerical_gradient,
)
from nnscratch.core.network import ForwardCache, Network, batch_rows

ACTS = sorted(n for n, a in ACTIVATIONS.items() if a.elementwise)


@pytest.mark.parametrize(("hidden", "output", "lmbda"), list(product(ACTS, ACTS, [0.0, 0.1])))
def test_backprop_matches_finite_differences(hidden: str, output: str, lmbda: float) -> None:
    sizes = [4, 6, 5, 1]
    seed = 10 * ACTS.index(hidden) + ACTS.index(output)
    net, X, Y = network_away_from_kinks(sizes, hidden, output, m=7, seed=seed)
    error = check_gradients(net, X, Y, lmbda)
    assert error < 1e-6, f"{hidden}/{output}/λ={lmbda}: max relative error {error:.2e}"


@pytest.mark.parametrize("sizes", [[3, 1], [2, 8, 1], [5, 4, 4, 4, 4, 3], [13, 64, 32, 16, 1]])
@pytest.mark.parametrize("m", [1, 9])
def test_backprop_any_depth_and_batch(sizes: list[int], m: int) -> None:
    net, X, Y = network_away_from_kinks(sizes, "tanh", "identity", m=m, seed=len(sizes) + m)
    assert check_gradients(net, X, Y, lmbda=0.1) < 1e-6


def test_the_checker_can_fail() -> None:
    """Backprop without its L2 term must be caught."""
    net, X, Y = network_away_from_kinks([4, 6, 5, 1], "relu", "identity", m=7, seed=0)
    lmbda = 0.1
    numeric = numerical_gradient(net, X, Y, lmbda)
    correct = analytic_gradient(net, X, Y, lmbda)
    broken = analytic_gradient(net, X, Y, 0.0)  # drops (λ/m) W
    assert max_relative_error(correct, numeric) < 1e-6
    assert max_relative_error(broken, numeric) > 1e-2
    wrong_sign = correct.copy()
    wrong_sign[net.params.weight_mask == 0] *= -1  # bias gradients flipped
    assert max_relative_error(wrong_sign, numeric) > 1e-2


def test_the_gradient_check_of_plain_functions() -> None:
    """``check_gradient_functions`` on ``f(params) → J`` and ``grad(params) → grads`` (a
    learner's own functions): small for the package's gradients through plain arrays, large
    for a gradient with its L2 term dropped; shapes that differ are named; the parameters
    given are left as they were."""
    net, X, Y = network_away_from_kinks([4, 6, 5, 1], "relu", "identity", m=7, seed=3)
    L, lmbda = 2 + 1, 0.1

    def load(params: list[np.ndarray]) -> None:
        net.params.load_(params[:L], params[L:])

    def f(params: list[np.ndarray]) -> float:
        load(params)
        return net.loss(X, Y, lmbda)

    def grad(params: list[np.ndarray], lam: float = lmbda) -> list[np.ndarray]:
        load(params)
        net.forward(X)
        net.backward(Y, lam)
        return [g.copy() for g in [*net.grads.weights, *net.grads.biases]]

    params = [w.copy() for w in net.params.weights] + [b.copy() for b in net.params.biases]
    before = [p.copy() for p in params]
    assert check_gradient_functions(f, grad, params) < 1e-6
    assert check_gradient_functions(f, lambda ps: grad(ps, 0.0), params) > 1e-2
    assert all(np.array_equal(a, b) for a, b in zip(params, before, strict=True))
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(4, 6\); its parameter has"):
        check_gradient_functions(f, lambda ps: [g.T for g in grad(ps)], params)


def test_forward_by_hand() -> None:
    net = Network([2, 2, 1], "relu", "identity", dtype=np.float64)
    net.params.load_(
        [np.array([[1.0, -1.0], [2.0, 0.5]]), np.array([[3.0, -2.0]])],
        [np.array([[0.5], [-1.0]]), np.array([[0.25]])],
    )
    X = np.array([[1.0, 0.0], [2.0, 4.0]])  # two samples, as columns
    # Z1 = W1 X + b1 = [[-1+0.5, -4+0.5], [3-1, 2-1]] = [[-0.5, -3.5], [2, 1]]
    # A1 = relu(Z1) = [[0, 0], [2, 1]];  Ŷ = [3, -2] A1 + 0.25 = [-3.75, -1.75]
    np.testing.assert_allclose(net.forward(X), [[-3.75, -1.75]])
    cache = net.cache_for(2)
    np.testing.assert_allclose(cache.A[1], [[0, 0], [2, 1]])
    np.testing.assert_array_equal(cache.scratch[1], [[0, 0], [1, 1]])  # ReLU mask [Z1 > 0]
    # J with λ=0: 1/(2·2)·((−3.75−1)² + (−1.75−0)²) = (22.5625 + 3.0625)/4
    assert net.loss(X, np.array([[1.0, 0.0]])) == pytest.approx(25.625 / 4)
    relu_out = Network([2, 2, 1], "relu", "relu", dtype=np.float64)
    relu_out.params.flat[...] = net.params.flat
    np.testing.assert_array_equal(relu_out.forward(X), [[0.0, 0.0]])  # the seed's ReLU output


@pytest.mark.parametrize("hidden", ["relu", "leaky_relu", "tanh", "sigmoid"])
def test_predict_in_chunks_equals_one_pass(hidden: str) -> None:
    # forward() keeps what backward needs; predict() runs the prediction forms
    net = Network([13, 64, 32, 16, 1], hidden, dtype=np.float64, rng=3)
    X = np.random.default_rng(0).random((13, 1001)) - 0.5
    whole = net.forward(X).copy()
    np.testing.assert_allclose(net.predict(X, batch_size=100), whole, rtol=1e-12)
    assert net.predict(X).shape == (1, 1001)


def test_input_checks_and_dtype() -> None:
    net = Network([3, 4, 1], dtype=np.float32)
    with pytest.raises(ValueError, match=r"expected input of shape \(3, m\)"):
        net.forward(np.zeros((4, 3), dtype=np.float32))
    out = net.predict(np.ones((3, 5)))  # float64 input is cast at the door
    assert out.dtype == np.float32
    with pytest.raises(RuntimeError, match="forward"):
        Network([3, 1]).backward(np.zeros((1, 1)))


@pytest.mark.parametrize("lmbda", [0.0, 0.3])
def test_backward_returns_m_times_the_objective(lmbda: float) -> None:
    net = Network([5, 7, 3, 2], dtype=np.float64, rng=2)
    rng = np.random.default_rng(3)
    X, Y = rng.random((5, 11)), rng.random((2, 11))
    J = net.loss(X, Y, lmbda)  # 1/(2m) Σ(ŷ-y)² + λ/(2m) Σ‖W‖², computed separately
    net.forward(X)
    assert net.backward(Y, lmbda) == pytest.approx(11 * J, rel=1e-12)


def classification_problem(
    sizes: list[int], hidden: str, seed: int, m: int = 9
) -> tuple[Network, np.ndarray, np.ndarray]:
    """A float64 classifier away from hidden kinks; one-hot targets, or 0/1 for one output."""
    K = sizes[-1]
    output, loss = ("sigmoid", "binary_cross_entropy") if K == 1 else ("softmax", "cross_entropy")
    base, X, _ = network_away_from_kinks(sizes, hidden, "identity", m=m, seed=seed)
    net = Network(sizes, hidden, output, loss=loss, dtype=np.float64, rng=0)
    net.params.flat[...] = base.params.flat
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, max(K, 2), size=m)
    Y = labels[None, :].astype(np.float64) if K == 1 else np.eye(K)[:, labels]
    return net, X, Y


@pytest.mark.parametrize(("hidden", "classes", "lmbda"), list(product(ACTS, [1, 4], [0.0, 0.1])))
def test_classification_backprop_matches_finite_differences(
    hidden: str, classes: int, lmbda: float
) -> None:
    """Softmax + cross-entropy (4 classes) and sigmoid + binary cross-entropy (1 output)."""
    net, X, Y = classification_problem([4, 6, 5, classes], hidden, seed=ACTS.index(hidden))
    error = check_gradients(net, X, Y, lmbda)
    assert error < 1e-6, f"{hidden}/{classes} classes/λ={lmbda}: max relative error {error:.2e}"


def test_classification_losses_need_their_output_activation() -> None:
    with pytest.raises(ValueError, match="cross_entropy loss goes with a softmax output"):
        Network([3, 4, 2], "relu", "identity", loss="cross_entropy")
    with pytest.raises(ValueError, match="output activation, not a hidden one"):
        Network([3, 4, 2], "softmax", "softmax", loss="cross_entropy")


def test_cross_entropy_returns_m_times_the_objective_and_stays_finite() -> None:
    net, X, Y = classification_problem([4, 6, 3], "tanh", seed=1, m=11)
    J = net.loss(X, Y, 0.2)
    net.forward(X)
    assert net.backward(Y, 0.2) == pytest.approx(11 * J, rel=1e-12)
    net.params.weights[-1][...] *= 1e6  # logits of about ±1e6: probabilities of exactly 0
    net.forward(X)
    assert np.isfinite(net.backward(Y)) and np.isfinite(net.grads.flat).all()


def test_cross_entropy_agrees_with_pytorch() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch (the optional bench extra) not installed")
    net, X, Y = classification_problem([5, 7, 4], "relu", seed=3, m=12)
    lmbda = 0.2
    analytic_gradient(net, X, Y, lmbda)
    ours = np.concatenate([g.ravel() for g in net.grads.weights + net.grads.biases])
    Ws = [torch.tensor(W, requires_grad=True) for W in net.params.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.params.biases]
    Z1 = torch.relu(Ws[0] @ torch.tensor(X) + bs[0])
    logits = Ws[1] @ Z1 + bs[1]  # (classes, m)
    target = torch.tensor(np.argmax(Y, axis=0))
    loss = torch.nn.functional.cross_entropy(logits.T, target)
    loss = loss + lmbda / (2 * 12) * sum((W**2).sum() for W in Ws)
    loss.backward()
    theirs = np.concatenate([t.grad.numpy().ravel() for t in Ws + bs])
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert net.loss(X, Y, lmbda) == pytest.approx(loss.item(), rel=1e-12)


def test_float32_hot_path_stays_float32() -> None:
    net = Network([13, 8, 1], dtype=np.float32, rng=0)
    X = np.random.default_rng(0).random((13, 16)).astype(np.float32)
    net.forward(X)
    net.backward(np.zeros((1, 16), dtype=np.float32), lmbda=0.1)
    cache = net.cache_for(16)
    arrays = [*cache.A1, *cache.A[1:], *cache.dZ[1:], *cache.scratch[1:], net.grads.flat]
    assert all(a.dtype == np.float32 for a in arrays)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_agrees_with_scikit_learn_on_the_same_weights() -> None:
    """An independent implementation: scikit-learn's MLPRegressor with our weights loaded."""
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    net = Network([13, 64, 32, 16, 1], dtype=np.float64, rng=1)
    for b in net.params.biases:
        b[...] = rng.normal(0, 0.1, size=b.shape)
    X_rows = rng.random((50, 13))
    oracle = MLPRegressor(hidden_layer_sizes=(64, 32, 16), max_iter=1)
    oracle.fit(X_rows, rng.random(50))  # sets up the structure; weights are replaced
    oracle.coefs_ = [W.T.copy() for W in net.params.weights]  # scikit-learn is (n_in, n_out)
    oracle.intercepts_ = [b.ravel().copy() for b in net.params.biases]
    ours = net.predict(np.ascontiguousarray(X_rows.T)).ravel()
    np.testing.assert_allclose(ours, oracle.predict(X_rows), rtol=1e-10, atol=1e-12)


def test_agrees_with_pytorch_autograd() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch (the optional bench extra) not installed")
    rng = np.random.default_rng(0)
    net = Network([13, 16, 8, 1], "tanh", "identity", dtype=np.float64, rng=2)
    X = rng.random((13, 20))
    Y = rng.random((1, 20))
    lmbda, m = 0.3, 20
    analytic_gradient(net, X, Y, lmbda)
    ours = np.concatenate([g.ravel() for g in net.grads.weights + net.grads.biases])
    Ws = [torch.tensor(W, requires_grad=True) for W in net.params.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.params.biases]
    A = torch.tensor(X)
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        A = W @ A + b
        A = torch.tanh(A) if i < len(Ws) - 1 else A
    penalty = lmbda / (2 * m) * sum((W**2).sum() for W in Ws)
    J = ((A - torch.tensor(Y)) ** 2).sum() / (2 * m) + penalty
    J.backward()
    theirs = np.concatenate([t.grad.numpy().ravel() for t in Ws + bs])
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_no_autograd_or_framework_under_src() -> None:
    forbidden = {"torch", "tensorflow", "jax", "autograd", "keras", "mxnet", "chainer"}
    src = Path(__file__).resolve().parents[1] / "src"
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path}: imports {name}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parallel_batched_prediction_matches_one_batch(dtype: type) -> None:
    net = Network([13, 64, 32, 16, 1], dtype=dtype, rng=4)
    rows = np.random.default_rng(1).random((10_000, 13))
    single = net.predict(np.ascontiguousarray(rows.T), batch_size=10_000, n_threads=1)
    threaded = net.predict_samples(rows, batch_size=512, n_threads=3)
    serial = net.predict_samples(rows, batch_size=512, n_threads=1)
    assert threaded.shape == (1, 10_000) and threaded.dtype == dtype
    np.testing.assert_array_equal(threaded, serial)  # same batches → same bits, any thread
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(threaded, single, rtol=tolerance, atol=tolerance)
    with pytest.raises(ValueError, match=r"expected X of shape \(m, 13\)"):
        net.predict_samples(rows[:, :5])


@given(
    n_rows=st.integers(1, 70),
    m=st.integers(1, 5000),
    dtype=st.sampled_from([np.float32, np.float64]),
    ones=st.booleans(),
)
def test_padded_rows_start_an_odd_number_of_cache_lines_apart(
    n_rows: int, m: int, dtype: type, ones: bool
) -> None:
    padded = batch_rows(n_rows, m, np.dtype(dtype), ones=ones)
    assert padded.shape == (n_rows, m) and padded.dtype == dtype
    lines, remainder = divmod(padded.strides[0], 64)
    assert remainder == 0 and lines % 2 == 1
    assert padded.strides[0] < (m + 2 * 64) * padded.itemsize  # at most two lines wasted
    if ones:
        assert (padded == 1).all()
    packed = batch_rows(n_rows, m, np.dtype(dtype), pad=False)
    assert packed.shape == (n_rows, m) and packed.flags.c_contiguous


def test_prediction_buffers_are_padded_and_training_buffers_packed() -> None:
    params = Network([13, 64, 32, 16, 1]).params
    predicting = ForwardCache.allocate(params, 2048, training=False)
    training = ForwardCache.allocate(params, 2048)
    assert predicting.A1[1].strides[0] == (2048 + 16) * 4  # 8 KiB + one cache line
    assert all(a.flags.c_contiguous for a in [*training.A1, *training.dZ[1:]])
    assert predicting.dZ == [] and not predicting.zeros[1].flags.writeable
    assert (predicting.zeros[1] == 0).all() and predicting.zeros[1].shape == (64, 2048)


# --------------------------------------------------------------------------- dropout


def fixed_masks(sizes: list[int], rates: tuple[float, ...], m: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [(rng.random((n, m)) >= p) / (1 - p) for n, p in zip(sizes[1:-1], rates, strict=True)]


@pytest.mark.parametrize("hidden", ACTS)
@pytest.mark.parametrize("lmbda", [0.0, 0.1])
def test_dropout_backprop_matches_finite_differences_with_a_fixed_mask(
    hidden: str, lmbda: float
) -> None:
    sizes, rates = [4, 6, 5, 3], (0.5, 0.2)
    base, X, Y = classification_problem(sizes, hidden, seed=7)
    net = Network(sizes, hidden, "softmax", loss="cross_entropy", dropout=rates, dtype=np.float64)
    net.params.flat[...] = base.params.flat
    masks = fixed_masks(sizes, rates, X.shape[1], seed=1)
    error = check_gradients(net, X, Y, lmbda, masks=masks)
    assert error < 1e-6, f"{hidden}/λ={lmbda}: {error:.2e}"
    # the check can fail: the same gradient against a different mask is far off
    other = fixed_masks(sizes, rates, X.shape[1], seed=2)
    assert (
        max_relative_error(
            analytic_gradient(net, X, Y, lmbda, masks),
            numerical_gradient(net, X, Y, lmbda, masks=other),
        )
        > 1e-2
    )


def test_dropout_masks_come_from_the_seeded_generator_and_keep_the_mean() -> None:
    X = np.ones((20, 4000))
    outs = []
    for _ in range(2):
        net = Network([20, 50, 1], "identity", dropout=0.3, dtype=np.float64, rng=0, dropout_rng=5)
        net.params.weights[0][...] = np.eye(50, 20)
        net.forward(X)
        outs.append(net.cache_for(4000).A[1].copy())
    np.testing.assert_array_equal(outs[0], outs[1])  # same seed, same masks
    kept = outs[0][:20] != 0
    assert abs(kept.mean() - 0.7) < 0.01  # p = 0.3 dropped
    assert abs(outs[0][:20].mean() - 1.0) < 0.02  # inverted: the mean is unchanged
    predicted = net.predict(X)  # prediction never drops
    np.testing.assert_array_equal(predicted, net.predict(X))


@pytest.mark.parametrize("k", [1, 3])
def test_networks_name_their_arrays_and_load_them_back(k: int) -> None:
    """``state_dict`` gives views by the names model files use; ``load_state_dict`` checks
    names and shapes, and a copied state gives the same outputs to the bit."""
    from nnscratch.core.batchensemble import BatchEnsembleNetwork

    def make(seed: int) -> Network | BatchEnsembleNetwork:
        if k == 1:
            return Network([3, 5, 2], rng=seed)
        return BatchEnsembleNetwork([3, 5, 2], k, rng=seed)

    source, target = make(0), make(1)
    names = list(source.state_dict())
    ensemble = [f"{name}{l}" for l in (1, 2) for name in "WRSB"]
    assert names == (["W1", "W2", "b1", "b2"] if k == 1 else ensemble)
    X = np.random.default_rng(2).random((3, 4)).astype(np.float32)
    assert not np.array_equal(source.predict(X), target.predict(X))
    target.load_state_dict({n: a.copy() for n, a in source.state_dict().items()})
    np.testing.assert_array_equal(source.predict(X), target.predict(X))
    source.state_dict()["W1"][...] = 0  # views: writing to one changes the network
    assert not source.state_dict()["W1"].any()
    with pytest.raises(ValueError, match=f"no array '{names[1]}'"):
        target.load_state_dict({"W1": source.state_dict()["W1"]})
    wrong = {n: np.zeros((7, 7)) for n in names}
    with pytest.raises(ValueError, match=r"array 'W1': shape \(7, 7\), expected \(5, 3\)"):
        target.load_state_dict(wrong)
