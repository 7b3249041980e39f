"""Task: a number in a table — a track's ``popularity`` by default, or any numeric
``--target`` column — scored by RMSE, MAE and R² in the target's own units."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nnscratch.data.features import DEFAULT_FEATURES
from nnscratch.data.preprocessing import PreparedData
from nnscratch.data.schemas import TARGET
from nnscratch.data.training_table import release_freed_memory
from nnscratch.errors import DataError
from nnscratch.models.metrics import (
    REGRESSION_METRICS,
    RMSE,
    Results,
    regression_metrics,
    split_metrics,
    test_rmse,
)
from nnscratch.models.popularity_model import PopularityModel
from nnscratch.models.recipes import Recipe
from nnscratch.tasks.baselines import BASELINE_ROWS, regression_baselines
from nnscratch.tasks.importance import Scorer
from nnscratch.tasks.plots import loss_curve_figure, pred_vs_actual_figure, residuals_figure
from nnscratch.tasks.table import TableData, TableTask

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class TableRegression(TableTask):
    """Predict a table's numeric column (popularity, 0–100, unless ``--target``)."""

    name = "regression"
    summary = "a number in a table (popularity, or --target COLUMN)"
    metric = RMSE
    model_type = PopularityModel
    prepare_as = "regression"
    fallback = True  # any table no other task claims

    @classmethod
    def accepts(cls, source: str | None, requested: str | None) -> bool:
        return requested in (None, cls.name)

    @classmethod
    def owns_model(cls, metadata: dict[str, Any]) -> bool:
        """Files before the ``"task"`` entry: any table model that is not a classifier."""
        if "task" in metadata:
            return metadata["task"] == cls.name
        return "images" not in metadata and metadata.get("estimator") != "MLPClassifier"

    @property
    def target_column(self) -> str:
        return self.target or TARGET

    def check(self, recipe: Recipe) -> None:
        super().check(recipe)
        if recipe.scoring != "loss":
            raise DataError(
                "--scoring accuracy needs a classification task (--task classification)"
            )
        if recipe.class_weight is not None:
            raise DataError("--class-weight needs a classification task (--task classification)")
        if recipe.threshold is not None:
            raise DataError("--threshold needs a classification task (--task classification)")

    def results(self, model: PopularityModel, data: TableData, seed: int) -> Results:
        """The network, the training mean, LinearRegression and gradient boosting (on all
        the features, and on the seed's 13 where the model has more; on a seeded sample of
        the training rows where there are more than ``BASELINE_ROWS``)."""
        prepared = data.prepared
        features = list(prepared.feature_names)
        rows = {model.estimator.display_name(): split_metrics(prepared, model.predict_scaled)}
        seed_columns = None
        if features != list(DEFAULT_FEATURES) and set(DEFAULT_FEATURES) <= set(features):
            seed_columns = [features.index(f) for f in DEFAULT_FEATURES]
        release_freed_memory()  # what predicting freed, before the baselines' fits
        rows |= regression_baselines(prepared, seed=seed, seed_feature_columns=seed_columns)
        title = f"results in {prepared.target_name or prepared.target} points ({data.source})"
        results = Results(title, REGRESSION_METRICS, rows)
        if len(prepared.y_train) > BASELINE_ROWS:
            results.notes.append(
                f"LinearRegression and HistGradientBoosting fit on a seeded sample of "
                f"{BASELINE_ROWS:,} of the {len(prepared.y_train):,} training rows"
            )
        return self.with_importance(results, model, data)

    def importance_score(self, model: PopularityModel, data: PreparedData) -> Scorer:
        """RMSE in the target's units on the validation split."""
        pre = model.preprocessing
        truth = pre.inverse_transform_y(data.y_val)

        def rmse(points: np.ndarray, rows: np.ndarray) -> float:
            return regression_metrics(truth[rows], points)["rmse"]

        def predict(X: np.ndarray) -> np.ndarray:
            return pre.to_points(model.predict_scaled(X))

        return Scorer(predict, rmse, "RMSE", higher_is_better=False)

    def figures(
        self, model: PopularityModel, data: TableData, results: Results
    ) -> dict[str, Figure]:
        h, pre, prepared = model.history, model.preprocessing, data.prepared
        y_true = pre.inverse_transform_y(prepared.y_test)
        y_pred = pre.to_points(model.predict_scaled(prepared.X_test))
        source = data.source
        return {
            "loss_curve.png": loss_curve_figure(h.train_loss, h.val_loss, h.best_epoch),
            "pred_vs_actual.png": pred_vs_actual_figure(
                y_true, y_pred, f"Test split: predicted vs actual\n{source}"
            ),
            "residuals.png": residuals_figure(y_true, y_pred, f"Test split residuals — {source}"),
        } | self.importance_figures(results, data)

    def outputs(self, model: PopularityModel, X_scaled: np.ndarray) -> np.ndarray:
        """Scaled predictions ``(n, 1)``, before the clip to the target's range."""
        return model.predict_scaled(X_scaled).astype(np.float64).reshape(-1, 1)

    def outputs_score(self, data: TableData, outputs: np.ndarray, rows: np.ndarray) -> float:
        """RMSE in the target's units (the predictions clipped to its range, as a model's)."""
        pre = data.prepared.preprocessing
        truth = pre.inverse_transform_y(data.prepared.y_train[rows])
        return regression_metrics(truth, pre.to_points(outputs[:, 0]))["rmse"]

    def test_score(self, model: PopularityModel, data: TableData) -> float:
        """Test RMSE in the target's units."""
        return test_rmse(data.prepared, model.predict_scaled(data.prepared.X_test))
