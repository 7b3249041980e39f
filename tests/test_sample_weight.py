"""Sample and class weights: the weighted loss's gradients, and what a weight means.

The objective is scikit-learn's ``J = (Σ_i w_i ℓ_i + λ/2 Σ‖W‖²) / Σ_i w_i``, so a
weight of 2 is the same as the row given twice, and all-ones weights are no weights.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score
from test_batchensemble import HEADS, ensemble, problem
from test_network import classification_problem

from nnscratch.core.gradcheck import check_gradients, network_away_from_kinks
from nnscratch.models.classifier import MLPClassifier, f1_threshold, most_probable
from nnscratch.models.regressor import MLPRegressor

WEIGHTS = np.array([0.5, 2.0, 1.0, 0.0, 3.0, 1.5, 0.25])


@pytest.mark.parametrize("lmbda", [0.0, 0.1])
@pytest.mark.parametrize("output", ["identity", "relu"])
def test_weighted_squared_error_gradients(output: str, lmbda: float) -> None:
    net, X, Y = network_away_from_kinks([4, 6, 5, 1], "tanh", output, m=7, seed=3)
    assert check_gradients(net, X, Y, lmbda, weights=WEIGHTS) < 1e-6


@pytest.mark.parametrize("classes", [1, 4])
def test_weighted_cross_entropy_gradients(classes: int) -> None:
    net, X, Y = classification_problem([4, 6, 5, classes], "tanh", seed=2)
    weights = np.resize(WEIGHTS, X.shape[1])
    assert check_gradients(net, X, Y, 0.1, weights=weights) < 1e-6


def test_the_weighted_check_can_fail() -> None:
    """Backprop of the unweighted loss against the weighted objective is caught."""
    net, X, Y = network_away_from_kinks([4, 6, 5, 1], "tanh", "identity", m=7, seed=3)
    from nnscratch.core import gradcheck

    analytic = gradcheck.analytic_gradient(net, X, Y, 0.0)  # no weights
    numeric = gradcheck.numerical_gradient(net, X, Y, 0.0, weights=WEIGHTS)
    assert gradcheck.max_relative_error(analytic, numeric) > 1e-2


@pytest.mark.parametrize("loss", sorted(HEADS))
def test_weighted_batchensemble_gradients(loss: str) -> None:
    X, Y, n_out = problem(loss)
    net = ensemble(loss, "tanh", n_out, k=3)
    lmbda, eps = 0.3, 1e-6

    def objective() -> float:
        members = net._forward_members(X)  # (n_out, K, m)
        data = np.mean(
            [net.loss_function.per_sample(members[:, k, :], Y) for k in range(net.k)], axis=0
        )
        squared = sum(float(np.vdot(W, W)) for W in net.params.W)
        return (float(np.dot(WEIGHTS, data)) + 0.5 * lmbda * squared) / WEIGHTS.sum()

    net.forward(X)
    total = net.backward(Y, lmbda, WEIGHTS)
    assert total == pytest.approx(WEIGHTS.sum() * objective(), rel=1e-10)
    analytic = net.grads.flat.copy()
    numeric = np.empty_like(analytic)
    flat = net.params.flat
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = objective()
        flat[i] = keep - eps
        down = objective()
        flat[i] = keep
        numeric[i] = (up - down) / (2 * eps)
    assert np.linalg.norm(analytic - numeric) / np.linalg.norm(analytic + numeric) < 1e-6


def data(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, X @ [1.0, -2.0, 0.5, 0.0] + 0.1 * rng.normal(size=n)


def full_batch(estimator: type, **params: object) -> MLPRegressor:
    """Full-batch gradient descent in float64, no held-out rows: every row counts once."""
    return estimator(
        hidden_layer_sizes=(8,),
        optimizer="gd",
        learning_rate=0.05,
        batch_size=None,
        epochs=40,
        early_stopping=False,
        l2=0.01,
        dtype="float64",
        random_state=0,
        **params,
    )


@pytest.mark.parametrize("k", [1, 3])
def test_weight_two_is_the_row_twice(k: int) -> None:
    X, y = data()
    weights = np.ones(len(y))
    weights[[3, 10, 11]] = 2.0
    twice = np.concatenate([np.arange(len(y)), [3, 10, 11]])
    weighted = full_batch(MLPRegressor, k=k).fit(X, y, sample_weight=weights)
    duplicated = full_batch(MLPRegressor, k=k).fit(X[twice], y[twice])
    np.testing.assert_allclose(weighted.predict(X), duplicated.predict(X), rtol=0, atol=1e-10)
    assert weighted.loss_curve_[-1] == pytest.approx(duplicated.loss_curve_[-1], rel=1e-10)


def test_weights_of_one_are_no_weights_to_the_bit_and_weights_matter() -> None:
    X, y = data()
    plain = MLPRegressor(epochs=5, random_state=0).fit(X, y)
    ones = MLPRegressor(epochs=5, random_state=0).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(plain.predict(X), ones.predict(X))
    skewed = np.where(X[:, 0] > 0, 5.0, 0.2)
    other = MLPRegressor(epochs=5, random_state=0).fit(X, y, sample_weight=skewed)
    assert not np.array_equal(plain.predict(X), other.predict(X))


def test_bad_sample_weights_are_refused() -> None:
    X, y = data()
    with pytest.raises(ValueError, match="sample_weight"):
        MLPRegressor(epochs=1).fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"(?i)negative"):
        MLPRegressor(epochs=1).fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="at least one non-zero"):
        MLPRegressor(epochs=1).fit(X, y, sample_weight=np.zeros(len(y)))


def test_balanced_class_weight_is_scikit_learns_and_moves_the_boundary() -> None:
    """``"balanced"`` gives every class the same total weight: on 10 % positives the
    classifier then finds more of them than unweighted."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    y = (X[:, 0] + 0.8 * rng.normal(size=600) > 1.6).astype(int)
    assert 0.05 < y.mean() < 0.15
    params = {"epochs": 40, "random_state": 0, "early_stopping": False}
    plain = MLPClassifier(**params).fit(X, y)
    balanced = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    as_dict = MLPClassifier(class_weight={0: 1.0, 1: (y == 0).sum() / (y == 1).sum()}, **params)
    recall = [float(np.mean(m.predict(X)[y == 1] == 1)) for m in (plain, balanced)]
    assert recall[1] > recall[0] + 0.2, recall
    proportional = MLPClassifier(**params).fit(
        X, y, sample_weight=np.where(y == 1, (y == 0).sum() / (y == 1).sum(), 1.0)
    )
    np.testing.assert_allclose(  # "balanced" is a constant multiple of these weights
        as_dict.fit(X, y).predict_proba(X), proportional.predict_proba(X), rtol=1e-6
    )


