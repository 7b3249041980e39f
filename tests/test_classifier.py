"""MLPClassifier: scikit-learn compatible, any label type, probabilities, files, threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_model import FULL_BATCH, float32_rounding_failures
from test_threads import hammer

from nnscratch import MLPClassifier
from nnscratch.errors import ModelFileError
from nnscratch.models.regressor import MLPRegressor


@parametrize_with_checks(
    [
        MLPClassifier(epochs=30, dtype="float64"),
        MLPClassifier(epochs=30, dtype="float32"),
        MLPClassifier(epochs=300, learning_rate=1e-2, **FULL_BATCH),
    ],
    expected_failed_checks=float32_rounding_failures,
)
def test_scikit_learn_estimator_checks(estimator, check) -> None:
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0)


def test_digits_accuracy_and_probabilities(digits) -> None:
    X_train, X_test, y_train, y_test = digits
    model = MLPClassifier(random_state=0).fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.94
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(X_test), model.classes_[proba.argmax(axis=1)])
    assert model.validation_accuracy_curve_ and max(model.validation_accuracy_curve_) > 0.9


@pytest.mark.parametrize(
    "labels",
    [np.array(["cat", "dog", "emu"]), np.array([-1, 5, 9]), np.array([1.0, 2.0, 4.0])],
    ids=["strings", "ints", "floats"],
)
def test_any_label_type_round_trips_through_a_file(labels, digits, tmp_path: Path) -> None:
    X_train, X_test, y_train, _ = digits
    y = labels[y_train % 3]
    model = MLPClassifier(epochs=5, random_state=0).fit(X_train, y)
    assert list(model.classes_) == sorted(labels)
    loaded = MLPClassifier.load(model.save(tmp_path / "clf.npz"))
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.classes_.dtype.kind == model.classes_.dtype.kind
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))


def test_binary_uses_one_sigmoid_output(digits) -> None:
    X_train, X_test, y_train, y_test = digits
    model = MLPClassifier(random_state=0).fit(X_train, y_train >= 5)
    assert model.n_outputs_ == 1 and model.network_.output.name == "sigmoid"
    assert model.network_.loss_function.name == "binary_cross_entropy"
    assert model.predict_proba(X_test).shape == (len(X_test), 2)
    assert model.score(X_test, y_test >= 5) > 0.9


def test_partial_fit_needs_classes_first_and_then_learns(digits) -> None:
    X_train, X_test, y_train, y_test = digits
    model = MLPClassifier(random_state=0, learning_rate=3e-3)
    with pytest.raises(ValueError, match="classes must be passed"):
        model.partial_fit(X_train[:50], y_train[:50])
    model.partial_fit(X_train[:50], y_train[:50], classes=np.arange(10))
    assert list(model.classes_) == list(range(10))
    for _ in range(15):
        model.partial_fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.9


def test_ensemble_and_grid_search(digits) -> None:
    X_train, X_test, y_train, y_test = digits
    ensemble = MLPClassifier(n_members=3, epochs=40, random_state=0).fit(X_train, y_train)
    assert len(ensemble.networks_) == 3 and ensemble.score(X_test, y_test) > 0.94
    search = GridSearchCV(
        MLPClassifier(epochs=15, random_state=0), {"learning_rate": [1e-3, 3e-3]}, cv=2
    ).fit(X_train, y_train)
    assert search.best_score_ > 0.85


def test_predict_from_many_threads(digits) -> None:
    X_train, X_test, y_train, _ = digits
    model = MLPClassifier(epochs=5, n_members=2, random_state=0).fit(X_train, y_train)
    sizes = [1, 7, 40, 100] * 8
    cases = [X_test[i : i + n] for i, n in zip(range(0, 400, 13), sizes, strict=False)]
    assert hammer(model.predict_proba, cases) == 0


def test_files_know_which_estimator_wrote_them(digits, tmp_path: Path) -> None:
    X_train, _, y_train, _ = digits
    path = MLPClassifier(epochs=2, random_state=0).fit(X_train, y_train).save(tmp_path / "c.npz")
    with pytest.raises(ModelFileError, match="holds an MLPClassifier; load it with MLPClassifier"):
        MLPRegressor.load(path)


def test_labels_outside_the_classes_are_refused(digits) -> None:
    X_train, _, y_train, _ = digits
    model = MLPClassifier(epochs=2, random_state=0)
    model.partial_fit(X_train[:20], y_train[:20] % 3, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"labels \[7\] are not among the classes"):
        model.partial_fit(X_train[:5], np.full(5, 7))


@pytest.mark.parametrize("scoring", ["loss", "accuracy"])
def test_early_stopping_restores_the_epoch_best_by_its_scoring(scoring, digits) -> None:
    X_train, X_val, y_train, y_val = digits
    model = MLPClassifier(
        hidden_layer_sizes=(64,), learning_rate=0.01, patience=3, scoring=scoring, random_state=0
    ).fit(X_train, y_train, eval_set=(X_val, y_val))
    best = model.best_epoch_
    assert model.history_.stopped_early and best < model.n_epochs_ - 1
    accuracy, loss = model.validation_accuracy_curve_, model.validation_loss_curve_
    if scoring == "loss":
        assert loss[best] == min(loss)
    else:  # the first epoch to reach the highest accuracy (a tie is no improvement)
        assert accuracy.index(max(accuracy)) == best
    # the weights kept are that epoch's
    assert model.score(X_val, y_val) == pytest.approx(accuracy[best], abs=1e-12)


def test_scoring_is_validated(digits) -> None:
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="scoring must be 'loss' or 'accuracy', got 'f1'"):
        MLPClassifier(scoring="f1").fit(X_train, y_train)


def test_augment_trains_on_distorted_batches_reproducibly(digits) -> None:
    X_train, X_test, y_train, y_test = digits
    base = dict(
        hidden_layer_sizes=(64,),
        epochs=15,
        learning_rate=0.01,
        early_stopping=False,
        random_state=0,
    )
    plain = MLPClassifier(**base).fit(X_train, y_train)
    shifted = [MLPClassifier(**base, augment="shift").fit(X_train, y_train) for _ in range(2)]
    np.testing.assert_array_equal(shifted[0].weights_[0], shifted[1].weights_[0])
    assert not np.array_equal(plain.weights_[0], shifted[0].weights_[0])
    assert shifted[0].score(X_test, y_test) > 0.8  # still learns the digits
    # the distorted batches are harder to fit than the images as they are
    assert shifted[0].history_.train_loss[-1] > plain.history_.train_loss[-1]
    loaded = MLPClassifier.from_arrays(*shifted[0].to_arrays())
    assert loaded.get_params()["augment"] == "shift"


def test_augment_names_the_shape_it_needs(digits) -> None:
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="augment must be one of none, shift, affine, elastic"):
        MLPClassifier(augment="rotate", epochs=1).fit(X_train, y_train)
    with pytest.raises(ValueError, match="60 features are not a square image"):
        MLPClassifier(augment="shift", epochs=1).fit(X_train[:, :60], y_train)
    with pytest.raises(ValueError, match=r"image_shape \(4, 4\) has 16 pixels, but X has 64"):
        MLPClassifier(augment="affine", image_shape=(4, 4), epochs=1).fit(X_train, y_train)
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\]; X holds values from 0 to 16"):
        MLPClassifier(augment="shift", epochs=1).fit(X_train * 16, y_train)
    fitted = MLPClassifier(augment="elastic", image_shape=(8, 8), epochs=1, random_state=0)
    assert fitted.fit(X_train, y_train).n_features_in_ == 64
