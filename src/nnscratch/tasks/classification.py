"""Task: class labels in a table (``--task classification --target COLUMN``, e.g.
``explicit``), scored by accuracy, macro-F1 and log-loss."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import confusion_matrix

from nnscratch.core.training import History
from nnscratch.data.preprocessing import PreparedData
from nnscratch.errors import DataError
from nnscratch.models.metrics import (
    ACCURACY,
    CLASSIFICATION_METRICS,
    Results,
    classification_metrics,
    most_probable,
    scores_by_split,
)
from nnscratch.models.table_classifier import TabularClassifier
from nnscratch.tasks.base import one_hot_columns
from nnscratch.tasks.baselines import (
    categorical_codes,
    classification_baselines,
    on_one_openmp_thread,
)
from nnscratch.tasks.importance import Scorer
from nnscratch.tasks.plots import accuracy_curve_figure, confusion_matrix_figure
from nnscratch.tasks.table import TableData, TableTask

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class TableClassification(TableTask):
    """Classify a table's rows by a column of labels (numbers, booleans or text)."""

    name = "classification"
    summary = "class labels in a table (--target COLUMN)"
    metric = ACCURACY
    model_type = TabularClassifier
    prepare_as = "classification"

    def __init__(self, target: str | None = None, keep_inputs: tuple[str, ...] = ()) -> None:
        if not target:
            raise DataError("--task classification needs --target COLUMN (the column of labels)")
        super().__init__(target, keep_inputs)

    @classmethod
    def accepts(cls, source: str | None, requested: str | None) -> bool:
        return requested == cls.name

    @classmethod
    def owns_model(cls, metadata: dict[str, Any]) -> bool:
        """Files before the ``"task"`` entry: a classifier with no image shape."""
        if "task" in metadata:
            return metadata["task"] == cls.name
        return "images" not in metadata and metadata.get("estimator") == "MLPClassifier"

    @property
    def target_column(self) -> str:
        return str(self.target)

    def target_lines(self, data: PreparedData) -> list[str]:
        counts = pd.Series(data.y_train).value_counts()
        return [
            f"  target {data.target_name or data.target!r}: {len(counts)} classes in the "
            "training split ("
            + ", ".join(f"{c}: {n:,}" for c, n in list(counts.items())[:10])
            + (", …" if len(counts) > 10 else "")
            + ")"
        ]

    def output_layer(self, data: PreparedData) -> tuple[int, str | None]:
        n_classes = len(pd.unique(data.y_train))
        return (n_classes, "softmax") if n_classes > 2 else (1, "sigmoid")

    def results(self, model: TabularClassifier, data: TableData, seed: int) -> Results:
        """The network, the majority class and LogisticRegression."""
        d = data.prepared
        splits = _splits(d)
        proba = {s: model.predict_proba_scaled(X) for s, (X, _) in splits.items()}
        classes = np.unique(d.y_train)
        rows = {
            model.estimator.display_name(): scores_by_split(splits, proba, classes, model.threshold)
        }
        rows |= classification_baselines((d.X_train, d.y_train), splits, classes, seed)
        rows |= gradient_boosting_classifier(d, splits, classes, seed)
        label = d.target_name or d.target
        results = Results(f"{label} on {data.source}", CLASSIFICATION_METRICS, rows)
        return self.with_importance(results, model, data)

    def importance_score(self, model: TabularClassifier, data: PreparedData) -> Scorer:
        """Log-loss on the validation split (it moves even where accuracy does not)."""
        classes = model.classes_

        def loss(proba: np.ndarray, rows: np.ndarray) -> float:
            return classification_metrics(data.y_val[rows], proba, classes)["log_loss"]

        return Scorer(model.predict_proba_scaled, loss, "log-loss", higher_is_better=False)

    def figures(
        self, model: TabularClassifier, data: TableData, results: Results
    ) -> dict[str, Figure]:
        d = data.prepared
        proba = model.predict_proba_scaled(d.X_test) if len(d.y_test) else None
        figures = classification_figures(
            model.history, d.y_test, proba, np.unique(d.y_train), model.threshold
        )
        return figures | self.importance_figures(results, data)

    def test_score(self, model: TabularClassifier, data: TableData) -> float:
        """Accuracy on the test split."""
        d = data.prepared
        predicted = model.estimator.labels_from_proba(model.predict_proba_scaled(d.X_test))
        return float(np.mean(predicted == d.y_test))

    def outputs(self, model: TabularClassifier, X_scaled: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``."""
        return model.predict_proba_scaled(X_scaled)

    def outputs_score(self, data: TableData, outputs: np.ndarray, rows: np.ndarray) -> float:
        """Accuracy of the most probable classes."""
        y = data.prepared.y_train
        return float(np.mean(most_probable(outputs, np.unique(y)) == y[rows]))

    def lab_targets(self, y: np.ndarray, data: PreparedData) -> np.ndarray:
        return one_hot_columns(y, np.unique(data.y_train))


@on_one_openmp_thread
def gradient_boosting_classifier(
    d: PreparedData,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    classes: np.ndarray,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """``HistGradientBoostingClassifier`` (defaults) on the same columns and training rows,
    categorical columns given natively (their level codes)."""
    as_codes = categorical_codes(d)
    hgb = HistGradientBoostingClassifier(
        random_state=seed,
        categorical_features=[False] * len(d.feature_names) + [True] * len(d.categories),
    ).fit(as_codes(d.X_train), d.y_train)
    proba = {s: hgb.predict_proba(as_codes(X)) for s, (X, _) in splits.items()}
    return {"HistGradientBoosting": scores_by_split(splits, proba, classes)}


def _splits(d: PreparedData) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The validation and test splits that have rows, as ``(X, y)``."""
    splits = {"validation": (d.X_val, d.y_val), "test": (d.X_test, d.y_test)}
    return {s: (X, y) for s, (X, y) in splits.items() if len(y)}


def classification_figures(
    history: History,
    y_test: np.ndarray,
    test_proba: np.ndarray | None,
    classes: np.ndarray,
    threshold: float | None = None,
) -> dict[str, Figure]:
    """``curves.png`` (loss and accuracy per epoch) and the test split's confusion matrix."""
    h = history
    figures = {
        "curves.png": accuracy_curve_figure(h.train_loss, h.val_loss, h.val_accuracy, h.best_epoch)
    }
    if test_proba is None:
        return figures
    predicted = most_probable(test_proba, classes, threshold)
    matrix = confusion_matrix(y_test, predicted, labels=classes)
    accuracy = float(np.mean(predicted == y_test)) * 100
    figures["confusion_matrix.png"] = confusion_matrix_figure(
        matrix, [str(c) for c in classes], f"test split, accuracy {accuracy:.2f}%"
    )
    return figures