# --------------------------------------------------------------------------- thresholds


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=60).filter(
        lambda rows: len({positive for _, positive in rows}) == 2
    )
)
def test_the_tuned_threshold_is_the_best_cut_for_macro_f1(rows: list[tuple[int, bool]]) -> None:
    """Against brute force: no cut at any of the probabilities scores a higher macro-F1
    (probabilities on a grid of 21 values, so ties occur)."""
    p = np.array([v / 20 for v, _ in rows])
    positive = np.array([flag for _, flag in rows])

    def macro_f1(t: float) -> float:
        return f1_score(positive, p >= t, average="macro", zero_division=0)

    best = max(macro_f1(t) for t in np.unique(p))
    t = f1_threshold(p, positive)
    assert macro_f1(t) == pytest.approx(best, abs=1e-12)
    assert not np.any(p == t) or len(np.unique(p)) == 1 or t == p.min()


def test_threshold_tuned_moves_the_cut_and_survives_a_save(tmp_path) -> None:
    """On 10 % positives with balanced weights, the tuned cut sits above 0.5 and gives a
    macro-F1 at least the plain rule's on the validation rows; the model file keeps it."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    y = (X[:, 0] + 0.8 * rng.normal(size=3000) > 1.6).astype(int)
    X_val, y_val = X[2000:], y[2000:]
    params = dict(hidden_layer_sizes=(16,), epochs=20, random_state=0, class_weight="balanced")
    plain = MLPClassifier(**params).fit(X[:2000], y[:2000], eval_set=(X_val, y_val))
    tuned = MLPClassifier(**params, threshold="tuned").fit(
        X[:2000], y[:2000], eval_set=(X_val, y_val)
    )
    assert plain.threshold_ is None and 0.5 < tuned.threshold_ < 1
    f1 = [f1_score(y_val, m.predict(X_val), average="macro") for m in (plain, tuned)]
    assert f1[1] >= f1[0]
    proba = tuned.predict_proba(X_val)
    assert (tuned.predict(X_val) == most_probable(proba, tuned.classes_, tuned.threshold_)).all()
    tuned.save(tmp_path / "m.npz")
    again = MLPClassifier.load(tmp_path / "m.npz")
    assert again.threshold_ == tuned.threshold_ and (again.predict(X) == tuned.predict(X)).all()
    assert "threshold" in again.display_name()


@pytest.mark.parametrize(
    ("threshold", "message"),
    [(1.5, "threshold must be None, 'tuned' or in"), ("median", "threshold must be None")],
)
def test_a_bad_threshold_is_named(threshold, message) -> None:
    X, y = np.eye(4), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match=message):
        MLPClassifier(threshold=threshold, epochs=1).fit(X, y)


def test_a_threshold_needs_two_classes() -> None:
    X, y = np.tile(np.eye(3), (4, 1)), np.tile([0, 1, 2], 4)
    with pytest.raises(ValueError, match="threshold applies to two classes; the target has 3"):
        MLPClassifier(threshold=0.3, epochs=1, early_stopping=False).fit(X, y)


def test_a_set_threshold_holds_for_partial_fit_too() -> None:
    """A number given as ``threshold`` decides the labels of a model trained by
    ``partial_fit`` only; ``"tuned"`` has nothing to tune on there and keeps the most
    probable class."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(200, 3)), (rng.random(200) < 0.3).astype(int)
    fixed = MLPClassifier(hidden_layer_sizes=(8,), threshold=0.9, random_state=0)
    fixed.partial_fit(X, y, classes=[0, 1])
    proba = fixed.predict_proba(X)
    assert fixed.decision_threshold == 0.9
    assert (fixed.predict(X) == (proba[:, 1] >= 0.9)).all()
    tuned = MLPClassifier(hidden_layer_sizes=(8,), threshold="tuned", random_state=0)
    tuned.partial_fit(X, y, classes=[0, 1])
    assert tuned.decision_threshold is None
    assert (tuned.predict(X) == np.argmax(tuned.predict_proba(X), axis=1)).all()


