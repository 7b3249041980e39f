"""Task: images of handwritten digits (Part 2) — MNIST's IDX files, scikit-learn's
bundled 8×8 digits, or an ``.npz`` of ``X`` and ``y`` — classified with softmax and
cross-entropy, scored by accuracy, macro-F1 and log-loss."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from nnscratch.core.network import to_network_layout
from nnscratch.data.augment import AUGMENTATIONS
from nnscratch.data.images import DigitImages, is_image_source, load_images
from nnscratch.errors import DataError
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.digit_model import TTA_SHIFTS, DigitModel
from nnscratch.models.metrics import (
    ACCURACY,
    CLASSIFICATION_METRICS,
    Results,
    most_probable,
    scores_by_split,
)
from nnscratch.models.recipes import DIGITS_PRESETS, Recipe
from nnscratch.tasks.base import (
    Fold,
    NetworkSplits,
    Say,
    Task,
    digest,
    one_hot_columns,
    quiet,
)
from nnscratch.tasks.baselines import classification_baselines
from nnscratch.tasks.classification import classification_figures
from nnscratch.tasks.plots import misclassified_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Training images held out for validation (early stopping, curves): MNIST's usual 5,000.
VALIDATION_IMAGES = 5000
BUNDLED = "scikit-learn's bundled 8×8 digits"

#: The layer widths ``tune`` tries on images, by the name a trial records.
DIGITS_WIDTHS: dict[str, tuple[int, ...]] = {
    "-".join(map(str, w)): w for w in [(128,), (256, 128), (512, 256), (512, 256, 128)]
}


def suggest_digits(trial: Any) -> dict[str, Any]:
    """What ``tune`` searches on images, drawn for an Optuna ``trial`` as recipe overrides."""
    return {
        "hidden": DIGITS_WIDTHS[trial.suggest_categorical("hidden", list(DIGITS_WIDTHS))],
        "learning_rate": trial.suggest_float("learning_rate", 3e-4, 3e-3, log=True),
        "weight_decay": trial.suggest_categorical("weight_decay", [0.0, 1e-5, 1e-4]),
        "dropout": trial.suggest_categorical("dropout", [0.0, 0.1, 0.2, 0.3]),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
        "n_members": trial.suggest_categorical("members", [1, 2]),
    }


def training_sample(n: int, seed: int, max_rows: int | None) -> np.ndarray:
    """Positions of a seeded sample of ``max_rows`` of ``n`` training images, in order
    (``--max-rows``); all ``n`` where ``max_rows`` is None or not smaller."""
    if max_rows is None or max_rows >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).permutation(n)[:max_rows])


def holdout_split(
    n: int, seed: int, first_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation positions among ``n`` training images: a seeded
    :data:`VALIDATION_IMAGES` (at most a tenth) held out. With ``first_rows`` (the
    seed's classifier) training is the first that many images, validation drawn from
    the rest where there are enough."""
    n_val = min(VALIDATION_IMAGES, max(1, n // 10))
    rng = np.random.default_rng(seed)
    if first_rows is not None and first_rows + n_val <= n:
        return np.arange(first_rows), np.sort(first_rows + rng.permutation(n - first_rows)[:n_val])
    order = rng.permutation(n)
    train = np.sort(order[n_val:])
    return (train if first_rows is None else train[:first_rows]), np.sort(order[:n_val])


def choose_tta(
    model: DigitModel, tta: str, X_val: np.ndarray, y_val: np.ndarray, say: Say = quiet
) -> bool:
    """Whether ``model`` averages over shifted copies: ``tta`` "on", "off", or "auto": on
    only where it classifies more validation images correctly than the images alone."""
    if tta in ("on", "off") or len(y_val) == 0:
        return tta == "on"
    right = [int((replace(model, tta=tta).predict(X_val) == y_val).sum()) for tta in (False, True)]
    pays = right[1] > right[0]
    say(
        f"test-time augmentation ({len(TTA_SHIFTS)} shifted copies): {right[0]:,} → "
        f"{right[1]:,} of {len(y_val):,} validation images right: {'on' if pays else 'off'}"
    )
    return pays


@dataclass
class DigitData:
    """The images, which training images train and which validate, the report."""

    images: DigitImages
    train: np.ndarray
    val: np.ndarray
    seed: int
    #: how many training images ``--max-rows`` drew (a seeded sample); None: all of them
    sample: int | None = None
    #: the model that last reported on the test images, and its probabilities there
    #: (``results`` computes them, ``figures`` draws them: five passes each with TTA)
    scored: tuple[DigitModel, np.ndarray] | None = field(default=None, repr=False)

    @property
    def source(self) -> str:
        return self.images.source

    @property
    def X_train(self) -> np.ndarray:
        return self.images.X_train[self.train]

    @property
    def y_train(self) -> np.ndarray:
        return self.images.y_train[self.train]

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``(X, y)`` of the validation and test splits."""
        images = self.images
        return {
            "validation": (images.X_train[self.val], images.y_train[self.val]),
            "test": (images.X_test, images.y_test),
        }

    def fingerprint(self) -> str:
        return digest(self.X_train, self.y_train)

    def report(self) -> list[str]:
        images, seed = self.images, self.seed
        rows, cols = images.image_shape
        where = (
            (" (from the training images)", " (the official test images)")
            if images.source != BUNDLED
            else ("", "")
        )
        lines = [
            f"data: {images.source}",
            f"  {len(images.y_train):,} training and {len(images.y_test):,} test images of "
            f"{rows}×{cols} pixels, scaled to [0, 1]; classes "
            f"{', '.join(map(str, np.unique(images.y_train)))}",
        ]
        if self.sample is not None:
            lines.append(f"  a seeded sample of {self.sample:,} training images (--max-rows)")
        lines.append(
            f"  split (seed {seed}): train {len(self.train):,}, validation {len(self.val):,}"
            f"{where[0]}, test {len(images.y_test):,}{where[1]}"
        )
        return lines

    def record(self) -> dict[str, Any]:
        return {
            "data": {
                "source": self.images.source,
                "image_shape": list(self.images.image_shape),
                "splits": {
                    "train": len(self.train),
                    "validation": len(self.val),
                    "test": len(self.images.y_test),
                },
                "seed": self.seed,
                **({"training_sample": self.sample} if self.sample is not None else {}),
            }
        }


class Digits(Task):
    """Classify images of digits."""

    name = "digits"
    summary = "images of digits (an MNIST folder, 'digits', or an .npz)"
    presets = DIGITS_PRESETS
    metric = ACCURACY
    model_type = DigitModel

    def __init__(self, target: str | None = None, keep_inputs: tuple[str, ...] = ()) -> None:
        if target:
            raise DataError("images have no columns; drop --target")
        super().__init__(None, keep_inputs)

    @classmethod
    def accepts(cls, source: str | None, requested: str | None) -> bool:
        return is_image_source(source) and requested in (None, cls.name, "classification")

    @classmethod
    def owns_model(cls, metadata: dict[str, Any]) -> bool:
        return metadata.get("task") == cls.name or "images" in metadata

    def check(self, recipe: Recipe) -> None:
        if recipe.augment not in AUGMENTATIONS:
            raise DataError(
                f"augment must be one of {', '.join(AUGMENTATIONS)}, got {recipe.augment!r}"
            )
        if recipe.tta not in ("auto", "on", "off"):
            raise DataError(f"tta must be 'auto', 'on' or 'off', got {recipe.tta!r}")

    def load(
        self, source: str | None, recipe: Recipe, seed: int, *, budget: Any = None
    ) -> DigitData:
        """The images in memory (``budget`` is not consulted: MNIST is 190 MB)."""
        images = load_images(str(source), seed)
        n = len(images.y_train)
        sample = training_sample(n, seed, recipe.max_rows)
        train, val = holdout_split(len(sample), seed, recipe.first_rows)
        drawn = len(sample) if len(sample) < n else None
        return DigitData(images, sample[train], sample[val], seed, sample=drawn)

    @staticmethod
    def estimator(
        data: DigitData, recipe: Recipe, seed: int, verbose: bool = False
    ) -> MLPClassifier:
        """The recipe's unfitted classifier for ``data``'s images (augmentation's shape)."""
        estimator = recipe.build_classifier(seed, verbose=verbose)
        return estimator.set_params(image_shape=data.images.image_shape)

    def fit(
        self, data: DigitData, recipe: Recipe, seed: int, *, say: Say = quiet, **fit_kwargs: Any
    ) -> DigitModel:
        verbose = bool(fit_kwargs.pop("verbose", False))
        estimator = self.estimator(data, recipe, seed, verbose)
        rows, cols = data.images.image_shape
        n_classes = len(np.unique(data.images.y_train))
        sizes = [rows * cols, *recipe.hidden, n_classes if n_classes > 2 else 1]
        say(
            "network: " + " → ".join(map(str, sizes)) + f", hidden {recipe.activation}, output "
            f"{'softmax' if n_classes > 2 else 'sigmoid'}, {recipe.init} init, {recipe.dtype}"
            + (f", dropout {recipe.dropout:g}" if recipe.dropout else "")
        )
        if recipe.n_members > 1:
            say(f"  an ensemble of {recipe.n_members} such networks, probabilities averaged")
        if recipe.augment != "none":
            say(f"  each training batch augmented afresh: {recipe.augment}")
        validation = data.splits()["validation"]
        estimator.fit(data.X_train, data.y_train, eval_set=validation, **fit_kwargs)
        model = DigitModel(estimator, data.images.image_shape)
        model.tta = choose_tta(model, recipe.tta, *validation, say)
        return model

    def results(self, model: DigitModel, data: DigitData, seed: int) -> Results:
        """The network, the majority class and LogisticRegression."""
        splits = data.splits()
        proba = {s: model.predict_proba(X) for s, (X, _) in splits.items()}
        data.scored = (model, proba["test"])
        classes = np.unique(data.images.y_train)
        rows = {model.estimator.display_name(): scores_by_split(splits, proba, classes)}
        rows |= classification_baselines((data.X_train, data.y_train), splits, classes, seed)
        return Results(f"results on {data.source}", CLASSIFICATION_METRICS, rows)

    def figures(self, model: DigitModel, data: DigitData, results: Results) -> dict[str, Figure]:
        """The curves and confusion matrix, and the first misclassified test images."""
        images, classes = data.images, np.unique(data.images.y_train)
        if data.scored is not None and data.scored[0] is model:
            proba = data.scored[1]
        else:
            proba = model.predict_proba(images.X_test)
        figures = classification_figures(model.history, images.y_test, proba, classes)
        predicted = most_probable(proba, classes)
        wrong = np.flatnonzero(predicted != images.y_test)[:36]
        figures["misclassified.png"] = misclassified_figure(
            images.X_test[wrong].reshape(len(wrong), *images.image_shape),
            images.y_test[wrong],
            predicted[wrong],
            f"misclassified test images (true → predicted), first {len(wrong)} of "
            f"{int((predicted != images.y_test).sum())}",
        )
        return figures

    def search_rows(self, data: DigitData) -> tuple[int, np.ndarray | None]:
        return len(data.train), data.y_train

    def suggest(self, trial: Any) -> dict[str, Any]:
        return suggest_digits(trial)

    def fold_outputs(
        self, data: DigitData, recipe: Recipe, fold: Fold, seed: int, callbacks: Sequence[Any] = ()
    ) -> np.ndarray:
        """Class probabilities of the held-out images (no test-time augmentation)."""
        X, y = data.X_train, data.y_train
        estimator = self.estimator(data, recipe, seed)
        estimator.fit(
            X[fold.train],
            y[fold.train],
            eval_set=(X[fold.early_stopping], y[fold.early_stopping]),
            callbacks=tuple(callbacks),
        )
        return estimator.predict_proba(X[fold.held_out])

    def outputs_score(self, data: DigitData, outputs: np.ndarray, rows: np.ndarray) -> float:
        """Accuracy of the most probable digits."""
        y = data.y_train
        return float(np.mean(most_probable(outputs, np.unique(y)) == y[rows]))

    def test_score(self, model: DigitModel, data: DigitData) -> float:
        """Accuracy on the test images (with the model's test-time augmentation, if any)."""
        return float((model.predict(data.images.X_test) == data.images.y_test).mean())

    def lab_splits(self, source: str | None, seed: int, max_rows: int | None) -> NetworkSplits:
        """The training images (a seeded ``max_rows`` of them) less a validation hold-out,
        and the test images; one-hot targets."""
        images = load_images(str(source), seed)
        name = images.source
        keep = training_sample(len(images.y_train), seed, max_rows)
        if len(keep) < len(images.y_train):
            images.X_train, images.y_train = images.X_train[keep], images.y_train[keep]
            name += f", {max_rows:,}-image sample"
        train, val = holdout_split(len(images.y_train), seed)
        classes = np.unique(images.y_train)
        parts = {
            "train": (images.X_train[train], images.y_train[train]),
            "val": (images.X_train[val], images.y_train[val]),
            "test": (images.X_test, images.y_test),
        }
        X = {k: to_network_layout(Xk) for k, (Xk, _) in parts.items()}
        Y = {k: one_hot_columns(y, classes) for k, (_, y) in parts.items()}
        return NetworkSplits(X, Y, True, 1.0, name, images.image_shape)