class CountSteps:
    """A step observer that counts the optimizer's steps."""

    every = 1

    def __init__(self) -> None:
        self.steps = 0

    def on_step(self, view: object) -> None:
        self.steps += 1


@pytest.mark.parametrize("k", [1, 3])
def test_a_batch_of_rows_of_weight_zero_makes_no_update(k: int) -> None:
    """A row of weight 0 is a row absent, so a mini-batch of such rows alone (``Σ w = 0``:
    its ``J = Σ w ℓ / Σ w`` has no value) is no batch: no step, and what the rows hold
    changes no bit of the fit (scikit-learn's SGD makes no update from them either)."""
    X, y = data()
    weights = np.ones(len(y))
    weights[:6] = 0.0
    fits = []
    for seed in (1, 2):  # the weightless rows' values, drawn afresh
        rng = np.random.default_rng(seed)
        X[:6], y[:6] = rng.normal(size=(6, 4)), 100 * rng.normal(size=6)
        steps = CountSteps()
        model = MLPRegressor(
            hidden_layer_sizes=(8,),
            batch_size=1,
            epochs=3,
            l2=0.01,
            k=k,
            early_stopping=False,
            dtype="float64",
            random_state=0,
        )
        model.fit(X, y, sample_weight=weights, callbacks=(steps,))
        assert steps.steps == 3 * (len(y) - 6)
        assert np.all(np.isfinite(model.loss_curve_))
        fits.append(model.network_.params.flat.copy())
    np.testing.assert_array_equal(fits[0], fits[1])
